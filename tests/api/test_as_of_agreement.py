"""Every surface shows a loan, its guarantees and a fund as of a day the same way.

Random histories (repayments, some back-dated, reschedules, guarantee calls and
releases, write-offs, contributions and payouts), then random days: the loan page, the
portfolio, arrears and guarantees reports, matching's view of the borrower and the
solidarity figures agree to the cent, because they all read ``ledger.as_of``.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from service.app.matching import _loans
from service.app.reports import _fund_money
from service.db.engine import read_tx
from tests.api.conftest import Api, eur, make_party, new_id

START = date(2026, 1, 10)
DAYS = 330


def cents(money: dict[str, str] | str) -> int:
    text = money["amount"] if isinstance(money, dict) else money
    return int(Decimal(text or "0") * 100)


def all_funds(api: Api) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = api.ok(api.get(f"/api/funds?limit=500{cursor}"))
        items += page["items"]
        if not page["next_cursor"]:
            return items
        cursor = f"&cursor={page['next_cursor']}"


def report(api: Api, name: str, as_of: date) -> dict[str, dict[str, str]]:
    """The report's CSV rows (English headers, codes as codes) by their first column."""
    r = api.get(f"/api/reports/{name}.csv?as_of={as_of}&lang=en")
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    return {row[next(iter(row))]: row for row in rows}


operations = st.lists(st.one_of(
    st.tuples(st.just("repay"), st.integers(1, DAYS), st.integers(5_000, 60_000)),
    st.tuples(st.just("reschedule"), st.integers(1, DAYS), st.integers(1, 3)),
    st.tuples(st.just("call"), st.integers(1, DAYS), st.integers(1_000, 20_000)),
    st.tuples(st.just("release"), st.integers(1, DAYS), st.just(0)),
    st.tuples(st.just("write_off"), st.integers(1, DAYS), st.just(0)),
    st.tuples(st.just("contribute"), st.integers(0, DAYS), st.integers(100, 50_000)),
    st.tuples(st.just("payout"), st.integers(1, DAYS), st.integers(100, 20_000)),
), max_size=8)


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(ops=operations, days=st.lists(st.integers(0, DAYS + 30), min_size=2, max_size=2))
def test_every_surface_agrees_as_of_any_day(api: Api, engine: Engine,
                                            ops: list[tuple[str, int, int]],
                                            days: list[int]) -> None:
    # A fresh borrower, lender and GAS per example: the reports cover everything.
    producer = make_party(api, "producer", f"Cascina {new_id()[:8]}", categories=["cheese"])
    lender = make_party(api, "lender", f"Mag {new_id()[:8]}")
    gas = make_party(api, "gas", f"GAS {new_id()[:8]}", households=20)
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool}/deposits",
                    {"amount": eur("50000.00"), "date": "2026-01-01"}), 201)
    loan = api.ok(api.post("/api/loans", {
        "principal": eur("6000.00"), "annual_rate": "4.00", "term_months": 12,
        "method": "french", "frequency": "monthly", "disbursement_date": str(START),
        "borrower_id": producer, "lender_id": lender}), 201)["id"]
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("5000.00")}))
    guarantee = api.ok(api.post("/api/guarantees", {"date": "2025-12-01",
        "loan_id": loan, "guarantor_id": gas, "amount": eur("3000.00")}), 201)["id"]
    api.ok(api.post(f"/api/loans/{loan}/disbursement", {"date": str(START)}))
    fund = next(f for f in all_funds(api) if f["gas_id"] == gas)
    for kind, day, amount in ops:
        on = str(START + timedelta(days=day))
        money = eur(f"{Decimal(amount) / 100:.2f}")
        # Refusals (a call beyond what remains, a payout beyond the fund, anything on a
        # loan no longer active ...) are part of random histories: they change nothing.
        if kind == "repay":
            api.post(f"/api/loans/{loan}/repayments", {"amount": money, "date": on})
        elif kind == "reschedule":
            api.post(f"/api/loans/{loan}/reschedule", {
                "date": on, "note": "bad harvest", "added_grace_periods": amount})
        elif kind == "call":
            api.post(f"/api/loans/{loan}/guarantee-calls", {"amount": money, "date": on})
        elif kind == "release":
            api.post(f"/api/guarantees/{guarantee}/release", {"date": on})
        elif kind == "write_off":
            api.post(f"/api/loans/{loan}/write-off", {"date": on, "note": "lost"})
        elif kind == "contribute":
            api.post("/api/contributions", {"gas_id": gas, "amount": money, "date": on,
                                            "earmark_producer_id": producer
                                            if amount % 2 else None})
        elif kind == "payout":
            api.post(f"/api/funds/{fund['id']}/payouts", {
                "producer_id": producer, "amount": money, "date": on, "kind": "grant"})
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True

    for offset in days:
        as_of = START + timedelta(days=offset)
        page = api.ok(api.get(f"/api/loans/{loan}?as_of={as_of}"))
        portfolio = report(api, "portfolio", as_of)
        row = portfolio.get(loan)
        assert row is not None, (as_of, page["status"])
        assert row["Status"].replace(" ", "_") == page["status"]
        assert cents(row["Outstanding principal"]) == cents(page["outstanding_principal"])
        assert row["Restructured"] == ("yes" if page["restructured"] else "no")
        if page["status"] == "active":
            assert cents(row["Overdue"]) == cents(page["overdue_amount"])
            assert int(row["Days past due"]) == page["days_past_due"]
        arrears = report(api, "arrears", as_of)
        late = page["status"] == "active" and page["days_past_due"] > 0
        assert (loan in arrears) == late, (as_of, page["status"], page["days_past_due"])
        if late:
            assert cents(arrears[loan]["Total overdue"]) == cents(page["overdue_amount"])
            assert int(arrears[loan]["Days past due"]) == page["days_past_due"]

        standing = api.ok(api.get(f"/api/loans/{loan}/guarantees?as_of={as_of}"))["items"]
        assert [g["id"] for g in standing] == [guarantee]
        g_row = report(api, "guarantees", as_of)[guarantee]
        assert g_row["Status"].replace(" ", "_") == standing[0]["status"]
        assert cents(g_row["Called"]) == cents(standing[0]["called_amount"])
        pledged = 0 if standing[0]["status"] == "released" else cents(standing[0]["remaining"])
        assert cents(g_row["Remaining"]) == pledged

        with read_tx(engine) as conn:
            records, owed, _ = _loans(conn, as_of, {producer})
        record = records[producer]
        assert owed[producer][lender] == cents(page["outstanding_principal"])
        assert (record.repaid, record.written_off) == (int(page["status"] == "repaid"),
                                                       int(page["status"] == "written_off"))
        if page["status"] == "active":
            assert record.arrears_cents == cents(page["overdue_amount"])
            assert record.days_past_due == page["days_past_due"]

    today = date.today()
    with read_tx(engine) as conn:
        general, marks = _fund_money(conn, today)
    funds = all_funds(api)
    # The funds API holds every fund; the report's figures are summed over all of them.
    assert sum(cents(f["balance"]) for f in funds) == general + sum(marks.values())
