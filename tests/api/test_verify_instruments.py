"""verify rebuilds every instrument from its records and compares it with the journal."""

from __future__ import annotations

from sqlalchemy import Engine, update

from service.db.engine import write_tx
from service.db.tables import contributions, loan_events, prepayments
from tests.api.conftest import Api, eur
from tests.api.test_instruments_api import setup_loan


def test_verify_names_instrument_rows_changed_behind_the_application(api: Api,
                                                                     engine: Engine) -> None:
    _, _, loan_id = setup_loan(api)
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                    {"amount": eur("868.50"), "date": "2026-02-15"}))
    producer, gas = api.parties["producer"], api.parties["gas"]
    p = api.ok(api.post("/api/prepayments", {"date": "2025-12-01",
        "producer_id": producer, "gas_id": gas, "amount": eur("500.00"), "product": "Miele",
        "unit": "kg", "unit_price": eur("10.00"), "expires_on": "2026-12-31",
        "on_expiry": "refund"}), 201)
    api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("40.00"),
                                           "date": "2026-03-01"}), 201)
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True
    with write_tx(engine) as conn:
        conn.execute(update(loan_events).where(loan_events.c.kind == "repayment")
                     .values(amount_minor=90000))
        conn.execute(update(prepayments).where(prepayments.c.id == p["id"])
                     .values(delivered_minor=100))
        conn.execute(update(contributions).values(amount_minor=4100))
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"] is False
    text_ = "\n".join(report["problems"])
    assert f"loan {loan_id}" in text_
    assert f"prepayment {p['id']}" in text_
    assert "fund " in text_
