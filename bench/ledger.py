"""Ledger write benchmark: the store and the group-commit writer beside raw sqlite3.

    .venv/bin/python bench/ledger.py [--transfers 20000] [--singles 1000] [--threads 32]

Rows (SQLite, WAL, synchronous=FULL, each on a freshly migrated database file):
  * store.submit_batch, batches of 1,000 transfers (one transaction each);
  * store.submit_batch, single transfers (one transaction each);
  * GroupCommitWriter.submit, single transfers from 32 threads;
  * the baselines: raw sqlite3 ``executemany`` of the same rows into the same schema
    (sha256 chain, two account UPDATEs per transfer), batches of 1,000 and singles.
With ``FILIERA_BENCH_POSTGRES_URL`` set, the same rows on PostgreSQL (scratch schemas,
dropped afterwards), beside raw psycopg ``executemany``.
Each store row runs interleaved with its baseline, call by call, so both see the same
load on a shared machine. Latency is per call (a batch, or a single transfer);
throughput is transfers per second of time spent in the calls (wall time for the
group-commit row).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, create_engine, text

from ledger.accounts import new_account
from ledger.group_commit import GroupCommitWriter
from ledger.ids import uuid7
from ledger.store import LedgerStore
from ledger.transfers import Transfer
from service.db.engine import make_engine, normalize_url
from service.db.migrate import upgrade

BATCH = 1_000


@dataclass
class Row:
    database: str
    path: str
    transfers: int
    seconds: float
    latencies: list[float]  # seconds per call

    @property
    def rate(self) -> float:
        return self.transfers / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def make_transfers(n: int, debit: str, credit: str) -> list[Transfer]:
    return [Transfer(id=uuid7(), debit_account_id=debit, credit_account_id=credit,
                     amount=1 + i % 997, currency="EUR", code="bench")
            for i in range(n)]


def ledger_setup(engine: Engine) -> tuple[LedgerStore, list[str]]:
    store = LedgerStore(engine)
    accounts = [new_account(f"bench-{i}", "EUR") for i in range(8)]
    store.create_accounts_batch(accounts)
    return store, [a.id for a in accounts]


Write = Callable[[Sequence[Transfer]], object]


def timed_pair(a: Write, b: Write | None, inputs_a: Sequence[Sequence[Transfer]],
               inputs_b: Sequence[Sequence[Transfer]]) -> tuple[list[float], list[float]]:
    """Per-call latencies of ``a`` and ``b``, their calls alternating so both paths see
    the same machine (this box is shared: load changes from one second to the next)."""
    # The inputs were built beforehand: keep the collector from walking them again and
    # again during the timed calls (a client builds one batch at a time).
    gc.collect()
    gc.freeze()
    lat_a: list[float] = []
    lat_b: list[float] = []
    for k, batch in enumerate(inputs_a):
        t0 = time.perf_counter()
        a(batch)
        lat_a.append(time.perf_counter() - t0)
        if b is not None:
            t0 = time.perf_counter()
            b(inputs_b[k])
            lat_b.append(time.perf_counter() - t0)
    gc.unfreeze()
    return lat_a, lat_b


def bench_store(database: str, engine: Engine, n: int, singles: int, threads: int,
                raw: tuple[str, Write, list[str]] | None) -> list[Row]:
    """The store's rows, each beside the raw baseline (``raw``: name, write, account ids)
    run interleaved with it."""
    store, ids = ledger_setup(engine)
    rows = []
    # Warm up (connection pool, statement caches).
    store.submit_batch(make_transfers(BATCH, ids[0], ids[1]))
    raw_write = raw[1] if raw else None
    raw_ids = raw[2] if raw else ids

    batches = [make_transfers(BATCH, ids[i % 4], ids[4 + i % 4]) for i in range(n // BATCH)]
    raw_batches = [make_transfers(BATCH, raw_ids[i % 4], raw_ids[4 + i % 4])
                   for i in range(n // BATCH)]
    lat, lat_raw = timed_pair(store.submit_batch, raw_write, batches, raw_batches)
    rows.append(Row(database, f"store, batches of {BATCH:,}", n, sum(lat), lat))
    if raw:
        rows.append(Row(database, f"{raw[0]} executemany, batches of {BATCH:,} (baseline)", n,
                        sum(lat_raw), lat_raw))

    one = [[t] for t in make_transfers(singles, ids[0], ids[1])]
    raw_one = [[t] for t in make_transfers(singles, raw_ids[0], raw_ids[1])]
    lat, lat_raw = timed_pair(store.submit_batch, raw_write, one, raw_one)
    rows.append(Row(database, "store, single transfers", singles, sum(lat), lat))
    if raw and lat_raw:
        rows.append(Row(database, f"{raw[0]}, single transfers (baseline)", singles,
                        sum(lat_raw), lat_raw))

    per_thread = max(1, singles * 4 // threads)
    work = [make_transfers(per_thread, ids[i % 8], ids[(i + 1) % 8]) for i in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    with GroupCommitWriter(store) as writer:
        def run(i: int) -> None:
            for t in work[i]:
                t0 = time.perf_counter()
                result = writer.submit([t])
                latencies[i].append(time.perf_counter() - t0)
                assert result[0].result == "created"

        pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
        gc.collect()
        gc.freeze()
        start = time.perf_counter()
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        seconds = time.perf_counter() - start
        gc.unfreeze()
        groups = writer.groups
    total = per_thread * threads
    rows.append(Row(database, f"group commit, singles from {threads} threads "
                    f"({total / groups:.0f}/txn)", total, seconds,
                    [x for lat in latencies for x in lat]))
    with engine.begin() as conn:
        report = store.verify(conn)
    assert report.ok, report.problems[:5]
    return rows


# -- raw baselines -----------------------------------------------------------------------

INSERT_SQL = (
    "INSERT INTO ledger_transfers (seq, id, debit_account_id, credit_account_id, amount, "
    "currency, code, flags, pending_id, timeout_seconds, expires_at, value_date, user_data, "
    "operation_id, timestamp, hash) VALUES ({})"
)
UPDATE_DEBIT = ("UPDATE ledger_accounts SET debits_posted = debits_posted + {0} "
                "WHERE id = {0}")
UPDATE_CREDIT = ("UPDATE ledger_accounts SET credits_posted = credits_posted + {0} "
                 "WHERE id = {0}")


def raw_rows(transfers: Sequence[Transfer], seq: int, prev: str,
             ) -> tuple[list[tuple[object, ...]], str, int]:
    rows = []
    ts = time.time_ns()
    for t in transfers:
        seq += 1
        ts += 1
        prev = hashlib.sha256(
            f"{prev}|{seq}|{ts}|{t.id}|{t.debit_account_id}|{t.credit_account_id}|"
            f"{t.amount}|{t.currency}|{t.code}".encode()).hexdigest()
        rows.append((seq, t.id, t.debit_account_id, t.credit_account_id, t.amount,
                     t.currency, t.code, 0, None, None, None, None, None, None, ts, prev))
    return rows, prev, seq


def raw_sqlite(path: Path) -> tuple[str, Write, list[str]]:
    """Plain sqlite3 on a database migrated like the store's: WAL, synchronous=FULL,
    the sha256 chain, the same rows, two account UPDATEs per transfer."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    _, ids = ledger_setup(engine)
    engine.dispose()
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    insert = INSERT_SQL.format(",".join("?" * 16))
    debit, credit = UPDATE_DEBIT.format("?"), UPDATE_CREDIT.format("?")
    state = {"seq": 0, "prev": "0" * 64}

    def write(transfers: Sequence[Transfer]) -> None:
        rows, state["prev"], state["seq"] = raw_rows(transfers, int(state["seq"]),
                                                     str(state["prev"]))
        db.execute("BEGIN IMMEDIATE")
        db.executemany(insert, rows)
        db.executemany(debit, [(t.amount, t.debit_account_id) for t in transfers])
        db.executemany(credit, [(t.amount, t.credit_account_id) for t in transfers])
        db.execute("COMMIT")

    return "raw sqlite3", write, ids


