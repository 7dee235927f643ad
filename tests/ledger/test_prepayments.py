"""Prepayments: delivery values, drawdown, close and rollover."""

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.prepayments import (
    DeliveryTooLarge,
    ExceedsPrepayment,
    PrepaymentClosed,
    PrepaymentState,
    Settlement,
    apply_close,
    apply_delivery,
    campaign_totals,
    close,
    default_rollover_expiry,
    delivery_value,
)

D = Decimal


def half_even_cents(exact: Fraction) -> int:
    """Independent half-even rounding of an exact value in cents."""
    floor = exact.numerator // exact.denominator
    rest = exact - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


# --- delivery value -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "price", "expected"),
    [
        ("12.5", 18_40, 230_00),  # 12.5 kg of cheese at 18.40 = 230.00
        ("0.125", 1_00, 12),  # 12.5 cents -> half-even down to 12
        ("0.375", 1_00, 38),  # 37.5 cents -> half-even up to 38
        ("1.001", 9_99, 1_000),  # 9.99999 -> 10.00
        ("3", 33_33, 99_99),
        ("2.500", 1, 2),  # 2.5 cents -> 2
        ("3.500", 1, 4),  # 3.5 cents -> 4
    ],
)
def test_delivery_value_worked_examples(quantity: str, price: int, expected: int) -> None:
    assert delivery_value(D(quantity), price) == expected


def test_delivery_value_refuses_bad_quantities() -> None:
    for bad in (D("1.0001"), D("0"), D("-1"), D("NaN"), D("Infinity")):
        with pytest.raises(ValueError):
            delivery_value(bad, 100)
    with pytest.raises(ValueError):
        delivery_value(D("1"), 0)
    with pytest.raises(ValueError):
        delivery_value(1.5, 100)  # type: ignore[arg-type]
    # trailing zeros beyond 3 places are still at most 3 decimals of value
    assert delivery_value(D("1.50000"), 2_00) == 3_00


@settings(max_examples=200, deadline=None)
@given(thousandths=st.integers(1, 10**12), price=st.integers(1, 10**10))
def test_delivery_value_is_exact_half_even(thousandths: int, price: int) -> None:
    quantity = D(thousandths).scaleb(-3)
    assert delivery_value(quantity, price) == half_even_cents(Fraction(thousandths * price, 1000))


BIGINT = 2**63 - 1  # the largest amount kept, in cents (written out, not imported)


@pytest.mark.parametrize("digits", [19, 20, 25, 26, 27, 28, 29, 40, 200])
def test_a_quantity_of_many_whole_digits_is_too_large_not_an_invalid_operation(
        digits: int) -> None:
    # 26 whole digits used to raise decimal.InvalidOperation (a 500): issue #15.
    for text in ("9" * digits, "1" + "0" * (digits - 1) + ".125"):
        with pytest.raises(DeliveryTooLarge) as caught:
            delivery_value(D(text), 10)  # at least 10^18 units x 10 cents > 2^63 - 1
        assert isinstance(caught.value, ValueError) and caught.value.quantity == D(text)


def test_huge_exponents_are_refused_at_once() -> None:
    for text in ("1E+999999", "1.5E+30", "9.999E+25"):
        with pytest.raises(DeliveryTooLarge):
            delivery_value(D(text), 1_00)
    with pytest.raises(ValueError, match="3 decimals"):
        delivery_value(D("1E-999999"), 1_00)


