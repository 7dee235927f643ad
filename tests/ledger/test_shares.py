"""Member shares: the share-capital loan cap and the minimum share."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.shares import MIN_SHARE_CENTS, BelowMinimumShare, check_subscription, share_cap


def test_min_share_is_51_64_eur() -> None:
    assert MIN_SHARE_CENTS == 51_64


def test_share_cap_worked_example() -> None:
    # GAS A: ten minimum shares = 516.40; GAS B: 1,000.00 -> capital 1,516.40, cap 3,032.80
    assert share_cap({"A": 10 * 51_64, "B": 1_000_00}) == 3_032_80
    assert share_cap({"A": 10 * 51_64, "B": 1_000_00}, Decimal(3)) == 4_549_20
    assert share_cap({}) == 0
    assert share_cap({"A": 55_000_00}) == 110_000_00  # the model case: 2x the capital


def test_fractional_multiple_rounds_the_cap_down() -> None:
    # 0.03 x 1.5 = 0.045 -> 0.04 (a cap never exceeds multiple x capital)
    assert share_cap({"A": 3}, Decimal("1.5")) == 4
    assert share_cap({"A": 1}, Decimal("2.5")) == 2
    assert share_cap({"A": 1_000_00}, Decimal("0")) == 0


def test_share_cap_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        share_cap({"A": -1})
    with pytest.raises(ValueError):
        share_cap({"A": 1}, Decimal("-1"))
    with pytest.raises(ValueError):
        share_cap({"A": 1}, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        share_cap({"A": 1}, Decimal("NaN"))


@settings(max_examples=100, deadline=None)
@given(
    subscribed=st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 10**9)),
    tenths=st.integers(0, 100),
)
def test_cap_is_the_floor_of_multiple_times_capital(
    subscribed: dict[str, int], tenths: int
) -> None:
    cap = share_cap(subscribed, Decimal(tenths) / 10)
    capital = sum(subscribed.values())
    # floor(capital * tenths / 10), checked without division: cap*10 <= exact < cap*10+10
    assert cap * 10 <= capital * tenths < cap * 10 + 10


def test_minimum_share_check_is_off_by_default() -> None:
    check_subscription(1)  # any positive amount passes by default
    with pytest.raises(ValueError):
        check_subscription(0)


def test_minimum_share_check_when_enforced() -> None:
    check_subscription(51_64, minimum_cents=MIN_SHARE_CENTS)
    with pytest.raises(BelowMinimumShare) as err:
        check_subscription(51_63, minimum_cents=MIN_SHARE_CENTS)
    assert (err.value.total_cents, err.value.minimum_cents) == (51_63, 51_64)
    # a top-up by a member who holds the minimum already
    check_subscription(10_00, already_subscribed_cents=51_64, minimum_cents=MIN_SHARE_CENTS)
    with pytest.raises(BelowMinimumShare):
        check_subscription(10_00, already_subscribed_cents=41_63, minimum_cents=MIN_SHARE_CENTS)
    # BelowMinimumShare is an invalid amount (422), a ValueError
    assert issubclass(BelowMinimumShare, ValueError)
