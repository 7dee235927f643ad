"""Back-dated operations around a write-off: the corrections are booked in an order the
pool's and the loan's balance limits allow, whatever the (random) ids of the events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import Api, eur
from tests.api.test_loans_api import lender

TERMS = {"principal": eur("3000.00"), "annual_rate": "12.00", "term_months": 3,
         "method": "french", "frequency": "monthly", "grace_periods": 0,
         "disbursement_date": "2025-05-15"}


def disbursed_loan(api: Api, lender_id: str) -> str:
    loan_id: str = api.ok(api.post("/api/loans", {**TERMS, "borrower_id": api.parties[
        "producer"], "lender_id": lender_id}), 201)["id"]
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2025-05-15"}))
    return loan_id


def test_back_dated_repayment_after_a_write_off(api: Api) -> None:
    lender_id, pool_id = lender(api)
    api.ok(api.post(f"/api/pools/{pool_id}/deposits", {"amount": eur("30000.00"),
                                                       "date": "2025-05-01"}), 201)
    for _ in range(8):  # event ids are random: each loan orders its corrections anew
        loan_id = disbursed_loan(api, lender_id)
        api.ok(api.post(f"/api/loans/{loan_id}/write-off",
                        {"date": "2025-09-01", "note": "grandinata"}))
        # A payment dated before the write-off: it was a repayment, not a recovery.
        body = api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                               {"amount": eur("1000.00"), "date": "2025-08-01"}))
        allocation: dict[str, Any] = body["allocation"]
        assert allocation["principal"]["amount"] != "0.00", allocation
        loan = body["loan"]
        # Written off on 1 September: what the payment did not repay.
        repaid = Decimal(allocation["principal"]["amount"])
        assert loan["written_off_principal"] == eur(str(Decimal("3000.00") - repaid))
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_back_dated_write_off_before_a_repayment(api: Api) -> None:
    lender_id, pool_id = lender(api)
    api.ok(api.post(f"/api/pools/{pool_id}/deposits", {"amount": eur("30000.00"),
                                                       "date": "2025-05-01"}), 201)
    for _ in range(8):
        loan_id = disbursed_loan(api, lender_id)
        api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                        {"amount": eur("1000.00"), "date": "2025-08-01"}))
        loan = api.ok(api.post(f"/api/loans/{loan_id}/write-off",
                               {"date": "2025-06-01", "note": "grandinata"}))
        # Nothing was repaid by 1 June: the whole principal is written off, and the
        # August payment becomes a recovery.
        assert loan["status"] == "written_off"
        assert loan["written_off_principal"] == eur("3000.00")
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_recovery_stops_at_the_debt_and_a_write_off_after_full_repayment_is_void(
        api: Api) -> None:
    lender_id, pool_id = lender(api)
    api.ok(api.post(f"/api/pools/{pool_id}/deposits", {"amount": eur("30000.00"),
                                                       "date": "2025-05-01"}), 201)
    # 3,000.00 at 12% over 3 months: installment 3000 x 0.01 / (1 - 1.01^-3) = 1020.07.
    # Interest 30.00; then on 3000 - 990.07 = 2009.93, 20.10; then on 2009.93 - 999.97 =
    # 1009.96, 10.10: 60.20 in all.
    loan_id = disbursed_loan(api, lender_id)
    loan = api.ok(api.post(f"/api/loans/{loan_id}/write-off",
                           {"date": "2025-09-01", "note": "grandinata"}))
    # By 1 September every installment was due and none paid: the debt is the whole
    # principal and every installment's interest.
    debt = Decimal("3000.00") + Decimal("60.20")
    assert loan["written_off_principal"] == eur("3000.00")
    body = api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                           {"amount": eur("10000.00"), "date": "2025-10-01"}))
    assert body["allocation"]["recovery"] == eur(str(debt))
    assert body["allocation"]["excess"] == eur(str(Decimal("10000.00") - debt))
    # A loan repaid in full on 1 August, written off (by mistake) on 1 September: the
    # write-off wrote off nothing and the loan is repaid.
    other = disbursed_loan(api, lender_id)
    api.ok(api.post(f"/api/loans/{other}/write-off", {"date": "2025-09-01", "note": "x"}))
    paid = api.ok(api.post(f"/api/loans/{other}/repayments",
                           {"amount": eur("4000.00"), "date": "2025-08-01"}))["loan"]
    assert paid["status"] == "repaid" and paid["written_off_principal"] == eur("0.00")
    for query in ("", "?as_of=2025-09-01", "?as_of=2025-08-01"):
        assert api.ok(api.get(f"/api/loans/{other}{query}"))["status"] == "repaid", query
    assert api.ok(api.get(f"/api/loans/{other}?as_of=2025-07-31"))["status"] == "active"
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_payments_entered_in_any_order_give_the_same_loan(api: Api) -> None:
    lender_id, pool_id = lender(api)
    api.ok(api.post(f"/api/pools/{pool_id}/deposits", {"amount": eur("30000.00"),
                                                       "date": "2025-05-01"}), 201)
    first, second = disbursed_loan(api, lender_id), disbursed_loan(api, lender_id)
    payments = [("1020.07", "2025-06-15"), ("5000.00", "2025-07-01")]  # the 2nd repays all
    for amount, day in payments:
        api.ok(api.post(f"/api/loans/{first}/repayments", {"amount": eur(amount), "date": day}))
    for amount, day in reversed(payments):  # the payoff first, then the earlier payment
        api.ok(api.post(f"/api/loans/{second}/repayments",
                        {"amount": eur(amount), "date": day}))
    a, b = (api.ok(api.get(f"/api/loans/{lid}")) for lid in (first, second))
    same = ("status", "outstanding_principal", "overdue_amount", "early_repaid_principal")
    assert {k: a[k] for k in same} == {k: b[k] for k in same}
    assert a["status"] == "repaid"
    assert [(i["paid_principal"], i["paid_interest"]) for i in a["schedule"]] == \
        [(i["paid_principal"], i["paid_interest"]) for i in b["schedule"]]
    # A payment dated after the loan was repaid is still refused.
    r = api.post(f"/api/loans/{first}/repayments", {"amount": eur("1.00"), "date": "2025-07-02"})
    assert r.status_code == 409 and r.json()["code"] == "loan_not_active"


def test_without_as_of_a_loan_is_shown_as_of_today(api: Api, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    lender_id, pool_id = lender(api)
    api.ok(api.post(f"/api/pools/{pool_id}/deposits", {"amount": eur("30000.00"),
                                                       "date": "2025-05-01"}), 201)
    loan_id = disbursed_loan(api, lender_id)
    # A payoff dated after today is refused (money is recorded once it has moved) ...
    monkeypatch.setenv("FILIERA_TODAY", "2029-12-31")
    r = api.post(f"/api/loans/{loan_id}/repayments",
                 {"amount": eur("5000.00"), "date": "2030-01-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "date"
    today = api.ok(api.get(f"/api/loans/{loan_id}"))
    assert today["as_of"] == "2029-12-31"
    assert today["status"] == "active" and today["outstanding_principal"] == eur("3000.00")
    # ... and taken on its day; without as_of the loan is shown as of that day.
    monkeypatch.setenv("FILIERA_TODAY", "2030-01-01")
    api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                    {"amount": eur("5000.00"), "date": "2030-01-01"}))
    today = api.ok(api.get(f"/api/loans/{loan_id}"))
    assert today["status"] == "repaid" and today["as_of"] == "2030-01-01"
    assert today == api.ok(api.get(f"/api/loans/{loan_id}?as_of=2030-01-01"))
