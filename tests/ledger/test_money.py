from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.money import (
    MoneyError,
    allocate_by_weights,
    currency_exponent,
    format_amount,
    parse_amount,
    parse_minor,
    to_minor_decimal,
)

BIGINT = 2**63 - 1  # what SQL keeps; written out, not imported
U128 = 2**128 - 1


@pytest.mark.parametrize("text", ["1e3", "NaN", "1.005", " 1.00", "+1.00", "1,00", "", ".5",
                                  "1.", "١٢", "0", "-3.00", "0.00"])
def test_refused_amounts(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text, "EUR")


def test_numbers_are_refused_even_when_exact() -> None:
    with pytest.raises(MoneyError):
        parse_amount(12, "EUR")
    with pytest.raises(MoneyError):
        parse_amount(12.5, "EUR")


def test_currency_exponents_and_formatting() -> None:
    assert (currency_exponent("EUR"), currency_exponent("JPY"), currency_exponent("BHD")) == \
        (2, 0, 3)
    assert parse_amount("1250.5", "EUR") == Decimal("1250.50")
    assert format_amount(125050, "EUR") == "1250.50"
    assert format_amount(-5, "EUR") == "-0.05"
    assert format_amount(7, "JPY") == "7"
    assert format_amount(1, "BHD") == "0.001"
    with pytest.raises(MoneyError):
        parse_amount("1.5", "JPY")
    with pytest.raises(MoneyError):
        parse_amount("1.00", "XYZ")
    assert parse_amount("-3.00", "EUR", allow_negative=True) == Decimal("-3.00")


def test_largest_remainder_worked_example() -> None:
    # 100 cents over three equal weights: 34/33/33, the tie goes to the earliest part.
    assert allocate_by_weights(100, [1, 1, 1]) == [34, 33, 33]
    # 1000 over 1:2:3 = 166.67, 333.33, 500 -> 167, 333, 500.
    assert allocate_by_weights(1000, [1, 2, 3]) == [167, 333, 500]


@given(st.integers(min_value=0, max_value=10**12),
       st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=20)
       .filter(lambda ws: sum(ws) > 0))
def test_split_sums_exactly_and_stays_within_one_unit(total: int, weights: list[int]) -> None:
    parts = allocate_by_weights(total, weights)
    assert sum(parts) == total
    for part, w in zip(parts, weights, strict=True):
        exact = Decimal(total) * w / sum(weights)
        assert exact - 1 < part < exact + 1


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_minor_units_round_trip(minor: int) -> None:
    assert to_minor_decimal(Decimal(format_amount(minor, "EUR")), "EUR") == minor


def digits_of(minor: int, decimals: int) -> str:
    """The contract's string for ``minor`` by slicing digits (independent of Decimal)."""
    sign, text = ("-", str(-minor)) if minor < 0 else ("", str(minor))
    text = text.rjust(decimals + 1, "0")
    return sign + (f"{text[:-decimals]}.{text[-decimals:]}" if decimals else text)


@given(st.integers(min_value=-U128, max_value=U128).filter(bool),
       st.sampled_from([("EUR", 2), ("JPY", 0), ("BHD", 3)]))
def test_parse_minor_is_exact_up_to_its_limit(minor: int, currency: tuple[str, int]) -> None:
    code, decimals = currency
    text = digits_of(minor, decimals)
    assert parse_minor(text, code, allow_negative=True, limit=U128) == minor
    assert format_amount(minor, code) == text  # exact past 28 digits too
    if abs(minor) > BIGINT:  # the default limit is a BIGINT's
        with pytest.raises(MoneyError, match="too large"):
            parse_minor(text, code, allow_negative=True)
        with pytest.raises(MoneyError, match="too large"):
            parse_amount(text, code, allow_negative=True)
    else:
        assert parse_amount(text, code, allow_negative=True) == Decimal(text)


def test_parse_minor_limits_and_leading_zeros() -> None:
    assert parse_minor("92233720368547758.07", "EUR") == BIGINT
    with pytest.raises(MoneyError, match=r"at most 92233720368547758\.07"):
        parse_minor("92233720368547758.08", "EUR")
    assert parse_minor(digits_of(U128, 2), "USD", limit=U128) == U128
    with pytest.raises(MoneyError, match="too large"):
        parse_minor(digits_of(U128 + 1, 2), "USD", limit=U128)
    # Leading zeros do not count (nor trip int()'s 4,300-digit guard).
    assert parse_minor("0" * 5000 + "1.00", "EUR") == 100
    with pytest.raises(MoneyError, match="too large"):
        parse_minor("0" * 5000 + "1" * 5000, "EUR")
    assert parse_minor("-0.00", "EUR", allow_zero=True) == 0
    for text, kwargs in (("0.00", {}), ("-1.00", {}), ("-0.00", {"allow_negative": True})):
        with pytest.raises(MoneyError):
            parse_minor(text, "EUR", **kwargs)


@given(st.integers(min_value=-U128, max_value=U128), st.sampled_from(["EUR", "JPY", "BHD"]))
def test_amounts_format_as_their_exact_decimal(minor: int, currency: str) -> None:
    """``format_amount`` (integer arithmetic) writes what the exact Decimal writes."""
    from ledger.money import minor_to_decimal

    assert format_amount(minor, currency) == str(minor_to_decimal(minor, currency))
