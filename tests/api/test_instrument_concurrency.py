"""Concurrent commands on one loan, prepayment or fund never work from stale state."""

from __future__ import annotations

import threading
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from service.app import funds, lending, prepayments
from service.app.lending import record_payment
from service.db.engine import read_tx
from tests.api.conftest import Api, eur
from tests.api.test_instruments_api import setup_loan


def run_in_threads(work: list[Any]) -> list[BaseException]:
    errors: list[BaseException] = []

    def call(fn: Any) -> None:
        try:
            fn()
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(fn,)) for fn in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_repayments_deliveries_and_payouts(api: Api) -> None:
    ctx = api.client.app.state.ctx
    _, pool_id, loan_id = setup_loan(api, principal="6000.00", deposit="6000.00")
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    producer, gas = api.parties["producer"], api.parties["gas"]
    pre = api.ok(api.post("/api/prepayments", {"date": "2025-12-01",
        "producer_id": producer, "gas_id": gas, "amount": eur("100.00"), "product": "Uova",
        "unit": "dozzina", "unit_price": eur("4.00"), "expires_on": "2026-12-31",
        "on_expiry": "refund"}), 201)
    api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("50.00"),
                                           "date": "2026-02-01"}), 201)
    # Read in a closed snapshot: a bare connect() left to the garbage collector would hold
    # SQLite's BEGIN IMMEDIATE (a connection and its transaction form a cycle) and make
    # every writer below wait the busy timeout, or fail with 503.
    with read_tx(ctx.engine) as conn:
        fund = funds.get_fund(conn, funds.gas_fund_id(gas))

    def pay(k: int) -> Any:
        def go() -> None:
            ctx.write(lambda conn: record_payment(
                conn, ctx, lending.get_loan(conn, loan_id), str(uuid.uuid4()), 30000,
                date(2026, 2, 1 + k), "test", kind="repayment"))
        return go

    def deliver() -> None:
        ctx.write(lambda conn: prepayments.record_delivery(
            conn, prepayments.get_prepayment(conn, pre["id"]), str(uuid.uuid4()),
            date(2026, 3, 1), Decimal("5"), "test"))

    def grant() -> None:
        ctx.write(lambda conn: funds.payout(
            conn, ctx, payout_id=str(uuid.uuid4()), fund=fund, producer_id=producer,
            amount=1500, on=date(2026, 3, 2), kind="grant", loan=None, username="test"))

    errors = run_in_threads([pay(k) for k in range(6)] + [deliver] * 6 + [grant] * 6)
    # 6 deliveries of 20.00 on 100.00 prepaid: exactly 5 fit; 6 grants of 15.00 on 50.00:
    # exactly 3 fit. The others are refused cleanly (409), never written half.
    codes = sorted(getattr(e, "code", repr(e)) for e in errors)
    assert codes == ["exceeds_prepayment"] + ["insufficient_funds"] * 3, codes
    p = api.ok(api.get(f"/api/prepayments/{pre['id']}"))
    assert p["delivered_value"] == eur("100.00") and p["remaining"] == eur("0.00")
    assert api.ok(api.get(f"/api/funds/{fund.id}"))["balance"] == eur("5.00")
    loan = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-12-31"))
    early = Decimal(loan["early_repaid_principal"]["amount"])
    paid = sum(Decimal(i["paid_principal"]["amount"]) for i in loan["schedule"]) + early
    pool = api.ok(api.get(f"/api/pools/{pool_id}"))
    assert Decimal(pool["balance"]["amount"]) == paid
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"] is True, report["problems"]
