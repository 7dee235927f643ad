"""The database going away under a running service: a write answers 503 `unavailable`
with `Retry-After` (not a 500, so a client can tell "send it again" from a bug), the pool
recovers by itself on the next request, and the same request sent again with the same
ids is applied exactly once.

For real on both engines: on SQLite another connection holds the write lock past the
(shortened, through the settings) busy timeout; on PostgreSQL an admin connection
terminates the service's backends, idle ones (a restarted server) and one waiting inside
its transaction. A connection lost while committing (the commit done, its answer lost)
is simulated: the retry then answers as the first time and nothing is written twice."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.exc import OperationalError

import service.app.context as context_module
from ledger.store import ledger_accounts, ledger_transfers
from service.app.auth import create_user
from service.db.engine import normalize_url, write_tx
from service.db.tables import audit_log, idempotency
from service.http.app import create_app
from service.settings import Settings
from tests.conftest import PG_URL
from tests.hardening.live_server import server_url

PASSWORD = "correct-horse-battery"
BUSY_MS = 300  # the SQLite busy timeout these tests run with (30 s by default)


@contextmanager
def service(engine: Engine, db_url: tuple[str, str | None], app_name: str | None = None
            ) -> Iterator[tuple[TestClient[Any], dict[str, str]]]:
    """The app built from its settings alone (its own engine, as `filiera serve` makes
    it; on PostgreSQL its connections named ``app_name``), and an officer's headers."""
    with write_tx(engine) as conn:
        create_user(conn, "officer", PASSWORD, "officer", None)
    settings = Settings(database_url=server_url(db_url, app_name if db_url[1] else None),
                        secret_key="unavailable-secret-" + "x" * 40,
                        sqlite_busy_timeout_ms=BUSY_MS)
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/auth/token", json={"username": "officer", "password": PASSWORD})
        assert r.status_code == 200, r.text
        yield client, {"Authorization": f"Bearer {r.json()['access_token']}"}


def new_account(client: TestClient[Any], headers: dict[str, str], account_id: str | None = None
                ) -> Any:
    body: dict[str, Any] = {"code": "conto", "currency": "EUR", "flags": []}
    if account_id is not None:
        body["id"] = account_id
    return client.post("/api/ledger/accounts", json=body, headers=headers)


def transfer_body(transfer_id: str, debit: str, credit: str, amount: str) -> list[dict[str, Any]]:
    return [{"id": transfer_id, "debit_account_id": debit, "credit_account_id": credit,
             "amount": {"amount": amount, "currency": "EUR"}, "code": "prova", "flags": []}]


def assert_unavailable(r: Any) -> None:
    """The API's problem document with the code this contract adds, and the header."""
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["Retry-After"] == "1"
    body = r.json()
    assert body["status"] == 503 and body["code"] == "unavailable", body
    assert body["title"] == "Service unavailable" and body["detail"], body


