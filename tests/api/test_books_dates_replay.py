"""As of any day, the API and the reports see exactly the items dated on or before it.

Random histories of guarantees, prepayments, deliveries, contributions and payouts, each
with a random value (agreement) date, are recorded in a random order; then, for random
``as_of`` days, the funds API, the loan's guarantees, and the guarantees, prepayments,
portfolio and solidarity reports equal a replay done here that only looks at the items
accepted and dated on or before ``as_of``.
"""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Api, eur, make_party, new_id

START = date(2026, 1, 1)
DISBURSED = date(2026, 2, 1)
DAYS = 300
TODAY = START + timedelta(days=DAYS)


def cents(m: dict[str, str]) -> int:
    return int(Decimal(m["amount"]) * 100)


def euros(c: int) -> dict[str, str]:
    return eur(f"{Decimal(c) / 100:.2f}")


def parquet(api: Api, name: str, query: str) -> pl.DataFrame:
    r = api.get(f"/api/reports/{name}.parquet?{query}")
    assert r.status_code == 200, r.text
    return pl.read_parquet(io.BytesIO(r.content))


def as_cents(value: Decimal | None) -> int:
    return int((value or Decimal(0)) * 100)


item = st.one_of(
    st.tuples(st.just("guarantee"), st.integers(0, DAYS), st.integers(100, 90_000)),
    st.tuples(st.just("prepayment"), st.integers(0, DAYS), st.integers(1_000, 50_000)),
    st.tuples(st.just("delivery"), st.integers(0, DAYS), st.integers(1, 40)),
    st.tuples(st.just("contribution"), st.integers(0, DAYS), st.integers(100, 30_000)),
    st.tuples(st.just("earmarked"), st.integers(0, DAYS), st.integers(100, 30_000)),
    st.tuples(st.just("payout"), st.integers(0, DAYS), st.integers(100, 40_000)),
)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=st.lists(item, min_size=2, max_size=14).flatmap(lambda xs: st.permutations(xs)),
       days=st.lists(st.integers(0, DAYS), min_size=3, max_size=3))
