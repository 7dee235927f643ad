"""What a GAS's orders in a GDXP file say about its buying from one supplier: since
when (the earliest order's date) and how much over the year before the file was made."""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from ledger.daycount import add_months
from ledger.money import quantize, to_minor_decimal

from .document import SupplierBlock

CURRENCY = "EUR"  # GDXP prices are euros, VAT included


def window(creation_date: date) -> tuple[date, date]:
    """Orders dated from the day twelve months before ``creation_date`` through it
    (both included) make the annual purchases."""
    return add_months(creation_date, -12), creation_date


def earliest_order(blocks: Sequence[SupplierBlock]) -> date | None:
    dates = [block.order.date for block in blocks if block.order and block.order.date]
    return min(dates, default=None)


def booked_total(block: SupplierBlock) -> Decimal:
    """Booked quantity x unit price over the block's products, exact (not rounded)."""
    # Parsing bounds each factor (at most 10^12, 12 decimals), so this precision keeps
    # every product and sum exact; Inexact would be a bug, so it is trapped.
    with decimal.localcontext() as context:
        context.prec = 200
        context.traps[decimal.Inexact] = True
        context.traps[decimal.Rounded] = True
        return sum(
            (p.total_qty * p.um_price for p in block.products if p.total_qty is not None),
            Decimal(0),
        )


def annual_purchases_minor(blocks: Sequence[SupplierBlock], creation_date: date) -> int:
    """Cents booked in the window, summed exactly and rounded half-even once, at the end."""
    start, end = window(creation_date)
    with decimal.localcontext() as context:
        context.prec = 200
        context.traps[decimal.Inexact] = True
        context.traps[decimal.Rounded] = True
        total = sum(
            (
                booked_total(block)
                for block in blocks
                if block.order and block.order.date and start <= block.order.date <= end
            ),
            Decimal(0),
        )
    with decimal.localcontext() as context:
        context.prec = 200  # the rounding to cents is the one rounding meant here
        return to_minor_decimal(quantize(total, CURRENCY), CURRENCY)
