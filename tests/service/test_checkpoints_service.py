"""Signed checkpoints as the service writes them, and what verify then detects: an older
copy of the database, checkpoints deleted, a history rewritten without the key."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from litestar.testing import TestClient
from sqlalchemy import Engine, delete, text

from ledger.accounts import Account
from ledger.ids import uuid7
from ledger.store import LedgerStore
from ledger.transfers import Transfer
from service.app.checkpoints import CheckpointWriter
from service.app.verification import verify_all
from service.db.engine import make_engine, write_tx
from service.db.tables import ledger_checkpoints
from service.http.app import create_app
from service.settings import Settings


def _post(store: LedgerStore, n: int) -> None:
    a, b = uuid7(), uuid7()
    store.create_accounts_batch([Account(id=a, code="a", currency="EUR"),
                                 Account(id=b, code="b", currency="EUR")])
    for _ in range(n):
        store.submit_batch([Transfer(id=uuid7(), debit_account_id=a, credit_account_id=b,
                                     amount=1, currency="EUR", code="t")])


def _verify(engine: Engine, key: Path | None, log: Path | None) -> dict:  # type: ignore[type-arg]
    import msgspec

    out: dict = msgspec.to_builtins(verify_all(  # type: ignore[type-arg]
        engine, checkpoint_key=key, checkpoint_log=log, check_checkpoints=True))
    return out


def test_the_service_writes_checkpoints_and_verify_checks_them(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    key, log = tmp_path / "keys" / "checkpoint_key", tmp_path / "checkpoints.log"
    settings = Settings(f"sqlite:///{db}", "k" * 48, checkpoint_key_file=key,
                        checkpoint_log_file=log)
    from service.db.migrate import upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    with TestClient(create_app(settings, engine=engine)):
        assert key.stat().st_mode & 0o777 == 0o600  # made on first serve, owner only
        _post(LedgerStore(engine), 3)
    # At shutdown the head was checkpointed, in the log and in the database.
    assert len(log.read_text().splitlines()) == 1
    report = _verify(engine, key, log)
    assert report["ok"] and report["checkpoints"]["status"] == "ok"
    assert report["checkpoints"]["unchecked"] == 0
    assert report["checkpoints"]["last"]["count"] == report["head"]["count"] == 3
    # Without the key nothing is authenticated: said plainly, not a failure.
    plain = _verify(engine, None, log)
    assert plain["ok"] and plain["checkpoints"]["status"] == "unverifiable"
    engine.dispose()


def test_an_older_copy_and_deleted_checkpoints_are_detected(tmp_path: Path) -> None:
    from service.db.migrate import upgrade

    db = tmp_path / "f.db"
    key, log = tmp_path / "checkpoint_key", tmp_path / "checkpoints.log"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    store = LedgerStore(engine)
    writer = CheckpointWriter(store, engine, key, log)
    _post(store, 2)
    now = datetime.now(UTC)
    assert writer.write(now=now) is not None  # the first head is always due
    engine.dispose()
    shutil.copy(db, tmp_path / "older.db")  # a self-consistent copy of that moment
    engine = make_engine(f"sqlite:///{db}")
    store = LedgerStore(engine)
    writer = CheckpointWriter(store, engine, key, log)
    _post(store, 2)
    assert writer.write(now=now + timedelta(minutes=2)) is not None  # a minute passed
    assert _verify(engine, key, log)["checkpoints"]["status"] == "ok"
    older = make_engine(f"sqlite:///{tmp_path / 'older.db'}")
    alone = verify_all(older)
    assert alone.ok  # on its own the older copy looks fine
    report = _verify(older, key, log)
    assert not report["ok"] and report["checkpoints"]["status"] == "failed"
    assert any("older copy" in p for p in report["checkpoints"]["problems"])
    older.dispose()
    with write_tx(engine) as conn:  # someone deletes the database's checkpoints
        conn.execute(delete(ledger_checkpoints))
    report = _verify(engine, key, log)
    assert not report["ok"]
    assert any("deleted from the database" in p for p in report["checkpoints"]["problems"])
    engine.dispose()


def test_history_rewritten_without_the_key_is_detected(tmp_path: Path) -> None:
    from ledger.chain import GENESIS_HASH, link_hash
    from ledger.store import ledger_transfers
    from service.db.migrate import upgrade

    db = tmp_path / "f.db"
    key, log = tmp_path / "checkpoint_key", tmp_path / "checkpoints.log"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    store = LedgerStore(engine)
    writer = CheckpointWriter(store, engine, key, log)
    _post(store, 3)
    writer.write(force=True)
    # Rewrite the first transfer's amount and recompute every hash and the head, as
    # someone with write access to the database but without the key could.
    with write_tx(engine) as conn:
        for trigger in ("ledger_transfers_no_update", "ledger_transfers_no_delete"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
        conn.execute(text("UPDATE ledger_transfers SET amount = 2 WHERE seq = 1"))
        conn.execute(text("UPDATE ledger_accounts SET debits_posted = debits_posted + 1 "
                          "WHERE id = (SELECT debit_account_id FROM ledger_transfers "
                          "WHERE seq = 1)"))
        conn.execute(text("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 "
                          "WHERE id = (SELECT credit_account_id FROM ledger_transfers "
                          "WHERE seq = 1)"))
        journal = store.list_transfers(conn, None, 100, None)[0]
        digest = GENESIS_HASH
        for seq, transfer in enumerate(journal, start=1):
            digest = link_hash(digest, transfer, seq)
            conn.execute(ledger_transfers.update().where(ledger_transfers.c.seq == seq)
                         .values(hash=digest))
        conn.execute(text("UPDATE ledger_head SET last_hash = :h"), {"h": digest})
    assert verify_all(engine).ok  # the chain alone cannot tell
    report = _verify(engine, key, log)
    assert not report["ok"]
    assert any("history rewritten" in p for p in report["checkpoints"]["problems"])
    engine.dispose()


def test_a_checkpoint_that_reached_only_the_log_is_kept_on_restart(tmp_path: Path) -> None:
    from service.db.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'f.db'}")
    upgrade(engine)
    key, log = tmp_path / "checkpoint_key", tmp_path / "checkpoints.log"
    store = LedgerStore(engine)
    writer = CheckpointWriter(store, engine, key, log)
    _post(store, 2)
    writer.write(force=True)
    with write_tx(engine) as conn:  # as if the service died between the log and the row
        conn.execute(delete(ledger_checkpoints))
    restarted = CheckpointWriter(store, engine, key, log)
    assert restarted.last is not None and restarted.last.count == 2
    _post(store, 1)
    restarted.write(force=True)
    report = _verify(engine, key, log)
    assert report["ok"] and report["checkpoints"]["checkpoints"] == 2
    engine.dispose()