def test_the_largest_amount_kept_is_the_bound() -> None:
    # At 1 cent a unit the value is the quantity rounded half-even to a whole cent.
    assert delivery_value(D(BIGINT), 1) == BIGINT
    assert delivery_value(D(BIGINT) + D("0.499"), 1) == BIGINT
    with pytest.raises(DeliveryTooLarge):
        delivery_value(D(BIGINT) + D("0.5"), 1)  # ...807.5 -> ...808 (half-even, odd)
    with pytest.raises(DeliveryTooLarge):
        delivery_value(D(BIGINT + 1), 1)
    # 18 whole digits at 100.00 EUR a unit: 10^17 * 10^4 cents, past the bound.
    with pytest.raises(DeliveryTooLarge):
        delivery_value(D(10**17), 100_00)
    assert delivery_value(D(BIGINT // 10_000), 100_00) == BIGINT // 10_000 * 10_000


def test_trailing_zeros_past_three_decimals_are_not_decimals() -> None:
    assert delivery_value(D("2." + "0" * 40), 3_00) == 6_00
    assert delivery_value(D("12345678901234567.125000000000000"), 1) == 12345678901234567
    with pytest.raises(ValueError, match="3 decimals"):
        delivery_value(D("2." + "0" * 40 + "1"), 3_00)


@settings(max_examples=200, deadline=None)
@given(whole=st.integers(1, 10**30), thousandths=st.integers(0, 999),
       price=st.integers(1, 10**8))
def test_delivery_value_is_exact_or_too_large(whole: int, thousandths: int,
                                              price: int) -> None:
    quantity = D(f"{whole}.{thousandths:03d}")
    exact = half_even_cents(Fraction(whole * 1000 + thousandths, 1000) * price)
    if exact <= BIGINT:
        assert delivery_value(quantity, price) == exact
    else:
        with pytest.raises(DeliveryTooLarge):
            delivery_value(quantity, price)


# --- drawdown ---------------------------------------------------------------------------


def test_deliveries_draw_down_and_an_oversized_one_is_refused_whole() -> None:
    state = PrepaymentState(paid_cents=1_000_00)
    assert state.remaining == 1_000_00 and state.status == "open"
    state = apply_delivery(state, delivery_value(D("12.5"), 18_40))  # 230.00
    assert state.remaining == 770_00
    state = apply_delivery(state, 770_00)
    assert state.remaining == 0
    with pytest.raises(ExceedsPrepayment) as err:
        apply_delivery(state, 1)
    assert (err.value.value_cents, err.value.remaining_cents) == (1, 0)
    # refused, not split: the state is unchanged
    partial = PrepaymentState(paid_cents=100_00, delivered_cents=90_00)
    with pytest.raises(ExceedsPrepayment) as err:
        apply_delivery(partial, 10_01)
    assert err.value.remaining_cents == 10_00
    assert partial.delivered_cents == 90_00


def test_closed_is_checked_before_exceeds() -> None:
    closed = PrepaymentState(paid_cents=100_00, delivered_cents=40_00, closed=True)
    assert closed.remaining == 0
    with pytest.raises(PrepaymentClosed):
        apply_delivery(closed, 1_000_00)
    with pytest.raises(PrepaymentClosed):
        close(closed, "refund")
    with pytest.raises(ValueError):
        apply_delivery(PrepaymentState(100), -1)
    # 0.001 kg at 0.01 is worth 0.00 (half-even): recorded, draws nothing
    assert apply_delivery(PrepaymentState(100), delivery_value(D("0.001"), 1)).remaining == 100


@settings(max_examples=150, deadline=None)
@given(
    paid=st.integers(1, 10**9),
    deliveries=st.lists(
        st.tuples(st.integers(1, 100_000), st.integers(1, 100_000)), max_size=20
    ),
)
def test_remaining_is_paid_minus_delivered_value_at_every_step(
    paid: int, deliveries: list[tuple[int, int]]
) -> None:
    state = PrepaymentState(paid)
    delivered = Fraction(0)
    for thousandths, price in deliveries:
        value = half_even_cents(Fraction(thousandths * price, 1000))
        try:
            state = apply_delivery(state, delivery_value(D(thousandths).scaleb(-3), price))
        except ExceedsPrepayment:
            assert delivered + value > paid
            continue
        delivered += value
        assert state.remaining == paid - delivered
        assert state.delivered_cents == delivered
        assert state.remaining >= 0


# --- close ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["refund", "solidarity"])
def test_close_settles_the_remainder(kind: str) -> None:
    state = PrepaymentState(paid_cents=2_000_00, delivered_cents=1_234_56)
    settlement = close(state, kind, expires_on=date(2025, 6, 30))  # type: ignore[arg-type]
    assert settlement == Settlement(kind, 765_44)  # type: ignore[arg-type]
    assert not settlement.opens_new_prepayment
    after = apply_close(state, settlement)
    assert after.closed and after.status == "closed"
    assert after.remaining == 0
    assert after.settled_cents == 765_44
    with pytest.raises(PrepaymentClosed):
        apply_close(after, settlement)


def test_rollover_defaults_to_one_year_after_expiry() -> None:
    state = PrepaymentState(paid_cents=500_00, delivered_cents=200_00)
    settlement = close(state, "rollover", expires_on=date(2025, 9, 30))
    assert settlement.amount_cents == 300_00
    assert settlement.new_expires_on == date(2026, 9, 30)
    assert settlement.opens_new_prepayment
    chosen = close(state, "rollover", expires_on=date(2025, 9, 30),
                   new_expires_on=date(2026, 3, 31))
    assert chosen.new_expires_on == date(2026, 3, 31)
    with pytest.raises(ValueError):
        close(state, "rollover")


def test_fully_delivered_close_settles_nothing() -> None:
    state = PrepaymentState(paid_cents=500_00, delivered_cents=500_00)
    settlement = close(state, "rollover", expires_on=date(2025, 1, 1))
    assert settlement.amount_cents == 0
    assert not settlement.opens_new_prepayment


def test_stale_settlement_and_bad_kind_are_refused() -> None:
    state = PrepaymentState(paid_cents=500_00)
    settlement = close(state, "refund")
    later = apply_delivery(state, 100_00)
    with pytest.raises(ValueError):
        apply_close(later, settlement)
    with pytest.raises(ValueError):
        close(state, "donate")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expires_on", "expected"),
    [
        (date(2024, 2, 29), date(2025, 2, 28)),
        (date(2023, 2, 28), date(2024, 2, 28)),
        (date(2023, 3, 1), date(2024, 3, 1)),
        (date(2024, 12, 31), date(2025, 12, 31)),
        (date(2027, 2, 28), date(2028, 2, 28)),
    ],
)
def test_default_rollover_expiry(expires_on: date, expected: date) -> None:
    assert default_rollover_expiry(expires_on) == expected


@settings(max_examples=100, deadline=None)
@given(day=st.dates(min_value=date(1901, 1, 1), max_value=date(2998, 12, 31)))
def test_rollover_is_one_calendar_year_later(day: date) -> None:
    later = default_rollover_expiry(day)
    assert later.year == day.year + 1
    assert later.month == day.month
    assert later.day == (28 if (day.month, day.day) == (2, 29) else day.day)
    assert timedelta(days=365) <= later - day <= timedelta(days=366)


# --- campaigns --------------------------------------------------------------------------


def test_campaign_totals_for_several_gas_prepaying_one_producer() -> None:
    prepayments = [
        PrepaymentState(1_500_00, 400_00),  # open: 1,100.00 owed in goods
        PrepaymentState(1_200_00, 1_200_00),  # open, fully delivered
        PrepaymentState(800_00, 300_00, closed=True),  # closed: 500.00 settled
    ]
    totals = campaign_totals(prepayments)
    assert totals.count == 3 and totals.open_count == 2
    assert totals.paid_cents == 3_500_00
    assert totals.delivered_cents == 1_900_00
    assert totals.remaining_cents == 1_100_00
    assert totals.settled_cents == 500_00
    # paid = delivered + remaining + settled
    assert totals.paid_cents == (totals.delivered_cents + totals.remaining_cents
                                 + totals.settled_cents)
    empty = campaign_totals([])
    assert (empty.count, empty.paid_cents, empty.remaining_cents) == (0, 0, 0)
