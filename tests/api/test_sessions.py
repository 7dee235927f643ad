"""Sessions you can revoke (API.md, "Hardening"): logout, a user's own password change,
`filiera user passwd/set/disable`, revocation seen by a second app on the same database,
and failed logins throttled per username and address and per address."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlalchemy import Engine

from service.app.login import client_address
from service.app.login_limits import LoginLimiter
from service.cli import main as cli
from service.http.app import create_app
from service.settings import Settings
from tests.api.conftest import PASSWORD, Api

NEW_PASSWORD = "another-long-passphrase"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def status_of(api: Api, token: str) -> int:
    return int(api.client.get("/api/me", headers=bearer(token)).status_code)


def run_cli(argv: list[str], engine: Engine, monkeypatch: pytest.MonkeyPatch,
            stdin: str = "") -> int:
    monkeypatch.setattr(cli, "open_engine", lambda: engine)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return cli.main(argv)


def test_logout_revokes_only_the_token_in_use(api: Api) -> None:
    first, second = api.login("gas"), api.login("gas")
    r = api.client.post("/api/auth/logout", headers=bearer(first))
    assert r.status_code == 204 and r.content == b""
    assert status_of(api, first) == 401
    assert api.client.post("/api/auth/logout", headers=bearer(first)).status_code == 401
    assert status_of(api, second) == 200
    assert api.client.post("/api/auth/logout").status_code == 401


def test_a_second_app_on_the_same_database_sees_a_revocation(
        api: Api, engine: Engine, settings: Settings) -> None:
    token = api.login("producer")
    with TestClient(create_app(settings, engine=engine)) as other:
        assert other.get("/api/me", headers=bearer(token)).status_code == 200
        assert api.client.post("/api/auth/logout", headers=bearer(token)).status_code == 204
        assert other.get("/api/me", headers=bearer(token)).status_code == 401
        # And the other way round: a password change made through the second app.
        fresh = api.login("producer")
        r = other.post("/api/me/password", headers=bearer(fresh),
                       json={"current": PASSWORD, "new": NEW_PASSWORD})
        assert r.status_code == 204
        assert status_of(api, fresh) == 401


def test_own_password_change(api: Api) -> None:
    token = api.tokens["officer"]
    short = api.client.post("/api/me/password", headers=bearer(token),
                            json={"current": PASSWORD, "new": "x" * 11})
    assert short.status_code == 422
    assert [e["field"] for e in short.json()["errors"]] == ["new"]
    wrong = api.client.post("/api/me/password", headers=bearer(token),
                            json={"current": "not-my-password", "new": NEW_PASSWORD})
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json()["errors"]] == ["current"]
    assert status_of(api, token) == 200  # refusals changed nothing
    # 12 code points suffice even when they are 36 bytes.
    twelve = "€" * 12
    r = api.client.post("/api/me/password", headers=bearer(token),
                        json={"current": PASSWORD, "new": twelve})
    assert r.status_code == 204
    assert status_of(api, token) == 401
    bad = api.client.post("/api/auth/token", json={"username": "officer", "password": PASSWORD})
    assert bad.status_code == 401
    assert status_of(api, api.login("officer", twelve)) == 200


def test_cli_passwd_set_and_disable_revoke_tokens(
        api: Api, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    token = api.tokens["gas"]
    assert run_cli(["user", "passwd", "gas"], engine, monkeypatch, "short\n") == 2
    assert status_of(api, token) == 200
    assert run_cli(["user", "passwd", "gas"], engine, monkeypatch, NEW_PASSWORD + "\n") == 0
    assert status_of(api, token) == 401
    token = api.login("gas", NEW_PASSWORD)

    # A role or party change: the old token (with the old role) is refused.
    other_gas = api.parties["other_gas"]
    assert run_cli(["user", "set", "gas", "--party", other_gas], engine, monkeypatch) == 0
    assert status_of(api, token) == 401
    me = api.ok(api.client.get("/api/me", headers=bearer(api.login("gas", NEW_PASSWORD))))
    assert me == {"username": "gas", "role": "gas", "party_id": other_gas,
                  "party_name": "GAS Navigli"}
    # Refused changes revoke nothing.
    officer = api.tokens["officer"]
    assert run_cli(["user", "set", "officer", "--party", other_gas], engine, monkeypatch) == 2
    assert run_cli(["user", "set", "ghost", "--role", "admin"], engine, monkeypatch) == 2
    assert status_of(api, officer) == 200
    assert run_cli(["user", "set", "officer", "--role", "admin"], engine, monkeypatch) == 0
    assert status_of(api, officer) == 401
    me = api.ok(api.client.get("/api/me", headers=bearer(api.login("officer"))))
    assert me == {"username": "officer", "role": "admin", "party_id": None,
                  "party_name": None}

    token = api.login("producer")
    assert run_cli(["user", "disable", "producer"], engine, monkeypatch) == 0
    assert status_of(api, token) == 401
    r = api.client.post("/api/auth/token", json={"username": "producer", "password": PASSWORD})
    assert r.status_code == 401


def failed_login(client: TestClient[Any], username: str, password: str = "wrong-password!",
                 **headers: str) -> Any:
    return client.post("/api/auth/token", json={"username": username, "password": password},
                       headers=headers)


def test_failures_from_one_address_are_limited_whatever_the_usernames(
        engine: Engine) -> None:
    # 10 per username and address, 20 per address (the defaults): a spray over 20 names.
    settings = Settings(database_url="unused", secret_key="k" * 48)
    from service.app.auth import create_user
    from service.db.engine import write_tx

    with write_tx(engine) as conn:
        create_user(conn, "victim", PASSWORD, "admin", None)
    with TestClient(create_app(settings, engine=engine)) as client:
        for i in range(20):
            assert failed_login(client, f"user{i}").status_code == 401
        r = failed_login(client, "victim", PASSWORD)  # the 21st, with the right password
        assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60


def test_the_eleventh_failure_of_one_username_is_refused(engine: Engine) -> None:
    settings = Settings(database_url="unused", secret_key="k" * 48)
    with TestClient(create_app(settings, engine=engine)) as client:
        for _ in range(10):
            assert failed_login(client, "someone").status_code == 401
        assert failed_login(client, "someone").status_code == 429
        assert failed_login(client, "someone-else").status_code == 401


def test_forwarded_for_counts_only_behind_a_trusted_proxy() -> None:
    trusted = ("10.0.0.0/8", "127.0.0.1")
    assert client_address("127.0.0.1", "203.0.113.7", trusted) == "203.0.113.7"
    # The client may prepend anything; the nearest untrusted hop is the client.
    assert client_address("127.0.0.1", "1.2.3.4, 203.0.113.7, 10.1.1.1", trusted) \
        == "203.0.113.7"
    assert client_address("198.51.100.9", "203.0.113.7", trusted) == "198.51.100.9"
    assert client_address("127.0.0.1", None, trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", "203.0.113.7", ()) == "127.0.0.1"


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite"])
def sqlite_engine(request: pytest.FixtureRequest, tmp_path: Any, sqlite_template: Any
                  ) -> Any:
    """One migrated SQLite database for a whole hypothesis run (emptied per example)."""
    import shutil

    from service.db.engine import make_engine

    path = tmp_path / "limits.db"
    shutil.copyfile(sqlite_template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


@hsettings(max_examples=50, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.text(max_size=8), st.sampled_from(["a", "b", "c", "d"]),
                          st.integers(min_value=0, max_value=30)),
                max_size=200),
       st.integers(min_value=2, max_value=16))
def test_limiter_memory_is_bounded_and_limits_hold(
        sqlite_engine: Engine, attempts: list[tuple[str, str, int]], max_rows: int) -> None:
    """Whatever the usernames, addresses and times, the table never holds more than its
    bound, and (with room for every failure) no counter gets past its limit in any
    minute: checked against a plain list of the failures let through."""
    from sqlalchemy import delete

    from service.db.engine import write_tx
    from service.db.tables import login_failures

    with write_tx(sqlite_engine) as conn:
        conn.execute(delete(login_failures))
    clock = Clock()
    limiter = LoginLimiter(sqlite_engine, per_minute=3, per_address=5, max_rows=max_rows,
                           clock=clock)
    let_through: list[tuple[float, str, str]] = []
    for username, address, seconds in attempts:
        clock.now += seconds
        blocked = limiter.retry_after(username, address) > 0
        if not blocked:
            limiter.failed(username, address)
            let_through.append((clock.now, username, address))
        assert limiter.rows() <= max_rows
    if max_rows >= 2 * len(attempts):  # nothing was ever forgotten for room
        for at, username, address in let_through:
            minute = [(u, a) for t, u, a in let_through if at - 60 < t <= at]
            assert sum(1 for _, a in minute if a == address) <= 5
            assert sum(1 for u, a in minute if (u, a) == (username, address)) <= 3


def test_limiter_blocks_until_the_oldest_counted_failure_is_a_minute_old(
        engine: Engine) -> None:
    clock = Clock()
    limiter = LoginLimiter(engine, per_minute=3, per_address=100, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("anna", "10.0.0.1") == 0
        limiter.failed("anna", "10.0.0.1")
        clock.now += 10
    # Failures at 0, 10 and 20 s; now 30 s: the first is a minute old at 60 s.
    assert limiter.retry_after("anna", "10.0.0.1") == 31
    assert limiter.retry_after("anna", "10.0.0.2") == 0  # another address
    clock.now += 29.5
    assert limiter.retry_after("anna", "10.0.0.1") == 1
    clock.now += 0.5
    assert limiter.retry_after("anna", "10.0.0.1") == 0
    limiter.succeeded("anna", "10.0.0.1")
    assert limiter.tracked() == (0, 1)  # the address keeps its count


def test_two_apps_on_one_database_share_the_failure_counts(
        db_url: tuple[str, str | None]) -> None:
    """Two server processes (two apps, each with its own engine) on one database: ten
    failures split between them, and the eleventh is refused by either; the address
    limit is shared as well."""
    from service.app.auth import create_user
    from service.db.engine import make_engine, write_tx

    url, schema = db_url
    settings = Settings(database_url="unused", secret_key="k" * 48)
    engines = [make_engine(url, schema=schema) for _ in range(2)]
    try:
        with write_tx(engines[0]) as conn:
            create_user(conn, "victim", PASSWORD, "admin", None)
        with TestClient(create_app(settings, engine=engines[0])) as one, \
                TestClient(create_app(settings, engine=engines[1])) as two:
            for i in range(10):
                assert failed_login((one, two)[i % 2], "victim").status_code == 401
            for client in (one, two):
                r = failed_login(client, "victim", PASSWORD)
                assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
            # Ten more usernames, five through each: the 21st failure from the address.
            for i in range(10):
                assert failed_login((one, two)[i % 2], f"user{i}").status_code == 401
            assert failed_login(one, "someone-new").status_code == 429
            assert failed_login(two, "someone-new").status_code == 429
            # The login page counts with the API, in both processes.
            import re

            form = two.get("/accedi")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token, form.text
            page = two.post("/accedi", data={"csrf_token": token.group(1),
                                              "username": "victim", "password": PASSWORD})
            assert page.status_code == 429 and "Troppi tentativi" in page.text
            assert 1 <= int(page.headers["Retry-After"]) <= 60
    finally:
        for eng in engines:
            eng.dispose()


def test_checks_arriving_together_are_answered_together(engine: Engine) -> None:
    """The guard's revocation checks from the event loop: each session gets its own
    answer (live; logged out; its user disabled; an older generation; no such user);
    on PostgreSQL the checks waiting together are answered by one query, off the loop,
    and a connection that fails twice fails the checks of that query (503 for their
    requests) while the next ones pass on a fresh connection."""
    import asyncio
    import uuid

    import psycopg

    from service.app.auth import Principal, Session, create_user, disable_user, revoke_token
    from service.app.live_sessions import LiveSessions
    from service.db.engine import write_tx

    def session(username: str, generation: int = 0) -> Session:
        return Session(Principal(username, "officer", None), uuid.uuid4().hex, generation,
                       2_000_000_000)

    live, out, disabled = session("live"), session("live"), session("gone")
    with write_tx(engine) as conn:
        create_user(conn, "live", PASSWORD, "officer", None)
        create_user(conn, "gone", PASSWORD, "officer", None)
        revoke_token(conn, out)
        disable_user(conn, "gone")
    cases = [(live, True), (out, False), (disabled, False), (session("live", 1), False),
             (session("nobody"), False)]
    checks = LiveSessions(engine)

    async def answers(sessions: list[Session]) -> list[bool | BaseException]:
        return await asyncio.gather(*(checks.is_live_async(s) for s in sessions),
                                    return_exceptions=True)

    try:
        got = asyncio.run(answers([s for s, _ in cases] * 20))
        assert got == [live for _, live in cases] * 20
        if engine.dialect.name == "postgresql":
            assert 1 <= checks.queries < 10, checks.queries
            real, failures = checks._rows, [2]

            def broken_twice(sessions: list[Session]) -> Any:
                if failures[0]:
                    failures[0] -= 1
                    raise psycopg.OperationalError("server closed the connection")
                return real(sessions)

            checks._rows = broken_twice  # type: ignore[method-assign]
            failed = asyncio.run(answers([live, out]))
            assert all(isinstance(e, psycopg.OperationalError) for e in failed), failed
            assert asyncio.run(answers([live, out])) == [True, False]
    finally:
        checks.close()
