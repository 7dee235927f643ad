"""HTTP figures for the ledger: 32 concurrent clients posting single transfers (group
commit) and the batch endpoint, beside a bare Litestar endpoint measured in the same run.

Each server runs in its own process (uvicorn, one worker, loopback only); the clients
are threads with keep-alive connections. Run: .venv/bin/python bench/ledger_http.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

BARE_APP = """
from litestar import Litestar, post

@post("/x", status_code=200, sync_to_thread=False)
def x(data: list[dict]) -> dict:
    return {"results": [{"id": t.get("id"), "result": "created"} for t in data]}

app = Litestar([x])
"""

SERVICE_APP = """
import os
from service.http.app import create_app
from service.settings import Settings
app = create_app(Settings(database_url=os.environ["BENCH_DB"], secret_key="b" * 48,
                          log_level="WARNING"))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(module_dir: Path, module: str, env: dict[str, str]) -> tuple[Any, str]:
    port = free_port()
    proc = subprocess.Popen(
        [PY, "-m", "uvicorn", f"{module}:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        cwd=module_dir, env={**os.environ, **env, "PYTHONPATH": f"{module_dir}:{ROOT}"})
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(base + "/", timeout=0.5)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def transfer(debit: str, credit: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "debit_account_id": debit, "credit_account_id": credit,
            "amount": {"amount": "1.00", "currency": "EUR"}, "code": "bench"}


def clients(url: str, headers: dict[str, str], threads: int, per_thread: int,
            batch: int, accounts: tuple[str, str]) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        mine: list[float] = []
        with httpx.Client(headers=headers, timeout=30) as client:
            for _ in range(per_thread):
                body = [transfer(*accounts) for _ in range(batch)]
                started = time.perf_counter()
                r = client.post(url, json=body)
                mine.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - started, latencies


def _client_process(job: tuple[str, dict[str, str], int, int, int, tuple[str, str]]
                    ) -> list[float]:
    url, headers, threads, per_thread, batch, accounts = job
    return clients(url, headers, threads, per_thread, batch, accounts)[1]


def spread(url: str, headers: dict[str, str], threads: int, per_thread: int, batch: int,
           accounts: tuple[str, str], processes: int = 4) -> tuple[float, list[float]]:
    """Client threads spread over processes, so the load generator's own GIL is not
    what is measured."""
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(url, headers, threads // processes, per_thread, batch, accounts)] * processes
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_client_process, [(url, headers, 1, 1, batch, accounts)] * processes))
        started = time.perf_counter()
        results = list(pool.map(_client_process, jobs))
        elapsed = time.perf_counter() - started
    return elapsed, [x for r in results for x in r]


WRK_SCRIPT = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
local threads = 0
function setup(thread) threads = threads + 1; thread:set("seed", threads) end
function init(args) math.randomseed(os.time() * 100 + seed) end
local function uuid()
  return (("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"):gsub("[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%%x", v)
  end))
end
function request()
  local body = '[{"id":"' .. uuid() .. '","debit_account_id":"%(debit)s",' ..
    '"credit_account_id":"%(credit)s","amount":{"amount":"1.00","currency":"EUR"},' ..
    '"code":"bench"}]'
  return wrk.format(nil, "%(path)s", nil, body)
