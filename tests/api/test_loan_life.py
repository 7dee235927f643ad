"""A loan's whole life over HTTP, every balance checked against a computation made here.

The reference model below re-implements the contract's rules for this scenario in plain
Decimal arithmetic (30/360 monthly interest, the annuity formula, allocation oldest
first, early repayment keeping the term), independently of ``ledger``.
"""

from __future__ import annotations

import itertools
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from tests.api.conftest import Api, eur, make_party, new_id

D = Decimal
RATE = D("0.045") / 12  # 4.50% a year, monthly, 30/360


def cent(x: Decimal) -> Decimal:
    return x.quantize(D("0.01"), rounding=ROUND_HALF_EVEN)


def annuity(balance: Decimal, periods: int) -> Decimal:
    return cent(balance * RATE / (1 - (1 + RATE) ** -periods))


def amt(m: dict[str, str]) -> Decimal:
    return D(m["amount"])


def new_loan(api: Api, principal: str, term: int, *, deposit: str | None = "30000.00"
             ) -> tuple[str, str]:
    lender_id = make_party(api, "lender", f"Mag2 {new_id()[:6]}")
    pool_id = api.ok(api.get(f"/api/pools?lender_id={lender_id}"))["items"][0]["id"]
    loan = api.ok(api.post("/api/loans", {
        "principal": eur(principal), "annual_rate": "4.50", "term_months": term,
        "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-10",
        "borrower_id": api.parties["producer"], "lender_id": lender_id}), 201)
    if deposit:
        api.ok(api.post(f"/api/pools/{pool_id}/deposits",
                        {"amount": eur(deposit), "date": "2026-01-05"}), 201)
    return loan["id"], pool_id


def pay(api: Api, loan_id: str, amount: Decimal | str, on: str, **extra: Any
        ) -> dict[str, Any]:
    body = api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                           {"amount": eur(str(amount)), "date": on, **extra}))
    return body  # type: ignore[no-any-return]


