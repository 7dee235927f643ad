"""The ``filiera`` command on a fresh SQLite file: upgrade, users, demo data, verify."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from service.cli.main import main
from service.db.engine import make_engine, write_tx


@pytest.fixture
def var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FILIERA_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("FILIERA_DATABASE_URL", raising=False)
    return tmp_path


def run(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str = "",
        monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    if monkeypatch is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_upgrade_user_add_and_errors(var: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(["db", "upgrade"], capsys)[0] == 0
    assert (var / "filiera.db").exists()
    code, out, _ = run(["user", "add", "anna", "--role", "admin"], capsys,
                       "una-password-lunga\n", monkeypatch)
    assert code == 0 and "anna" in out
    code, _, err = run(["user", "add", "anna", "--role", "admin"], capsys,
                       "una-password-lunga\n", monkeypatch)
    assert code == 2 and "already exists" in err
    code, _, err = run(["user", "add", "bruno", "--role", "gas"], capsys,
                       "una-password-lunga\n", monkeypatch)
    assert code == 2 and "--party" in err
    code, _, err = run(["user", "add", "carla", "--role", "officer"], capsys,
                       "undici-cara\n", monkeypatch)  # 11 characters
    assert code == 2 and "12 characters" in err
    # Characters, not bytes: twelve accented letters are enough, eleven are not.
    code, _, err = run(["user", "add", "carla", "--role", "officer"], capsys,
                       "àèìòùàèìòùà\n", monkeypatch)
    assert code == 2 and "12 characters" in err
    assert run(["user", "add", "carla", "--role", "officer"], capsys, "àèìòùàèìòùàè\n",
               monkeypatch)[0] == 0


def test_demo_data_verify_and_tamper(var: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["db", "upgrade"], capsys)[0] == 0
    code, out, _ = run(["demo-data", "--quiet"], capsys)
    assert code == 0 and "officer-demo-2026" in out
    code, out, _ = run(["demo-data", "--if-empty"], capsys)
    assert code == 0 and "not loaded" in out
    assert run(["demo-data"], capsys)[0] == 2
    code, out, _ = run(["verify"], capsys)
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["transfers"] > 20
    engine = make_engine(f"sqlite:///{var / 'filiera.db'}")
    from service.db.tables import prepayments

    with write_tx(engine) as conn:
        conn.execute(update(prepayments).values(delivered_minor=1))
    engine.dispose()
    code, out, _ = run(["verify"], capsys)
    assert code == 1 and json.loads(out)["ok"] is False


def test_every_subcommand_has_help() -> None:
    for argv in (["--help"], ["serve", "--help"], ["db", "upgrade", "--help"],
                 ["user", "add", "--help"], ["demo-data", "--help"], ["verify", "--help"],
                 ["ledger", "expire", "--help"], ["report", "--help"], ["match", "--help"],
                 ["plan", "--help"]):
        result = subprocess.run([sys.executable, "-m", "service.cli.main", *argv],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0 and "usage:" in result.stdout, argv


def test_demo_users_log_in(var: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from litestar.testing import TestClient

    from service.app.demo import DEMO_USERS
    from service.http.app import create_app
    from service.settings import Settings

    assert run(["db", "upgrade"], capsys)[0] == 0
    assert run(["demo-data", "--quiet"], capsys)[0] == 0
    settings = Settings.from_env()
    assert (var / "secret_key").stat().st_mode & 0o077 == 0  # private to its owner
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json()["status"] == "ok"
        for username, password, role, _ in DEMO_USERS:
            r = client.post("/api/auth/token", json={"username": username,
                                                     "password": password})
            assert r.status_code == 200, username
            me = client.get("/api/me", headers={
                "Authorization": f"Bearer {r.json()['access_token']}"}).json()
            assert me["role"] == role


def test_verify_gives_the_head_and_detects_an_older_copy(
        var: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from ledger.accounts import Account
    from ledger.ids import uuid7
    from ledger.store import LedgerStore
    from ledger.transfers import Transfer

    assert run(["db", "upgrade"], capsys)[0] == 0
    assert run(["demo-data", "--quiet"], capsys)[0] == 0
    older = var / "older.db"
    with sqlite3.connect(var / "filiera.db") as src, sqlite3.connect(older) as dst:
        src.backup(dst)  # a consistent copy, as it stood before the next transfer
    engine = make_engine(f"sqlite:///{var / 'filiera.db'}")
    store = LedgerStore(engine)
    a, b = uuid7(), uuid7()
    with write_tx(engine) as conn:
        store.create_accounts(conn, [Account(id=a, code="a", currency="EUR"),
                                     Account(id=b, code="b", currency="EUR")])
    store.submit_batch([Transfer(id=uuid7(), debit_account_id=a, credit_account_id=b,
                                 amount=100, currency="EUR", code="test")])
    engine.dispose()
    code, out, _ = run(["verify"], capsys)
    head = json.loads(out)["head"]
    with sqlite3.connect(var / "filiera.db") as db:
        count, last = db.execute("SELECT count(*), (SELECT hash FROM ledger_transfers "
                                 "ORDER BY seq DESC LIMIT 1) FROM ledger_transfers").fetchone()
    assert code == 0 and head == {"count": count, "hash": last}
    noted = f"{head['count']}:{head['hash']}"
    assert run(["verify", "--expect-head", noted], capsys)[0] == 0
    # The older copy verifies on its own, but not against the head noted since.
    monkeypatch.setenv("FILIERA_DATABASE_URL", f"sqlite:///{older}")
    assert run(["verify"], capsys)[0] == 0
    code, out, _ = run(["verify", "--expect-head", noted], capsys)
    assert code == 1 and json.loads(out)["ok"] is False
    code, _, err = run(["verify", "--expect-head", "not-a-head"], capsys)
    assert code == 2 and "--expect-head" in err


def test_the_database_and_its_wal_are_private(var: Path, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    assert run(["db", "upgrade"], capsys)[0] == 0
    engine = make_engine(f"sqlite:///{var / 'filiera.db'}")
    with write_tx(engine) as conn:  # a write keeps the WAL beside the file
        from service.db.tables import users

        conn.execute(users.delete())
        wal = var / "filiera.db-wal"
        assert wal.exists()
        for path in (var / "filiera.db", wal, var / "filiera.db-shm"):
            assert path.stat().st_mode & 0o777 == 0o600, path
    engine.dispose()


def test_user_commands_are_audited(var: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(["db", "upgrade"], capsys)[0] == 0
    assert run(["user", "add", "anna", "--role", "officer"], capsys,
               stdin="a-long-password-1\n", monkeypatch=monkeypatch)[0] == 0
    assert run(["user", "disable", "anna"], capsys)[0] == 0
    with sqlite3.connect(var / "filiera.db") as db:
        rows = db.execute("SELECT channel, operation, ids, outcome FROM audit_log "
                          "WHERE kind = 'users' ORDER BY seq").fetchall()
    assert rows == [("cli", "filiera user add", '["anna"]', 0),
                    ("cli", "filiera user disable", '["anna"]', 0)]


def test_every_command_that_changes_state_is_audited_and_readers_are_not(
        var: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """API.md: every change of state from the CLI is in the audit log (channel "cli",
    the system user as actor, no request id); commands that only read leave nothing."""
    import getpass
    import time

    from ledger.accounts import new_account
    from ledger.ids import uuid7
    from ledger.store import LedgerStore
    from ledger.transfers import Transfer, TransferFlag

    def entries(db: Path) -> list[tuple[str, str, str, str, int, str | None, str | None]]:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT actor, channel, operation, kind, outcome, changes, "
                                "http_request_id FROM audit_log ORDER BY seq").fetchall()

    me = getpass.getuser()
    db = var / "filiera.db"
    assert run(["db", "upgrade"], capsys)[0] == 0
    first = entries(db)
    assert [(e[2], e[3], e[4]) for e in first] == [("filiera db upgrade", "database", 0)]
    assert json.loads(first[0][5] or "null")["revision"]["from"] is None
    assert run(["db", "upgrade"], capsys)[0] == 0  # nothing to do: nothing changed
    assert run(["demo-data", "--quiet"], capsys)[0] == 0
    assert run(["demo-data", "--if-empty"], capsys)[0] == 0  # not loaded: not listed
    # A pending transfer with a one-second timeout, for `ledger expire`.
    engine = make_engine(f"sqlite:///{db}")
    store = LedgerStore(engine)
    a, b = new_account("a", "EUR"), new_account("b", "EUR")
    store.create_accounts_batch([a, b])
    pending = Transfer(id=uuid7(), debit_account_id=a.id, credit_account_id=b.id, amount=5,
                       currency="EUR", flags=frozenset({TransferFlag.PENDING}),
                       timeout_seconds=1)
    store.submit_batch([pending])
    engine.dispose()
    time.sleep(1.2)
    assert run(["ledger", "expire"], capsys)[0] == 0
    assert run(["ledger", "expire"], capsys)[0] == 0  # nothing left to expire
    before_readers = entries(db)
    # Commands that only read (or write files outside the database).
    assert run(["verify"], capsys)[0] == 0
    assert run(["backup", str(var / "b.gz")], capsys)[0] == 0
    assert run(["report", "trial-balance", "--out", str(var / "tb.csv")], capsys)[0] == 0
    assert entries(db) == before_readers
    assert [(e[2], e[3]) for e in before_readers] == [
        ("filiera db upgrade", "database"), ("filiera demo-data", "demo"),
        ("filiera ledger expire", "ledger")]
    assert json.loads(before_readers[2][5] or "null") == {"expired": 1}
    assert "demo-2026" not in str(before_readers)  # the demo passwords stay out
    # A restore: the restored database's own log says who loaded what.
    monkeypatch.setenv("FILIERA_DATABASE_URL", f"sqlite:///{var / 'copy.db'}")
    assert run(["restore", str(var / "b.gz")], capsys)[0] == 0
    restored = entries(var / "copy.db")
    assert restored[:3] == before_readers
    assert [(e[2], e[3], e[4]) for e in restored[3:]] == [("filiera restore", "database", 0)]
    assert json.loads(restored[3][5] or "null")["file"] == str(var / "b.gz")
    for entry in restored:
        assert (entry[0], entry[1], entry[6]) == (me, "cli", None)
