"""Guarantees on a loan: status, pro-rata calls, coverage, pledge capacity.

Rules (API.md, "Guarantees, prepayments, contributions"), all in integer cents:

* ``remaining`` = amount − called (the contract's formula, also for a released
  guarantee: what it still pledged when it was released). A guarantee is ``released``
  once released, else ``called`` when remaining reaches 0, else ``active``.
* A call is split over the ACTIVE guarantees only, pro rata to their ``remaining``, by
  largest remainder (``money.allocate_by_weights``), ties to the earlier guarantee
  (``created_seq`` order), each part capped at its guarantee's remaining: each guarantor
  is liable only up to its own pledge. Asking more than the total remaining is
  ``ExceedsRemaining`` (409).
* Coverage = remaining of active guarantees / outstanding principal, half-even to
  2 decimals (1.50 = 150%); ``None`` when there is no principal to cover.
* ``pledged`` = amount − called of the guarantees not released; ``free`` = capacity −
  pledged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from ledger.money import allocate_by_weights

__all__ = [
    "AlreadyReleased",
    "ExceedsCapacity",
    "ExceedsRemaining",
    "GuaranteeState",
    "GuaranteeStatus",
    "apply_call",
    "check_capacity_change",
    "check_new_pledge",
    "coverage_ratio",
    "free_capacity",
    "pledged",
    "reduce_pledges_proportionally",
    "release",
    "split_call",
]

GuaranteeStatus = Literal["active", "called", "released"]


class ExceedsRemaining(Exception):
    """A call asks more than the active guarantees still pledge (409)."""

    def __init__(self, requested_cents: int, remaining_cents: int) -> None:
        self.requested_cents = requested_cents
        self.remaining_cents = remaining_cents
        super().__init__(
            f"the call asks {requested_cents} cents; the active guarantees have "
            f"{remaining_cents} cents remaining"
        )


class ExceedsCapacity(Exception):
    """A pledge beyond the guarantor's free capacity, or a capacity below what it
    pledges already (409 ``exceeds_capacity``)."""

    def __init__(self, requested_cents: int, limit_cents: int, detail: str) -> None:
        self.requested_cents = requested_cents
        self.limit_cents = limit_cents
        super().__init__(detail)


class AlreadyReleased(Exception):
    """Releasing a guarantee that is released or fully called already (409)."""

    def __init__(self, status: GuaranteeStatus) -> None:
        self.status = status
        super().__init__(f"the guarantee is {status}: nothing is left to release")


@dataclass(frozen=True)
class GuaranteeState:
    """One guarantee as the journal leaves it."""

    id: str
    amount_cents: int
    called_cents: int = 0
    released: bool = False
    created_seq: int = 0  # creation order: ties in a call go to the earlier guarantee

    def __post_init__(self) -> None:
        if self.amount_cents <= 0:
            raise ValueError("a guarantee's amount must be positive")
        if not 0 <= self.called_cents <= self.amount_cents:
            raise ValueError("called amount must be between 0 and the guarantee's amount")

    @property
    def remaining(self) -> int:
        return self.amount_cents - self.called_cents

    @property
    def status(self) -> GuaranteeStatus:
        if self.released:
            return "released"
        return "active" if self.remaining > 0 else "called"


def _active_in_order(guarantees: Iterable[GuaranteeState]) -> list[GuaranteeState]:
    items = list(guarantees)
    ids = [g.id for g in items]
    if len(set(ids)) != len(ids):
        raise ValueError("guarantee ids must be unique")
    # sorted() is stable: equal created_seq keep the caller's order.
    return sorted((g for g in items if g.status == "active"), key=lambda g: g.created_seq)


def _split_capped(total: int, caps: Sequence[int]) -> list[int]:
    """Split ``total`` pro rata to ``caps``, no part above its cap, exactly.

    With weights equal to the caps and ``total <= sum(caps)`` no part can exceed its cap
    (floor(total·c/S) + 1 <= c whenever the share is not whole), but the loop keeps the
    rule true by construction: capped parts are fixed and the cents they free are split
    again over the others, pro rata to their caps, until nothing exceeds.
    """
    parts = [0] * len(caps)
    fixed: set[int] = set()
    while True:
        free = [i for i in range(len(caps)) if i not in fixed and caps[i] > 0]
        left = total - sum(caps[i] for i in fixed)
        if left == 0 or not free:
            break
        shares = allocate_by_weights(left, [caps[i] for i in free])
        over = [i for i, share in zip(free, shares, strict=True) if share > caps[i]]
        if not over:
            for i, share in zip(free, shares, strict=True):
                parts[i] = share
            break
        fixed.update(over)
    for i in fixed:
        parts[i] = caps[i]
    return parts


def _div_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-even, on integers (exact)."""
    q, r = divmod(numerator, denominator)
    if 2 * r > denominator or (2 * r == denominator and q % 2 == 1):
        q += 1
    return q