def test_cheese_maker_loan_life(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2027-01-31")  # its last payment is in January 2027
    loan_id, pool_id = new_loan(api, "18000.00", 24, deposit=None)
    r = api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-10"})
    assert r.status_code == 409 and r.json()["code"] == "insufficient_funds"
    api.ok(api.post(f"/api/pools/{pool_id}/deposits",
                    {"amount": eur("30000.00"), "date": "2026-01-05"}), 201)
    loan = api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-10"}))
    inst = annuity(D("18000.00"), 24)
    assert amt(loan["schedule"][0]["payment"]) == inst
    balance = D("18000.00")
    paid_interest = D(0)

    def due_installment() -> tuple[Decimal, Decimal]:
        interest = cent(balance * RATE)
        return interest, inst - interest

    # 1. February on time.
    interest, principal = due_installment()
    a = pay(api, loan_id, inst, "2026-02-10")["allocation"]
    assert (amt(a["interest"]), amt(a["principal"])) == (interest, principal)
    balance -= principal
    paid_interest += interest
    # 2. March paid 15 days late: as of March 20th it is 10 days past due.
    late = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-03-20"))
    assert late["days_past_due"] == 10 and amt(late["overdue_amount"]) == inst
    interest, principal = due_installment()
    a = pay(api, loan_id, inst, "2026-03-25")["allocation"]
    assert (amt(a["interest"]), amt(a["principal"])) == (interest, principal)
    balance -= principal
    paid_interest += interest
    # 3. April partial: 300.00 pays the interest, then part of the principal.
    interest, principal = due_installment()
    a = pay(api, loan_id, "300.00", "2026-04-10")["allocation"]
    assert amt(a["interest"]) == interest and amt(a["principal"]) == D("300.00") - interest
    april_left = inst - D("300.00")
    state = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-05-01"))
    assert amt(state["overdue_amount"]) == april_left and state["days_past_due"] == 21
    # 4. May's payment is entered first; then the rest of April, backdated to April 30th.
    may_payment = inst
    pay(api, loan_id, may_payment, "2026-05-10")
    a = pay(api, loan_id, april_left, "2026-04-30")["allocation"]
    assert amt(a["principal"]) == april_left and amt(a["interest"]) == 0
    balance -= principal  # April's principal, now whole
    paid_interest += interest
    interest, principal = due_installment()  # May, allocated after the backdated one
    balance -= principal
    paid_interest += interest
    loan = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-05-10"))
    assert amt(loan["outstanding_principal"]) == balance
    assert amt(loan["overdue_amount"]) == 0
    # 5. June: the installment plus 3,000.00. The next installment (July) is paid in
    # advance, the rest is early repayment, and the remaining 17 installments are
    # recomputed over the same term.
    interest, principal = due_installment()
    balance -= principal
    paid_interest += interest
    july_interest = cent(balance * RATE)
    july_principal = inst - july_interest
    balance -= july_principal
    paid_interest += july_interest
    early = D("3000.00") - inst
    balance -= early
    a = pay(api, loan_id, inst + D("3000.00"), "2026-06-10")["allocation"]
    assert amt(a["interest"]) == interest + july_interest
    assert amt(a["principal"]) == principal + july_principal + early
    loan = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-06-10"))
    assert amt(loan["outstanding_principal"]) == balance
    remaining = [i for i in loan["schedule"] if i["status"] != "paid"]
    assert len(remaining) == 24 - 6
    new_inst = annuity(balance, 24 - 6)
    assert amt(remaining[0]["payment"]) == new_inst
    assert sum(amt(i["principal"]) for i in remaining) == balance
    # 6. A bad harvest: two interest-only months from August on (rescheduling).
    loan = api.ok(api.post(f"/api/loans/{loan_id}/reschedule", {
        "date": "2026-07-15", "added_grace_periods": 2, "note": "grandinata di luglio"}))
    assert loan["restructured"] is True
    unpaid = [i for i in loan["schedule"] if i["status"] != "paid"]
    assert amt(unpaid[0]["principal"]) == 0 and amt(unpaid[1]["principal"]) == 0
    assert amt(unpaid[0]["interest"]) == cent(balance * RATE)
    assert sum(amt(i["principal"]) for i in unpaid) == balance
    # 7. Nothing more is paid; the remainder is written off at year end.
    loan = api.ok(api.post(f"/api/loans/{loan_id}/write-off",
                           {"date": "2026-12-31", "note": "azienda chiusa"}))
    assert loan["status"] == "written_off"
    assert amt(loan["written_off_principal"]) == balance
    assert amt(loan["outstanding_principal"]) == 0
    pool = api.ok(api.get(f"/api/pools/{pool_id}"))
    assert amt(pool["balance"]) == D("30000.00") - balance and amt(pool["lent"]) == 0
    journal = api.ok(api.get("/api/ledger/transfers?limit=500"))["items"]
    booked_interest = sum(amt(t["amount"]) * (1 if t["code"] == "interest" else 0)
                          for t in journal if t["user_data"] == f"loan:{loan_id}"
                          and t["code"] == "interest")
    assert booked_interest == paid_interest
    # Money received after the write-off is recovery.
    a = pay(api, loan_id, "500.00", "2027-01-20")["allocation"]
    assert a["recovery"] == eur("500.00") and amt(a["principal"]) == 0
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"] is True, report["problems"]


def test_entry_order_of_backdated_payments_does_not_change_balances(api: Api) -> None:
    """The same four payments entered in every order give the same journal balances."""
    payments = [("900.00", "2026-02-10"), ("150.00", "2026-03-02"),
                ("2000.00", "2026-03-10"), ("420.00", "2026-04-28")]
    outcomes = set()
    for order in itertools.islice(itertools.permutations(payments), 0, 24, 5):
        loan_id, pool_id = new_loan(api, "10000.00", 12)
        api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-10"}))
        for amount, on in order:
            pay(api, loan_id, amount, on)
        loan = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-06-01"))
        pool = api.ok(api.get(f"/api/pools/{pool_id}"))
        outcomes.add((loan["outstanding_principal"]["amount"], pool["balance"]["amount"],
                      loan["overdue_amount"]["amount"],
                      tuple(i["paid_interest"]["amount"] for i in loan["schedule"])))
    assert len(outcomes) == 1
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_late_interest_accrues_daily_on_overdue_principal_only(api: Api) -> None:
    loan_id, _ = new_loan(api, "12000.00", 12)
    lender_id = api.ok(api.get(f"/api/loans/{loan_id}"))["lender_id"]
    api.ok(api.put(f"/api/lenders/{lender_id}/categories/microcredit", {
        "max_principal": eur("75000.00"), "max_term_months": 84,
        "frequencies": ["monthly", "quarterly"], "late_interest_rate": "8.00"}))
    loan = api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-10"}))
    first = loan["schedule"][0]
    principal_due, payment = amt(first["principal"]), amt(first["payment"])
    # Nothing paid; as of March 1st the February 10th installment is 19 days late.
    # Late interest: its principal only (not its interest) x 8% x 19 / 365.
    state = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-03-01"))
    late = cent(principal_due * D("0.08") * 19 / 365)
    assert state["days_past_due"] == 19
    assert amt(state["overdue_amount"]) == payment + late
    # Paying on March 1st: late interest first, then interest, then principal.
    a = pay(api, loan_id, payment + late, "2026-03-01")["allocation"]
    assert amt(a["penalty"]) == late
    assert amt(a["interest"]) == amt(first["interest"])
    assert amt(a["principal"]) == principal_due
