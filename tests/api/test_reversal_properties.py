"""Recording operations and then reversing any of them equals never recording those.

Random histories of repayments and guarantee calls on a loan, and of contributions to a
GAS's fund, are recorded in a random order (back-dated ones included); a random subset is
then reversed, in another random order. A twin loan and a twin fund get only the
operations that were not reversed, in the same order: the loans' pages (schedule,
balances, arrears, summary), their repayments' splits and their guarantees, and the
funds' balances, as of several days, must be equal, and the journal must verify.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Api, eur, make_party, new_id

START = date(2026, 1, 16)  # the day after the disbursement
SPAN = 300  # value dates from START to START + 300 days (before today)
TODAY = "2026-12-06"
OWN = ("id", "reference", "created_at", "request_id")


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", TODAY)


def euros(cents: int) -> dict[str, str]:
    return eur(f"{cents // 100}.{cents % 100:02d}")


def page(api: Api, loan_id: str, day: str) -> dict[str, Any]:
    loan = api.ok(api.get(f"/api/loans/{loan_id}?as_of={day}"))
    return {k: v for k, v in loan.items() if k not in OWN}


def loan_with_guarantee(api: Api, lender: str, gas: str) -> tuple[str, str]:
    loan_id: str = api.ok(api.post("/api/loans", {
        "principal": eur("1200.00"), "annual_rate": "6.00", "term_months": 12,
        "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-15",
        "borrower_id": api.parties["producer"], "lender_id": lender}), 201)["id"]
    guarantee: str = api.ok(api.post("/api/guarantees", {
        "loan_id": loan_id, "guarantor_id": gas, "amount": eur("500.00"),
        "date": "2026-01-10"}), 201)["id"]
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    return loan_id, guarantee


operation = st.one_of(
    # (kind, day offset, cents, reversed?) -- totals stay below the loan's debt and the
    # guarantee's pledge, so every operation is accepted on both loans.
    st.tuples(st.just("repayment"), st.integers(0, SPAN), st.integers(1_000, 15_000),
              st.booleans()),
    st.tuples(st.just("call"), st.integers(0, SPAN), st.integers(1_000, 8_000),
              st.booleans()),
    st.tuples(st.just("contribution"), st.integers(0, SPAN), st.integers(100, 20_000),
              st.booleans()),
)


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=1, max_size=6),
       order=st.randoms(use_true_random=False),
       days=st.lists(st.integers(0, SPAN), min_size=2, max_size=2))
def test_recording_then_reversing_equals_never_recording(
        api: Api, ops: list[tuple[str, int, int, bool]], order: Any, days: list[int]) -> None:
    lender = make_party(api, "lender", f"Mag {new_id()[:8]}")
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool}/deposits",
                    {"amount": eur("2400.00"), "date": "2026-01-02"}), 201)
    gas = make_party(api, "gas", f"GAS {new_id()[:8]}", households=10)
    twin_gas = make_party(api, "gas", f"GAS {new_id()[:8]}", households=10)
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("1000.00")}))
    loan, guarantee = loan_with_guarantee(api, lender, gas)
    twin, twin_guarantee = loan_with_guarantee(api, lender, gas)

    recorded: list[tuple[str, str, str]] = []  # (path of the item, kind, id)
    for kind, offset, cents, undo in ops:
        day = (START + timedelta(days=offset)).isoformat()
        targets = [(loan, gas, True)] + ([] if undo else [(twin, twin_gas, False)])
        for loan_id, gas_id, original in targets:
            item = new_id()
            if kind == "repayment":
                api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                                {"id": item, "amount": euros(cents), "date": day}))
                path = f"/api/loans/{loan_id}/repayments/{item}"
            elif kind == "call":
                api.ok(api.post(f"/api/loans/{loan_id}/guarantee-calls",
                                {"id": item, "amount": euros(cents), "date": day}))
                path = f"/api/loans/{loan_id}/guarantee-calls/{item}"
            else:
                api.ok(api.post("/api/contributions", {
                    "id": item, "gas_id": gas_id, "amount": euros(cents), "date": day}), 201)
                path = f"/api/contributions/{item}"
            if original and undo:
                recorded.append((path, kind, item))
    order.shuffle(recorded)
    for path, _, _ in recorded:
        api.ok(api.post(f"{path}/reversal", {"reason": "recorded by mistake"}))

    for offset in [*days, SPAN]:
        day = (START + timedelta(days=offset)).isoformat()
        assert page(api, loan, day) == page(api, twin, day), day
        funds = [api.ok(api.get(f"/api/funds?gas_id={g}&as_of={day}"))["items"][0]
                 for g in (gas, twin_gas)]
        assert funds[0]["balance"] == funds[1]["balance"], day
    assert page(api, loan, TODAY) == page(api, twin, TODAY)

    def kept(loan_id: str) -> list[Any]:
        items = api.ok(api.get(f"/api/loans/{loan_id}/repayments"))["items"]
        return [(i["date"], i["amount"], i["allocation"]) for i in items if not i["reversed"]]

    assert kept(loan) == kept(twin)
    mine, other = (api.ok(api.get(f"/api/guarantees/{g}"))
                   for g in (guarantee, twin_guarantee))
    for field in ("status", "called_amount", "remaining"):
        assert mine[field] == other[field], field
    calls = api.ok(api.get(f"/api/loans/{loan}/guarantee-calls"))["items"]
    assert sum(c["reversed"] for c in calls) == sum(1 for _, k, _ in recorded if k == "call")
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"], report["problems"]
