"""Speed at MAG scale (issue 19): the read endpoints, matching, reports and verify on the
``filiera demo-data --scale N`` network, on SQLite and (with FILIERA_BENCH_POSTGRES_URL)
PostgreSQL, each beside a bare Litestar endpoint measured in the same run.

* the network is loaded by the CLI (timed); the service is then the real app
  (``create_app``) on that database, called in process through Litestar's test client:
  the time measured is the server's own (routing, auth, the use case, the database,
  JSON), with no network between;
* every GET endpoint of the API (from its OpenAPI document) but the report files and
  the verify, filled with ids from the data: p50/p95 over ``--repeat`` calls after a warm
  one (aim: p95 under 100 ms for single items, beside the bare endpoint);
* opportunities for each open request (aim: under 100 ms), a plan for all open requests
  (aim: under 1 s), the portfolio, arrears and journal workbooks (aim: under 2 s; the
  journal is streamed: the resident memory of the process before and after is shown);
* ``filiera verify`` in its own process: transfers per second.

    .venv/bin/python bench/scale.py [--scale 40] [--repeat 20] [--var DIR]

``--var DIR`` uses an SQLite database already loaded there (``FILIERA_VAR_DIR``) instead
of loading a new one. Not run by ``make test``: ``make bench-scale``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from litestar import Litestar, get  # noqa: E402
from litestar.testing import TestClient  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402

from ledger.chart import account_id  # noqa: E402
from service.db.engine import make_engine  # noqa: E402
from service.http.app import create_app  # noqa: E402
from service.settings import Settings  # noqa: E402

PY = sys.executable
# ``filiera`` of this checkout (the console script may belong to another one)
FILIERA = [PY, "-m", "service.cli.main"]
TODAY = "2026-12-06"
OFFICER = ("officer", "officer-demo-2026")
ADMIN = ("admin", "admin-demo-2026")
ITEMS = [{"id": str(uuid.UUID(int=i)), "name": f"Azienda agricola {i}",
          "amount": {"amount": f"{i * 10}.00", "currency": "EUR"}} for i in range(50)]


@get("/item", sync_to_thread=False)
def bare_item() -> dict[str, Any]:
    return ITEMS[7]


@get("/list", sync_to_thread=False)
def bare_list() -> dict[str, Any]:
    return {"items": ITEMS, "next_cursor": None}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(client: TestClient[Any], method: str, path: str, repeat: int,
          headers: dict[str, str], body: Any = None) -> tuple[int, list[float]]:
    """``repeat`` calls after a warm one: the status and the times in ms."""
    def once() -> tuple[int, float]:
        started = time.perf_counter()
        if method == "GET":
            r = client.get(path, headers=headers)
        else:
            r = client.post(path, headers=headers, json=body)
        _ = r.content
        return r.status_code, (time.perf_counter() - started) * 1000

    status, _ = once()
    times = []
    for _ in range(repeat):
        status, ms = once()
        times.append(ms)
    return status, times


def rss_mb() -> float:
    """Resident memory now (Linux), in MB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FILIERA, *args], env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                          check=True, capture_output=True, text=True)


def load(env: dict[str, str], scale: str) -> float:
    run(env, "db", "upgrade")
    started = time.perf_counter()
    out = run(env, "demo-data", "--quiet", "--scale", scale).stdout
    took = time.perf_counter() - started
    print(f"  {out.strip().splitlines()[-1]}", file=sys.stderr)
    return took


def baseline(repeat: int) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    with TestClient(Litestar([bare_item, bare_list])) as client:
        for path, what in (("/item", "bare Litestar endpoint, one item"),
                           ("/list", "bare Litestar endpoint, 50 items")):
            status, times = timed(client, "GET", path, repeat * 5, {})
            rows.append(("baseline", what, status, pct(times, .5), pct(times, .95), ""))
    return rows


def ids(client: TestClient[Any], h: dict[str, str]) -> dict[str, str]:
    """An id of each kind the endpoints with ids need, from the API itself."""
    def items(path: str) -> list[dict[str, Any]]:
        r = client.get(path, headers=h)
        assert r.status_code == 200, (path, r.text[:200])
        found: list[dict[str, Any]] = r.json()["items"]
        return found

    lender = items("/api/parties?kind=lender&limit=1")[0]["id"]
    pool = items(f"/api/pools?lender_id={lender}&limit=1")[0]["id"]
    guarantee = items("/api/guarantees?limit=1&status=active")[0]
    called = [g for g in items("/api/guarantees?limit=200&status=called")] or [guarantee]
    approved = items("/api/requests?status=approved&limit=100")[-1]["id"]  # with terms
    return {
        "party_id": items("/api/parties?kind=producer&limit=100")[-1]["id"],
        "gas_id": items("/api/parties?kind=gas&limit=100")[-1]["id"],
        "lender_id": lender, "name": "microcredit", "pool_id": pool,
        "account_id": account_id("pool", pool),
        "loan_id": guarantee["loan_id"], "called_loan_id": called[0]["loan_id"],
        "guarantee_id": guarantee["id"],
        "prepayment_id": items("/api/prepayments?limit=50")[-1]["id"],
        "fund_id": items("/api/funds?limit=20")[-1]["id"],
        "request_id": approved,
    }


QUERIES = {  # a second, filtered read of some lists
    "/api/loans": ["?status=active", "?overdue=true"],
    "/api/requests": ["?status=under_review"],
    "/api/arrears": ["?limit=500"],
}


