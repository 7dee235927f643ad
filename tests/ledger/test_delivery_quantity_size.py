"""A delivered quantity of any size is valued exactly, or refused as worth more than any
amount kept (26 integer digits once raised decimal.InvalidOperation, a 500 over HTTP);
more than 3 decimals is refused at any size."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.money import MAX_MINOR
from ledger.prepayments import DeliveryTooLarge, delivery_value


def half_even_cents(quantity: str, price_cents: int) -> int:
    """quantity × price rounded half-even to the cent, with fractions (by hand)."""
    exact = Fraction(quantity) * price_cents
    whole, rest = divmod(exact, 1)
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and whole % 2 == 1):
        whole += 1
    return int(whole)


@settings(max_examples=200)
@given(whole=st.integers(0, 40).flatmap(lambda n: st.integers(10**n // 10, 10**n)),
       milli=st.integers(min_value=0, max_value=999),
       price=st.integers(min_value=1, max_value=10**9))
def test_value_of_any_size_is_exact(whole: int, milli: int, price: int) -> None:
    if whole == 0 and milli == 0:
        milli = 1
    text = f"{whole}.{milli:03d}"
    expected = half_even_cents(text, price)
    if expected > MAX_MINOR:
        with pytest.raises(DeliveryTooLarge):
            delivery_value(Decimal(text), price)
    else:
        assert delivery_value(Decimal(text), price) == expected


def test_twenty_six_digits_and_too_many_decimals() -> None:
    with pytest.raises(DeliveryTooLarge):
        delivery_value(Decimal("34391408549671224745283697"), 100)
    with pytest.raises(ValueError, match="at most 3 decimals"):
        delivery_value(Decimal("34391408549671224745283697.1234"), 100)
