"""Where the contract asks for a JSON number or integer, a string is refused (422 naming
the field) and nothing is created; the same body with the right type is accepted."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, eur, new_id
from tests.api.test_requests_api import move, submit

TERMS = {"principal": eur("10000.00"), "annual_rate": "3.00", "term_months": 12,
         "method": "french", "frequency": "monthly", "grace_periods": 0,
         "disbursement_date": "2026-01-15"}


@pytest.mark.parametrize(("field", "bad", "good"), [
    ("latitude", "45.1", 45.1), ("latitude", True, 45), ("households", "3", 3),
    ("households", 3.0, 3),
])
def test_party_numbers_are_json_numbers(api: Api, field: str, bad: Any, good: Any) -> None:
    body = {"kind": "gas", "name": "GAS Lambrate", "latitude": 45.48, "longitude": 9.24,
            "households": 30}
    name = f"GAS Lambrate {new_id()}"
    r = api.post("/api/parties", {**body, "name": name, field: bad}, "admin")
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    listed = api.ok(api.get("/api/parties?kind=gas&limit=500", "admin"))["items"]
    assert name not in [p["name"] for p in listed]
    api.ok(api.post("/api/parties", {**body, "name": name, field: good}, "admin"), 201)


@pytest.mark.parametrize(("field", "bad"), [
    ("term_months", "12"), ("term_months", 12.0), ("grace_periods", "0"),
])
def test_loan_term_integers_are_json_integers(api: Api, field: str, bad: Any) -> None:
    r = api.post("/api/loans/simulate", {**TERMS, field: bad}, "producer")
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    api.ok(api.post("/api/loans/simulate", TERMS, "producer"))


def test_assessment_scores_are_json_integers(api: Api) -> None:
    rid = submit(api)["id"]
    move(api, rid, "under_review")
    body = {"economic_score": "7", "social_score": 8, "notes": "sound plan"}
    r = api.put(f"/api/requests/{rid}/assessment", body)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["economic_score"]
    assert api.ok(api.get(f"/api/requests/{rid}"))["assessment"] is None
    api.ok(api.put(f"/api/requests/{rid}/assessment", {**body, "economic_score": 7}))


def test_transfer_timeout_is_a_json_integer(api: Api) -> None:
    ids = [api.ok(api.post("/api/ledger/accounts", {"code": "t", "currency": "EUR"}), 201)["id"]
           for _ in range(2)]
    transfer = {"id": new_id(), "debit_account_id": ids[0], "credit_account_id": ids[1],
                "amount": eur("1.00"), "code": "t", "flags": ["pending"],
                "timeout_seconds": "5"}
    r = api.post("/api/ledger/transfers", [transfer])
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["0.timeout_seconds"]
    results = api.ok(api.post("/api/ledger/transfers", [{**transfer, "timeout_seconds": 5}]))
    assert results["results"] == [{"id": transfer["id"], "result": "created"}]


def test_a_body_nested_a_thousand_deep_is_400(api: Api) -> None:
    body = "[" * 1000 + "]" * 1000
    r = api.client.post("/api/loans/simulate", content=body.encode(), headers={
        **api.headers("producer"), "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["status"] == 400


def test_report_catalog_has_the_list_shape(api: Api) -> None:
    listing = api.ok(api.get("/api/reports"))
    assert listing["next_cursor"] is None and len(listing["items"]) >= 9


def test_categories_of_an_unknown_lender_are_404(api: Api) -> None:
    gas = api.parties["gas"]
    for lender in (new_id(), gas):  # nobody, or a party that is not a lender
        assert api.get(f"/api/lenders/{lender}/categories/microcredit").status_code == 404
        r = api.put(f"/api/lenders/{lender}/categories/microcredit", {
            "max_principal": eur("1000.00"), "max_term_months": 12,
            "frequencies": ["monthly"]})
        assert r.status_code == 404, r.text


@pytest.mark.parametrize(("path", "field"), [
    ("/api/pools?lender_id=x", "lender_id"),
    ("/api/relationships?gas_id=x", "gas_id"),
    ("/api/relationships?producer_id=x", "producer_id"),
    ("/api/shares?member_id=x", "member_id"),
    ("/api/shares?lender_id=x", "lender_id"),
    ("/api/guarantees?guarantor_id=x", "guarantor_id"),
    ("/api/guarantees?loan_id=x", "loan_id"),
    ("/api/guarantees?status=x", "status"),
    ("/api/prepayments?producer_id=x", "producer_id"),
    ("/api/prepayments?gas_id=x", "gas_id"),
    ("/api/prepayments?status=x", "status"),
    ("/api/contributions?gas_id=x", "gas_id"),
    ("/api/contributions?fund_id=x", "fund_id"),
    ("/api/funds?gas_id=x", "gas_id"),
])
def test_list_filters_no_item_could_match_are_422(api: Api, path: str, field: str) -> None:
    r = api.get(path)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    good = path.replace("=x", f"={new_id()}") if "status" not in path else path.replace(
        "=x", "=active" if "guarantees" in path else "=open")
    assert api.ok(api.get(good))["items"] == []


def test_id_filters_match_whatever_the_case_of_the_id(api: Api) -> None:
    gas, producer = api.parties["gas"], api.parties["producer"]
    api.ok(api.post("/api/relationships", {"gas_id": gas, "producer_id": producer,
                                           "since": "2020-01-01",
                                           "annual_purchases": eur("1000.00")}), 201)
    for path in (f"/api/relationships?gas_id={gas}", f"/api/funds?gas_id={gas}"):
        lower = api.ok(api.get(path))["items"]
        assert lower, path
        assert api.ok(api.get(path.replace(gas, gas.upper())))["items"] == lower, path
