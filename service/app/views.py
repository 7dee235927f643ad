"""Output records every feature shares: money and pages of a list."""

from __future__ import annotations

import msgspec

from ledger.money import format_amount
from service.app.types import CurrencyCode, DecimalText

INSTRUMENT_CURRENCY = "EUR"


class Money(msgspec.Struct, frozen=True):
    """An exact amount: a decimal string with exactly the currency's decimals."""

    amount: DecimalText
    currency: CurrencyCode


def money(minor: int, currency: str = INSTRUMENT_CURRENCY) -> Money:
    return Money(format_amount(int(minor), currency), currency)
