"""Solidarity funds: contributions in, earmarked or not; grants and loss cover out.

Rules (API.md, "Guarantees, prepayments, contributions"), in integer cents:

* ``balance`` = contributions − payouts; ``earmarked[producer]`` is the part of it
  reserved for that producer; ``unearmarked`` = balance − all earmarks.
* A payout to a producer takes money earmarked for that producer first, then money
  not earmarked, never money earmarked for another producer; beyond that it is
  ``InsufficientFunds`` (409 ``insufficient_funds``) and nothing is paid.
* A per-order surcharge (e.g. 0.50 EUR/kg) is rate × quantity, half-even to the cent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from ledger.prepayments import value_at_price

__all__ = [
    "FundState",
    "InsufficientFunds",
    "PayoutPlan",
    "apply_payout",
    "available_for",
    "contribute",
    "plan_payout",
    "surcharge_contribution",
]


class InsufficientFunds(Exception):
    """A payout above what the fund may pay that producer (409)."""

    def __init__(self, requested_cents: int, available_cents: int) -> None:
        self.requested_cents = requested_cents
        self.available_cents = available_cents
        super().__init__(
            f"the payout asks {requested_cents} cents; {available_cents} cents are "
            "available to this producer (its earmark plus money not earmarked)"
        )


@dataclass(frozen=True)
class FundState:
    """A fund's balance and earmarks. ``earmarked`` holds only positive amounts (zero
    entries are dropped, so equal funds compare equal) and is never mutated."""

    balance_cents: int = 0
    earmarked: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        marks = {p: c for p, c in self.earmarked.items() if c != 0}
        if any(c < 0 for c in marks.values()):
            raise ValueError("earmarks must not be negative")
        if self.balance_cents < 0 or sum(marks.values()) > self.balance_cents:
            raise ValueError("a fund's balance covers its earmarks and is never negative")
        object.__setattr__(self, "earmarked", marks)

    @property
    def unearmarked(self) -> int:
        return self.balance_cents - sum(self.earmarked.values())


@dataclass(frozen=True)
class PayoutPlan:
    producer_id: str
    from_earmark_cents: int
    from_general_cents: int

    @property
    def total_cents(self) -> int:
        return self.from_earmark_cents + self.from_general_cents


def contribute(
    state: FundState, amount_cents: int, earmark_producer_id: str | None = None
) -> FundState:
    if amount_cents <= 0:
        raise ValueError("a contribution must be positive")
    marks = dict(state.earmarked)
    if earmark_producer_id is not None:
        marks[earmark_producer_id] = marks.get(earmark_producer_id, 0) + amount_cents
    return FundState(state.balance_cents + amount_cents, marks)


def available_for(state: FundState, producer_id: str) -> int:
    """What a payout to ``producer_id`` may use: its earmark plus money not earmarked."""
    return state.earmarked.get(producer_id, 0) + state.unearmarked


def plan_payout(state: FundState, producer_id: str, amount_cents: int) -> PayoutPlan:
    if amount_cents <= 0:
        raise ValueError("a payout must be positive")
    available = available_for(state, producer_id)
    if amount_cents > available:
        raise InsufficientFunds(amount_cents, available)
    from_earmark = min(amount_cents, state.earmarked.get(producer_id, 0))
    return PayoutPlan(producer_id, from_earmark, amount_cents - from_earmark)


def apply_payout(state: FundState, plan: PayoutPlan) -> FundState:
    """The fund after ``plan``; a plan that no longer fits (stale) is refused."""
    own = state.earmarked.get(plan.producer_id, 0)
    if plan.from_earmark_cents < 0 or plan.from_general_cents < 0 or plan.total_cents <= 0:
        raise ValueError("a payout plan takes positive amounts")
    if plan.from_earmark_cents > own or plan.from_general_cents > state.unearmarked:
        raise InsufficientFunds(plan.total_cents, available_for(state, plan.producer_id))
    marks = dict(state.earmarked)
    marks[plan.producer_id] = own - plan.from_earmark_cents
    return FundState(state.balance_cents - plan.total_cents, marks)


def surcharge_contribution(rate_cents_per_unit: int, quantity: Decimal) -> int:
    """A per-order surcharge: rate × quantity, half-even to the cent (0 for quantity 0)."""
    return value_at_price(quantity, rate_cents_per_unit)
