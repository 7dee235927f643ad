"""filiera backup and restore: a consistent copy while writes go on, loaded into an empty
database (SQLite or PostgreSQL), verified, with the same figures as the original."""

from __future__ import annotations

import gzip
import io
import json
import sqlite3
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from ledger.accounts import Account
from ledger.ids import uuid7
from ledger.store import LedgerStore, ledger_transfers
from ledger.transfers import Transfer
from service.app.backup import BackupError, backup, restore
from service.app.demo import load_demo_data
from service.app.verification import verify_all
from service.bootstrap import build_context
from service.cli.main import main
from service.db.engine import make_engine
from service.db.migrate import upgrade
from service.db.tables import metadata
from service.settings import Settings
from tests.conftest import PG_URL, PgSchemas


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in metadata.sorted_tables}


def _journal(engine: Engine) -> list[tuple[int, str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            select(ledger_transfers.c.seq, ledger_transfers.c.id, ledger_transfers.c.hash)
            .order_by(ledger_transfers.c.seq))]


def assert_takes_new_work(target: Engine) -> None:
    """A restored database takes new work: keys continue after the loaded ones."""
    store = LedgerStore(target)
    a, b = uuid7(), uuid7()
    store.create_accounts_batch([Account(id=a, code="a", currency="EUR"),
                                 Account(id=b, code="b", currency="EUR")])
    store.submit_batch([Transfer(id=uuid7(), debit_account_id=a, credit_account_id=b,
                                 amount=5, currency="EUR", code="after")])
    assert verify_all(target).ok


def test_backup_and_restore_give_the_same_books(engine: Engine, tmp_path: Path) -> None:
    load_demo_data(build_context(Settings("unused", "k" * 48), engine), progress=False)
    path = tmp_path / "demo.backup"
    summary = backup(engine, path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert summary.tables["ledger_transfers"] == len(_journal(engine)) > 20
    target = make_engine(f"sqlite:///{tmp_path / 'restored.db'}")
    restored = restore(target, path)
    assert restored.tables == summary.tables
    assert _counts(target) == _counts(engine)
    assert _journal(target) == _journal(engine)
    before, after = verify_all(engine), verify_all(target)
    assert after.ok and after.head == before.head
    assert (after.transfers, after.accounts) == (before.transfers, before.accounts)
    assert_takes_new_work(target)
    target.dispose()


def test_a_backup_taken_while_writes_go_on_is_a_consistent_prefix(engine: Engine,
                                                                  tmp_path: Path) -> None:
    store = LedgerStore(engine)
    a, b = uuid7(), uuid7()
    store.create_accounts_batch([Account(id=a, code="a", currency="EUR"),
                                 Account(id=b, code="b", currency="EUR")])
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            store.submit_batch([Transfer(id=uuid7(), debit_account_id=a,
                                         credit_account_id=b, amount=1, currency="EUR",
                                         code="live")])

    writer = threading.Thread(target=write)
    writer.start()
    try:
        paths = [tmp_path / f"live{i}.backup" for i in range(3)]
        for path in paths:
            backup(engine, path)
    finally:
        stop.set()
        writer.join()
    live = _journal(engine)
    for i, path in enumerate(paths):
        target = make_engine(f"sqlite:///{tmp_path / f'restored{i}.db'}")
        restore(target, path)
        copy = _journal(target)
        assert copy == live[:len(copy)]  # what it holds is exactly the journal's start
        report = verify_all(target)  # totals agree with that journal: one snapshot
        assert report.ok, report.problems
        target.dispose()


def test_restore_refuses_a_database_with_tables(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "x.backup"
    backup(engine, path)
    before = _counts(engine)
    with pytest.raises(BackupError, match="not empty"):
        restore(engine, path)
    assert _counts(engine) == before


def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    target = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    bad = tmp_path / "bad.backup"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(BackupError):
        restore(target, bad)
    cut = tmp_path / "cut.backup"
    cut.write_bytes(gzip.compress(json.dumps({"format": "something else"}).encode()))
    with pytest.raises(BackupError):
        restore(target, cut)
    with target.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one() == 0


def test_the_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FILIERA_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("FILIERA_DATABASE_URL", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["db", "upgrade"]) == 0
    assert main(["demo-data", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["backup", str(tmp_path / "b.gz")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("backup written to") and '"ok": true' in out
    assert main(["restore", str(tmp_path / "b.gz")]) == 2  # the database has tables
    monkeypatch.setenv("FILIERA_DATABASE_URL", f"sqlite:///{tmp_path / 'copy.db'}")
    assert main(["restore", str(tmp_path / "b.gz")]) == 0
    out = capsys.readouterr().out
    assert '"ok": true' in out and "checkpoints unverifiable" in out
    assert '"status": "unverifiable"' in out
    with sqlite3.connect(tmp_path / "copy.db") as db:
        assert db.execute("SELECT count(*) FROM parties").fetchone()[0] > 30


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only (CI always sets it)")
def test_a_restore_into_postgresql_continues_and_has_statistics(
        tmp_path: Path, pg_schemas: PgSchemas | None) -> None:
    """Into an empty PostgreSQL schema: the same books, keys continuing after the loaded
    ones, and every table analyzed (a fresh table has no statistics until autovacuum
    comes, and the planner then scans the whole journal for a lookup by id)."""
    assert pg_schemas is not None and PG_URL
    source = make_engine(f"sqlite:///{tmp_path / 'source.db'}")
    upgrade(source)
    load_demo_data(build_context(Settings("unused", "k" * 48), source), progress=False)
    path = tmp_path / "demo.backup"
    backup(source, path)
    target = make_engine(PG_URL, schema=pg_schemas.new())
    try:
        restore(target, path)
        assert _counts(target) == _counts(source)
        assert _journal(target) == _journal(source)
        with target.connect() as conn:
            never = conn.execute(text(
                "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                " AND c.reltuples < 0 AND c.relname <> 'alembic_version'")).scalars().all()
        assert never == []
        assert_takes_new_work(target)
    finally:
        target.dispose()
        source.dispose()
