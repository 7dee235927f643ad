"""Today and agreement dates: money that has moved is never dated after today, nothing
acts on a loan, prepayment or guarantee before it existed, and every as-of view counts
an instrument from its own date. Figures are computed by hand in each test."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from tests.api.conftest import Api, eur, make_party, new_id

TODAY = "2026-06-30"
TOMORROW = "2026-07-01"


@pytest.fixture
def day(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("FILIERA_TODAY", TODAY)
    yield TODAY


def money(m: dict[str, str]) -> Decimal:
    assert m["currency"] == "EUR"
    return Decimal(m["amount"])


def field_of(r: Any) -> list[str]:
    assert r.status_code == 422, r.text
    return [e["field"] for e in r.json()["errors"]]


def loan(api: Api, principal: str = "1000.00") -> str:
    lender = make_party(api, "lender", f"Mag {new_id()[:8]}")
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool}/deposits",
                    {"amount": eur("50000.00"), "date": "2026-01-02"}), 201)
    body = {"principal": eur(principal), "annual_rate": "4.00", "term_months": 12,
            "method": "french", "frequency": "monthly", "disbursement_date": "2026-02-01",
            "borrower_id": api.parties["producer"], "lender_id": lender}
    loan_id: str = api.ok(api.post("/api/loans", body), 201)["id"]
    return loan_id


def pledge(api: Api, loan_id: str, guarantor: str, amount: str, on: str) -> str:
    api.ok(api.put(f"/api/parties/{guarantor}/pledge-capacity", {"amount": eur("50000.00")}))
    g = api.ok(api.post("/api/guarantees", {"loan_id": loan_id, "guarantor_id": guarantor,
                                            "amount": eur(amount), "date": on}), 201)
    assert g["date"] == on
    gid: str = g["id"]
    return gid


def prepay(api: Api, on: str | None, amount: str = "100.00") -> dict[str, Any]:
    body = {"producer_id": api.parties["producer"], "gas_id": api.parties["gas"],
            "amount": eur(amount), "product": "Patate", "unit": "kg",
            "unit_price": eur("2.00"), "expires_on": "2026-12-31", "on_expiry": "refund"}
    if on is not None:
        body["date"] = on
    out: dict[str, Any] = api.ok(api.post("/api/prepayments", body), 201)
    return out


def verified(api: Api) -> None:
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"] is True, report["problems"]


# -- today -------------------------------------------------------------------------------


def test_money_that_has_moved_is_never_dated_after_today(api: Api, day: str) -> None:
    gas, producer = api.parties["gas"], api.parties["producer"]
    lender = make_party(api, "lender", "Mag Domani")
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    fund = next(f for f in api.ok(api.get(f"/api/funds?gas_id={gas}"))["items"])
    loan_id = loan(api)
    refused = {
        "deposit": api.post(f"/api/pools/{pool}/deposits",
                            {"amount": eur("1.00"), "date": TOMORROW}),
        "share": api.post("/api/shares", {"member_id": gas, "lender_id": lender,
                                          "amount": eur("1.00"), "date": TOMORROW}),
        "disbursement": api.post(f"/api/loans/{loan_id}/disbursement", {"date": TOMORROW}),
        "contribution": api.post("/api/contributions", {"gas_id": gas, "amount": eur("1.00"),
                                                        "date": TOMORROW}),
        "payout": api.post(f"/api/funds/{fund['id']}/payouts", {
            "producer_id": producer, "amount": eur("1.00"), "date": TOMORROW,
            "kind": "grant"}),
        "prepayment": api.post("/api/prepayments", {
            "producer_id": producer, "gas_id": gas, "amount": eur("1.00"), "product": "Uova",
            "unit": "pz", "unit_price": eur("0.50"), "expires_on": "2026-12-31",
            "on_expiry": "refund", "date": TOMORROW}),
        "guarantee": api.post("/api/guarantees", {"loan_id": loan_id, "guarantor_id": gas,
                                                  "amount": eur("1.00"), "date": TOMORROW}),
        # The body is checked before the request is looked up.
        "funding": api.post(f"/api/requests/{new_id()}/funding", {"date": TOMORROW}),
    }
    for what, r in refused.items():
        assert field_of(r) == ["date"], what
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": TODAY}))
    g = pledge(api, loan_id, gas, "100.00", TODAY)
    p = prepay(api, TODAY)
    refused = {
        "repayment": api.post(f"/api/loans/{loan_id}/repayments",
                              {"amount": eur("1.00"), "date": TOMORROW}),
        "call": api.post(f"/api/loans/{loan_id}/guarantee-calls",
                         {"amount": eur("1.00"), "date": TOMORROW}),
        "write-off": api.post(f"/api/loans/{loan_id}/write-off",
                              {"date": TOMORROW, "note": "grandine"}),
        "release": api.post(f"/api/guarantees/{g}/release", {"date": TOMORROW}),
        "delivery": api.post(f"/api/prepayments/{p['id']}/deliveries",
                             {"date": TOMORROW, "quantity": "1"}),
        "close": api.post(f"/api/prepayments/{p['id']}/close", {"date": TOMORROW}),
    }
    for what, r in refused.items():
        assert field_of(r) == ["date"], what
    # Terms and a prepayment's season may still lie ahead.
    assert api.post("/api/loans/simulate", {
        "principal": eur("1000.00"), "annual_rate": "3.00", "term_months": 12,
        "method": "french", "frequency": "monthly",
        "disbursement_date": "2027-01-15"}).status_code == 200
    # Nothing of the refused operations was recorded.
    assert api.ok(api.get(f"/api/loans/{loan_id}"))["outstanding_principal"] == eur("1000.00")
    assert api.ok(api.get(f"/api/guarantees/{g}"))["status"] == "active"
    assert api.ok(api.get(f"/api/prepayments/{p['id']}"))["remaining"] == eur("100.00")
    verified(api)


def test_agreement_dates_default_to_today(api: Api, day: str) -> None:
    loan_id = loan(api)
    api.ok(api.put(f"/api/parties/{api.parties['gas']}/pledge-capacity",
                   {"amount": eur("100.00")}))
    g = api.ok(api.post("/api/guarantees", {"loan_id": loan_id,
                                            "guarantor_id": api.parties["gas"],
                                            "amount": eur("10.00")}), 201)
    assert g["date"] == TODAY
    assert api.ok(api.get(f"/api/guarantees/{g['id']}"))["date"] == TODAY
    p = prepay(api, None)
    assert p["date"] == TODAY
    assert api.ok(api.get(f"/api/prepayments/{p['id']}"))["date"] == TODAY
    assert field_of(api.post("/api/guarantees", {
        "loan_id": loan_id, "guarantor_id": api.parties["gas"], "amount": eur("10.00"),
        "date": "30/06/2026"})) == ["date"]


# -- nothing before its target existed -----------------------------------------------------


def test_operations_before_the_disbursement_are_refused(api: Api, day: str) -> None:
    loan_id = loan(api)
    pledge(api, loan_id, api.parties["gas"], "500.00", "2026-01-20")
    # Not disbursed yet: a repayment is a conflict, whatever its date.
    r = api.post(f"/api/loans/{loan_id}/repayments", {"amount": eur("1.00"),
                                                      "date": "2026-03-01"})
    assert r.status_code == 409 and r.json()["code"] == "loan_not_active"
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-02-01"}))
    before = "2026-01-31"
    assert field_of(api.post(f"/api/loans/{loan_id}/repayments",
                             {"amount": eur("1.00"), "date": before})) == ["date"]
    assert field_of(api.post(f"/api/loans/{loan_id}/guarantee-calls",
                             {"amount": eur("1.00"), "date": before})) == ["date"]
    assert field_of(api.post(f"/api/loans/{loan_id}/write-off",
                             {"date": before, "note": "grandine"})) == ["date"]
    assert field_of(api.post(f"/api/loans/{loan_id}/reschedule", {
        "date": before, "note": "grandine", "added_grace_periods": 1})) == ["date"]
    # The target's 404 and 403 come first.
    r = api.post(f"/api/loans/{new_id()}/repayments", {"amount": eur("1.00"), "date": before})
    assert r.status_code == 404
    # The borrower sees its loan but records nothing on it.
    r = api.post(f"/api/loans/{loan_id}/write-off", {"date": before, "note": "x"}, "producer")
    assert r.status_code == 403
    r = api.post(f"/api/loans/{loan_id}/guarantee-calls", {"amount": eur("1.00"),
                                                           "date": before}, "producer")
    assert r.status_code == 403
    # On the disbursement day itself each is taken.
    api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                    {"amount": eur("10.00"), "date": "2026-02-01"}))
    verified(api)


def test_deliveries_closes_and_releases_before_their_target(api: Api, day: str) -> None:
    p = prepay(api, "2026-03-10")
    assert field_of(api.post(f"/api/prepayments/{p['id']}/deliveries",
                             {"date": "2026-03-09", "quantity": "1"})) == ["date"]
    assert field_of(api.post(f"/api/prepayments/{p['id']}/close",
                             {"date": "2026-03-09"})) == ["date"]
    # With a quantity worth nothing too, both are named at once.
    assert field_of(api.post(f"/api/prepayments/{p['id']}/deliveries",
                             {"date": "2026-03-09", "quantity": "0.001"})) == ["date", "quantity"]
    # 404 for what one may not see comes before the date.
    r = api.post(f"/api/prepayments/{p['id']}/deliveries",
                 {"date": "2026-03-09", "quantity": "1"}, "other_gas")
    assert r.status_code == 404
    # 403: the producer sees the prepayment but may not close it.
    r = api.post(f"/api/prepayments/{p['id']}/close", {"date": "2026-03-09"}, "producer")
    assert r.status_code == 403
    # 2 kg x 2.00 on the day it was paid.
    after = api.ok(api.post(f"/api/prepayments/{p['id']}/deliveries",
                            {"date": "2026-03-10", "quantity": "2"}))
    assert after["remaining"] == eur("96.00")
    loan_id = loan(api)
    g = pledge(api, loan_id, api.parties["gas"], "50.00", "2026-01-25")
    assert field_of(api.post(f"/api/guarantees/{g}/release", {"date": "2026-01-24"})) \
        == ["date"]
    assert api.post(f"/api/guarantees/{g}/release", {"date": "2026-01-24"},
                    "gas").status_code == 403
    released = api.ok(api.post(f"/api/guarantees/{g}/release", {"date": "2026-01-25"}))
    assert released["status"] == "released" and released["released_on"] == "2026-01-25"
    verified(api)


def test_a_release_without_a_date_is_dated_today(api: Api, day: str) -> None:
    loan_id = loan(api)
    g = pledge(api, loan_id, api.parties["gas"], "50.00", "2026-01-25")
    released = api.ok(api.post(f"/api/guarantees/{g}/release", {}))
    assert released["released_on"] == TODAY


# -- calls and coverage by the guarantees' dates ---------------------------------------------


def test_a_call_is_split_over_the_guarantees_active_on_its_date(api: Api, day: str) -> None:
    loan_id = loan(api, "3000.00")
    gas, other, person = api.parties["gas"], api.parties["other_gas"], \
        make_party(api, "person", "Anna Rossi")
    early = pledge(api, loan_id, gas, "600.00", "2026-01-20")
    late = pledge(api, loan_id, other, "300.00", "2026-04-01")
    gone = pledge(api, loan_id, person, "900.00", "2026-01-21")
    api.ok(api.post(f"/api/guarantees/{gone}/release", {"date": "2026-02-10"}))
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-02-01"}))
    # On 2026-03-05 only `early` stands: `late` is not signed yet, `gone` was released.
    call = api.ok(api.post(f"/api/loans/{loan_id}/guarantee-calls",
                           {"amount": eur("90.00"), "date": "2026-03-05"}))
    assert {c["guarantee_id"]: c["amount"] for c in call["calls"]} == {early: eur("90.00")}
    # On 2026-04-02 both stand, with 510.00 and 300.00 remaining: 81.00 splits 51 : 30.
    call = api.ok(api.post(f"/api/loans/{loan_id}/guarantee-calls",
                           {"amount": eur("81.00"), "date": "2026-04-02"}))
    assert {c["guarantee_id"]: c["amount"] for c in call["calls"]} == {
        early: eur("51.00"), late: eur("30.00")}
    # More than `early` still had on 2026-03-06 is beyond what stood then.
    r = api.post(f"/api/loans/{loan_id}/guarantee-calls",
                 {"amount": eur("600.00"), "date": "2026-03-06"})
    assert r.status_code == 409 and r.json()["code"] == "exceeds_capacity"
    verified(api)


def test_a_call_with_no_guarantee_standing_on_its_date_names_date(api: Api, day: str) -> None:
    loan_id = loan(api)
    pledge(api, loan_id, api.parties["gas"], "500.00", "2026-05-01")
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-02-01"}))
    assert field_of(api.post(f"/api/loans/{loan_id}/guarantee-calls",
                             {"amount": eur("10.00"), "date": "2026-04-30"})) == ["date"]
    api.ok(api.post(f"/api/loans/{loan_id}/guarantee-calls",
                    {"amount": eur("10.00"), "date": "2026-05-01"}))
    verified(api)


def test_minimum_coverage_counts_guarantees_dated_by_the_disbursement(api: Api, day: str
                                                                      ) -> None:
    loan_id = loan(api, "1000.00")
    lender = api.ok(api.get(f"/api/loans/{loan_id}"))["lender_id"]
    # Loans of the default category need guarantees of 1.50 x the principal: 1,500.00.
    api.ok(api.put(f"/api/lenders/{lender}/categories/microcredit", {
        "max_principal": eur("75000.00"), "max_term_months": 84,
        "frequencies": ["monthly"], "min_coverage": "1.50"}))
    # Enough in all, but 500.00 of it signed the day after the disbursement date.
    pledge(api, loan_id, api.parties["gas"], "1000.00", "2026-01-15")
    pledge(api, loan_id, api.parties["other_gas"], "500.00", "2026-02-02")
    r = api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-02-01"})
    assert r.status_code == 409 and r.json()["code"] == "coverage_below_minimum", r.text
    # Disbursed on the day the second pledge was signed, both count: 1,500.00.
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-02-02"}))
    verified(api)


# -- as of a date: instruments from their own dates ------------------------------------------


def parquet(api: Api, name: str, as_of: str) -> dict[str, dict[str, Any]]:
    r = api.get(f"/api/reports/{name}.parquet?as_of={as_of}")
    assert r.status_code == 200, r.text
    frame = pl.read_parquet(io.BytesIO(r.content))
    key = f"{name.rstrip('s')}_id"
    return {row[key]: row for row in frame.iter_rows(named=True)}


def test_reports_count_instruments_from_their_dates(api: Api, day: str) -> None:
    loan_id = loan(api)
    g = pledge(api, loan_id, api.parties["gas"], "400.00", "2026-01-20")
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-02-01"}))
    p = prepay(api, "2026-03-10")
    api.ok(api.post(f"/api/prepayments/{p['id']}/deliveries",
                    {"date": "2026-04-01", "quantity": "5"}))
    # Recorded today, dated in the winter: absent before their dates, present from them.
    assert g not in parquet(api, "guarantees", "2026-01-19")
    row = parquet(api, "guarantees", "2026-01-20")[g]
    assert row["pledged_on"].isoformat() == "2026-01-20" and row["remaining"] == Decimal("400")
    assert p["id"] not in parquet(api, "prepayments", "2026-03-09")
    row = parquet(api, "prepayments", "2026-03-10")[p["id"]]
    assert row["agreed_on"].isoformat() == "2026-03-10" and row["delivered"] == 0
    # 5 kg x 2.00 delivered on 1 April.
    assert parquet(api, "prepayments", "2026-04-01")[p["id"]]["delivered"] == Decimal("10")
    # The loan's guarantees as of a day before the pledge: none, and no coverage.
    before = api.ok(api.get(f"/api/loans/{loan_id}/guarantees?as_of=2026-01-19"))
    assert before["items"] == []
    on = api.ok(api.get(f"/api/loans/{loan_id}/guarantees?as_of=2026-02-01"))
    assert [i["id"] for i in on["items"]] == [g] and on["coverage"] == "0.40"
    # The loan's date is its disbursement: absent from the list as of the day before.
    def listed(query: str) -> list[str]:
        return [i["id"] for i in api.ok(api.get(f"/api/loans{query}"))["items"]]
    assert loan_id not in listed("?as_of=2026-01-31")
    assert loan_id in listed("?as_of=2026-02-01") and loan_id in listed("")


def test_funds_as_of_a_day(api: Api, day: str) -> None:
    gas, producer = api.parties["gas"], api.parties["producer"]
    fund_id = api.ok(api.get(f"/api/funds?gas_id={gas}"))["items"][0]["id"]
    # Recorded out of order: the payout first, from money contributed earlier.
    api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("100.00"),
                                           "date": "2026-03-01"}), 201)
    api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("40.00"),
                                           "date": "2026-05-01",
                                           "earmark_producer_id": producer}), 201)
    api.ok(api.post(f"/api/funds/{fund_id}/payouts", {
        "producer_id": producer, "amount": eur("30.00"), "date": "2026-04-01",
        "kind": "grant"}), 201)
    api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("5.00"),
                                           "date": "2026-02-01"}), 201)

    def fund(as_of: str | None) -> dict[str, Any]:
        query = f"&as_of={as_of}" if as_of else ""
        items = api.ok(api.get(f"/api/funds?gas_id={gas}{query}"))["items"]
        assert len(items) == 1
        out: dict[str, Any] = items[0]
        return out

    assert fund("2026-01-31")["balance"] == eur("0.00")
    assert fund("2026-02-01")["balance"] == eur("5.00")
    assert fund("2026-03-31")["balance"] == eur("105.00")
    early = fund("2026-04-01")  # 5 + 100 - 30
    assert early["balance"] == eur("75.00") and early["earmarked"] == {}
    late = fund("2026-05-01")  # 75 + 40 earmarked
    assert late["balance"] == eur("115.00") and late["unearmarked"] == eur("75.00")
    assert late["earmarked"] == {producer: eur("40.00")}
    assert fund(None) == late  # today by default
    assert field_of(api.get("/api/funds?as_of=2026-13-01")) == ["as_of"]
    verified(api)


def test_a_back_dated_payout_takes_only_what_the_fund_held_from_its_date_on(
        api: Api, day: str) -> None:
    gas, producer = api.parties["gas"], api.parties["producer"]
    fund_id = api.ok(api.get(f"/api/funds?gas_id={gas}"))["items"][0]["id"]

    def payout(amount: str, on: str) -> Any:
        return api.post(f"/api/funds/{fund_id}/payouts", {
            "producer_id": producer, "amount": eur(amount), "date": on, "kind": "grant"})

    api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("50.00"),
                                           "date": "2026-03-01"}), 201)
    api.ok(payout("40.00", "2026-03-10"), 201)
    # On 1 February the fund held nothing yet.
    r = payout("20.00", "2026-02-01")
    assert r.status_code == 409 and r.json()["code"] == "insufficient_funds"
    # 30.00 contributed on 15 January: from 1 February on the fund holds at least 30.00
    # (30 on Feb 1, 80 on Mar 1, 40 on Mar 10), so 20.00 may go then ...
    api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("30.00"),
                                           "date": "2026-01-15"}), 201)
    api.ok(payout("20.00", "2026-02-01"), 201)
    # ... and then 10.00 more at most (10 on Feb 2, 60 on Mar 1, 20 on Mar 10).
    r = payout("10.01", "2026-02-02")
    assert r.status_code == 409 and r.json()["code"] == "insufficient_funds"
    api.ok(payout("10.00", "2026-02-02"), 201)
    assert api.ok(api.get(f"/api/funds?gas_id={gas}"))["items"][0]["balance"] == eur("10.00")
    verified(api)
