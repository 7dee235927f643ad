"""Member shares: share capital subscribed in the MAG, and the loan cap it sizes.

* ``share_cap``: a loan to a producer up to ``multiple`` (default 2) times the share
  capital subscribed by the GAS that buy from it (DESIGN.md's model case). The cap is
  rounded DOWN to the cent for a fractional multiple: a limit never allows more than
  multiple × capital.
* Minimum share (about 51.64 EUR, ``MIN_SHARE_CENTS``): the check is OFF by default,
  because the contract (``POST /api/shares``) only asks for a positive amount. A lender
  that enforces it passes ``minimum_cents=MIN_SHARE_CENTS``; the minimum applies to the
  member's total subscription with this lender, so a top-up by a member who holds the
  minimum already is fine. A refusal is ``BelowMinimumShare`` (an invalid amount: 422).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

__all__ = ["MIN_SHARE_CENTS", "BelowMinimumShare", "check_subscription", "share_cap"]

MIN_SHARE_CENTS = 5164  # 51.64 EUR, the historic 100,000 lire share


class BelowMinimumShare(ValueError):
    def __init__(self, total_cents: int, minimum_cents: int) -> None:
        self.total_cents = total_cents
        self.minimum_cents = minimum_cents
        super().__init__(
            f"the member's share capital would be {total_cents} cents, below the minimum "
            f"share of {minimum_cents} cents"
        )


def share_cap(subscribed_cents_by_gas: Mapping[str, int], multiple: Decimal = Decimal(2)) -> int:
    """The most a producer may borrow: ``multiple`` × the GAS's subscribed capital."""
    if not isinstance(multiple, Decimal | int) or isinstance(multiple, bool):
        raise ValueError("multiple must be a Decimal (never a float)")
    multiple = Decimal(multiple)
    if not multiple.is_finite() or multiple < 0:
        raise ValueError("multiple must be a finite, non-negative Decimal")
    if any(c < 0 for c in subscribed_cents_by_gas.values()):
        raise ValueError("subscribed capital must not be negative")
    capital = sum(subscribed_cents_by_gas.values())
    # Exact: the multiple as a fraction, floored on integers.
    numerator, denominator = multiple.as_integer_ratio()
    return (capital * numerator) // denominator


def check_subscription(
    amount_cents: int, *, already_subscribed_cents: int = 0, minimum_cents: int | None = None
) -> None:
    """Refuse a subscription that is not positive, or (when ``minimum_cents`` is set)
    that leaves the member's total below the minimum share."""
    if amount_cents <= 0:
        raise ValueError("a share subscription must be positive")
    total = already_subscribed_cents + amount_cents
    if minimum_cents is not None and total < minimum_cents:
        raise BelowMinimumShare(total, minimum_cents)
