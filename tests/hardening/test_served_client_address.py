"""The client address behind `filiera serve`: X-Forwarded-For counts only from a proxy
listed in FILIERA_TRUSTED_PROXIES (none by default), so a client cannot pick a new
address per attempt to escape the failed-login limits (API.md, "Hardening")."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.hardening.live_server import PASSWORD, Server, add_officer, server_url


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_forged_forwarded_for_does_not_escape_the_login_limit(
        engine: Engine, db_url: tuple[str, str | None], tmp_path: Path) -> None:
    add_officer(engine)
    server = Server(server_url(db_url), tmp_path / "var")
    try:
        statuses = []
        for n in range(12):
            r = httpx.post(server.base + "/api/auth/token",
                           json={"username": "officer", "password": "wrong-password-0"},
                           headers={"X-Forwarded-For": f"10.0.0.{n + 1}"}, timeout=10)
            statuses.append(r.status_code)
        # The 11th failure of one username from one address is throttled: the forged
        # header named a new address each time, and it was not believed.
        assert statuses == [401] * 10 + [429, 429]
        right = httpx.post(server.base + "/api/auth/token",
                           json={"username": "officer", "password": PASSWORD},
                           headers={"X-Forwarded-For": "198.51.100.7"}, timeout=10)
        assert right.status_code == 429 and "retry-after" in right.headers
    finally:
        server.stop()
