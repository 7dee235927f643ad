"""Pools and loans over HTTP, figures checked against hand computations."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from tests.api.conftest import Api, eur, make_party, new_id

TERMS = {"principal": eur("10000.00"), "annual_rate": "3.00", "term_months": 12,
         "method": "french", "frequency": "monthly", "grace_periods": 0,
         "disbursement_date": "2026-01-15"}


def cent(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def lender(api: Api) -> tuple[str, str]:
    lender_id = make_party(api, "lender", "Mag2 Finance Milano")
    pools = api.ok(api.get(f"/api/pools?lender_id={lender_id}"))["items"]
    assert len(pools) == 1 and pools[0]["general"] is True
    return lender_id, pools[0]["id"]


def test_simulate_worked_example(api: Api) -> None:
    body = api.ok(api.post("/api/loans/simulate", TERMS, "producer"))
    first = body["installments"][0]
    assert first["payment"] == eur("846.94") and first["interest"] == eur("25.00")
    assert first["due_date"] == "2026-02-15"
    principal_sum = sum(Decimal(i["principal"]["amount"]) for i in body["installments"])
    assert principal_sum == Decimal("10000.00")
    assert body["apr"] == "3.04"
    assert body["total_payment"]["amount"] == str(
        sum(Decimal(i["payment"]["amount"]) for i in body["installments"]))


@pytest.mark.parametrize(("field", "value"), [
    ("term_months", 0), ("annual_rate", "3,5"), ("annual_rate", 3.5), ("method", "german"),
    ("frequency", "weekly"), ("disbursement_date", "2026-02-30"),
    ("principal", {"amount": 100.0, "currency": "EUR"}), ("grace_periods", 12),
    # A body field named like the caller's ``principal`` dependency: still the body's 422.
    ("principal", None), ("principal", {"amount": "100.00"}), ("principal", []),
    ("principal", "100.00"), ("principal", {"amount": "9" * 30, "currency": "EUR"}),
])
def test_simulate_rejects_bad_terms(api: Api, field: str, value: Any) -> None:
    r = api.post("/api/loans/simulate", {**TERMS, field: value})
    assert r.status_code == 422, r.text
    assert any(e["field"].startswith(field) for e in r.json()["errors"])


def test_loan_life_disbursement_repayment_and_pool(api: Api) -> None:
    lender_id, pool_id = lender(api)
    producer = api.parties["producer"]
    loan = api.ok(api.post("/api/loans", {**TERMS, "borrower_id": producer,
                                          "lender_id": lender_id}), 201)
    assert loan["status"] == "approved" and loan["pool_id"] == pool_id
    lid = loan["id"]
    r = api.post(f"/api/loans/{lid}/disbursement", {"date": "2026-01-15"})
    assert r.status_code == 409 and r.json()["code"] == "insufficient_funds"
    api.ok(api.post(f"/api/pools/{pool_id}/deposits",
                    {"amount": eur("15000.00"), "date": "2026-01-10"}), 201)
    loan = api.ok(api.post(f"/api/loans/{lid}/disbursement", {"date": "2026-01-15"}))
    assert loan["status"] == "active"
    pool = api.ok(api.get(f"/api/pools/{pool_id}"))
    assert pool["balance"] == eur("5000.00") and pool["lent"] == eur("10000.00")
    r = api.post(f"/api/loans/{lid}/disbursement", {"date": "2026-01-15"})
    assert r.status_code == 409 and r.json()["code"] == "already_disbursed"
    # First installment on time: 846.94 = 25.00 interest + 821.94 principal.
    body = api.ok(api.post(f"/api/loans/{lid}/repayments",
                           {"amount": eur("846.94"), "date": "2026-02-15"}))
    assert body["allocation"] == {"penalty": eur("0.00"), "interest": eur("25.00"),
                                  "principal": eur("821.94"), "excess": eur("0.00")}
    assert body["loan"]["outstanding_principal"] == eur("9178.06")
    pool = api.ok(api.get(f"/api/pools/{pool_id}"))
    assert pool["balance"] == eur("5821.94") and pool["lent"] == eur("9178.06")
    # As of April 1st the March installment is overdue: 846.94, 17 days.
    later = api.ok(api.get(f"/api/loans/{lid}?as_of=2026-04-01"))
    assert later["overdue_amount"] == eur("846.94") and later["days_past_due"] == 17
    assert later["schedule"][1]["status"] == "overdue"
    assert later["schedule"][0]["status"] == "paid"
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_producer_reads_own_loan_only(api: Api) -> None:
    lender_id, _ = lender(api)
    loan = api.ok(api.post("/api/loans", {**TERMS, "borrower_id": api.parties["producer"],
                                          "lender_id": lender_id}), 201)
    assert api.get(f"/api/loans/{loan['id']}", "producer").status_code == 200
    assert api.get(f"/api/loans/{loan['id']}", "other_producer").status_code == 404
    assert api.ok(api.get("/api/loans", "other_producer"))["items"] == []
    assert api.post("/api/loans", {**TERMS, "borrower_id": api.parties["producer"],
                                   "lender_id": lender_id}, "producer").status_code == 403
    r = api.post(f"/api/loans/{loan['id']}/repayments",
                 {"amount": eur("1.00"), "date": "2026-02-01"}, "producer")
    assert r.status_code == 403
    r = api.post(f"/api/loans/{loan['id']}/repayments",
                 {"amount": eur("1.00"), "date": "2026-02-01"}, "other_producer")
    assert r.status_code == 404
    r = api.post(f"/api/loans/{loan['id']}/repayments",
                 {"amount": eur("1.00"), "date": "2026-02-01"})
    assert r.status_code == 409 and r.json()["code"] == "loan_not_active"


def test_category_limits(api: Api) -> None:
    lender_id, _ = lender(api)
    producer = api.parties["producer"]
    base = {**TERMS, "borrower_id": producer, "lender_id": lender_id}
    r = api.post("/api/loans", {**base, "principal": eur("75000.01")})
    assert r.status_code == 409 and r.json()["code"] == "loan_limit_exceeded"
    r = api.post("/api/loans", {**base, "term_months": 96})
    assert r.status_code == 409 and r.json()["code"] == "loan_limit_exceeded"
    r = api.post("/api/loans", {**base, "frequency": "annual"})
    assert r.status_code == 409 and r.json()["code"] == "loan_limit_exceeded"
    api.ok(api.put(f"/api/lenders/{lender_id}/categories/microcredit", {
        "max_principal": eur("75000.00"), "max_term_months": 84,
        "frequencies": ["monthly", "quarterly"], "usury_threshold": "3.00"}))
    r = api.post("/api/loans", {**base})  # TAEG 3.04 > 3.00
    assert r.status_code == 409 and r.json()["code"] == "usury_threshold_exceeded"
    assert api.post("/api/loans", {**base, "annual_rate": "2.90"}).status_code == 201
    # Rates are answered as API.md writes them, with two decimals at least.
    default = api.ok(api.get(f"/api/lenders/{lender_id}/categories/microcredit"))
    assert (default["usury_threshold"], default["late_interest_rate"]) == ("3.00", "0.00")
    api.ok(api.put(f"/api/lenders/{lender_id}/categories/microcredit", {
        "max_principal": eur("75000.00"), "max_term_months": 84, "frequencies": ["monthly"],
        "usury_threshold": "12", "late_interest_rate": "2.125"}))
    changed = api.ok(api.get(f"/api/lenders/{lender_id}/categories/microcredit"))
    assert (changed["usury_threshold"], changed["late_interest_rate"]) == ("12.00", "2.125")


def test_replayed_commands_change_nothing(api: Api) -> None:
    lender_id, pool_id = lender(api)
    dep = {"id": new_id(), "amount": eur("20000.00"), "date": "2026-01-10"}
    first = api.ok(api.post(f"/api/pools/{pool_id}/deposits", dep), 201)
    assert api.ok(api.post(f"/api/pools/{pool_id}/deposits", dep), 201) == first
    loan = api.ok(api.post("/api/loans", {**TERMS, "borrower_id": api.parties["producer"],
                                          "lender_id": lender_id}), 201)
    cmd = {"id": new_id(), "date": "2026-01-15"}
    a = api.ok(api.post(f"/api/loans/{loan['id']}/disbursement", cmd))
    assert api.ok(api.post(f"/api/loans/{loan['id']}/disbursement", cmd)) == a
    pay = {"id": new_id(), "amount": eur("900.00"), "date": "2026-02-15"}
    a = api.ok(api.post(f"/api/loans/{loan['id']}/repayments", pay))
    assert api.ok(api.post(f"/api/loans/{loan['id']}/repayments", pay)) == a
    r = api.post(f"/api/loans/{loan['id']}/repayments", {**pay, "amount": eur("901.00")})
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict"
    pool = api.ok(api.get(f"/api/pools/{pool_id}"))
    # 900.00 = installment 1 (25.00 interest + 821.94 principal), then 53.06 paid in
    # advance on installment 2: its interest first, 9178.06 x 3% / 12, then principal.
    interest_2 = cent(Decimal("9178.06") * Decimal("0.03") / 12)
    assert interest_2 == Decimal("22.95")
    returned = Decimal("821.94") + (Decimal("53.06") - interest_2)
    assert pool["balance"] == eur(str(Decimal("10000.00") + returned))


def test_term_must_be_whole_periods(api: Api) -> None:
    r = api.post("/api/loans/simulate", {**TERMS, "term_months": 13, "frequency": "quarterly"})
    assert r.status_code == 422
    assert any(e["field"] == "term_months" for e in r.json()["errors"])


def test_shares_go_to_the_general_pool_with_member_totals(api: Api) -> None:
    lender_id, pool_id = lender(api)
    gas = api.parties["gas"]
    for amount in ("51.64", "103.28"):
        api.ok(api.post("/api/shares", {"member_id": gas, "lender_id": lender_id,
                                        "amount": eur(amount), "date": "2026-02-01"},
                        "gas"), 201)
    r = api.post("/api/shares", {"member_id": gas, "lender_id": lender_id,
                                 "amount": eur("51.64"), "date": "2026-02-01"}, "other_gas")
    assert r.status_code == 404  # a GAS it cannot see: not found before not allowed
    body = api.ok(api.get("/api/shares", "gas"))
    assert body["totals"] == {gas: eur("154.92")}
    assert api.ok(api.get("/api/shares", "other_gas"))["items"] == []
    assert api.get("/api/shares", "producer").status_code == 403
    assert api.ok(api.get(f"/api/pools/{pool_id}"))["balance"] == eur("154.92")


def test_bad_principal_on_loan_creation_is_422_and_creates_nothing(api: Api) -> None:
    lender_id, _ = lender(api)
    producer = api.parties["producer"]
    for value in (None, {"currency": "EUR"}, [], {"amount": "1" + "0" * 20, "currency": "EUR"}):
        r = api.post("/api/loans", {**TERMS, "principal": value, "borrower_id": producer,
                                    "lender_id": lender_id})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"].startswith("principal")
    assert api.ok(api.get(f"/api/loans?borrower_id={producer}"))["items"] == []


def test_an_explicit_as_of_shows_the_loan_as_it_was_that_day(api: Api) -> None:
    lender_id, pool_id = lender(api)
    producer = api.parties["producer"]
    api.ok(api.post(f"/api/pools/{pool_id}/deposits",
                    {"amount": eur("20000.00"), "date": "2026-01-01"}), 201)
    short = {**TERMS, "principal": eur("3000.00"), "term_months": 3}
    paid = api.ok(api.post("/api/loans", {**short, "borrower_id": producer,
                                          "lender_id": lender_id}), 201)["id"]
    lost = api.ok(api.post("/api/loans", {**short, "borrower_id": producer,
                                          "lender_id": lender_id}), 201)["id"]
    for lid in (paid, lost):
        api.ok(api.post(f"/api/loans/{lid}/disbursement", {"date": "2026-01-15"}))
    # 3000 at 3% over 3 months: installment 3000 x 0.0025 / (1 - 1.0025^-3) = 1005.0042,
    # so 1005.00, of which 7.50 interest and 997.50 principal.
    first = api.ok(api.post(f"/api/loans/{paid}/repayments",
                            {"amount": eur("1005.00"), "date": "2026-02-15"}))
    assert first["allocation"]["interest"] == eur("7.50")
    # Then 2002.50 of principal is owed; on March 1st the next installment (interest
    # 2002.50 x 0.0025 = 5.01) is paid in advance and the rest repays the principal
    # early: 2007.51 clears the loan, the rest of 2100.00 is excess.
    last = api.ok(api.post(f"/api/loans/{paid}/repayments",
                           {"amount": eur("2100.00"), "date": "2026-03-01"}))
    assert last["allocation"]["excess"] == eur("92.49")
    assert api.ok(api.get(f"/api/loans/{paid}"))["status"] == "repaid"
    api.ok(api.post(f"/api/loans/{lost}/write-off", {"date": "2026-03-01", "note": "grandine"}))

    before = api.ok(api.get(f"/api/loans/{paid}?as_of=2026-01-14"))
    assert before["status"] == "approved"
    assert before["outstanding_principal"] == eur("0.00")
    assert before["overdue_amount"] == eur("0.00") and before["days_past_due"] == 0
    middle = api.ok(api.get(f"/api/loans/{paid}?as_of=2026-02-20"))
    assert middle["status"] == "active"
    assert middle["outstanding_principal"] == eur("2002.50")
    assert api.ok(api.get(f"/api/loans/{paid}?as_of=2026-03-01"))["status"] == "repaid"
    assert api.ok(api.get(f"/api/loans/{lost}?as_of=2026-02-20"))["status"] == "active"
    assert api.ok(api.get(f"/api/loans/{lost}?as_of=2026-03-01"))["status"] == "written_off"
    # A list as of a day counts a loan from its date, the disbursement's (API.md, "Books"):
    # none the day before, both on the day.
    def listed(day: str) -> list[Any]:
        items: list[Any] = api.ok(api.get(
            f"/api/loans?borrower_id={producer}&as_of={day}"))["items"]
        return items
    assert listed("2026-01-14") == []
    assert sorted((loan["id"], loan["status"]) for loan in listed("2026-01-15")) == sorted(
        [(paid, "active"), (lost, "active")])


@pytest.mark.parametrize("query", ["status=bogus", "lender_id=not-a-uuid",
                                   "borrower_id=42"])
def test_loan_list_filters_are_checked(api: Api, query: str) -> None:
    r = api.get(f"/api/loans?{query}")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == query.partition("=")[0]


def test_a_loan_names_only_an_existing_request_of_its_borrower(api: Api) -> None:
    lender_id, _ = lender(api)
    body = {**TERMS, "borrower_id": api.parties["producer"], "lender_id": lender_id}
    r = api.post("/api/loans", {**body, "request_id": new_id()})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "request_id"
    asked = api.ok(api.post("/api/requests", {
        "producer_id": api.parties["other_producer"], "amount": eur("5000.00"),
        "purpose": "Caldaia per il caseificio", "instrument": "loan", "term_months": 24},
        "other_producer"), 201)
    r = api.post("/api/loans", {**body, "request_id": asked["id"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "request_id"
    assert api.ok(api.get(f"/api/loans?borrower_id={api.parties['producer']}"))["items"] == []
    mine = api.ok(api.post("/api/requests", {
        "producer_id": api.parties["producer"], "amount": eur("5000.00"),
        "purpose": "Caldaia per il caseificio", "instrument": "loan", "term_months": 24},
        "producer"), 201)
    loan = api.ok(api.post("/api/loans", {**body, "request_id": mine["id"]}), 201)
    assert loan["request_id"] == mine["id"]


def test_a_deposit_that_would_overflow_the_pool_is_422_and_changes_nothing(api: Api) -> None:
    _, pool_id = lender(api)
    big = eur("9000000000000000.00")  # 9 x 10^17 cents; a BIGINT holds 92.2 x 10^17
    for _ in range(10):
        api.ok(api.post(f"/api/pools/{pool_id}/deposits", {"amount": big,
                                                           "date": "2026-01-02"}), 201)
    r = api.post(f"/api/pools/{pool_id}/deposits", {"amount": big, "date": "2026-01-02"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "amount"
    assert api.ok(api.get(f"/api/pools/{pool_id}"))["balance"] == eur("90000000000000000.00")
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_the_loan_list_names_every_bad_query_value_at_once(api: Api) -> None:
    r = api.get("/api/loans?as_of=2026-02-30&borrower_id=nobody&lender_id=nobody"
                "&status=lent&overdue=yes&min_days_past_due=-1")
    assert r.status_code == 422, r.text
    assert {e["field"]: e["message"] for e in r.json()["errors"]} == {
        "as_of": "'2026-02-30' is not a date YYYY-MM-DD",
        "borrower_id": "'nobody' is not a UUID", "lender_id": "'nobody' is not a UUID",
        "status": "one of approved, active, repaid, written_off",
        "overdue": "either 'true' or 'false'",
        "min_days_past_due": "a whole number, 0 or more"}
    # Each alone, and the list as asked once they are right.
    assert [e["field"] for e in api.get("/api/loans?overdue=1").json()["errors"]] == [
        "overdue"]
    lender_id, _ = lender(api)
    assert api.ok(api.get(f"/api/loans?as_of=2026-02-28&lender_id={lender_id.upper()}"
                          "&status=active&overdue=false&min_days_past_due=0"))["items"] == []