def count(engine: Engine, query: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def transfers_with_id(transfer_id: str) -> Any:
    return select(func.count()).select_from(ledger_transfers).where(
        ledger_transfers.c.id == transfer_id)


def accounts_with_id(account_id: str) -> Any:
    return select(func.count()).select_from(ledger_accounts).where(
        ledger_accounts.c.id == account_id)


def balance(client: TestClient[Any], headers: dict[str, str], account_id: str) -> str:
    r = client.get(f"/api/ledger/accounts/{account_id}", headers=headers)
    assert r.status_code == 200, r.text
    amount: str = r.json()["balance"]["amount"]
    return amount


def check_resent_once(client: TestClient[Any], headers: dict[str, str], engine: Engine,
                      transfer_id: str, debit: str, credit: str, account_id: str,
                      first_account: Any) -> None:
    """After the 503s: the transfer sent again is created once (then `exists`), the
    account sent again with its id is created once (then the same answer again)."""
    body = transfer_body(transfer_id, debit, credit, "12.34")
    r = client.post("/api/ledger/transfers", json=body, headers=headers)
    assert r.status_code == 200 and r.json()["results"] == [
        {"id": transfer_id, "result": "created"}], r.text
    r = client.post("/api/ledger/transfers", json=body, headers=headers)
    assert r.json()["results"] == [{"id": transfer_id, "result": "exists"}], r.text
    assert count(engine, transfers_with_id(transfer_id)) == 1
    assert balance(client, headers, credit) == "12.34"
    assert balance(client, headers, debit) == "-12.34"

    created = new_account(client, headers, account_id)
    assert created.status_code == 201, created.text
    again = new_account(client, headers, account_id)
    assert again.status_code == 201 and again.json() == created.json()
    assert count(engine, accounts_with_id(account_id)) == 1
    if first_account is not None:  # the 503 answered nothing of the account
        assert first_account.json().get("id") is None


# -- SQLite: the write lock held past the busy timeout -------------------------------------

@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_lock_past_the_busy_timeout_answers_503_then_applies_once(
        engine: Engine, db_url: tuple[str, str | None]) -> None:
    with service(engine, db_url) as (client, headers):
        debit = new_account(client, headers).json()["id"]
        credit = new_account(client, headers).json()["id"]
        transfer_id, account_id = str(uuid.uuid4()), str(uuid.uuid4())
        path = db_url[0].removeprefix("sqlite:///")
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another process writing, for too long
            started = time.monotonic()
            r = client.post("/api/ledger/transfers",
                            json=transfer_body(transfer_id, debit, credit, "12.34"),
                            headers=headers)
            assert_unavailable(r)
            # It waited the busy timeout once, not once per retry.
            assert BUSY_MS / 1000 <= time.monotonic() - started < 20 * BUSY_MS / 1000
            first_account = new_account(client, headers, account_id)
            assert_unavailable(first_account)
            # Reading goes on meanwhile (WAL): only writes wait for the lock.
            assert balance(client, headers, credit) == "0.00"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert count(engine, transfers_with_id(transfer_id)) == 0
        assert count(engine, accounts_with_id(account_id)) == 0
        check_resent_once(client, headers, engine, transfer_id, debit, credit, account_id,
                          first_account)


# -- PostgreSQL: backends terminated ----------------------------------------------------------

@contextmanager
def admin() -> Iterator[Engine]:
    assert PG_URL is not None
    eng = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        yield eng
    finally:
        eng.dispose()


def backends(conn: Connection, app_name: str, where: str = "TRUE") -> list[int]:
    return [int(pid) for pid in conn.execute(text(
        f"SELECT pid FROM pg_stat_activity WHERE application_name = :n AND {where}"),
        {"n": app_name}).scalars()]


def terminate(conn: Connection, pids: list[int]) -> None:
    for pid in pids:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()


@pytest.mark.parametrize("backend", ["postgresql"] if PG_URL else [])
def test_postgresql_restarted_under_the_service_the_pool_recovers(
        engine: Engine, db_url: tuple[str, str | None]) -> None:
    """Every connection of the service terminated between requests (what a server
    restart does to them): the next requests find new ones, no error at all."""
    app_name = f"filiera_gone_{uuid.uuid4().hex[:10]}"
    with admin() as pg, pg.connect() as conn, service(engine, db_url, app_name) as (
            client, headers):
        debit = new_account(client, headers).json()["id"]
        credit = new_account(client, headers).json()["id"]
        killed = backends(conn, app_name)
        assert killed, "the service holds no connection"
        terminate(conn, killed)
        deadline = time.monotonic() + 5
        while set(backends(conn, app_name)) & set(killed) and time.monotonic() < deadline:
            time.sleep(0.02)
        transfer_id = str(uuid.uuid4())
        r = client.post("/api/ledger/transfers",
                        json=transfer_body(transfer_id, debit, credit, "5.00"), headers=headers)
        assert r.status_code == 200 and r.json()["results"][0]["result"] == "created", r.text
        assert balance(client, headers, credit) == "5.00"
        r = new_account(client, headers)
        assert r.status_code == 201, r.text
        assert not set(backends(conn, app_name)) & set(killed)


@pytest.mark.parametrize("backend", ["postgresql"] if PG_URL else [])
def test_postgresql_backend_terminated_mid_transaction_answers_503_then_applies_once(
        engine: Engine, db_url: tuple[str, str | None]) -> None:
    """The service's backend terminated while it waits inside its transaction (held by a
    lock on the ledger's head): 503, nothing written; sent again, applied once."""
    app_name = f"filiera_gone_{uuid.uuid4().hex[:10]}"
    schema = db_url[1]
    with admin() as pg, pg.connect() as conn, service(engine, db_url, app_name) as (
            client, headers):
        debit = new_account(client, headers).json()["id"]
        credit = new_account(client, headers).json()["id"]
        transfer_id, account_id = str(uuid.uuid4()), str(uuid.uuid4())

        def caught(send: Callable[[], Any]) -> Any:
            """``send`` while the head is locked; its backend terminated once it waits."""
            with pg.connect() as plain:
                holder = plain.execution_options(isolation_level="READ COMMITTED")
                lock = holder.begin()  # a real transaction (the admin engine autocommits)
                holder.execute(text(f'SELECT 1 FROM "{schema}".ledger_head FOR UPDATE'))
                with ThreadPoolExecutor(1) as pool:
                    answer = pool.submit(send)
                    deadline = time.monotonic() + 10
                    waiting: list[int] = []
                    while not waiting and time.monotonic() < deadline:
                        waiting = backends(conn, app_name, "wait_event_type = 'Lock'")
                        time.sleep(0.02)
                    assert len(waiting) == 1, "the request never waited for the lock"
                    terminate(conn, waiting)
                    try:
                        return answer.result(timeout=30)
                    finally:
                        lock.rollback()

        r = caught(lambda: client.post(
            "/api/ledger/transfers", json=transfer_body(transfer_id, debit, credit, "12.34"),
            headers=headers))
        assert_unavailable(r)
        first_account = caught(lambda: new_account(client, headers, account_id))
        assert_unavailable(first_account)
        assert count(engine, transfers_with_id(transfer_id)) == 0
        assert count(engine, accounts_with_id(account_id)) == 0
        check_resent_once(client, headers, engine, transfer_id, debit, credit, account_id,
                          first_account)


# -- the connection lost while committing: done, but the answer lost ---------------------------

def lost_after_commit() -> OperationalError:
    return OperationalError("COMMIT", {}, Exception("server closed the connection "
                                                    "unexpectedly"),
                            connection_invalidated=True)


def test_connection_lost_after_the_commit_a_resend_answers_as_the_first_time(
        engine: Engine, db_url: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    with service(engine, db_url, f"filiera_gone_{uuid.uuid4().hex[:10]}") as (
            client, headers):
        debit = new_account(client, headers).json()["id"]
        credit = new_account(client, headers).json()["id"]
        ctx = client.app.state.ctx
        transfer_id, account_id = str(uuid.uuid4()), str(uuid.uuid4())

        # The ledger's group transaction commits, then the connection breaks.
        real_many = ctx.store.submit_many_batch
        lost = threading.Event()

        def many(*args: Any, **kwargs: Any) -> Any:
            results = real_many(*args, **kwargs)
            if not lost.is_set():
                lost.set()
                raise lost_after_commit()
            return results

        monkeypatch.setattr(ctx.store, "submit_many_batch", many)
        body = transfer_body(transfer_id, debit, credit, "7.50")
        assert_unavailable(client.post("/api/ledger/transfers", json=body, headers=headers))
        r = client.post("/api/ledger/transfers", json=body, headers=headers)
        # Already there with the same fields: the ledger's answer to a second send.
        assert r.json()["results"] == [{"id": transfer_id, "result": "exists"}], r.text
        assert count(engine, transfers_with_id(transfer_id)) == 1
        assert balance(client, headers, credit) == "7.50"
        # The first request's audit entry committed with its transfer (the batch's own
        # transaction), though its answer was lost; the second created nothing.
        with engine.connect() as conn:
            listed = conn.execute(select(audit_log.c.ids, audit_log.c.outcome).where(
                audit_log.c.operation == "POST /api/ledger/transfers").order_by(
                audit_log.c.seq)).all()
        assert [(json.loads(ids), outcome) for ids, outcome in listed] == [
            ([transfer_id], 200), ([], 200)]

        # A command (through AppContext.write) commits, then the connection breaks.
        real_tx = context_module.write_tx
        broken = threading.Event()

        @contextmanager
        def write_tx_losing_the_answer(eng: Engine) -> Iterator[Connection]:
            with real_tx(eng) as conn:
                yield conn
            if not broken.is_set():
                broken.set()
                raise lost_after_commit()

        monkeypatch.setattr(context_module, "write_tx", write_tx_losing_the_answer)
        assert_unavailable(new_account(client, headers, account_id))
        assert count(engine, accounts_with_id(account_id)) == 1  # it did commit
        again = new_account(client, headers, account_id)
        assert again.status_code == 201 and again.json()["id"] == account_id, again.text
        assert count(engine, accounts_with_id(account_id)) == 1
        assert count(engine, select(func.count()).select_from(idempotency).where(
            idempotency.c.id == account_id)) == 1


# -- errors the service meets outside SQLAlchemy's wrapping ------------------------------------

def raised_by(fn: Callable[[], object]) -> BaseException:
    try:
        fn()
    except BaseException as exc:  # the error itself is what is checked
        return exc
    raise AssertionError("nothing was raised")


def test_a_lost_connection_is_told_apart_from_a_refusal_whatever_raised_it() -> None:
    """The driver's own errors (a connection of our own, not SQLAlchemy's) and errors
    raised while handling a lost connection count as unavailable; refusals and bugs
    do not, even when raised near one."""
    from sqlalchemy.exc import IntegrityError, PendingRollbackError

    from ledger.store import is_unavailable

    locked = sqlite3.connect(":memory:")
    assert is_unavailable(sqlite3.OperationalError("database is locked"))
    assert not is_unavailable(raised_by(lambda: locked.execute("SELECT * FROM nowhere")))
    assert not is_unavailable(ValueError("database is locked"))  # not the driver's
    assert is_unavailable(PendingRollbackError(
        "Can't reconnect until invalid transaction is rolled back."))
    assert not is_unavailable(PendingRollbackError(
        "This Session's transaction has been rolled back due to a previous exception"))

    def while_handling(first: BaseException, then: BaseException) -> BaseException:
        def fail() -> None:
            try:
                raise first
            except BaseException:
                raise then  # noqa: B904 - the implicit context is the point
        return raised_by(fail)

    assert is_unavailable(while_handling(lost_after_commit(), RuntimeError("rollback")))
    assert not is_unavailable(while_handling(ValueError("x"), RuntimeError("y")))
    refused = IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
    assert not is_unavailable(while_handling(refused, RuntimeError("y")))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_session_guard_answers_503_when_its_own_connection_cannot_be_used(
        engine: Engine, db_url: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch) -> None:
    """The revocation check runs on a DB-API connection of its own: when it fails twice
    (locked, then locked again on the fresh connection) the request answers 503, not 500,
    and the next request, the database free again, passes."""
    from service.app.live_sessions import LiveSessions

    with service(engine, db_url) as (client, headers):
        real = LiveSessions._row
        failures = {"left": 2}

        def locked_then_real(self: LiveSessions, session: Any) -> Any:
            if failures["left"]:
                failures["left"] -= 1
                raise sqlite3.OperationalError("database is locked")
            return real(self, session)

        monkeypatch.setattr(LiveSessions, "_row", locked_then_real)
        assert_unavailable(client.get("/api/me", headers=headers))
        assert failures["left"] == 0
        assert client.get("/api/me", headers=headers).status_code == 200


@pytest.mark.parametrize("backend", ["postgresql"] if PG_URL else [])
def test_the_session_guard_answers_503_when_its_checks_connection_breaks_on_postgresql(
        engine: Engine, db_url: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL the API's checks are answered by a thread of their own (one query
    for the checks waiting together): a connection that fails there, and again on a
    fresh one, answers 503 too, and the next request passes."""
    import psycopg

    from service.app.live_sessions import LiveSessions

    with service(engine, db_url) as (client, headers):
        real = LiveSessions._rows
        failures = {"left": 2}

        def gone_then_real(self: LiveSessions, sessions: Any) -> Any:
            if failures["left"]:
                failures["left"] -= 1
                raise psycopg.OperationalError("server closed the connection unexpectedly")
            return real(self, sessions)

        monkeypatch.setattr(LiveSessions, "_rows", gone_then_real)
        assert_unavailable(client.get("/api/me", headers=headers))
        assert failures["left"] == 0
        assert client.get("/api/me", headers=headers).status_code == 200


@pytest.mark.parametrize("backend", ["postgresql"] if PG_URL else [])
def test_errors_of_a_terminated_postgresql_backend_count_as_unavailable(
        engine: Engine, db_url: tuple[str, str | None]) -> None:
    """Real errors from a terminated backend: psycopg's own, raised on a raw connection,
    and SQLAlchemy's refusal to go on with a transaction whose connection it lost."""
    import psycopg
    from sqlalchemy.exc import PendingRollbackError

    from ledger.store import is_unavailable

    app_name = f"filiera_gone_{uuid.uuid4().hex[:10]}"
    url = server_url(db_url, app_name)
    with admin() as pg, pg.connect() as conn:
        assert PG_URL is not None
        raw = psycopg.connect(PG_URL, application_name=app_name, autocommit=True)
        try:
            terminate(conn, backends(conn, app_name))
            lost = raised_by(lambda: raw.execute("SELECT 1"))
            assert isinstance(lost, psycopg.OperationalError) and is_unavailable(lost), lost
        finally:
            raw.close()
        served = create_engine(normalize_url(url))
        try:
            with served.connect() as mine:
                mine.begin()
                mine.execute(text("SELECT 1"))
                terminate(conn, backends(conn, app_name))
                first = raised_by(lambda: mine.execute(text("SELECT 1")))
                assert is_unavailable(first), first
                pending = raised_by(lambda: mine.execute(text("SELECT 1")))
                assert isinstance(pending, PendingRollbackError), pending
                assert is_unavailable(pending)
        finally:
            served.dispose()
