"""Load: 64 concurrent clients mixing loan repayments, fund contributions, prepayment
deliveries and reads for 60 s against the service on loopback (SQLite, and PostgreSQL
when FILIERA_BENCH_POSTGRES_URL is set), beside a bare Litestar endpoint served the same
way in the same run. Afterwards: verify, and every acknowledged operation in the journal.

Two modes. Closed loop (the default): each client sends its next request as soon as the
last one answered, so the server sets the pace and the latency is mostly its queue.
Open loop (`--rate R`, repeatable): requests arrive at R a second in all, on a fixed
schedule (arrival i at i/R s) dealt round-robin to the clients; each latency is measured
from the request's scheduled time, not from when a client got round to sending it, so a
server that falls behind shows its queueing (no coordinated omission). A client still
busy with its previous request sends late, and that wait counts. The first `--warmup`
seconds (5) of arrivals at the same rate are sent but left out of the figures.

Each run (mode, rate) gets a fresh server and database. Each server is `uvicorn` in its
own process on 127.0.0.1 (the service through `filiera serve`); the clients are threads
with keep-alive connections spread over processes, so the load generator's own GIL is
not what is measured.
Run: .venv/bin/python bench/load.py [--seconds 60] [--clients 64] [--rate R ...] [--closed]
(or `make load`)
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only
PASSWORD = "load-bench-password"
KINDS = ("repayment", "contribution", "delivery", "read")

BARE_APP = """
from litestar import Litestar, get, post

@post("/w", status_code=201, sync_to_thread=False)
def write(data: dict) -> dict:
    return {"id": data.get("id"), "amount": data.get("amount")}

@get("/r", sync_to_thread=False)
def read() -> dict:
    return {"items": [], "next_cursor": None}

