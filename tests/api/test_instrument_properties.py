"""Random sequences of instrument operations keep every balance and the journal right."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Api, eur
from tests.api.test_instruments_api import capacity, setup_loan


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


operation = st.one_of(
    st.tuples(st.just("contribute"), st.integers(1, 50_000), st.booleans()),
    st.tuples(st.just("grant"), st.integers(1, 60_000), st.booleans()),
    st.tuples(st.just("deliver"), st.integers(1, 40_000), st.just(False)),
    st.tuples(st.just("pledge"), st.integers(1, 300_000), st.just(False)),
    st.tuples(st.just("release"), st.integers(0, 5), st.just(False)),
)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=1, max_size=8))
def test_any_sequence_keeps_funds_prepayments_pledges_and_journal_right(
        api: Api, ops: list[tuple[str, int, bool]]) -> None:
    producer, other, gas = (api.parties["producer"], api.parties["other_producer"],
                            api.parties["gas"])
    _, _, loan_id = setup_loan(api, principal="5000.00")
    fund_id = api.ok(api.get(f"/api/funds?gas_id={gas}"))["items"][0]["id"]
    start = api.ok(api.get(f"/api/funds/{fund_id}"))
    balance = Decimal(start["balance"]["amount"])
    earmark = Decimal(start["earmarked"].get(producer, {"amount": "0"})["amount"])
    pre = api.ok(api.post("/api/prepayments", {"date": "2025-12-01",
        "producer_id": producer, "gas_id": gas, "amount": eur("300.00"), "product": "Miele",
        "unit": "kg", "unit_price": eur("12.40"), "expires_on": "2027-06-30",
        "on_expiry": "refund"}), 201)
    delivered = Decimal(0)
    cap = Decimal(api.ok(api.get(f"/api/parties/{gas}/pledge-capacity"))["amount"]["amount"])
    if cap < Decimal("5000.00"):
        capacity(api, gas, "5000.00")
    guarantees: list[str] = []
    for kind, n, flag in ops:
        if kind == "contribute":
            body: dict[str, Any] = {"gas_id": gas, "amount": eur(money(n)),
                                    "date": "2026-03-01"}
            if flag:
                body["earmark_producer_id"] = producer
            api.ok(api.post("/api/contributions", body), 201)
            balance += Decimal(money(n))
            earmark += Decimal(money(n)) if flag else 0
        elif kind == "grant":
            to = producer if flag else other
            amount = Decimal(money(n))
            available = balance - earmark + (earmark if to == producer else 0)
            r = api.post(f"/api/funds/{fund_id}/payouts", {
                "producer_id": to, "amount": eur(money(n)), "date": "2026-03-02",
                "kind": "grant"})
            if amount > available:
                assert r.status_code == 409 and r.json()["code"] == "insufficient_funds"
            else:
                assert r.status_code == 201, r.text
                from_earmark = min(amount, earmark) if to == producer else Decimal(0)
                assert Decimal(r.json()["from_earmark"]["amount"]) == from_earmark
                earmark -= from_earmark
                balance -= amount
        elif kind == "deliver":
            quantity = Decimal(n) / 1000
            value = (quantity * Decimal("12.40")).quantize(Decimal("0.01"),
                                                           rounding=ROUND_HALF_EVEN)
            r = api.post(f"/api/prepayments/{pre['id']}/deliveries",
                         {"date": "2026-04-01", "quantity": str(quantity)})
            if delivered + value > Decimal("300.00"):
                assert r.status_code == 409 and r.json()["code"] == "exceeds_prepayment"
            else:
                assert r.status_code == 200, r.text
                delivered += value
        elif kind == "pledge":
            r = api.post("/api/guarantees", {"loan_id": loan_id, "guarantor_id": gas,
                                             "date": "2025-12-01", "amount": eur(money(n))})
            assert r.status_code in (201, 409), r.text
            if r.status_code == 201:
                guarantees.append(r.json()["id"])
        elif kind == "release" and guarantees:
            gid = guarantees.pop(n % len(guarantees))
            api.ok(api.post(f"/api/guarantees/{gid}/release", {}))
    fund = api.ok(api.get(f"/api/funds/{fund_id}"))
    assert Decimal(fund["balance"]["amount"]) == balance
    assert Decimal(fund["earmarked"].get(producer, {"amount": "0"})["amount"]) == earmark
    p = api.ok(api.get(f"/api/prepayments/{pre['id']}"))
    assert Decimal(p["remaining"]["amount"]) == Decimal("300.00") - delivered
    pledged = sum(Decimal(api.ok(api.get(f"/api/guarantees/{g}"))["remaining"]["amount"])
                  for g in guarantees)
    seen = api.ok(api.get(f"/api/parties/{gas}/pledge-capacity"))
    listed = api.ok(api.get(f"/api/guarantees?guarantor_id={gas}&status=active&limit=500"))
    assert Decimal(seen["pledged"]["amount"]) == sum(
        Decimal(g["remaining"]["amount"]) for g in listed["items"])
    assert pledged <= Decimal(seen["pledged"]["amount"])
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"] is True, report["problems"]
