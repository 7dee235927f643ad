"""Every role against every endpoint of the foundation, the ledger and lending.

Expected answers follow the contract's order: 401 without credentials, 404 for what a
user may not see (another party's resource), 403 for what it sees but may not do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.conftest import Api, eur, make_party

ROLES = ("admin", "officer", "producer", "gas", "other_producer", "other_gas")


def world(api: Api) -> dict[str, str]:
    lender = make_party(api, "lender", "Mag2 Finance Milano")
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool}/deposits", {"amount": eur("9000.00"),
                                                    "date": "2026-01-02"}), 201)
    api.ok(api.post("/api/relationships", {
        "gas_id": api.parties["gas"], "producer_id": api.parties["producer"],
        "since": "2015-01-01", "annual_purchases": eur("3000.00")}), 201)
    loan = api.ok(api.post("/api/loans", {
        "principal": eur("1200.00"), "annual_rate": "3.00", "term_months": 12,
        "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-15",
        "borrower_id": api.parties["producer"], "lender_id": lender}), 201)["id"]
    account = api.ok(api.post("/api/ledger/accounts", {"code": "cassa", "currency": "EUR"}),
                     201)["id"]
    return {"lender": lender, "pool": pool, "loan": loan, "account": account,
            "producer": api.parties["producer"], "gas": api.parties["gas"]}


Case = tuple[str, str, Callable[[dict[str, str]], Any], dict[str, int]]

ALL_OK = {r: 200 for r in ROLES}
STAFF_ONLY_READ = {"admin": 200, "officer": 200, "producer": 403, "gas": 403,
                   "other_producer": 403, "other_gas": 403}


def expect(**codes: int) -> dict[str, int]:
    return {**{r: codes.get(r, codes.get("others", 0)) for r in ROLES}}


CASES: list[Case] = [
    ("GET", "/api/me", lambda w: None, ALL_OK),
    ("GET", "/api/parties", lambda w: None, ALL_OK),
    ("GET", "/api/parties/{producer}", lambda w: None,
     expect(admin=200, officer=200, producer=200, gas=200, others=404)),
    ("GET", "/api/parties/{lender}", lambda w: None,
     expect(admin=200, officer=200, others=404)),
    ("POST", "/api/parties", lambda w: {"kind": "person", "name": "Socia"},
     expect(admin=201, officer=201, others=403)),
    ("GET", "/api/relationships", lambda w: None, ALL_OK),
    ("GET", "/api/ledger/accounts/{account}", lambda w: None,
     expect(admin=200, officer=200, others=404)),
    ("POST", "/api/ledger/accounts", lambda w: {"code": "x", "currency": "EUR"},
     expect(admin=201, officer=201, others=403)),
    ("GET", "/api/ledger/transfers", lambda w: None, STAFF_ONLY_READ),
    ("GET", "/api/ledger/verify", lambda w: None, STAFF_ONLY_READ),
    ("GET", "/api/pools", lambda w: None, STAFF_ONLY_READ),
    ("GET", "/api/pools/{pool}", lambda w: None, expect(admin=200, officer=200, others=404)),
    ("POST", "/api/pools/{pool}/deposits",
     lambda w: {"amount": eur("1.00"), "date": "2026-01-03"},
     expect(admin=201, officer=201, others=404)),
    ("POST", "/api/loans/simulate", lambda w: {
        "principal": eur("1000.00"), "annual_rate": "3.00", "term_months": 12,
        "method": "italian", "frequency": "monthly", "disbursement_date": "2026-01-15"},
     ALL_OK),
    ("GET", "/api/loans/{loan}", lambda w: None,
     expect(admin=200, officer=200, producer=200, others=404)),
    ("POST", "/api/loans/{loan}/disbursement", lambda w: {"date": "2026-01-15"},
     expect(admin=200, officer=409, producer=403, others=404)),
    ("GET", "/api/parties/{gas}/pledge-capacity", lambda w: None,
     expect(admin=200, officer=200, gas=200, others=404)),
    ("PUT", "/api/parties/{gas}/pledge-capacity", lambda w: {"amount": eur("10.00")},
     expect(admin=200, officer=200, gas=200, others=404)),
]


@pytest.mark.parametrize(("method", "path", "body", "codes"), CASES,
                         ids=[f"{m} {p}" for m, p, _, _ in CASES])
def test_role_matrix(api: Api, method: str, path: str, body: Callable[[dict[str, str]], Any],
                     codes: dict[str, int]) -> None:
    w = world(api)
    url = path.format(**w)
    anonymous = api.client.request(method, url, json=body(w))
    assert anonymous.status_code == 401
    for role in ROLES:
        if method == "GET":
            r = api.get(url, role)
        elif method == "PUT":
            r = api.put(url, body(w), role)
        else:
            r = api.post(url, body(w), role)
        assert r.status_code == codes[role], (role, r.text)
