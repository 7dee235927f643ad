"""Sessions you can revoke (API.md, "Hardening"): logout, a user's own password change,
`filiera user passwd/set/disable`, revocation seen by a second app on the same database,
and failed logins throttled per username and address and per address."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlalchemy import Engine

from service.app.auth import LoginLimiter
from service.app.login import client_address
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


@hsettings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=8), st.sampled_from(["a", "b", "c", "d"])),
                max_size=200),
       st.integers(min_value=1, max_value=8))
def test_limiter_memory_is_bounded_and_limits_hold(attempts: list[tuple[str, str]],
                                                   max_keys: int) -> None:
    limiter = LoginLimiter(per_minute=3, per_address=5, max_keys=max_keys)
    per_address: dict[str, int] = {}
    for username, address in attempts:
        blocked = limiter.retry_after(username, address) > 0
        if not blocked:
            limiter.failed(username, address)
            per_address[address] = per_address.get(address, 0) + 1
        users, addresses = limiter.tracked()
        assert users <= max_keys and addresses <= max_keys
    # With room for every address, no address got past 5 failures in the minute.
    if max_keys >= 4:
        assert all(n <= 5 for n in per_address.values())
