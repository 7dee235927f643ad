"""HTTP figures for the ledger: 32 concurrent clients posting single transfers (group
commit) and the batch endpoint, beside a bare Litestar endpoint measured in the same run.

Each server runs in its own process (uvicorn, one worker, loopback only); the clients
are threads with keep-alive connections. Run: .venv/bin/python bench/ledger_http.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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
PHASES = os.environ.get("BENCH_STATS")
if PHASES:
    import bench_phases  # before the app: it wraps the writers' classes
app = create_app(Settings(database_url=os.environ["BENCH_DB"], secret_key="b" * 48,
                          log_level="WARNING"))
if PHASES:
    bench_phases.watch(app.state.ctx.engine)
"""

# Where a write's time goes, counted inside the server, per transaction of the ledger's
# group-commit writer and of the audit writer (every transfer request also waits for its
# audit entry): the statements SQLAlchemy sent, the round trips to PostgreSQL (each time
# psycopg waits for the server's answer: BEGIN, the pool's ping, a statement, a
# pipeline's sync, COMMIT) and the time spent in psycopg's waits, and the time from the
# first statement or round trip to the last (COMMIT): on PostgreSQL the head lock is held
# for most of it.
# SIGUSR1 writes the counts so far to $BENCH_STATS and starts them again.
PHASES_MODULE = """
import json
import os
import signal
import threading
import time

from sqlalchemy import event

from ledger.group_commit import GroupCommitWriter
from service.app.audit_writer import AuditWriter

STATS = {}
_lock = threading.Lock()
_local = threading.local()


def _add(key, value=1):
    with _lock:
        STATS[key] = STATS.get(key, 0) + value


def _mark(start, end):
    if getattr(_local, "phase", None) is None:
        return
    if _local.first is None:
        _local.first = start
    _local.last = end


def _timed(cls, name, phase):
    inner = getattr(cls, name)

    def wrapper(self, group, *args, **kwargs):
        _local.phase, _local.first, _local.last = phase, None, None
        started = time.perf_counter()
        try:
            return inner(self, group, *args, **kwargs)
        finally:
            _add(phase + ".calls")
            _add(phase + ".items", len(group))
            _add(phase + ".wall_s", time.perf_counter() - started)
            if _local.first is not None:
                _add(phase + ".span_s", _local.last - _local.first)
            _local.phase = None

    setattr(cls, name, wrapper)


_timed(GroupCommitWriter, "_write", "ledger")
_timed(AuditWriter, "_write", "audit")

try:
    import psycopg
except ImportError:
    psycopg = None
if psycopg is not None:
    _wait = psycopg.Connection.wait

    def trips(conn, gen):
        # How many times psycopg waits for the server's answer in gen.
        name = getattr(gen, "__qualname__", "")
        idle = conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
        if name.endswith(("_set_autocommit_gen", "_enter_gen")):
            return 0  # nothing sent
        if conn._pipeline is not None and "_execute" in name:
            return 0  # queued in a pipeline: its sync waits
        if name.endswith(("_commit_gen", "_rollback_gen")) and idle:
            return 0  # no transaction: nothing sent
        if name.endswith("_execute_gen") and idle and not conn.autocommit:
            return 2  # BEGIN, then the statement
        return 1

    def wait(self, gen, *args, **kwargs):
        count = trips(self, gen) if getattr(_local, "phase", None) else 0
        started = time.perf_counter()
        try:
            return _wait(self, gen, *args, **kwargs)
        finally:
            phase = getattr(_local, "phase", None)
            if phase is not None:
                end = time.perf_counter()
                _add(phase + ".round_trips", count)
                _add(phase + ".wait_s", end - started)
                _mark(started, end)

    psycopg.Connection.wait = wait


def watch(engine):
    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        _local.stmt_start = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        phase = getattr(_local, "phase", None)
        if phase is not None:
            _add(phase + ".statements")
            _mark(_local.stmt_start, time.perf_counter())

    commit = engine.dialect.do_commit

    def do_commit(dbapi_conn):
        started = time.perf_counter()
        try:
            commit(dbapi_conn)
        finally:
            phase = getattr(_local, "phase", None)
            if phase is not None:
                _add(phase + ".commits")
                _mark(started, time.perf_counter())

    engine.dialect.do_commit = do_commit

    def dump(signum, frame):
        with _lock:
            taken = dict(STATS)
            STATS.clear()
        path = os.environ["BENCH_STATS"]
        with open(path + ".tmp", "w") as f:
            json.dump(taken, f)
        os.replace(path + ".tmp", path)

    signal.signal(signal.SIGUSR1, dump)
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


def take_phases(proc: Any, path: Path, since: float | None = None) -> dict[str, float]:
    """The server's counts since the last call (PHASES_MODULE), and a fresh start;
    ``since``: when the last call was (perf_counter), to tell how busy the writers were."""
    path.unlink(missing_ok=True)
    proc.send_signal(signal.SIGUSR1)
    for _ in range(200):
        if path.exists():
            stats = dict(json.loads(path.read_text()))
            if since is not None:
                stats["seconds"] = time.perf_counter() - since
            return stats
        time.sleep(0.02)
    raise RuntimeError("the server wrote no phase counts")


Phase = tuple[str, dict[str, float]]


def bench_service(tmpdir: Path, db: str, label: str, args: argparse.Namespace
                  ) -> tuple[list[tuple[str, int, float, float, float]], list[Phase]]:
    """The service's transfer endpoint on one database (migrated, one officer)."""
    rows: list[tuple[str, int, float, float, float]] = []
    phases: list[Phase] = []
    (tmpdir / "service_app.py").write_text(SERVICE_APP)
    (tmpdir / "bench_phases.py").write_text(PHASES_MODULE)
    stats = tmpdir / "phases.json"
    env = {"FILIERA_DATABASE_URL": db, "BENCH_DB": db, "FILIERA_VAR_DIR": str(tmpdir),
           "BENCH_STATS": str(stats)}
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
        if shutil.which("wrk") and not args.no_wrk:
            take_phases(proc, stats)
            since = time.perf_counter()
            n, rate, p50, p99 = wrk_run(base, "/api/ledger/transfers", token, accounts,
                                        tmpdir, args.seconds)
            name = f"{label}: POST /api/ledger/transfers, wrk 32 connections x 1 transfer"
            rows.append((name, n, rate, p50, p99))
            phases.append((name, take_phases(proc, stats, since)))
        if not args.no_python:
            take_phases(proc, stats)
            since = time.perf_counter()
            secs, lat = spread(url, headers, args.threads, args.requests, 1, accounts)
            n = args.threads * args.requests
            name = f"{label}: POST /api/ledger/transfers, 32 Python clients x 1 transfer"
            rows.append((name, n, n / secs, pct(lat, 0.5), pct(lat, 0.99)))
            phases.append((name, take_phases(proc, stats, since)))
        if not args.no_batches:
            take_phases(proc, stats)
            since = time.perf_counter()
            secs, lat = clients(url, headers, 1, 20, 1000, accounts)
            name = f"{label}: POST /api/ledger/transfers, 1 client x 1,000 transfers"
            rows.append((name, 20_000, 20_000 / secs, pct(lat, 0.5), pct(lat, 0.99)))
            phases.append((name, take_phases(proc, stats, since)))
        report = httpx.get(base + "/api/ledger/verify", headers=headers, timeout=60).json()
        assert report["ok"], report
    finally:
        proc.terminate()
        proc.wait()
    return rows, phases


