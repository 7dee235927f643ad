"""Prepayments (prefinanziamento): an advance paid by a GAS, repaid in goods.

Rules (API.md, "Guarantees, prepayments, contributions"), in integer cents:

* A delivery is valued at quantity × unit price, half-even to the cent, computed
  exactly (quantity: a Decimal with at most 3 decimals).
* ``remaining`` = paid − delivered value while open, and 0 once closed.
* A delivery worth more than what remains is REFUSED whole (``ExceedsPrepayment``,
  409 ``exceeds_prepayment``), never split or capped; any delivery on a closed
  prepayment is ``PrepaymentClosed`` (409 ``closed``), checked first.
* Closing settles the remainder as the prepayment's ``on_expiry`` says: ``refund`` to
  the GAS, ``rollover`` into a new prepayment with the same terms (expiring
  ``new_expires_on``, default one year after the old expiry), ``solidarity`` into the
  GAS's fund, not earmarked. A remainder of 0 settles nothing: no new prepayment, no
  refund, no contribution.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, localcontext
from typing import Literal, get_args

__all__ = [
    "CampaignTotals",
    "ExceedsPrepayment",
    "OnExpiry",
    "PrepaymentClosed",
    "PrepaymentState",
    "Settlement",
    "apply_close",
    "apply_delivery",
    "campaign_totals",
    "close",
    "default_rollover_expiry",
    "delivery_value",
    "value_at_price",
]

OnExpiry = Literal["refund", "rollover", "solidarity"]
ON_EXPIRY: tuple[str, ...] = get_args(OnExpiry)
_QUANTITY_QUANTUM = Decimal("0.001")


class ExceedsPrepayment(Exception):
    """A delivery worth more than what remains of the prepayment (409)."""

    def __init__(self, value_cents: int, remaining_cents: int) -> None:
        self.value_cents = value_cents
        self.remaining_cents = remaining_cents
        super().__init__(
            f"the delivery is worth {value_cents} cents; {remaining_cents} cents remain"
        )


class PrepaymentClosed(Exception):
    """A delivery or a close on a closed prepayment (409 ``closed``)."""

    def __init__(self) -> None:
        super().__init__("the prepayment is closed")


@dataclass(frozen=True)
class PrepaymentState:
    paid_cents: int
    delivered_cents: int = 0  # value of the deliveries so far
    closed: bool = False

    def __post_init__(self) -> None:
        if self.paid_cents <= 0:
            raise ValueError("a prepayment's paid amount must be positive")
        if not 0 <= self.delivered_cents <= self.paid_cents:
            raise ValueError("delivered value must be between 0 and the paid amount")

    @property
    def remaining(self) -> int:
        return 0 if self.closed else self.paid_cents - self.delivered_cents

    @property
    def settled_cents(self) -> int:
        """What the close settled (refunded, rolled over or given): 0 while open."""
        return self.paid_cents - self.delivered_cents if self.closed else 0

    @property
    def status(self) -> Literal["open", "closed"]:
        return "closed" if self.closed else "open"


@dataclass(frozen=True)
class Settlement:
    kind: OnExpiry
    amount_cents: int
    new_expires_on: date | None = None  # rollover only

    @property
    def opens_new_prepayment(self) -> bool:
        return self.kind == "rollover" and self.amount_cents > 0


@dataclass(frozen=True)
class CampaignTotals:
    """Several GAS prepaying the same producer, added up."""

    count: int
    open_count: int
    paid_cents: int
    delivered_cents: int
    remaining_cents: int
    settled_cents: int


def value_at_price(quantity: Decimal, price_cents: int) -> int:
    """quantity × price in cents, half-even to the cent, exact for any finite Decimal."""
    if not isinstance(quantity, Decimal) or not quantity.is_finite():
        raise ValueError("quantity must be a finite Decimal")
    if isinstance(price_cents, bool) or not isinstance(price_cents, int):
        raise ValueError("price must be integer cents")
    if quantity < 0 or price_cents < 0:
        raise ValueError("quantity and price must not be negative")
    # Enough digits that the product and its whole part are exact (Inexact would trap);
    # then one half-even rounding to the cent.
    parts = quantity.as_tuple()
    exponent = parts.exponent if isinstance(parts.exponent, int) else 0
    digits = len(parts.digits) + max(exponent, 0) + len(str(price_cents)) + 2
    with localcontext() as ctx:
        ctx.prec = max(digits, 28)
        ctx.traps[Inexact] = True
        product = quantity * price_cents
        ctx.traps[Inexact] = False
        return int(product.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def delivery_value(quantity: Decimal, unit_price_cents: int) -> int:
    """A delivery's value: quantity (> 0, at most 3 decimals) × unit price, half-even."""
    if not isinstance(quantity, Decimal) or not quantity.is_finite():
        raise ValueError("quantity must be a finite Decimal")
    if quantity <= 0:
        raise ValueError("a delivered quantity must be positive")
    # Precision for any size (the default 28 digits made a 26-digit quantity a 500).
    exact = Context(prec=max(28, quantity.adjusted() + 5))
    if quantity != quantity.quantize(_QUANTITY_QUANTUM, context=exact):
        raise ValueError("a delivered quantity has at most 3 decimals")
    if unit_price_cents <= 0:
        raise ValueError("a unit price must be positive")
    return value_at_price(quantity, unit_price_cents)


