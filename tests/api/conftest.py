"""An app on a fresh, migrated database with one user per role, and helpers to call it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine

from service.app.auth import create_user
from service.db.engine import write_tx
from service.http.app import create_app
from service.settings import Settings

PASSWORD = "correct-horse-battery"


@dataclass
class Api:
    client: TestClient[Any]
    tokens: dict[str, str] = field(default_factory=dict)
    parties: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def post(self, path: str, body: Any, who: str | None = "officer", **kw: Any) -> Any:
        return self.client.post(path, json=body, headers=self.headers(who), **kw)

    def put(self, path: str, body: Any, who: str | None = "officer") -> Any:
        return self.client.put(path, json=body, headers=self.headers(who))

    def get(self, path: str, who: str | None = "officer", **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers(who), **kw)

    def ok(self, response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    def login(self, username: str, password: str = PASSWORD) -> str:
        r = self.client.post("/api/auth/token", json={"username": username,
                                                       "password": password})
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def new_id() -> str:
    return str(uuid.uuid4())


def make_party(api: Api, kind: str, name: str, **extra: Any) -> str:
    body = {"kind": kind, "name": name, **extra}
    party_id: str = api.ok(api.post("/api/parties", body), 201)["id"]
    return party_id


def general_pool(api: Api, lender: str) -> str:
    """The pool a lender is created with (its only one)."""
    items = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"]
    assert len(items) == 1
    pool: str = items[0]["id"]
    return pool


def fund_pool(api: Api, lender: str, amount: str = "50000.00") -> str:
    """The lender's general pool, with ``amount`` deposited on 2 January 2026."""
    pool = general_pool(api, lender)
    api.ok(api.post(f"/api/pools/{pool}/deposits",
                    {"amount": eur(amount), "date": "2026-01-02"}), 201)
    return pool


def late_loan(api: Api, lender: str, borrower: str, principal: str) -> str:
    """A loan of ``lender`` (whose pool holds enough: ``fund_pool``) at 6% over twelve
    monthly French installments, disbursed on 15 January 2026 and never repaid: the
    first installment is late from 16 February."""
    loan_id: str = api.ok(api.post("/api/loans", {
        "principal": eur(principal), "annual_rate": "6.00", "term_months": 12,
        "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-15",
        "borrower_id": borrower, "lender_id": lender}), 201)["id"]
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    return loan_id


@pytest.fixture
def settings() -> Settings:
    return Settings(database_url="unused", secret_key="test-secret-" + "x" * 40,
                    login_attempts_per_minute=5)


@pytest.fixture
def api(engine: Engine, settings: Settings) -> Iterator[Api]:
    """Users: admin, officer, producer (bound to 'producer'), gas (bound to 'gas'),
    other_producer and other_gas bound to parties of their own."""
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        api = Api(client)
        with write_tx(engine) as conn:
            create_user(conn, "admin", PASSWORD, "admin", None)
            create_user(conn, "officer", PASSWORD, "officer", None)
        api.tokens["admin"] = api.login("admin")
        api.tokens["officer"] = api.login("officer")
        for key, kind, name in [
            ("producer", "producer", "Caseificio Val Taleggio"),
            ("other_producer", "producer", "Cascina Caremma"),
            ("gas", "gas", "GAS Gasabile Milano Isola"),
            ("other_gas", "gas", "GAS Navigli"),
        ]:
            extra: dict[str, Any] = {"households": 25} if kind == "gas" else {
                "categories": ["cheese"]}
            api.parties[key] = make_party(api, kind, name, **extra)
            with write_tx(engine) as conn:
                create_user(conn, key, PASSWORD, kind, api.parties[key])
            api.tokens[key] = api.login(key)
        yield api