def phase_table(phases: list[Phase]) -> list[str]:
    """Per transaction of each writer (PHASES_MODULE): what it carried, the statements
    SQLAlchemy sent, the round trips to PostgreSQL and the time waiting on them, the time
    from the first to the last (COMMIT), and how much of the run the writer was busy."""
    lines = ["| HTTP path | writer | transactions | items a tx | SQLAlchemy statements a tx "
             "| round trips a tx | ms waiting on the server a tx "
             "| ms a tx, first statement to COMMIT | writer busy % |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, stats in phases:
        for writer, items in (("ledger", "batches"), ("audit", "entries")):
            calls = stats.get(f"{writer}.calls", 0)
            if not calls:
                continue
            seconds = stats.get("seconds", 0)
            busy = f"{100 * stats[f'{writer}.wall_s'] / seconds:.0f}" if seconds else "-"
            trips = stats.get(f"{writer}.round_trips")
            waited = ("-" if trips is None
                      else f"{1000 * stats.get(f'{writer}.wait_s', 0) / calls:.2f}")
            lines.append(
                f"| {name} | {writer} | {calls:,.0f} "
                f"| {stats[f'{writer}.items'] / calls:.1f} {items} "
                f"| {stats.get(f'{writer}.statements', 0) / calls:.1f} "
                f"| {'-' if trips is None else f'{trips / calls:.1f}'} "
                f"| {waited} "
                f"| {1000 * stats.get(f'{writer}.span_s', 0) / calls:.2f} | {busy} |")
    return lines


def bench_postgres(url: str, args: argparse.Namespace
                   ) -> tuple[list[tuple[str, int, float, float, float]], list[Phase]]:
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
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite rows")
    parser.add_argument("--no-wrk", action="store_true", help="skip the wrk rows")
    parser.add_argument("--no-python", action="store_true",
                        help="skip the 32 Python clients rows")
    parser.add_argument("--no-batches", action="store_true",
                        help="skip the 1,000-transfer requests rows")
    args = parser.parse_args()
    rows: list[tuple[str, int, float, float, float]] = []
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "bare_app.py").write_text(BARE_APP)
        db = f"sqlite:///{tmpdir / 'bench.db'}"
        env = {"FILIERA_VAR_DIR": tmp}
        proc, base = serve(tmpdir, "bare_app", env)
        try:
            a = (str(uuid.uuid4()), str(uuid.uuid4()))
            if shutil.which("wrk") and not args.no_wrk:
                n, rate, p50, p99 = wrk_run(base, "/x", "none", a, tmpdir, args.seconds)
                rows.append(("bare Litestar endpoint, wrk 32 connections (baseline)", n,
                             rate, p50, p99))
            if not args.no_python:
                secs, lat = spread(base + "/x", {}, args.threads, args.requests, 1, a)
                n = args.threads * args.requests
                rows.append(("bare Litestar endpoint, 32 Python clients (baseline)", n,
                             n / secs, pct(lat, 0.5), pct(lat, 0.99)))
        finally:
            proc.terminate()
            proc.wait()
        if not args.no_sqlite:
            more, seen = bench_service(tmpdir, db, "SQLite", args)
            rows += more
            phases += seen
    pg_url = os.environ.get("FILIERA_BENCH_POSTGRES_URL")
    if pg_url:
        more, seen = bench_postgres(pg_url, args)
        rows += more
        phases += seen
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| HTTP path | transfers | transfers/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for name, n, rate, p50, p99 in rows:
        print(f"| {name} | {n:,} | {rate:,.0f} | {p50:.1f} | {p99:.1f} |")
    print()
    print("\n".join(phase_table(phases)))


if __name__ == "__main__":
    main()
