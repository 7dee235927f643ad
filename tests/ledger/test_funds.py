"""Solidarity funds: contributions, earmarks, payouts, surcharges."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.funds import (
    FundState,
    InsufficientFunds,
    PayoutPlan,
    apply_payout,
    available_for,
    contribute,
    plan_payout,
    surcharge_contribution,
)

D = Decimal
PRODUCERS = ["cheese", "bread", "apples"]


def test_worked_example_earmark_first_then_general() -> None:
    fund = FundState()
    fund = contribute(fund, 300_00, "cheese")
    fund = contribute(fund, 200_00, "bread")
    fund = contribute(fund, 150_00)
    assert fund.balance_cents == 650_00
    assert fund.earmarked == {"cheese": 300_00, "bread": 200_00}
    assert fund.unearmarked == 150_00
    # cheese may use its 300 plus the 150 not earmarked, never bread's 200
    assert available_for(fund, "cheese") == 450_00
    plan = plan_payout(fund, "cheese", 400_00)
    assert plan == PayoutPlan("cheese", 300_00, 100_00)
    fund = apply_payout(fund, plan)
    assert fund.balance_cents == 250_00
    assert fund.earmarked == {"bread": 200_00}
    assert fund.unearmarked == 50_00
    # apples has no earmark: only the 50 not earmarked
    with pytest.raises(InsufficientFunds) as err:
        plan_payout(fund, "apples", 50_01)
    assert (err.value.requested_cents, err.value.available_cents) == (50_01, 50_00)
    # bread: its 200 then 50 general = 250, the whole balance
    assert plan_payout(fund, "bread", 250_00) == PayoutPlan("bread", 200_00, 50_00)


def test_payout_within_earmark_leaves_general_untouched() -> None:
    fund = contribute(contribute(FundState(), 100_00, "cheese"), 40_00)
    plan = plan_payout(fund, "cheese", 60_00)
    assert plan == PayoutPlan("cheese", 60_00, 0)
    after = apply_payout(fund, plan)
    assert after.earmarked == {"cheese": 40_00}
    assert after.unearmarked == 40_00


def test_stale_plan_and_bad_amounts_are_refused() -> None:
    fund = contribute(FundState(), 100_00, "cheese")
    plan = plan_payout(fund, "cheese", 100_00)
    spent = apply_payout(fund, plan)
    with pytest.raises(InsufficientFunds):
        apply_payout(spent, plan)
    with pytest.raises(InsufficientFunds):
        apply_payout(fund, PayoutPlan("bread", 1, 0))  # bread has no earmark
    for bad in (0, -1):
        with pytest.raises(ValueError):
            contribute(fund, bad)
        with pytest.raises(ValueError):
            plan_payout(fund, "cheese", bad)


def test_fund_state_validation() -> None:
    with pytest.raises(ValueError):
        FundState(100, {"cheese": 101})
    with pytest.raises(ValueError):
        FundState(-1)
    with pytest.raises(ValueError):
        FundState(100, {"cheese": -1})
    assert FundState(100, {"cheese": 0}) == FundState(100)


@pytest.mark.parametrize(
    ("rate", "quantity", "expected"),
    [
        (50, "300", 150_00),  # 0.50 EUR/kg on 300 kg = 150.00
        (50, "12.345", 6_17),  # 6.1725 -> 6.17
        (50, "0.01", 0),  # half a cent -> 0 (half-even)
        (50, "0.03", 2),  # 1.5 cents -> 2
        (7, "0.5", 4),  # 3.5 cents -> 4
        (5, "0.5", 2),  # 2.5 cents -> 2
        (50, "0", 0),
    ],
)
def test_surcharge_contribution(rate: int, quantity: str, expected: int) -> None:
    assert surcharge_contribution(rate, D(quantity)) == expected


def test_surcharge_refuses_negatives_and_floats() -> None:
    with pytest.raises(ValueError):
        surcharge_contribution(-1, D("1"))
    with pytest.raises(ValueError):
        surcharge_contribution(50, D("-1"))
    with pytest.raises(ValueError):
        surcharge_contribution(50, 1.5)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(rate=st.integers(0, 10**6), hundredths=st.integers(0, 10**9))
def test_surcharge_is_exact_half_even(rate: int, hundredths: int) -> None:
    exact = Fraction(rate * hundredths, 100)
    floor = exact.numerator // exact.denominator
    rest = exact - floor
    expected = floor + (1 if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2) else 0)
    assert surcharge_contribution(rate, D(hundredths).scaleb(-2)) == expected


operations = st.lists(
    st.one_of(
        st.tuples(st.just("in"), st.integers(1, 10_000_00), st.sampled_from([None, *PRODUCERS])),
        st.tuples(st.just("out"), st.integers(1, 10_000_00), st.sampled_from(PRODUCERS)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(ops=operations)
def test_balance_is_contributions_minus_payouts_and_earmarks_are_honoured(
    ops: list[tuple[str, int, str | None]],
) -> None:
    fund = FundState()
    contributed = paid = 0
    # Independent model: money per earmark key (None = not earmarked).
    pots: dict[str | None, int] = {None: 0, **dict.fromkeys(PRODUCERS, 0)}
    for kind, amount, producer in ops:
        if kind == "in":
            fund = contribute(fund, amount, producer)
            contributed += amount
            pots[producer] += amount
        else:
            assert producer is not None
            before = dict(pots)
            if amount > pots[producer] + pots[None]:
                with pytest.raises(InsufficientFunds):
                    plan_payout(fund, producer, amount)
                continue
            plan = plan_payout(fund, producer, amount)
            fund = apply_payout(fund, plan)
            paid += amount
            own = min(amount, pots[producer])
            pots[producer] -= own
            pots[None] -= amount - own
            assert plan.from_earmark_cents == own
            # an earmarked cent never pays another producer
            for other in PRODUCERS:
                if other != producer:
                    assert pots[other] == before[other]
                    assert fund.earmarked.get(other, 0) == before[other]
        assert fund.balance_cents == contributed - paid
        assert fund.unearmarked == pots[None]
        for p in PRODUCERS:
            assert fund.earmarked.get(p, 0) == pots[p]
        assert fund.unearmarked >= 0