def split_call(guarantees: Iterable[GuaranteeState], amount_cents: int) -> list[tuple[str, int]]:
    """Split a guarantee call of ``amount_cents`` over the active guarantees.

    Returns ``(guarantee_id, cents)`` in ``created_seq`` order, leaving out guarantees
    whose part is 0 (a call of 1 cent over three guarantees names one guarantee).
    Raises ``ValueError`` for a non-positive amount and ``ExceedsRemaining`` when the
    amount is above the active guarantees' total remaining (0 when there are none).
    """
    if amount_cents <= 0:
        raise ValueError("a guarantee call must be positive")
    active = _active_in_order(guarantees)
    total_remaining = sum(g.remaining for g in active)
    if amount_cents > total_remaining:
        raise ExceedsRemaining(amount_cents, total_remaining)
    parts = _split_capped(amount_cents, [g.remaining for g in active])
    return [(g.id, part) for g, part in zip(active, parts, strict=True) if part > 0]


def apply_call(
    guarantees: Iterable[GuaranteeState], calls: Iterable[tuple[str, int]]
) -> list[GuaranteeState]:
    """The guarantees after ``calls`` (as ``split_call`` returns them) are recorded."""
    by_id = dict(calls)
    result: list[GuaranteeState] = []
    for g in guarantees:
        cents = by_id.pop(g.id, 0)
        if cents == 0:
            result.append(g)
            continue
        if g.status != "active" or not 0 < cents <= g.remaining:
            raise ValueError(f"guarantee {g.id} cannot pay {cents} cents")
        result.append(
            GuaranteeState(g.id, g.amount_cents, g.called_cents + cents, g.released, g.created_seq)
        )
    if by_id:
        raise ValueError(f"calls name unknown guarantees: {sorted(by_id)}")
    return result


def release(guarantee: GuaranteeState) -> GuaranteeState:
    """Release an active guarantee; a released or fully called one -> ``AlreadyReleased``."""
    if guarantee.status != "active":
        raise AlreadyReleased(guarantee.status)
    return GuaranteeState(
        guarantee.id, guarantee.amount_cents, guarantee.called_cents, True, guarantee.created_seq
    )


def coverage_ratio(
    active_remaining_total_cents: int, outstanding_principal_cents: int
) -> Decimal | None:
    """Active remaining over outstanding principal, half-even to 2 decimals.

    ``None`` (JSON null) when the principal is 0: nothing is owed, so there is no ratio
    (a loan repaid in full, whose guarantees were released). Computed on integers, so
    exact whatever the sizes.
    """
    if active_remaining_total_cents < 0 or outstanding_principal_cents < 0:
        raise ValueError("coverage takes non-negative amounts")
    if outstanding_principal_cents == 0:
        return None
    hundredths = _div_half_even(active_remaining_total_cents * 100, outstanding_principal_cents)
    return Decimal(hundredths).scaleb(-2)


def pledged(guarantees: Iterable[GuaranteeState]) -> int:
    """What a guarantor's guarantees still pledge: amount − called of those not released."""
    return sum(g.remaining for g in guarantees if not g.released)


def free_capacity(capacity_cents: int, pledged_cents: int) -> int:
    """capacity − pledged (the contract's ``free``; negative only for inconsistent data)."""
    return capacity_cents - pledged_cents


def check_new_pledge(capacity_cents: int, pledged_cents: int, amount_cents: int) -> None:
    """Refuse a new guarantee beyond the guarantor's free capacity."""
    free = free_capacity(capacity_cents, pledged_cents)
    if amount_cents > free:
        raise ExceedsCapacity(
            amount_cents, free,
            f"the guarantee of {amount_cents} cents exceeds the free capacity of {free} cents",
        )


def check_capacity_change(new_capacity_cents: int, pledged_cents: int) -> None:
    """Refuse lowering a pledge capacity below what is pledged already."""
    if new_capacity_cents < 0:
        raise ValueError("a pledge capacity cannot be negative")
    if new_capacity_cents < pledged_cents:
        raise ExceedsCapacity(
            new_capacity_cents, pledged_cents,
            f"capacity {new_capacity_cents} cents is below the {pledged_cents} cents pledged",
        )


def reduce_pledges_proportionally(
    guarantees: Iterable[GuaranteeState], old_outstanding_cents: int, new_outstanding_cents: int
) -> list[tuple[str, int]]:
    """New amounts when pledges shrink with the loan (a lender's rule, not the default).

    The active guarantees' amounts together become their old total × new/old outstanding
    (half-even to the cent), split over them pro rata to their amounts by largest
    remainder (ties to the earlier guarantee); no amount goes below what was called of
    it (then the total is that much higher). Released and fully called guarantees keep
    their amount. A new amount of 0 (outstanding 0, nothing called) means the guarantee
    pledges nothing any more: release it. Returns ``(guarantee_id, new_amount_cents)``
    for every guarantee, in the order given. Pledges never grow: ``new`` must be
    between 0 and ``old``.
    """
    items = list(guarantees)
    if old_outstanding_cents <= 0 or not 0 <= new_outstanding_cents <= old_outstanding_cents:
        raise ValueError("need 0 <= new outstanding <= old outstanding, old > 0")
    active = _active_in_order(items)
    new_amounts = {g.id: g.amount_cents for g in items}
    if active:
        old_total = sum(g.amount_cents for g in active)
        new_total = _div_half_even(old_total * new_outstanding_cents, old_outstanding_cents)
        if new_total > 0:
            parts = allocate_by_weights(new_total, [g.amount_cents for g in active])
        else:
            parts = [0] * len(active)
        for g, part in zip(active, parts, strict=True):
            new_amounts[g.id] = max(part, g.called_cents)
    return [(g.id, new_amounts[g.id]) for g in items]


