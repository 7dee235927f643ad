"""A portfolio's arrears read from the kept schedules equal each loan's own replay."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, delete, insert, select, update

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


def kept_rows(engine: Engine, loan_id: str) -> list[dict[str, object]]:
    with read_tx(engine) as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(loan_installments).where(loan_installments.c.loan_id == loan_id)
            .order_by(loan_installments.c.number))]


def replayed_rows(engine: Engine, loan_id: str) -> list[dict[str, object]]:
    with read_tx(engine) as conn:
        row = lending.get_loan(conn, loan_id)
        events = lending.events_of(conn, loan_id)
        state = lending.loan_state(row, events, late_rate=lending.late_rate_of(conn, row))
        through = lending.replayed_through(row, events)
        return [lending.installment_row(loan_id, s, through) for s in state.schedule]


def test_the_kept_schedule_follows_every_kind_of_operation(api: Api, engine: Engine) -> None:
    """Only the rows an operation changed are written again: after each payment (one
    installment, an early repayment that shortens the term and so drops rows, a back-
    dated one, a reversal) the kept schedule is still exactly the replay's."""
    loan_id, _ = new_loan(api, "6000.00", 24)
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-10"}))
    assert kept_rows(engine, loan_id) == replayed_rows(engine, loan_id)
    assert len(kept_rows(engine, loan_id)) == 24
    pay(api, loan_id, "261.90", "2026-02-10")
    assert kept_rows(engine, loan_id) == replayed_rows(engine, loan_id)
    early = pay(api, loan_id, "2500.00", "2026-03-10", early_repayment="shorten_term")
    assert kept_rows(engine, loan_id) == replayed_rows(engine, loan_id)
    assert len(kept_rows(engine, loan_id)) < 24  # rows past the new term are gone
    pay(api, loan_id, "50.00", "2026-02-20")  # back-dated: between the two
    assert kept_rows(engine, loan_id) == replayed_rows(engine, loan_id)
    api.ok(api.post(f"/api/loans/{loan_id}/repayments/{early['repayment']['id']}/reversal",
                    {"reason": "entered by mistake"}))
    assert len(kept_rows(engine, loan_id)) == 24  # the term is whole again
    assert kept_rows(engine, loan_id) == replayed_rows(engine, loan_id)
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_saving_the_schedule_mends_whatever_rows_differ(api: Api, engine: Engine) -> None:
    """A kept schedule with a row missing, a row wrong and a row too many is brought
    back to the replay by the next save (the rows compared one by one)."""
    loan_id, _ = new_loan(api, "6000.00", 24)
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-10"}))
    pay(api, loan_id, "261.90", "2026-02-10")
    with write_tx(engine) as conn:
        conn.execute(delete(loan_installments).where(
            loan_installments.c.loan_id == loan_id, loan_installments.c.number == 7))
        conn.execute(update(loan_installments).where(
            loan_installments.c.loan_id == loan_id, loan_installments.c.number == 3)
            .values(paid_interest_minor=1))
        conn.execute(insert(loan_installments).values(
            **{**kept_rows(engine, loan_id)[-1], "number": 99}))
    assert kept_rows(engine, loan_id) != replayed_rows(engine, loan_id)
    with write_tx(engine) as conn:
        row = lending.get_loan(conn, loan_id)
        events = lending.events_of(conn, loan_id)
        lending.save_installments(conn, row, lending.loan_state(row, events), events)
    assert kept_rows(engine, loan_id) == replayed_rows(engine, loan_id)


def test_kept_installment_answers_equal_fresh_ones(api: Api) -> None:
    """Installments are answered from a memo keyed by their state and status: the
    answers equal those made with nothing kept, after payments and as of other days."""
    loan_id, _ = new_loan(api, "6000.00", 24)
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-10"}))
    paid = pay(api, loan_id, "300.00", "2026-02-10")["loan"]["schedule"]
    assert paid[0]["status"] == "paid" and paid[1]["status"] != "paid"
    for query in ("", "?as_of=2026-02-09", "?as_of=2026-03-11", "?as_of=2027-01-01"):
        kept = api.ok(api.get(f"/api/loans/{loan_id}{query}"))
        lending._INSTALLMENTS.clear()
        assert api.ok(api.get(f"/api/loans/{loan_id}{query}")) == kept
    on_feb_9 = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-02-09"))["schedule"]
    later = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2027-01-01"))["schedule"]
    assert on_feb_9[0]["status"] == "open" and later[1]["status"] == "overdue"