def apply_delivery(state: PrepaymentState, value_cents: int) -> PrepaymentState:
    """Draw a delivery's value from the prepayment, whole or not at all."""
    if state.closed:
        raise PrepaymentClosed()
    # A tiny quantity can round to 0.00: still a delivery, it draws nothing.
    if value_cents < 0:
        raise ValueError("a delivery's value must not be negative")
    if value_cents > state.remaining:
        raise ExceedsPrepayment(value_cents, state.remaining)
    return replace(state, delivered_cents=state.delivered_cents + value_cents)


def default_rollover_expiry(expires_on: date) -> date:
    """One year after ``expires_on``; 29 February becomes 28 February."""
    try:
        return expires_on.replace(year=expires_on.year + 1)
    except ValueError:  # 29 February into a common year
        return expires_on.replace(year=expires_on.year + 1, day=28)


def close(
    state: PrepaymentState,
    on_expiry: OnExpiry,
    *,
    expires_on: date | None = None,
    new_expires_on: date | None = None,
) -> Settlement:
    """The settlement of closing ``state``: its remainder, as ``on_expiry`` says.

    For ``rollover`` the new prepayment expires on ``new_expires_on``, else one year
    after ``expires_on`` (one of the two is required); other kinds ignore both dates.
    Apply it with ``apply_close``.
    """
    if on_expiry not in ON_EXPIRY:
        raise ValueError(f"on_expiry must be one of {', '.join(ON_EXPIRY)}")
    if state.closed:
        raise PrepaymentClosed()
    if on_expiry != "rollover":
        return Settlement(on_expiry, state.remaining)
    if new_expires_on is None:
        if expires_on is None:
            raise ValueError("a rollover needs new_expires_on or the old expires_on")
        new_expires_on = default_rollover_expiry(expires_on)
    return Settlement(on_expiry, state.remaining, new_expires_on)


def apply_close(state: PrepaymentState, settlement: Settlement) -> PrepaymentState:
    """The prepayment once ``settlement`` is recorded: closed, remaining 0."""
    if state.closed:
        raise PrepaymentClosed()
    if settlement.amount_cents != state.remaining:
        raise ValueError("the settlement does not match what remains (stale plan)")
    return replace(state, closed=True)


def campaign_totals(prepayments: Iterable[PrepaymentState]) -> CampaignTotals:
    items = list(prepayments)
    return CampaignTotals(
        count=len(items),
        open_count=sum(1 for p in items if not p.closed),
        paid_cents=sum(p.paid_cents for p in items),
        delivered_cents=sum(p.delivered_cents for p in items),
        remaining_cents=sum(p.remaining for p in items),
        settled_cents=sum(p.settled_cents for p in items),
    )
