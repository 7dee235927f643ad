"""Money at the boundaries: parsing, quantizing, minor units and exact splits.

This is the one place that turns strings and integer minor units into py-moneyed
``Money`` and back. Everything else in Filiera calls these functions, so the rules
(no floats, no silent rounding, one rounding mode) live here only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from functools import lru_cache

from moneyed import Currency, Money, get_currency
from moneyed.classes import CurrencyDoesNotExist

__all__ = [
    "AMOUNT_PATTERN",
    "MAX_MINOR",
    "Money",
    "MoneyError",
    "allocate_by_weights",
    "currency_exponent",
    "format_amount",
    "from_minor",
    "money_to_json",
    "parse_amount",
    "parse_minor",
    "parse_money",
    "quantize",
    "quantum",
    "to_minor",
    "to_minor_decimal",
]

AMOUNT_PATTERN = re.compile(r"-?[0-9]+(\.[0-9]+)?")

# The largest amount, in minor units, that any store keeps: a signed 64-bit integer (SQL
# BIGINT). An amount beyond it is refused at the door rather than overflowing later.
MAX_MINOR = 2**63 - 1

# Codes py-moneyed knows that are not money one can hold in an account.
_NOT_MONEY = {"XXX", "XTS"}


class MoneyError(ValueError):
    """Raised for any input that is not an exact amount in a known currency."""


@lru_cache(maxsize=512)
def _currency(code: str) -> Currency:
    if not isinstance(code, str) or len(code) != 3 or not code.isascii() or not code.isupper():
        raise MoneyError(f"unknown currency {code!r}: expected an ISO 4217 code such as 'EUR'")
    if code in _NOT_MONEY:
        raise MoneyError(f"unknown currency {code!r}")
    try:
        return get_currency(code)
    except CurrencyDoesNotExist:
        raise MoneyError(f"unknown currency {code!r}") from None


@lru_cache(maxsize=512)
def currency_exponent(code: str) -> int:
    """Number of decimals of the currency's minor unit (EUR: 2, JPY: 0, BHD: 3)."""
    sub_unit = _currency(code).sub_unit
    exponent = 0
    while sub_unit > 1:
        sub_unit //= 10
        exponent += 1
    return exponent


def check_currency(code: str) -> str:
    """Return ``code`` when it names a known currency, else raise ``MoneyError``."""
    _currency(code)
    return code


@lru_cache(maxsize=512)
def quantum(code: str) -> Decimal:
    """The currency's minor unit as a Decimal exponent (EUR: ``Decimal("0.01")``).

    Cached: loops that round many amounts call ``value.quantize(quantum(code),
    rounding=ROUND_HALF_EVEN)`` with it, which is exactly what ``quantize`` does.
    """
    return Decimal(1).scaleb(-currency_exponent(code))