def endpoints(app: Litestar, found: dict[str, str]) -> list[str]:
    paths = []
    for path, ops in app.openapi_schema.to_schema()["paths"].items():
        if "get" not in ops or not path.startswith("/api/") or path in (
                "/api/reports/{filename}", "/api/ledger/verify"):
            continue
        if path == "/api/parties/{party_id}/pledge-capacity":
            filled = path.replace("{party_id}", found["gas_id"])
        elif path == "/api/exports/gdxp":
            filled = f"{path}?gas_id={found['gas_id']}"
        elif path == "/api/loans/{loan_id}/guarantee-calls":
            filled = path.replace("{loan_id}", found["called_loan_id"])
        else:
            filled = re.sub(r"\{(\w+)\}", lambda m: found[m.group(1)], path)
        paths.append(filled)
        paths += [filled + q for q in QUERIES.get(path, [])]
    return paths


def bench_service(label: str, db_url: str, env: dict[str, str], scale: str | None,
                  repeat: int) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    if scale is not None:
        took = load(env, scale)
        rows.append((label, f"load: filiera demo-data --scale {scale}", 0, took * 1000,
                     took * 1000, "once"))
    engine = make_engine(db_url)
    app = create_app(Settings(db_url, "bench-" + "k" * 48, log_level="WARNING"),
                     engine=engine)
    with TestClient(app) as client:
        def login(user: tuple[str, str]) -> dict[str, str]:
            token = client.post("/api/auth/token", json={"username": user[0],
                                                          "password": user[1]})
            return {"Authorization": f"Bearer {token.json()['access_token']}"}

        h, admin = login(OFFICER), login(ADMIN)
        found = ids(client, h)
        for path in endpoints(app, found):
            status, times = timed(client, "GET", path, repeat,
                                  admin if path.startswith("/api/audit") else h)
            rows.append((label, "GET " + re.sub(r"[0-9a-f-]{36}", "{id}", path), status,
                         pct(times, .5), pct(times, .95), ""))
        open_requests = [r["id"] for status in ("under_review", "approved") for r in
                         client.get(f"/api/requests?status={status}&limit=500",
                                    headers=h).json()["items"]]
        per_request = []
        status = 0
        for rid in open_requests:
            status, times = timed(client, "GET", f"/api/requests/{rid}/opportunities", 3, h)
            per_request += times
        rows.append((label, f"opportunities, each of {len(open_requests)} open requests",
                     status, pct(per_request, .5), pct(per_request, .95), "aim < 100 ms"))
        status, times = timed(client, "POST", "/api/matching/plan", max(3, repeat // 4), h,
                              {})
        rows.append((label, f"plan for all {len(open_requests)} open requests", status,
                     pct(times, .5), pct(times, .95), "aim < 1 s"))
        for name in ("portfolio", "arrears", "journal"):
            before = rss_mb()
            status, times = timed(client, "GET", f"/api/reports/{name}.xlsx?as_of={TODAY}",
                                  3, h)
            note = "aim < 2 s"
            if name == "journal":
                note += f"; RSS {before:.0f} -> {rss_mb():.0f} MB"
            rows.append((label, f"report {name}.xlsx", status, pct(times, .5),
                         pct(times, .95), note))
    engine.dispose()
    started = time.perf_counter()
    out = subprocess.run([*FILIERA, "verify"], env={**os.environ, **env,
                                                    "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True)
    took = time.perf_counter() - started
    transfers = json.loads(out.stdout)["transfers"]
    rows.append((label, f"filiera verify ({transfers:,} transfers, own process)",
                 out.returncode, took * 1000, took * 1000,
                 f"{transfers / took:,.0f} transfers/s"))
    return rows


def bench_postgres(url: str, scale: str, repeat: int) -> list[tuple[Any, ...]]:
    """The same rows on a fresh PostgreSQL database, dropped afterwards."""
    name = f"filiera_scale_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = make_url(url).set(database=name).render_as_string(hide_password=False)
            env = {"FILIERA_VAR_DIR": tmp, "FILIERA_DATABASE_URL": db,
                   "FILIERA_TODAY": TODAY, "FILIERA_LOG_LEVEL": "WARNING"}
            return bench_service("PostgreSQL", db, env, scale, repeat)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def table(rows: list[tuple[Any, ...]], *, header: bool) -> None:
    if header:
        print("| database | what | status | p50 ms | p95 ms | note |")
        print("|---|---|---|---|---|---|")
    for data, what, status, p50, p95, note in rows:
        print(f"| {data} | {what} | {status} | {p50:,.1f} | {p95:,.1f} | {note} |")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="40", help="N or GAS,PRODUCERS,LOANS")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--var", type=Path, help="an SQLite var dir already loaded")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    os.environ["FILIERA_TODAY"] = TODAY
    logging.getLogger("httpx").setLevel(logging.WARNING)
    print(f"MAG scale {args.scale}, {args.repeat} calls each", file=sys.stderr)
    table(baseline(args.repeat), header=True)
    tmp = Path(tempfile.mkdtemp(prefix="filiera-scale-"))
    try:
        var = args.var or tmp
        env = {"FILIERA_VAR_DIR": str(var), "FILIERA_TODAY": TODAY,
               "FILIERA_LOG_LEVEL": "WARNING"}
        table(bench_service("SQLite", f"sqlite:///{var / 'filiera.db'}", env,
                            None if args.var else args.scale, args.repeat), header=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    pg_url = os.environ.get("FILIERA_BENCH_POSTGRES_URL")
    if pg_url and not args.no_postgres:
        table(bench_postgres(pg_url, args.scale, args.repeat), header=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(f"peak RSS of the bench process {peak:,.0f} MB; times are the server's own, in "
          "process, after one warm call", file=sys.stderr)


if __name__ == "__main__":
    main()