end
"""


def wrk_run(base: str, path: str, token: str, accounts: tuple[str, str], tmp: Path,
            seconds: int) -> tuple[int, float, float, float]:
    """wrk (C, one process, 2 threads, 32 connections): (requests, per s, p50, p99)."""
    script = tmp / "post.lua"
    script.write_text(WRK_SCRIPT % {"token": token, "debit": accounts[0],
                                    "credit": accounts[1], "path": path})
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s",
                          str(script), base], capture_output=True, text=True,
                         check=True).stdout
    def ms(label: str) -> float:
        """A latency from wrk's distribution ("812.00us", "3.91ms", "1.20s") in ms."""
        value = next(line.split()[1] for line in out.splitlines()
                     if line.strip().startswith(label))
        for suffix, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
            if value.endswith(suffix):
                return float(value[: -len(suffix)]) * scale  # a latency, not money
        raise ValueError(value)

    total = int(next(line.split()[0] for line in out.splitlines() if "requests in" in line))
    rate = float(next(line.split()[1] for line in out.splitlines()  # a rate, not money
                      if line.startswith("Requests/sec")))
    non2xx = [line for line in out.splitlines() if "Non-2xx" in line]
    if non2xx:
        raise RuntimeError(f"wrk saw errors: {non2xx}")
    return total, rate, ms("50%"), ms("99%")


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def bench_service(tmpdir: Path, db: str, label: str, args: argparse.Namespace
                  ) -> list[tuple[str, int, float, float, float]]:
    """The service's transfer endpoint on one database (migrated, one officer)."""
    rows: list[tuple[str, int, float, float, float]] = []
    (tmpdir / "service_app.py").write_text(SERVICE_APP)
    env = {"FILIERA_DATABASE_URL": db, "BENCH_DB": db, "FILIERA_VAR_DIR": str(tmpdir)}
    subprocess.run([PY, "-m", "service.cli.main", "db", "upgrade"], env={**os.environ, **env},
                   cwd=ROOT, check=True, capture_output=True)
    subprocess.run([PY, "-m", "service.cli.main", "user", "add", "bench", "--role", "officer"],
                   input="bench-password\n", text=True, env={**os.environ, **env},
                   cwd=ROOT, check=True, capture_output=True)
    proc, base = serve(tmpdir, "service_app", env)
    try:
        token = httpx.post(base + "/api/auth/token", json={
            "username": "bench", "password": "bench-password"}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        ids = []
        for code in ("cassa", "fornitori"):
            r = httpx.post(base + "/api/ledger/accounts", headers=headers,
                           json={"code": code, "currency": "EUR"})
            ids.append(r.json()["id"])
        accounts = (ids[0], ids[1])
        url = base + "/api/ledger/transfers"
        if shutil.which("wrk"):
            n, rate, p50, p99 = wrk_run(base, "/api/ledger/transfers", token, accounts,
                                        tmpdir, args.seconds)
            rows.append((f"{label}: POST /api/ledger/transfers, wrk 32 connections x 1 transfer",
                         n, rate, p50, p99))
        secs, lat = spread(url, headers, args.threads, args.requests, 1, accounts)
        n = args.threads * args.requests
        rows.append((f"{label}: POST /api/ledger/transfers, 32 Python clients x 1 transfer", n,
                     n / secs, pct(lat, 0.5), pct(lat, 0.99)))
        secs, lat = clients(url, headers, 1, 20, 1000, accounts)
        rows.append((f"{label}: POST /api/ledger/transfers, 1 client x 1,000 transfers", 20_000,
                     20_000 / secs, pct(lat, 0.5), pct(lat, 0.99)))
        report = httpx.get(base + "/api/ledger/verify", headers=headers, timeout=60).json()
        assert report["ok"], report
    finally:
        proc.terminate()
        proc.wait()
    return rows


def bench_postgres(url: str, args: argparse.Namespace
                   ) -> list[tuple[str, int, float, float, float]]:
    """The same rows on a fresh PostgreSQL database, dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text

    name = f"filiera_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = make_url(url).set(database=name).render_as_string(hide_password=False)
            return bench_service(Path(tmp), db, "PostgreSQL", args)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--requests", type=int, default=60, help="per client thread")
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run")
    args = parser.parse_args()
    rows: list[tuple[str, int, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "bare_app.py").write_text(BARE_APP)
        db = f"sqlite:///{tmpdir / 'bench.db'}"
        env = {"FILIERA_VAR_DIR": tmp}
        proc, base = serve(tmpdir, "bare_app", env)
        try:
            a = (str(uuid.uuid4()), str(uuid.uuid4()))
            if shutil.which("wrk"):
                n, rate, p50, p99 = wrk_run(base, "/x", "none", a, tmpdir, args.seconds)
                rows.append(("bare Litestar endpoint, wrk 32 connections (baseline)", n,
                             rate, p50, p99))
            secs, lat = spread(base + "/x", {}, args.threads, args.requests, 1, a)
            n = args.threads * args.requests
            rows.append(("bare Litestar endpoint, 32 Python clients (baseline)", n,
                         n / secs, pct(lat, 0.5), pct(lat, 0.99)))
        finally:
            proc.terminate()
            proc.wait()

        rows += bench_service(tmpdir, db, "SQLite", args)
    pg_url = os.environ.get("FILIERA_BENCH_POSTGRES_URL")
    if pg_url:
        rows += bench_postgres(pg_url, args)
    print("| HTTP path | transfers | transfers/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for name, n, rate, p50, p99 in rows:
        print(f"| {name} | {n:,} | {rate:,.0f} | {p50:.1f} | {p99:.1f} |")



if __name__ == "__main__":
    main()