def quantize(value: Decimal, currency: str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round ``value`` to the currency's minor unit (half-even unless a rule says otherwise)."""
    if isinstance(value, float):
        raise MoneyError("floats never carry money")
    return value.quantize(quantum(currency), rounding=rounding)


def parse_minor(text: object, currency: str, *, allow_negative: bool = False,
                allow_zero: bool = False, limit: int = MAX_MINOR) -> int:
    """Parse an amount string exactly into minor units, refusing anything a person did
    not mean.

    Refused: non-strings (JSON numbers included), exponents, NaN, signs other than a
    leading minus, more decimals than the currency has, more than ``limit`` minor units
    (either sign), zero or negatives unless allowed. Counted on the digits, so it is
    exact at any size (no Decimal context rounds a huge number).
    """
    if not isinstance(text, str):
        raise MoneyError("amount must be a string such as \"1250.00\", not a number")
    if not AMOUNT_PATTERN.fullmatch(text):
        raise MoneyError(f"amount {text!r} is not a plain decimal number such as \"1250.00\"")
    check_currency(currency)
    whole, _, fraction = text.lstrip("-").partition(".")
    exponent = currency_exponent(currency)
    if len(fraction) > exponent:
        raise MoneyError(
            f"amount {text!r} has {len(fraction)} decimals; {currency} has {exponent}"
        )
    # Leading zeros off first: int() refuses strings of more than 4,300 digits.
    digits = (whole + fraction.ljust(exponent, "0")).lstrip("0")
    if len(digits) > len(str(limit)) or int(digits or "0") > limit:
        raise MoneyError(
            f"amount {text!r} is too large: at most {format_amount(limit, currency)}"
        )
    minor = int(digits or "0")
    if minor and text.startswith("-"):
        if not allow_negative:
            raise MoneyError("amount must be positive")
        minor = -minor
    if minor == 0 and not allow_zero:
        raise MoneyError("amount must not be zero" if allow_negative else "amount must be positive")
    return minor


def parse_amount(text: object, currency: str, *, allow_negative: bool = False,
                 allow_zero: bool = False) -> Decimal:
    """``parse_minor``'s checks (at most ``MAX_MINOR`` minor units), the amount as a
    Decimal with exactly the currency's decimals."""
    parse_minor(text, currency, allow_negative=allow_negative, allow_zero=allow_zero)
    assert isinstance(text, str)  # parse_minor refused anything else
    return quantize(Decimal(text), currency)


def parse_money(amount: object, currency: object, **kwargs: bool) -> Money:
    """Parse ``{"amount": ..., "currency": ...}`` parts into a quantized ``Money``."""
    if not isinstance(currency, str):
        raise MoneyError("currency must be a string such as \"EUR\"")
    return Money(parse_amount(amount, currency, **kwargs), currency)


def to_minor(money: Money) -> int:
    """Integer minor units of an exact ``Money`` (refuses sub-unit remainders)."""
    return to_minor_decimal(money.amount, money.currency.code)


def to_minor_decimal(amount: Decimal, currency: str) -> int:
    scaled = amount.scaleb(currency_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount} {currency} is not a whole number of minor units")
    try:
        return int(scaled)
    except (InvalidOperation, OverflowError):
        raise MoneyError(f"{amount} {currency} is not a finite amount") from None


def from_minor(minor: int, currency: str) -> Money:
    return Money(minor_to_decimal(minor, currency), currency)


# Wide enough for every minor amount the ledger takes as input (2^128 - 1: 39 digits),
# where the default context (28 digits) would round.
_WIDE = Context(prec=60)


def minor_to_decimal(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-currency_exponent(currency), _WIDE).quantize(
        quantum(currency), context=_WIDE)


def format_amount(minor: int, currency: str) -> str:
    """Minor units as the contract's string: exactly the currency's decimals (in integer
    arithmetic: what ``str(minor_to_decimal(minor, currency))`` gives, many times faster,
    and every answer formats hundreds of amounts)."""
    exponent = currency_exponent(currency)
    if abs(minor) >= _PLAIN_BELOW:  # as wide as the Decimal path goes (and fails)
        return str(minor_to_decimal(minor, currency))
    if exponent == 0:
        return str(minor)
    whole, frac = divmod(abs(minor), 10 ** exponent)
    return f"{'-' if minor < 0 else ''}{whole}.{frac:0{exponent}d}"


_PLAIN_BELOW = 10 ** 50


def money_to_json(money: Money) -> dict[str, str]:
    code = money.currency.code
    return {"amount": str(quantize(money.amount, code)), "currency": code}


def minor_to_json(minor: int, currency: str) -> dict[str, str]:
    return {"amount": format_amount(minor, currency), "currency": currency}


def allocate_by_weights(total: int, weights: Sequence[int | Decimal]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights`` by largest remainder.

    The parts sum exactly to ``total``; each part is the floor of its exact share plus
    at most one unit; leftover units go to the largest remainders, ties to the earlier
    weight. Weights must be non-negative with a positive sum.
    """
    if total < 0:
        return [-part for part in allocate_by_weights(-total, weights)]
    ws = [Decimal(w) for w in weights]
    if any(w < 0 for w in ws):
        raise ValueError("weights must not be negative")
    weight_sum = sum(ws, Decimal(0))
    if weight_sum <= 0:
        raise ValueError("weights must have a positive sum")
    # Exact rational shares: total * w / sum; compare remainders as numerators.
    floors: list[int] = []
    remainders: list[Decimal] = []
    for w in ws:
        numerator = total * w
        q = int(numerator // weight_sum)
        floors.append(q)
        remainders.append(numerator - q * weight_sum)
    leftover = total - sum(floors)
    order = sorted(range(len(ws)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        floors[i] += 1
    return floors
