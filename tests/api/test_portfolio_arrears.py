"""A portfolio's arrears read from the kept schedules equal each loan's own replay."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, update

from service.app import lending
from service.db.engine import read_tx, write_tx
from service.db.tables import loan_installments
from tests.api.conftest import Api, eur
from tests.api.test_loan_life import new_loan, pay


def test_kept_schedules_give_the_same_arrears_as_the_replay(api: Api, engine: Engine) -> None:
    loans = []
    for principal, payments in (("9000.00", [("385.00", "2026-02-10")]),
                                ("5000.00", [("100.00", "2026-02-20"),
                                             ("900.00", "2026-04-01")]),
                                ("7000.00", [])):
        loan_id, _ = new_loan(api, principal, 24)
        api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-10"}))
        for amount, on in payments:
            pay(api, loan_id, amount, on)
        loans.append(loan_id)
    # One lender charges late interest: its loans are replayed, not read from the table.
    late_lender = api.ok(api.get(f"/api/loans/{loans[2]}"))["lender_id"]
    api.ok(api.put(f"/api/lenders/{late_lender}/categories/microcredit", {
        "max_principal": eur("75000.00"), "max_term_months": 84,
        "frequencies": ["monthly"], "late_interest_rate": "6.00"}))
    for as_of in (date(2026, 3, 1), date(2026, 5, 17), date(2027, 1, 1)):
        with read_tx(engine) as conn:
            got = lending.portfolio_arrears(conn, as_of)
        for loan_id in loans:
            loan = api.ok(api.get(f"/api/loans/{loan_id}?as_of={as_of}"))
            cents = int(Decimal(loan["overdue_amount"]["amount"]) * 100)
            assert got[loan_id] == (cents, loan["days_past_due"]), (loan_id, as_of)
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True
    with write_tx(engine) as conn:
        conn.execute(update(loan_installments).where(loan_installments.c.loan_id == loans[0])
                     .values(paid_interest_minor=0))
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"] is False
    assert any(loans[0] in p and "kept schedule" in p for p in report["problems"])
