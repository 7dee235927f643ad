from __future__ import annotations

import time

import jwt

from tests.api.conftest import PASSWORD, Api


def test_token_and_me(api: Api) -> None:
    me = api.ok(api.get("/api/me", "producer"))
    assert me == {"username": "producer", "role": "producer",
                  "party_id": api.parties["producer"],
                  "party_name": "Caseificio Val Taleggio"}
    r = api.client.post("/api/auth/token", json={"username": "officer", "password": PASSWORD})
    body = r.json()
    assert r.status_code == 200 and body["token_type"] == "bearer"
    assert body["expires_in"] == 3600


def test_wrong_password_and_unknown_user_are_401(api: Api) -> None:
    for username, password in [("officer", "nope-nope-nope"), ("ghost", PASSWORD)]:
        r = api.client.post("/api/auth/token", json={"username": username,
                                                     "password": password})
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == 401


def test_missing_bad_and_expired_tokens_are_401(api: Api, settings) -> None:  # type: ignore[no-untyped-def]
    assert api.client.get("/api/me").status_code == 401
    assert api.client.get("/api/me", headers={"Authorization": "Bearer junk"}).status_code == 401
    expired = jwt.encode({"sub": "officer", "role": "officer", "party_id": None,
                          "exp": int(time.time()) - 10}, settings.secret_key, algorithm="HS256")
    r = api.client.get("/api/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    forged = jwt.encode({"sub": "officer", "role": "admin", "exp": int(time.time()) + 100},
                        "another-secret-that-is-long-enough-0123456789", algorithm="HS256")
    r = api.client.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def test_auth_comes_before_body_validation(api: Api) -> None:
    r = api.client.post("/api/parties", content=b"{not json",
                        headers={"content-type": "application/json"})
    assert r.status_code == 401


def test_login_attempts_are_rate_limited_per_username(api: Api) -> None:
    for _ in range(5):
        r = api.client.post("/api/auth/token", json={"username": "gas", "password": "wrong!!!"})
        assert r.status_code == 401
    r = api.client.post("/api/auth/token", json={"username": "gas", "password": PASSWORD})
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.json()["retry_after"] == int(r.headers["Retry-After"])
    # Another user is not affected.
    assert api.login("officer")
