"""Random sequences of loan operations through the service keep the books consistent."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Api, eur
from tests.api.test_loan_life import amt, new_loan

START = date(2026, 1, 10)

operation = st.one_of(
    st.tuples(st.just("pay"), st.integers(1, 250_000), st.integers(1, 400),
              st.sampled_from(["term", "shorten_term"])),
    st.tuples(st.just("reschedule"), st.integers(1, 3), st.integers(20, 300), st.just("")),
)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=1, max_size=6))
def test_any_sequence_keeps_verify_ok_and_principal_whole(
        api: Api, monkeypatch: pytest.MonkeyPatch, ops: list[tuple]) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2027-12-31")  # payments run up to START + 400 days
    loan_id, pool_id = new_loan(api, "10000.00", 24, deposit="10000.00")
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": START.isoformat()}))
    for kind, a, days, mode in ops:
        on = (START + timedelta(days=days)).isoformat()
        if kind == "pay":
            r = api.post(f"/api/loans/{loan_id}/repayments",
                         {"amount": eur(f"{a // 100}.{a % 100:02d}"), "date": on,
                          "early_repayment": mode})
            assert r.status_code in (200, 409), r.text
        else:
            r = api.post(f"/api/loans/{loan_id}/reschedule",
                         {"date": on, "added_grace_periods": a, "note": "maltempo"})
            assert r.status_code in (200, 409, 422), r.text
    loan = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2030-01-01"))
    outstanding = amt(loan["outstanding_principal"])
    early = amt(loan["early_repaid_principal"])
    repaid = sum((amt(i["paid_principal"]) for i in loan["schedule"]), Decimal(0)) + early
    assert outstanding + repaid == Decimal("10000.00")
    assert sum(amt(i["principal"]) for i in loan["schedule"]) + early == Decimal("10000.00")
    pool = api.ok(api.get(f"/api/pools/{pool_id}"))
    assert amt(pool["balance"]) == repaid and amt(pool["lent"]) == outstanding
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"] is True, report["problems"]
