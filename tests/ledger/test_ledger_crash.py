"""Crash safety: a process writing one large batch (one transaction) is killed with
SIGKILL while the rows are going in. Afterwards the journal holds all of the batch or
none of it, the chain and totals verify, and the ledger takes new batches. A run left
to finish commits all of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, func, select

from ledger.accounts import new_account
from ledger.ids import uuid7
from ledger.store import LedgerStore, ledger_transfers
from ledger.transfers import Transfer

ROOT = Path(__file__).resolve().parents[2]
BIG = 50_000

CHILD = """
import sys
from sqlalchemy import event
from service.db.engine import make_engine
from ledger.ids import uuid7
from ledger.store import LedgerStore
from ledger.transfers import Transfer

url, schema, debit, credit, n = sys.argv[1:6]
engine = make_engine(url, schema=schema or None)
batch = [Transfer(id=uuid7(), debit_account_id=debit, credit_account_id=credit, amount=1,
                  currency="EUR") for _ in range(int(n))]
announced = False

@event.listens_for(engine, "before_cursor_execute")
def announce(conn, cursor, statement, params, context, executemany):
    global announced
    if statement.startswith("INSERT INTO ledger_transfers") and not announced:
        announced = True
        print("INSERTING", flush=True)

results = LedgerStore(engine).submit_batch(batch)
assert all(r.result == "created" for r in results)
print("COMMITTED", flush=True)
"""


def child(engine: Engine, db_url: tuple[str, str | None], debit: str, credit: str,
          n: int) -> subprocess.Popen[str]:
    url, schema = db_url
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, url, schema or "", debit, credit, str(n)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def journal_size(store: LedgerStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger_transfers))
                   .scalar_one())


def test_sigkill_mid_batch_leaves_all_or_nothing(engine: Engine,
                                                 db_url: tuple[str, str | None]) -> None:
    store = LedgerStore(engine)
    a, b = new_account("a", "EUR"), new_account("b", "EUR")
    store.create_accounts_batch([a, b])
    assert store.submit_batch([Transfer(id=uuid7(), debit_account_id=a.id,
                                        credit_account_id=b.id, amount=5,
                                        currency="EUR")])[0].result == "created"

    proc = child(engine, db_url, a.id, b.id, BIG)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == "INSERTING", proc.stderr.read() if proc.stderr else line
    time.sleep(0.05)  # well inside the insert of 50,000 rows
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    rest = proc.stdout.read()
    assert proc.returncode == -signal.SIGKILL
    committed = "COMMITTED" in rest
    size = journal_size(store)
    assert size == (1 + BIG if committed else 1)
    assert not committed  # 50 ms is far too short to write and commit them all
    with store.engine.begin() as conn:
        report = store.verify(conn)
        account = store.get_account(conn, b.id)
    assert report.ok, report.problems
    assert report.transfers == size
    assert account is not None and account.credits_posted == 5

    # The ledger goes on: a new batch lands after the torn one, and a run that is
    # not interrupted commits every row.
    assert store.submit_batch([Transfer(id=uuid7(), debit_account_id=b.id,
                                        credit_account_id=a.id, amount=2,
                                        currency="EUR")])[0].result == "created"
    n = 10_000
    proc = child(engine, db_url, a.id, b.id, n)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "COMMITTED" in out
    with store.engine.begin() as conn:
        report = store.verify(conn)
        account = store.get_account(conn, b.id)
    assert report.ok, report.problems
    assert report.transfers == 2 + n
    assert account is not None and account.credits_posted == 5 + n
    assert account.debits_posted == 2
