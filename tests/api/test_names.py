"""Names beside ids: every object that names a party by id also gives its name, in the
field named as the id's with ``_id`` replaced by ``_name`` (API.md, "Names beside ids");
funds also list their earmarks with the producers' names."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, eur, make_party

TODAY = "2026-12-06"
PRODUCER = "Caseificio Val Taleggio"
GAS = "GAS Gasabile Milano Isola"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", TODAY)


def named(item: dict[str, Any], names: dict[str, str]) -> None:
    """Each ``x_id`` of ``item`` that names a party has ``x_name`` beside it."""
    for field, value in item.items():
        if field.endswith("_id") and value in names:
            assert item[field.removesuffix("_id") + "_name"] == names[value], field


def test_names_stand_beside_party_ids_everywhere(api: Api) -> None:
    lender = make_party(api, "lender", "Mag2 Finance Milano")
    producer, gas = api.parties["producer"], api.parties["gas"]
    names = {lender: "Mag2 Finance Milano", producer: PRODUCER, gas: GAS}

    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]
    assert pool["lender_name"] == "Mag2 Finance Milano" and pool["partner_name"] is None
    partner_pool = api.ok(api.post("/api/pools", {"lender_id": lender, "name": "Fondo GAS",
                                                  "partner_id": gas}), 201)
    assert partner_pool["partner_name"] == GAS
    api.ok(api.post(f"/api/pools/{pool['id']}/deposits",
                    {"amount": eur("5000.00"), "date": "2026-01-02"}), 201)
    share = api.ok(api.post("/api/shares", {"member_id": gas, "lender_id": lender,
                                            "amount": eur("51.64"), "date": "2026-01-03"}),
                   201)
    named(share, names)
    named(api.ok(api.get(f"/api/shares?lender_id={lender}"))["items"][0], names)
    category = api.ok(api.get(f"/api/lenders/{lender}/categories/microcredit"))
    assert category["lender_name"] == "Mag2 Finance Milano"

    rel = api.ok(api.post("/api/relationships", {"gas_id": gas, "producer_id": producer,
                                                 "since": "2024-01-01",
                                                 "annual_purchases": eur("900.00")}), 201)
    named(rel, names)
    named(api.ok(api.get("/api/relationships"))["items"][0], names)

    loan = api.ok(api.post("/api/loans", {
        "principal": eur("1200.00"), "annual_rate": "3.00", "term_months": 12,
        "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-15",
        "borrower_id": producer, "lender_id": lender}), 201)
    named(loan, names)
    assert loan["borrower_name"] == PRODUCER
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("500.00")}))
    guarantee = api.ok(api.post("/api/guarantees", {"loan_id": loan["id"], "guarantor_id": gas,
                                                    "amount": eur("400.00"),
                                                    "date": "2026-01-10"}), 201)
    assert guarantee["guarantor_name"] == GAS
    disbursed = api.ok(api.post(f"/api/loans/{loan['id']}/disbursement",
                                {"date": "2026-01-15"}))
    named(disbursed, names)
    named(api.ok(api.get(f"/api/loans/{loan['id']}")), names)
    named(api.ok(api.get("/api/loans"))["items"][0], names)
    named(api.ok(api.get(f"/api/loans/{loan['id']}", "producer")), names)
    named(api.ok(api.get("/api/guarantees"))["items"][0], names)
    named(api.ok(api.get(f"/api/guarantees/{guarantee['id']}", "gas")), names)
    named(api.ok(api.get(f"/api/loans/{loan['id']}/guarantees"))["items"][0], names)

    prepayment = api.ok(api.post("/api/prepayments", {
        "producer_id": producer, "gas_id": gas, "amount": eur("300.00"), "product": "taleggio",
        "unit": "kg", "unit_price": eur("12.50"), "expires_on": "2027-01-31",
        "on_expiry": "refund", "date": "2026-02-01"}), 201)
    assert (prepayment["producer_name"], prepayment["gas_name"]) == (PRODUCER, GAS)
    named(api.ok(api.get("/api/prepayments", "producer"))["items"][0], names)

    contribution = api.ok(api.post("/api/contributions", {
        "gas_id": gas, "amount": eur("70.00"), "date": "2026-02-01",
        "earmark_producer_id": producer}, "gas"), 201)
    assert contribution["gas_name"] == GAS
    assert contribution["earmark_producer_name"] == PRODUCER
    plain = api.ok(api.post("/api/contributions", {
        "gas_id": gas, "amount": eur("30.00"), "date": "2026-02-01"}, "gas"), 201)
    assert plain["earmark_producer_id"] is None and plain["earmark_producer_name"] is None
    named(api.ok(api.get("/api/contributions"))["items"][0], names)

    fund = api.ok(api.get(f"/api/funds?gas_id={gas}"))["items"][0]
    assert (fund["gas_name"], fund["owner_name"]) == (GAS, GAS)
    assert fund["earmarks"] == [{"producer_id": producer, "producer_name": PRODUCER,
                                 "amount": eur("70.00")}]
    assert fund["earmarked"] == {producer: eur("70.00")}
    seen_by_producer = api.ok(api.get(f"/api/funds/{fund['id']}", "producer"))
    assert seen_by_producer["earmarks"] == fund["earmarks"]
    assert "owner_name" not in seen_by_producer
    payout = api.ok(api.post(f"/api/funds/{fund['id']}/payouts", {
        "producer_id": producer, "amount": eur("20.00"), "date": "2026-03-01",
        "kind": "grant"}), 201)
    assert payout["producer_name"] == PRODUCER
    named(api.ok(api.get(f"/api/funds/{fund['id']}/payouts"))["items"][0], names)
    shared = api.ok(api.post("/api/funds", {"name": "Fondo DES", "owner_id": lender}), 201)
    assert (shared["gas_id"], shared["gas_name"], shared["owner_name"]) == (
        None, None, "Mag2 Finance Milano")
    assert shared["earmarks"] == []

    account = api.ok(api.post("/api/ledger/accounts", {"code": "cassa GAS", "currency": "EUR",
                                                       "party_id": gas, "flags": []}), 201)
    assert account["party_name"] == GAS
    assert api.ok(api.get(f"/api/ledger/accounts/{account['id']}"))["party_name"] == GAS
    loose = api.ok(api.post("/api/ledger/accounts", {"code": "x", "currency": "EUR",
                                                     "flags": []}), 201)
    assert loose["party_id"] is None and loose["party_name"] is None

    me = api.ok(api.get("/api/me", "gas"))
    assert (me["party_id"], me["party_name"]) == (gas, GAS)
    assert api.ok(api.get("/api/me"))["party_name"] is None


def test_a_request_names_its_producer(api: Api) -> None:
    request = api.ok(api.post("/api/requests", {
        "producer_id": api.parties["producer"], "amount": eur("3000.00"),
        "purpose": "a new cheese cellar", "instrument": "loan", "term_months": 24,
        "gas_ids": [api.parties["gas"]]}, "producer"), 201)
    assert request["producer_name"] == PRODUCER
    listed = api.ok(api.get("/api/requests", "gas"))["items"][0]
    assert listed["producer_name"] == PRODUCER


def test_a_renamed_party_is_named_anew(api: Api) -> None:
    gas = api.parties["gas"]
    api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("5.00"),
                                           "date": "2026-02-01"}, "gas"), 201)
    api.client.patch(f"/api/parties/{gas}", json={"name": "GAS Isola Nuova"},
                     headers=api.headers("officer"))
    item = api.ok(api.get("/api/contributions"))["items"][0]
    assert item["gas_name"] == "GAS Isola Nuova"


def test_request_terms_name_their_lender_gas_and_guarantors(api: Api) -> None:
    from tests.api.test_requests_api import at_status

    lender = make_party(api, "lender", "Mag Termini")
    gas = api.parties["gas"]
    rid = at_status(api, "approved")
    terms = api.ok(api.put(f"/api/requests/{rid}/terms", {
        "loan": {"principal": eur("1200.00"), "annual_rate": "3.00", "term_months": 12,
                 "method": "french", "frequency": "monthly", "lender_id": lender,
                 "disbursement_date": "2026-03-01"},
        "prepayments": [{"gas_id": gas, "amount": eur("100.00"), "product": "taleggio",
                         "unit": "kg", "unit_price": eur("12.50"),
                         "expires_on": "2027-03-01", "on_expiry": "refund"}],
        "guarantees": [{"guarantor_id": gas, "amount": eur("300.00")}]}))
    for view in (terms, api.ok(api.get(f"/api/requests/{rid}/terms")),
                 api.ok(api.get(f"/api/requests/{rid}"))["terms"],
                 api.ok(api.get(f"/api/requests/{rid}", "producer"))["terms"]):
        assert view["loan"]["lender_name"] == "Mag Termini"
        assert view["prepayments"][0]["gas_name"] == GAS
        assert view["guarantees"][0]["guarantor_name"] == GAS
