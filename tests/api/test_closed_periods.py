"""Closed periods (API.md, "Books a MAG can keep"): an admin closes the books through a
date; from then on every operation and reversal valued on or before it is refused with
409 ``period_closed`` and changes nothing, while the same operation dated the day after
is recorded."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, eur, make_party, new_id
from tests.api.test_requests_api import LOAN, at_status, prepayment_terms

TODAY = "2026-12-06"
CLOSED = "2026-03-31"
OPEN = "2026-04-01"
PATH = "/api/books/closed-through"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", TODAY)


def close(api: Api, on: str = CLOSED, who: str = "admin") -> Any:
    return api.put(PATH, {"date": on}, who)


def refused(response: Any, code: str = "period_closed") -> None:
    assert response.status_code == 409, response.text
    assert response.json()["code"] == code


def verified(api: Api) -> None:
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"], report["problems"]


def lender_with_money(api: Api) -> tuple[str, str]:
    lender = make_party(api, "lender", f"Mag {new_id()[:8]}")
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool}/deposits",
                    {"amount": eur("20000.00"), "date": "2026-01-02"}), 201)
    return lender, pool


def approved_loan(api: Api, lender: str, on: str = "2026-01-15") -> str:
    loan_id: str = api.ok(api.post("/api/loans", {
        "principal": eur("1200.00"), "annual_rate": "6.00", "term_months": 12,
        "method": "french", "frequency": "monthly", "disbursement_date": on,
        "borrower_id": api.parties["producer"], "lender_id": lender}), 201)["id"]
    return loan_id


def active_loan(api: Api, lender: str, on: str = "2026-01-15") -> str:
    loan_id = approved_loan(api, lender, on)
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": on}))
    return loan_id


def prepayment(api: Api, on: str = "2026-02-01") -> Any:
    return api.post("/api/prepayments", {
        "producer_id": api.parties["producer"], "gas_id": api.parties["gas"],
        "amount": eur("200.00"), "product": "taleggio", "unit": "kg",
        "unit_price": eur("10.00"), "expires_on": "2027-01-31", "on_expiry": "refund",
        "date": on})


def snapshot(api: Api, *paths: str) -> list[Any]:
    return [api.ok(api.get(p)) for p in paths]


# -- the date itself ------------------------------------------------------------------------


def test_closing_moves_forward_only_and_only_admins_close(api: Api) -> None:
    assert api.ok(api.get(PATH)) == {"closed_through": None}
    assert api.ok(api.get(PATH, "admin")) == {"closed_through": None}
    for who in ("producer", "gas"):
        assert api.get(PATH, who).status_code == 403
    for who in ("officer", "producer", "gas"):
        assert close(api, who=who).status_code == 403
    assert api.ok(api.get(PATH)) == {"closed_through": None}
    # Not after today: a 422 naming the date; a bad date too.
    for bad in ("2026-12-07", "2026-02-30", "31/03/2026"):
        r = close(api, bad)
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["date"]
    assert api.put(PATH, {}, "admin").status_code == 422
    assert api.put(PATH, {"date": CLOSED, "other": 1}, "admin").status_code == 422
    assert api.ok(close(api)) == {"closed_through": CLOSED}
    assert api.ok(api.get(PATH)) == {"closed_through": CLOSED}
    # Only forward: the same day or an earlier one is a 409.
    refused(close(api, CLOSED))
    refused(close(api, "2026-01-31"))
    assert api.ok(api.get(PATH)) == {"closed_through": CLOSED}
    assert api.ok(close(api, "2026-06-30")) == {"closed_through": "2026-06-30"}
    assert api.ok(close(api, TODAY)) == {"closed_through": TODAY}
    assert api.ok(api.get(PATH, "officer")) == {"closed_through": TODAY}


# -- operations -----------------------------------------------------------------------------


def test_pool_deposits_shares_and_disbursements(api: Api) -> None:
    lender, pool = lender_with_money(api)
    loan = approved_loan(api, lender, CLOSED)
    later = approved_loan(api, lender, OPEN)
    api.ok(close(api))
    before = snapshot(api, f"/api/pools/{pool}", f"/api/loans/{loan}",
                      f"/api/shares?member_id={api.parties['gas']}")

    refused(api.post(f"/api/pools/{pool}/deposits", {"amount": eur("5.00"), "date": CLOSED}))
    refused(api.post(f"/api/pools/{pool}/deposits",
                     {"amount": eur("5.00"), "date": "2025-12-31"}))
    refused(api.post("/api/shares", {"member_id": api.parties["gas"], "lender_id": lender,
                                      "amount": eur("50.00"), "date": CLOSED}))
    refused(api.post(f"/api/loans/{loan}/disbursement", {"date": CLOSED}))
    assert snapshot(api, f"/api/pools/{pool}", f"/api/loans/{loan}",
                    f"/api/shares?member_id={api.parties['gas']}") == before

    api.ok(api.post(f"/api/pools/{pool}/deposits", {"amount": eur("5.00"), "date": OPEN}),
           201)
    api.ok(api.post("/api/shares", {"member_id": api.parties["gas"], "lender_id": lender,
                                    "amount": eur("50.00"), "date": OPEN}), 201)
    assert api.ok(api.post(f"/api/loans/{later}/disbursement",
                           {"date": OPEN}))["status"] == "active"
    assert api.ok(api.get(f"/api/pools/{pool}"))["balance"] == eur("18855.00")
    verified(api)


def test_repayments_reschedules_and_write_offs(api: Api) -> None:
    lender, pool = lender_with_money(api)
    loan = active_loan(api, lender)
    api.ok(close(api))
    paths = (f"/api/pools/{pool}", f"/api/loans/{loan}", f"/api/loans/{loan}/repayments")
    before = snapshot(api, *paths)

    refused(api.post(f"/api/loans/{loan}/repayments",
                     {"amount": eur("100.00"), "date": CLOSED}))
    refused(api.post(f"/api/loans/{loan}/reschedule",
                     {"date": CLOSED, "added_grace_periods": 1, "note": "hail"}))
    refused(api.post(f"/api/loans/{loan}/write-off", {"date": "2026-02-01", "note": "gone"}))
    assert snapshot(api, *paths) == before
    # A 422 that compares with the loan's own dates comes first.
    r = api.post(f"/api/loans/{loan}/repayments", {"amount": eur("100.00"),
                                                   "date": "2026-01-01"})
    assert r.status_code == 422, r.text

    api.ok(api.post(f"/api/loans/{loan}/repayments", {"amount": eur("100.00"),
                                                      "date": OPEN}))
    api.ok(api.post(f"/api/loans/{loan}/reschedule",
                    {"date": "2026-04-02", "added_grace_periods": 1, "note": "hail"}))
    assert api.ok(api.post(f"/api/loans/{loan}/write-off",
                           {"date": "2026-04-03", "note": "gone"}))["status"] == "written_off"
    verified(api)


def test_guarantees_signing_calls_and_releases(api: Api) -> None:
    lender, _ = lender_with_money(api)
    loan = active_loan(api, lender)
    gas = api.parties["gas"]
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("2000.00")}))
    guarantee = api.ok(api.post("/api/guarantees", {
        "loan_id": loan, "guarantor_id": gas, "amount": eur("500.00"),
        "date": "2026-01-20"}), 201)["id"]
    api.ok(close(api))
    paths = (f"/api/loans/{loan}", f"/api/guarantees?loan_id={loan}",
             f"/api/parties/{gas}/pledge-capacity", f"/api/loans/{loan}/guarantee-calls")
    before = snapshot(api, *paths)

    refused(api.post("/api/guarantees", {"loan_id": loan, "guarantor_id": gas,
                                         "amount": eur("100.00"), "date": CLOSED}))
    refused(api.post(f"/api/loans/{loan}/guarantee-calls",
                     {"amount": eur("100.00"), "date": CLOSED}))
    refused(api.post(f"/api/guarantees/{guarantee}/release", {"date": "2026-03-01"}))
    assert snapshot(api, *paths) == before

    api.ok(api.post("/api/guarantees", {"loan_id": loan, "guarantor_id": gas,
                                        "amount": eur("100.00"), "date": OPEN}), 201)
    api.ok(api.post(f"/api/loans/{loan}/guarantee-calls",
                    {"amount": eur("100.00"), "date": "2026-04-20"}))
    assert api.ok(api.post(f"/api/guarantees/{guarantee}/release",
                           {"date": "2026-05-01"}))["status"] == "released"
    verified(api)


def test_prepayments_deliveries_and_closes(api: Api) -> None:
    made = api.ok(prepayment(api), 201)
    pid = made["id"]
    api.ok(close(api))
    paths = (f"/api/prepayments/{pid}",
             f"/api/prepayments?producer_id={api.parties['producer']}")
    before = snapshot(api, *paths)

    refused(prepayment(api, CLOSED))
    refused(api.post(f"/api/prepayments/{pid}/deliveries", {"date": CLOSED,
                                                            "quantity": "2"}))
    refused(api.post(f"/api/prepayments/{pid}/close", {"date": CLOSED}))
    assert snapshot(api, *paths) == before

    api.ok(prepayment(api, OPEN), 201)
    api.ok(api.post(f"/api/prepayments/{pid}/deliveries", {"date": OPEN, "quantity": "2"}))
    assert api.ok(api.post(f"/api/prepayments/{pid}/close",
                           {"date": "2026-04-02"}))["status"] == "closed"
    verified(api)


def test_contributions_and_payouts(api: Api) -> None:
    gas = api.parties["gas"]
    api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("100.00"),
                                           "date": "2026-02-01"}), 201)
    fund = api.ok(api.get(f"/api/funds?gas_id={gas}"))["items"][0]
    api.ok(close(api))
    paths = (f"/api/funds/{fund['id']}", f"/api/contributions?gas_id={gas}",
             f"/api/funds/{fund['id']}/payouts")
    before = snapshot(api, *paths)

    refused(api.post("/api/contributions", {"gas_id": gas, "amount": eur("10.00"),
                                            "date": CLOSED}, "gas"))
    refused(api.post(f"/api/funds/{fund['id']}/payouts", {
        "producer_id": api.parties["producer"], "amount": eur("10.00"), "date": CLOSED,
        "kind": "grant"}))
    assert snapshot(api, *paths) == before

    api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("10.00"),
                                           "date": OPEN}, "gas"), 201)
    api.ok(api.post(f"/api/funds/{fund['id']}/payouts", {
        "producer_id": api.parties["producer"], "amount": eur("10.00"), "date": OPEN,
        "kind": "grant"}), 201)
    assert api.ok(api.get(f"/api/funds/{fund['id']}"))["balance"] == eur("100.00")
    verified(api)


def test_funding_a_request(api: Api) -> None:
    lender, _ = lender_with_money(api)
    gas = api.parties["gas"]
    rid = at_status(api, "approved")
    api.ok(api.put(f"/api/requests/{rid}/terms", {
        "loan": {**LOAN, "principal": eur("5000.00"), "lender_id": lender,
                 "disbursement_date": OPEN},
        "prepayments": [prepayment_terms(gas, "600.00")]}))
    api.ok(close(api))
    before = snapshot(api, f"/api/requests/{rid}", f"/api/loans?borrower_id="
                      f"{api.parties['producer']}")
    refused(api.post(f"/api/requests/{rid}/funding", {"date": CLOSED}))
    assert snapshot(api, f"/api/requests/{rid}", f"/api/loans?borrower_id="
                    f"{api.parties['producer']}") == before
    assert api.ok(api.post(f"/api/requests/{rid}/funding",
                           {"date": OPEN}))["status"] == "funded"
    verified(api)


# -- reversals ------------------------------------------------------------------------------


def test_reversals_of_items_valued_in_a_closed_period(api: Api) -> None:
    lender, pool = lender_with_money(api)
    loan = active_loan(api, lender)
    gas = api.parties["gas"]
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("2000.00")}))
    api.ok(api.post("/api/guarantees", {"loan_id": loan, "guarantor_id": gas,
                                        "amount": eur("500.00"), "date": "2026-01-20"}), 201)
    old_pay, new_pay = new_id(), new_id()
    api.ok(api.post(f"/api/loans/{loan}/repayments",
                    {"id": old_pay, "amount": eur("100.00"), "date": "2026-02-15"}))
    api.ok(api.post(f"/api/loans/{loan}/repayments",
                    {"id": new_pay, "amount": eur("100.00"), "date": "2026-04-15"}))
    old_call = api.ok(api.post(f"/api/loans/{loan}/guarantee-calls",
                               {"amount": eur("50.00"), "date": "2026-03-10"}))["call_id"]
    new_call = api.ok(api.post(f"/api/loans/{loan}/guarantee-calls",
                               {"amount": eur("50.00"), "date": "2026-04-10"}))["call_id"]
    contributions = [api.ok(api.post("/api/contributions", {
        "gas_id": gas, "amount": eur("100.00"), "date": on}), 201)["id"]
        for on in ("2026-02-01", "2026-04-01")]
    fund = api.ok(api.get(f"/api/funds?gas_id={gas}"))["items"][0]["id"]
    payouts = [api.ok(api.post(f"/api/funds/{fund}/payouts", {
        "producer_id": api.parties["producer"], "amount": eur("10.00"), "date": on,
        "kind": "grant"}), 201)["id"] for on in ("2026-02-02", "2026-04-02")]
    pid = api.ok(prepayment(api), 201)["id"]
    deliveries = [api.ok(api.post(f"/api/prepayments/{pid}/deliveries",
                                  {"id": new_id(), "date": on, "quantity": "1"}))
                  ["delivery"]["id"] for on in ("2026-02-03", "2026-04-03")]
    api.ok(close(api))
    paths = (f"/api/loans/{loan}", f"/api/loans/{loan}/repayments",
             f"/api/loans/{loan}/guarantee-calls", f"/api/pools/{pool}",
             f"/api/funds/{fund}", f"/api/contributions?gas_id={gas}",
             f"/api/funds/{fund}/payouts", f"/api/prepayments/{pid}")
    before = snapshot(api, *paths)
    body = {"reason": "recorded by mistake"}
    olds = [f"/api/loans/{loan}/repayments/{old_pay}",
            f"/api/loans/{loan}/guarantee-calls/{old_call}",
            f"/api/contributions/{contributions[0]}",
            f"/api/funds/{fund}/payouts/{payouts[0]}",
            f"/api/prepayments/{pid}/deliveries/{deliveries[0]}"]
    for path in olds:
        refused(api.post(f"{path}/reversal", body))
    assert snapshot(api, *paths) == before
    # 404 comes before the closed period.
    r = api.post(f"/api/loans/{loan}/repayments/{new_id()}/reversal", body)
    assert r.status_code == 404
    # 403 too: a producer may not reverse a payout.
    assert api.post(f"/api/funds/{fund}/payouts/{payouts[0]}/reversal", body,
                    "producer").status_code in (403, 404)

    for path in (f"/api/loans/{loan}/repayments/{new_pay}",
                 f"/api/loans/{loan}/guarantee-calls/{new_call}",
                 f"/api/contributions/{contributions[1]}",
                 f"/api/funds/{fund}/payouts/{payouts[1]}",
                 f"/api/prepayments/{pid}/deliveries/{deliveries[1]}"):
        api.ok(api.post(f"{path}/reversal", body))
    verified(api)


def test_a_replay_answers_as_the_first_time_after_closing(api: Api) -> None:
    _, pool = lender_with_money(api)
    body = {"id": new_id(), "amount": eur("5.00"), "date": "2026-02-01"}
    first = api.ok(api.post(f"/api/pools/{pool}/deposits", body), 201)
    api.ok(close(api))
    assert api.ok(api.post(f"/api/pools/{pool}/deposits", body), 201) == first


# -- the contract ---------------------------------------------------------------------------


def test_the_openapi_document_names_the_refusal(api: Api) -> None:
    paths = api.ok(api.client.get("/schema/openapi.json"))["paths"]
    put, get = paths[PATH]["put"]["responses"], paths[PATH]["get"]["responses"]
    assert {s for s in put if not s.startswith("2")} == {"400", "401", "403", "409", "413",
                                                         "422"}
    assert "`period_closed`" in put["409"]["description"]
    assert {s for s in get if not s.startswith("2")} == {"400", "401", "403"}
    for method, path in [
        ("post", "/api/pools/{pool_id}/deposits"), ("post", "/api/shares"),
        ("post", "/api/loans/{loan_id}/disbursement"), ("post", "/api/loans/{loan_id}/repayments"),
        ("post", "/api/loans/{loan_id}/reschedule"), ("post", "/api/loans/{loan_id}/write-off"),
        ("post", "/api/loans/{loan_id}/guarantee-calls"), ("post", "/api/guarantees"),
        ("post", "/api/guarantees/{guarantee_id}/release"),
        ("post", "/api/loans/{loan_id}/guarantees/reduction"),
        ("post", "/api/prepayments"), ("post", "/api/prepayments/{prepayment_id}/deliveries"),
        ("post", "/api/prepayments/{prepayment_id}/close"), ("post", "/api/contributions"),
        ("post", "/api/funds/{fund_id}/payouts"), ("post", "/api/requests/{request_id}/funding"),
        ("post", "/api/loans/{loan_id}/repayments/{repayment_id}/reversal"),
        ("post", "/api/loans/{loan_id}/guarantee-calls/{call_id}/reversal"),
        ("post", "/api/prepayments/{prepayment_id}/deliveries/{delivery_id}/reversal"),
        ("post", "/api/contributions/{contribution_id}/reversal"),
        ("post", "/api/funds/{fund_id}/payouts/{payout_id}/reversal"),
    ]:
        assert "`period_closed`" in paths[path][method]["responses"]["409"]["description"], path