app = Litestar([write, read])
"""

# One record per request: (kind, operation id or "", cents or 0, status, seconds from its
# scheduled time (closed loop: from its sending), seconds from its sending). Status 0: no
# answer; -1: never sent (an open-loop client still that far behind when the run ended).
Record = tuple[str, str, int, int, float, float]
# Open loop: how long after the last scheduled arrival the clients may still send.
GRACE_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_ready(proc: subprocess.Popen[bytes], base: str) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            httpx.get(base + "/", timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def serve_bare(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    (tmp / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bare_app:app", "--host", HOST, "--port", str(port),
         "--log-level", "warning", "--no-access-log"], cwd=tmp,
        env={**os.environ, "PYTHONPATH": str(tmp)})
    base = f"http://{HOST}:{port}"
    wait_ready(proc, base)
    return proc, base


def filiera(*args: str, env: dict[str, str], stdin: str | None = None) -> None:
    subprocess.run([sys.executable, "-m", "service.cli.main", *args], input=stdin, text=True,
                   env={**os.environ, **env}, cwd=ROOT, check=True, capture_output=True)


def serve_service(tmp: Path, db: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {"FILIERA_DATABASE_URL": db, "FILIERA_VAR_DIR": str(tmp),
           "FILIERA_SECRET_KEY": "load-" + "s" * 44, "FILIERA_LOG_LEVEL": "WARNING"}
    filiera("db", "upgrade", env=env)
    filiera("user", "add", "bench", "--role", "officer", env=env, stdin=PASSWORD + "\n")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "service.cli.main", "serve", "--host", HOST,
                             "--port", str(port)], cwd=tmp,
                            env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
    base = f"http://{HOST}:{port}"
    wait_ready(proc, base)
    return proc, base


def eur(cents: int) -> dict[str, str]:
    return {"amount": f"{cents // 100}.{cents % 100:02d}", "currency": "EUR"}


def cents(money: dict[str, str]) -> int:
    whole, _, frac = money["amount"].partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def set_up(base: str, n: int = 16) -> dict[str, Any]:
    """A lender with n active loans, n GAS with their funds, n open prepayments."""
    token = httpx.post(base + "/api/auth/token", json={
        "username": "bench", "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
        def ok(r: httpx.Response) -> Any:
            assert r.status_code in (200, 201), r.text
            return r.json()

        lender = ok(c.post("/api/parties", json={"kind": "lender", "name": "Mag Load"}))["id"]
        producer = ok(c.post("/api/parties", json={
            "kind": "producer", "name": "Cascina Load", "categories": ["cheese"]}))["id"]
        pool = ok(c.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
        ok(c.post(f"/api/pools/{pool}/deposits", json={"amount": eur(n * 7_000_000),
                                                        "date": "2026-01-02"}))
        loans, gas, prepayments = [], [], []
        for k in range(n):
            loan = ok(c.post("/api/loans", json={
                "principal": eur(7_000_000), "annual_rate": "4.00", "term_months": 84,
                "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-15",
                "borrower_id": producer, "lender_id": lender}))["id"]
            ok(c.post(f"/api/loans/{loan}/disbursement", json={"date": "2026-01-15"}))
            loans.append(loan)
            g = ok(c.post("/api/parties", json={"kind": "gas", "name": f"GAS Load {k}",
                                                "households": 20}))["id"]
            gas.append(g)
            prepayments.append(ok(c.post("/api/prepayments", json={
                "producer_id": producer, "gas_id": g, "amount": eur(100_000_000),
                "product": "Grana", "unit": "kg", "unit_price": eur(100),
                "expires_on": "2027-12-31", "on_expiry": "refund",
                # Paid before the deliveries' date (without it, today: a delivery dated
                # before its prepayment is refused, so every delivery failed).
                "date": "2026-01-15"}))["id"])
    return {"headers": headers, "loans": loans, "gas": gas, "prepayments": prepayments,
            "pool": pool}


def request(rng: random.Random, kind: str, fx: dict[str, Any], bare: bool
            ) -> tuple[str, str, Any, str, int]:
    """(method, path, body, operation id, cents) for one operation of this kind."""
    op = str(uuid.uuid4())
    if kind == "read":
        if bare:
            return "GET", "/r", None, "", 0
        path = rng.choice([f"/api/loans/{rng.choice(fx['loans'])}", "/api/funds?limit=20",
                           f"/api/pools/{fx['pool']}",
                           "/api/ledger/transfers?limit=20"])
        return "GET", path, None, "", 0
    amount = rng.randint(1, 500)
    if bare:  # the same body size, one trivial handler
        return "POST", "/w", {"id": op, "amount": eur(amount), "date": "2026-02-01"}, op, amount
    if kind == "repayment":
        path = f"/api/loans/{rng.choice(fx['loans'])}/repayments"
        body: dict[str, Any] = {"id": op, "amount": eur(amount), "date": "2026-02-01"}
    elif kind == "contribution":
        path = "/api/contributions"
        body = {"id": op, "gas_id": rng.choice(fx["gas"]), "amount": eur(amount),
                "date": "2026-02-01"}
    else:  # a delivery of quantity q at 1.00 a unit is worth q (in cents: q * 100)
        path = f"/api/prepayments/{rng.choice(fx['prepayments'])}/deliveries"
        body = {"id": op, "date": "2026-03-01", "quantity": f"{amount // 100}.{amount % 100:02d}"}
    return "POST", path, body, op, amount


# A client process's job: base, fixture, threads, seconds, seed, bare, and for the open
# loop (start on the shared monotonic clock, rate a second, clients in all, index of this
# process's first client, seconds of warm-up before the start), else None.
OpenLoop = tuple[float, float, int, int, float]
Job = tuple[str, dict[str, Any], int, float, int, bool, OpenLoop | None]
WARMUP = "warm-up "  # the kind's prefix on a record of the warm-up (left out of the figures)


def arrivals(start: float, rate: float, clients: int, client: int, seconds: float
             ) -> list[float]:
    """The scheduled times of one client's requests: arrival i of the whole run is at
    ``start + i / rate``, and client k gets arrivals k, k + clients, k + 2 * clients..."""
    count = int(seconds * rate)
    return [start + i / rate for i in range(client, count, clients)]


def client_process(job: Job) -> list[Record]:
    import threading

    base, fx, threads, seconds, seed, bare, open_loop = job
    records: list[Record] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def one(c: httpx.Client, rng: random.Random, due: float | None, warm: bool = False
            ) -> Record:
        kind = rng.choice(KINDS)
        method, path, body, op, amount = request(rng, kind, fx, bare)
        sent = time.monotonic()
        try:
            r = c.request(method, path, json=body)
            status = r.status_code
        except httpx.HTTPError:
            status = 0
        done = time.monotonic()
        return (WARMUP + kind if warm else kind, op, amount, status,
                done - (sent if due is None else due), done - sent)

    def work(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        mine: list[Record] = []
        with httpx.Client(base_url=base, headers=fx.get("headers", {}), timeout=30) as c:
            if open_loop is None:
                while time.monotonic() < deadline:
                    mine.append(one(c, rng, None))
            else:
                start, rate, clients, first, warmup = open_loop
                # The warm-up's arrivals (the same rate) before the measured ones: the
                # server's first requests of each kind (statements compiled, caches
                # filled) are not what is measured.
                schedule = arrivals(start - warmup, rate, clients, first + k,
                                    seconds + warmup)
                # Connected before the first arrival (a read, not measured).
                c.get("/r" if bare else "/api/funds?limit=1")
                give_up = start + seconds + GRACE_SECONDS
                for n, due in enumerate(schedule):
                    now = time.monotonic()
                    if now > give_up:  # this far behind: the rest count as not sent
                        mine += [("unsent", "", 0, -1, 0.0, 0.0)] * (len(schedule) - n)
                        break
                    if due > now:
                        time.sleep(due - now)
                    mine.append(one(c, rng, due, due < start))
        with lock:
            records.extend(mine)

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return records


def run_clients(base: str, fx: dict[str, Any], clients: int, seconds: float, bare: bool,
                rate: float | None = None, warmup: float = 0.0, processes: int = 4
                ) -> tuple[float, list[Record]]:
    """Closed loop, or open loop at ``rate`` requests a second after ``warmup`` seconds at
    that rate; (seconds it took, records). Open loop: the seconds from the first measured
    arrival to the last answer."""
    per = [clients // processes + (1 if k < clients % processes else 0)
           for k in range(processes)]
    firsts = [sum(per[:k]) for k in range(processes)]
    # The clients are up and connected by the warm-up's first arrival.
    start = time.monotonic() + 3.0 + (warmup if rate is not None else 0.0)
    jobs: list[Job] = [(base, fx, n, seconds, k, bare,
                        None if rate is None else (start, rate, clients, firsts[k], warmup))
                       for k, n in enumerate(per)]
    started = time.monotonic()
    with ProcessPoolExecutor(processes) as pool:
        results = list(pool.map(client_process, jobs))
    elapsed = time.monotonic() - (started if rate is None else start)
    return elapsed, [r for part in results for r in part]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def rows_for(label: str, elapsed: float, records: list[Record]) -> list[tuple[Any, ...]]:
    by_kind: dict[str, list[Record]] = defaultdict(list)
    records = [r for r in records if not r[0].startswith(WARMUP)]
    for r in records:
        by_kind[r[0]].append(r)
    out = []
    for kind in (*KINDS, "all"):
        part = records if kind == "all" else by_kind[kind]
        ok = [r for r in part if 200 <= r[3] < 300]
        out.append((label, kind, len(part), len(ok) / elapsed, pct([r[4] for r in ok], 0.5),
                    pct([r[4] for r in ok], 0.99), pct([r[5] for r in ok], 0.99),
                    len(part) - len(ok)))
    return out


def check_acknowledged(base: str, fx: dict[str, Any], records: list[Record]) -> str:
    """verify ok, and each acknowledged write in the journal exactly once (the sum of its
    transfers equals what was asked: repayments and contributions their amount, a
    delivery its quantity at 1.00 a unit)."""
    headers = fx["headers"]
    report = httpx.get(base + "/api/ledger/verify", headers=headers, timeout=600).json()
    recorded: dict[str, int] = defaultdict(int)
    cursor = None
    with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
        while True:
            params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = c.get("/api/ledger/transfers", params=params).json()
            for row in page["items"]:
                if row.get("operation_id"):
                    recorded[row["operation_id"]] += cents(row["amount"])
            cursor = page["next_cursor"]
            if not cursor:
                break
    acked = [r for r in records if not r[0].endswith("read") and 200 <= r[3] < 300]
    wrong = [r for r in acked if recorded.get(r[1], 0) != r[2]]
    return (f"verify ok={report['ok']} ({report['transfers']:,} transfers); "
            f"{len(acked):,} acknowledged writes, {len(wrong)} missing or wrong")


def bench_service(db: str, tmp: Path, label: str, args: argparse.Namespace,
                  rate: float | None) -> tuple[list[tuple[Any, ...]], str]:
    proc, base = serve_service(tmp, db)
    try:
        fx = set_up(base)
        elapsed, records = run_clients(base, fx, args.clients, args.seconds, bare=False,
                                       rate=rate, warmup=args.warmup)
        return rows_for(label, elapsed, records), f"{label}: " + check_acknowledged(
            base, fx, records)
    finally:
        proc.terminate()
        proc.wait()


def bench_postgres(url: str, args: argparse.Namespace, label: str, rate: float | None
                   ) -> tuple[list[tuple[Any, ...]], str]:
    """The same on a fresh PostgreSQL database, dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text

    name = f"filiera_load_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = make_url(url).set(database=name).render_as_string(hide_password=False)
            return bench_service(db, Path(tmp), label, args, rate)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def mode_name(rate: float | None) -> str:
    return "closed loop" if rate is None else f"open loop, {rate:g}/s offered"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="each run")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--rate", type=float, action="append", default=[],
                        help="open loop at this many requests a second (repeatable)")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="open loop: seconds at the rate before the measured ones")
    parser.add_argument("--closed", action="store_true",
                        help="with --rate, run the closed loop too (alone it is the default)")
    args = parser.parse_args()
    modes: list[float | None] = [*([None] if args.closed or not args.rate else []),
                                 *args.rate]
    pg_url = os.environ.get("FILIERA_BENCH_POSTGRES_URL")
    rows: list[tuple[Any, ...]] = []
    checks: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = serve_bare(Path(tmp))
        try:
            for n, rate in enumerate(modes):
                mode = mode_name(rate)
                elapsed, records = run_clients(base, {}, args.clients, args.seconds,
                                               bare=True, rate=rate, warmup=args.warmup)
                rows += rows_for(f"bare Litestar (baseline), {mode}", elapsed, records)
                here = Path(tmp) / f"run{n}"
                here.mkdir()
                sqlite_rows, check = bench_service(f"sqlite:///{here / 'load.db'}", here,
                                                   f"SQLite, {mode}", args, rate)
                rows += sqlite_rows
                checks.append(check)
                if pg_url:
                    pg_rows, check = bench_postgres(pg_url, args, f"PostgreSQL, {mode}", rate)
                    rows += pg_rows
                    checks.append(check)
        finally:
            proc.terminate()
            proc.wait()
    print(f"{args.clients} clients, {args.seconds:g} s each, loopback; open loop: latency "
          "from each request's scheduled time\n")
    print("| server, mode | operation | requests | ok/s | p50 ms | p99 ms "
          "| p99 from sending ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for label, kind, n, rate_, p50, p99, p99_sent, errors in rows:
        print(f"| {label} | {kind} | {n:,} | {rate_:,.0f} | {p50:.1f} | {p99:.1f} "
              f"| {p99_sent:.1f} | {errors} |")
    print()
    for line in checks:
        print(line)


if __name__ == "__main__":
    main()