def test_as_of_figures_equal_a_replay_of_what_is_dated_by_then(
        api: Api, monkeypatch: pytest.MonkeyPatch, items: list[tuple[str, int, int]],
        days: list[int]) -> None:
    monkeypatch.setenv("FILIERA_TODAY", TODAY.isoformat())
    producer = make_party(api, "producer", f"Cascina {new_id()[:8]}")
    lender = make_party(api, "lender", f"Mag {new_id()[:8]}")
    gas = make_party(api, "gas", f"GAS {new_id()[:8]}", households=10)
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("100000.00")}))
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool}/deposits",
                    {"amount": eur("5000.00"), "date": str(START)}), 201)
    loan = api.ok(api.post("/api/loans", {
        "principal": eur("5000.00"), "annual_rate": "4.00", "term_months": 12,
        "method": "french", "frequency": "monthly", "disbursement_date": str(DISBURSED),
        "borrower_id": producer, "lender_id": lender}), 201)["id"]
    api.ok(api.post(f"/api/loans/{loan}/disbursement", {"date": str(DISBURSED)}))
    fund = api.ok(api.get(f"/api/funds?gas_id={gas}"))["items"][0]

    # What was accepted, with its date: the replay's only input.
    guarantees: dict[str, tuple[date, int]] = {}
    prepaid: dict[str, tuple[date, int]] = {}
    delivered: list[tuple[str, date, int]] = []
    fund_in: list[tuple[date, bool, int]] = []
    fund_out: list[tuple[date, int, int]] = []  # (date, from money not earmarked, earmark)
    for kind, offset, n in items:
        on = START + timedelta(days=offset)
        if kind == "guarantee":
            r = api.post("/api/guarantees", {"loan_id": loan, "guarantor_id": gas,
                                             "amount": euros(n), "date": str(on)})
            assert r.status_code == 201, r.text
            guarantees[r.json()["id"]] = (on, n)
        elif kind == "prepayment":
            r = api.post("/api/prepayments", {
                "producer_id": producer, "gas_id": gas, "amount": euros(n), "product": "Mele",
                "unit": "kg", "unit_price": eur("2.00"), "expires_on": "2027-06-30",
                "on_expiry": "refund", "date": str(on)})
            assert r.status_code == 201, r.text
            prepaid[r.json()["id"]] = (on, n)
        elif kind == "delivery" and prepaid:
            target = sorted(prepaid)[n % len(prepaid)]
            r = api.post(f"/api/prepayments/{target}/deliveries",
                         {"date": str(on), "quantity": str(n)})
            if on < prepaid[target][0]:
                assert r.status_code == 422 and r.json()["errors"][0]["field"] == "date"
            elif r.status_code == 200:
                delivered.append((target, on, n * 200))  # n kg x 2.00
            else:
                assert r.json()["code"] == "exceeds_prepayment", r.text
        elif kind in ("contribution", "earmarked"):
            r = api.post("/api/contributions", {
                "gas_id": gas, "amount": euros(n), "date": str(on),
                "earmark_producer_id": producer if kind == "earmarked" else None})
            assert r.status_code == 201, r.text
            fund_in.append((on, kind == "earmarked", n))
        elif kind == "payout":
            r = api.post(f"/api/funds/{fund['id']}/payouts", {
                "producer_id": producer, "amount": euros(n), "date": str(on),
                "kind": "grant"})
            if r.status_code == 201:
                body = r.json()
                fund_out.append((on, cents(body["from_general"]), cents(body["from_earmark"])))
            else:
                assert r.json()["code"] == "insufficient_funds", r.text
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True

    # A payout never spent money the fund did not hold on its date or later.
    for day in sorted({on for on, *_ in fund_in} | {on for on, *_ in fund_out}):
        general = sum(n for on, mark, n in fund_in if on <= day and not mark) - sum(
            g for on, g, _ in fund_out if on <= day)
        earmark = sum(n for on, mark, n in fund_in if on <= day and mark) - sum(
            e for on, _, e in fund_out if on <= day)
        assert general >= 0 and earmark >= 0, day

    for offset in days:
        as_of = START + timedelta(days=offset)
        # The replay: only what is dated on or before as_of.
        general = sum(n for on, mark, n in fund_in if on <= as_of and not mark) - sum(
            g for on, g, _ in fund_out if on <= as_of)
        earmark = sum(n for on, mark, n in fund_in if on <= as_of and mark) - sum(
            e for on, _, e in fund_out if on <= as_of)
        pledged = {g: n for g, (on, n) in guarantees.items() if on <= as_of}
        agreed = {p: n for p, (on, n) in prepaid.items() if on <= as_of}
        goods: dict[str, int] = defaultdict(int)
        for p, on, value in delivered:
            if on <= as_of:
                goods[p] += value

        got = api.ok(api.get(f"/api/funds?gas_id={gas}&as_of={as_of}"))["items"][0]
        assert cents(got["balance"]) == general + earmark
        assert cents(got["unearmarked"]) == general
        assert {k: cents(v) for k, v in got["earmarked"].items()} == (
            {producer: earmark} if earmark else {})

        standing = api.ok(api.get(f"/api/loans/{loan}/guarantees?as_of={as_of}"))
        assert {g["id"]: cents(g["remaining"]) for g in standing["items"]} == pledged

        frame = parquet(api, "guarantees", f"as_of={as_of}").filter(pl.col("loan_id") == loan)
        assert {r["guarantee_id"]: as_cents(r["remaining"])
                for r in frame.iter_rows(named=True)} == pledged

        frame = parquet(api, "prepayments", f"as_of={as_of}&producer_id={producer}")
        assert {r["prepayment_id"]: (as_cents(r["advance"]), as_cents(r["delivered"]))
                for r in frame.iter_rows(named=True)} == {
            p: (n, goods.get(p, 0)) for p, n in agreed.items()}

        frame = parquet(api, "portfolio", f"as_of={as_of}")
        rows = [r for r in frame.iter_rows(named=True) if r["loan_id"] == loan]
        if as_of >= DISBURSED:
            assert [as_cents(r["guarantee_remaining"]) for r in rows] == [
                sum(pledged.values())]
        else:
            assert rows == []

        frame = parquet(api, "solidarity", f"as_of={as_of}&from={START}&to={as_of}")
        frame = frame.filter(pl.col("fund_name") == fund["name"])
        assert sum(as_cents(v) for v in frame["amount_in"]) == sum(
            n for on, _, n in fund_in if on <= as_of)
        assert sum(as_cents(v) for v in frame["amount_out"]) == sum(
            g + e for on, g, e in fund_out if on <= as_of)