def raw_postgres(engine: Engine) -> tuple[str, Write, list[str]]:
    """Plain psycopg executemany of the same rows and updates, one transaction a call."""
    _, ids = ledger_setup(engine)
    state = {"seq": 0, "prev": "0" * 64}
    insert = INSERT_SQL.format(",".join(["%s"] * 16))
    debit, credit = UPDATE_DEBIT.format("%s"), UPDATE_CREDIT.format("%s")
    dbapi: Any = engine.raw_connection().dbapi_connection

    def write(transfers: Sequence[Transfer]) -> None:
        rows, state["prev"], state["seq"] = raw_rows(transfers, int(state["seq"]),
                                                     str(state["prev"]))
        with dbapi.cursor() as cur:
            cur.executemany(insert, rows)
            cur.executemany(debit, [(t.amount, t.debit_account_id) for t in transfers])
            cur.executemany(credit, [(t.amount, t.credit_account_id) for t in transfers])
        dbapi.commit()

    return "raw psycopg", write, ids


def print_table(rows: list[Row]) -> None:
    baselines = {r.database: r for r in rows if "baseline" in r.path and "batches" in r.path}
    header = f"| {'database':<10} | {'path':<52} | {'transfers':>9} | {'transfers/s':>11} " \
             f"| {'p50 ms':>7} | {'p99 ms':>7} | {'vs raw batched':>14} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        base = baselines.get(r.database)
        ratio = f"{r.rate / base.rate:.2f}x" if base else "-"
        print(f"| {r.database:<10} | {r.path:<52} | {r.transfers:>9,} | {r.rate:>11,.0f} "
              f"| {r.pct(0.5):>7.2f} | {r.pct(0.99):>7.2f} | {ratio:>14} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=20_000)
    parser.add_argument("--singles", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    rows: list[Row] = []
    tmp = Path(tempfile.mkdtemp(prefix="filiera-bench-"))
    try:
        engine = make_engine(f"sqlite:///{tmp / 'ledger.db'}")
        upgrade(engine)
        rows += bench_store("sqlite", engine, args.transfers, args.singles, args.threads,
                            raw_sqlite(tmp / "raw.db"))
        engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    pg_url = os.environ.get("FILIERA_BENCH_POSTGRES_URL")
    if pg_url:
        admin = create_engine(normalize_url(pg_url), isolation_level="AUTOCOMMIT")
        schemas = [f"bench_{uuid.uuid4().hex[:8]}", f"bench_{uuid.uuid4().hex[:8]}"]
        with admin.connect() as conn:
            for schema in schemas:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            engine = make_engine(pg_url, schema=schemas[0])
            upgrade(engine)
            raw_engine = make_engine(pg_url, schema=schemas[1])
            upgrade(raw_engine)
            rows += bench_store("postgresql", engine, args.transfers, args.singles,
                                args.threads, raw_postgres(raw_engine))
            engine.dispose()
            raw_engine.dispose()
        finally:
            with admin.connect() as conn:
                for schema in schemas:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    print_table(rows)


if __name__ == "__main__":
    main()
