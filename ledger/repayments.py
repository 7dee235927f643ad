"""Repayments on a loan schedule: allocation, late interest, arrears, replay.

The state of a loan is a tuple of ``InstallmentState`` (what each installment asks and
what has been paid of it), rebuilt from the schedule and the payments by ``replay`` in
value-date order, so a backdated payment only means replaying again and comparing.

Allocation rules (API.md, "Loans"):

1. installment by installment, oldest first, each one's penalty, then interest, then
   principal, for everything due on or before the payment date;
2. then the next installment not yet due (paid in advance: it does not reshape the
   schedule) -- unless the money must never pay installments in advance (guarantee
   calls, loss cover: ``in_advance=False``);
3. what is left is early repayment of principal, without penalty: the remaining
   installments are recomputed over the same dates (``"term"``) or keep their size and
   become fewer (``"shorten_term"``); interest follows the schedule, not the calendar;
4. what is left after the whole debt is ``excess``.

Late interest (a category's rate, percent a year) accrues day by day, actual/365, on
overdue principal only, and is charged as the installment's penalty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, localcontext
from typing import Literal

from ledger.daycount import add_months
from ledger.money import quantize
from ledger.schedules import (
    Installment,
    Keep,
    LoanTerms,
    Method,
    reschedule_remaining,
    restructure,
)

__all__ = [
    "Allocation",
    "Arrears",
    "InstallmentPart",
    "InstallmentState",
    "InstallmentStatus",
    "Payment",
    "Replay",
    "Restructuring",
    "accrue_late_interest",
    "allocate_repayment",
    "arrears",
    "initial_state",
    "installment_status",
    "late_interest",
    "outstanding_principal",
    "replay",
    "restructure_loan",
]

_ZERO = Decimal(0)
_PREC = 50
_DAYS_IN_YEAR = Decimal(365)
_HUNDRED = Decimal(100)

InstallmentStatus = Literal["open", "paid", "overdue"]


@dataclass(frozen=True)
class InstallmentState:
    """One installment: what it asks, what has been paid of it, its late interest."""

    number: int
    due_date: date
    principal: Decimal  # principal due with this installment
    interest: Decimal  # contractual interest due with this installment
    balance_after: Decimal  # scheduled outstanding principal once it is paid
    interest_only: bool = False  # a grace period (or a bullet loan's non-final period)
    paid_principal: Decimal = _ZERO
    paid_interest: Decimal = _ZERO
    penalty: Decimal = _ZERO  # late interest charged so far, to the cent
    paid_penalty: Decimal = _ZERO
    late_accrued: Decimal = _ZERO  # exact late interest (penalty is this rounded)
    late_accrued_to: date | None = None

    @property
    def payment(self) -> Decimal:
        return self.principal + self.interest

    @property
    def unpaid_principal(self) -> Decimal:
        return self.principal - self.paid_principal

    @property
    def unpaid_interest(self) -> Decimal:
        return self.interest - self.paid_interest

    @property
    def unpaid_penalty(self) -> Decimal:
        return self.penalty - self.paid_penalty

    @property
    def unpaid(self) -> Decimal:
        return self.unpaid_principal + self.unpaid_interest + self.unpaid_penalty

    @property
    def touched(self) -> bool:
        return bool(self.paid_principal or self.paid_interest or self.paid_penalty)


@dataclass(frozen=True)
class InstallmentPart:
    """What one payment paid of one installment."""

    number: int
    penalty: Decimal
    interest: Decimal
    principal: Decimal
    in_advance: bool  # the installment was not yet due on the payment date

    @property
    def total(self) -> Decimal:
        return self.penalty + self.interest + self.principal


@dataclass(frozen=True)
class Allocation:
    """How one payment was split, and the loan's state after it.

    ``amount == penalty + interest + principal + excess`` exactly; ``principal`` includes
    ``early_principal`` (early repayment, not attached to one installment).
    """

    amount: Decimal
    penalty: Decimal
    interest: Decimal
    principal: Decimal
    excess: Decimal
    early_principal: Decimal
    parts: tuple[InstallmentPart, ...]
    rescheduled: bool  # the installments after the payment were recomputed
    state: tuple[InstallmentState, ...]


@dataclass(frozen=True)
class Arrears:
    overdue_amount: Decimal
    days_past_due: int
    oldest_due_date: date | None


@dataclass(frozen=True)
class Payment:
    """A payment to replay. ``in_advance=False`` for guarantee calls and loss cover."""

    id: str
    value_date: date
    amount: Decimal
    early_repayment: Keep = "term"
    in_advance: bool = True


@dataclass(frozen=True)
class Restructuring:
    """A rescheduling to replay (see ``restructure_loan``)."""

    id: str
    value_date: date
    added_grace_periods: int = 0
    new_periods: int | None = None
    method: Method | None = None


@dataclass(frozen=True)
class Replay:
    state: tuple[InstallmentState, ...]
    allocations: tuple[tuple[str, Allocation], ...]  # (payment id, allocation), in order
    restructured: bool


def initial_state(
    terms: LoanTerms, schedule: Sequence[Installment]
) -> tuple[InstallmentState, ...]:
    """Nothing paid yet: one state per installment of ``schedule``."""
    last = len(schedule) - 1
    return tuple(
        InstallmentState(
            number=i.number,
            due_date=i.due_date,
            principal=i.principal,
            interest=i.interest,
            balance_after=i.balance_after,
            interest_only=(
                k < last if terms.method == "bullet" else k < terms.grace_periods
            ),
        )
        for k, i in enumerate(schedule)
    )


def outstanding_principal(state: Iterable[InstallmentState]) -> Decimal:
    return sum((s.unpaid_principal for s in state), _ZERO)


def installment_status(inst: InstallmentState, as_of: date) -> InstallmentStatus:
    """``paid`` when nothing is unpaid, ``overdue`` when due before ``as_of``, else ``open``.

    Accrue late interest to ``as_of`` first so the penalty is current.
    """
    if inst.unpaid <= 0:
        return "paid"
    return "overdue" if inst.due_date < as_of else "open"


def late_interest(
    overdue_principal_by_period: Sequence[tuple[date, Decimal]],
    rate: Decimal,
    as_of: date,
    currency: str = "EUR",
) -> Decimal:
    """Late interest to ``as_of`` on a step function of overdue principal.

    ``overdue_principal_by_period``: ``(from_date, overdue principal from that date on)``
    in date order; each amount holds until the next date (or ``as_of``). Interest is
    amount × rate / 100 × days / 365, summed exactly, rounded half-even once.
    """
    with localcontext() as ctx:
        ctx.prec = _PREC
        total = _ZERO
        for k, (start, amount) in enumerate(overdue_principal_by_period):
            end = as_of
            if k + 1 < len(overdue_principal_by_period):
                end = min(end, overdue_principal_by_period[k + 1][0])
            days = (end - start).days
            if days > 0 and amount > 0:
                total += amount * days
        return quantize(total * rate / _HUNDRED / _DAYS_IN_YEAR, currency)


def accrue_late_interest(
    state: Sequence[InstallmentState], on: date, late_rate: Decimal, currency: str = "EUR"
) -> tuple[InstallmentState, ...]:
    """Late interest accrued up to ``on`` on each installment's overdue principal.

    The exact amount is kept and the penalty is its rounding, so accruing in many steps
    charges the same cents as accruing once.
    """
    if late_rate <= 0:
        return tuple(state)
    out: list[InstallmentState] = []
    with localcontext() as ctx:
        ctx.prec = _PREC
        for s in state:
            start = s.due_date if s.late_accrued_to is None else max(s.due_date, s.late_accrued_to)
            days = (on - start).days
            if days > 0 and s.unpaid_principal > 0:
                accrued = s.late_accrued + (
                    s.unpaid_principal * days * late_rate / _HUNDRED / _DAYS_IN_YEAR
                )
                s = replace(
                    s,
                    late_accrued=accrued,
                    late_accrued_to=on,
                    penalty=quantize(accrued, currency),
                )
            elif days > 0:
                s = replace(s, late_accrued_to=on)
            out.append(s)
    return tuple(out)


def _pay(
    inst: InstallmentState, remaining: Decimal, in_advance: bool, *, penalty_first: bool = True
) -> tuple[InstallmentState, InstallmentPart, Decimal]:
    """Pay ``inst``'s penalty, interest, then principal from ``remaining``."""
    pen = min(remaining, inst.unpaid_penalty) if penalty_first else _ZERO
    remaining -= pen
    interest = min(remaining, inst.unpaid_interest)
    remaining -= interest
    principal = min(remaining, inst.unpaid_principal)
    remaining -= principal
    paid = replace(
        inst,
        paid_penalty=inst.paid_penalty + pen,
        paid_interest=inst.paid_interest + interest,
        paid_principal=inst.paid_principal + principal,
    )
    return paid, InstallmentPart(inst.number, pen, interest, principal, in_advance), remaining


def _reschedule_tail(
    state: list[InstallmentState],
    start: int,
    early: Decimal,
    on: date,
    terms: LoanTerms,
    keep: Keep,
) -> list[InstallmentState]:
    """Replace ``state[start:]`` by installments recomputed after an early repayment."""
    tail = state[start:]
    first = tail[0]
    # The payment falls inside the first tail installment's period (or that installment
    # was already partly paid): its interest stays as scheduled.
    current = start == 0 or state[start - 1].due_date <= on
    fixed_interest = first.interest if current or first.touched else None
    balance = sum((s.unpaid_principal for s in tail), _ZERO) - early
    grace = 0
    for s in tail:
        if not s.interest_only:
            break
        grace += 1
    size: Decimal | None = None
    if keep == "shorten_term":
        amortizing = [s for s in tail[:-1] if not s.interest_only]
        if amortizing:
            size = amortizing[0].payment if terms.method == "french" else amortizing[0].principal
    new = reschedule_remaining(
        balance,
        terms.annual_rate,
        [s.due_date for s in tail],
        terms.method,
        frequency=terms.frequency,
        keep="shorten_term" if size is not None else "term",
        current_payment=size,
        grace_periods=grace,
        first_number=first.number,
        first_interest=fixed_interest,
        currency=terms.currency,
    )
    last = len(new) - 1
    out = [
        InstallmentState(
            number=i.number,
            due_date=i.due_date,
            principal=i.principal,
            interest=i.interest,
            balance_after=i.balance_after,
            interest_only=(k < last if terms.method == "bullet" else k < grace and k < last),
        )
        for k, i in enumerate(new)
    ]
    if fixed_interest is not None:
        # Keep the first installment (its interest is owed) and what was paid of it.
        head = out[0] if out else replace(first, principal=_ZERO, balance_after=_ZERO)
        out[:1] = [
            replace(
                first,
                principal=first.paid_principal + head.principal,
                interest=fixed_interest,
                balance_after=head.balance_after,
                interest_only=head.interest_only,
            )
        ]
    return out


def allocate_repayment(
    state: Sequence[InstallmentState],
    amount: Decimal,
    on: date,
    terms: LoanTerms,
    *,
    early_repayment: Keep = "term",
    late_rate: Decimal = _ZERO,
    in_advance: bool = True,
) -> Allocation:
    """Split ``amount`` received with value date ``on`` over the loan (see module doc).

    ``state`` must hold every earlier payment (by value date); late interest is accrued
    to ``on`` first. ``in_advance=False``: never pay an installment before it is due
    (guarantee calls, loss cover): what is left after the due installments goes to
    principal directly.
    """
    if amount <= 0:
        raise ValueError("a repayment must be positive")
    if early_repayment not in ("term", "shorten_term"):
        raise ValueError("early_repayment must be 'term' or 'shorten_term'")
    currency = terms.currency
    if amount != quantize(amount, currency):
        raise ValueError(f"amount {amount} has more decimals than {currency}")
    current = list(accrue_late_interest(state, on, late_rate, currency))
    remaining = amount
    parts: list[InstallmentPart] = []

    # 1. everything due on or before the payment date, oldest first
    for k, inst in enumerate(current):
        if remaining == 0:
            break
        if inst.due_date <= on and inst.unpaid > 0:
            current[k], part, remaining = _pay(inst, remaining, False)
            parts.append(part)

    # 2. the next installment not yet due, paid in advance
    future = [k for k, s in enumerate(current) if s.due_date > on and s.unpaid > 0]
    if in_advance and remaining > 0 and future:
        k = future.pop(0)
        current[k], part, remaining = _pay(current[k], remaining, True)
        parts.append(part)

    # 3. early repayment of principal over the installments still open
    early = _ZERO
    rescheduled = False
    if remaining > 0 and future:
        start = future[0]
        tail_principal = sum((s.unpaid_principal for s in current[start:]), _ZERO)
        early = min(remaining, tail_principal)
        if early > 0:
            remaining -= early
            current[start:] = _reschedule_tail(current, start, early, on, terms, early_repayment)
            rescheduled = True
            # Installments paid in advance before the tail now leave a lower balance.
            for k in range(start):
                if current[k].due_date > on:
                    current[k] = replace(
                        current[k], balance_after=current[k].balance_after - early
                    )
        # All principal repaid: what is left of the debt is the current period's
        # interest (owed whatever the calendar); pay it before calling money excess.
        for k in range(start, len(current)):
            if remaining == 0:
                break
            if current[k].unpaid > 0:
                current[k], part, remaining = _pay(current[k], remaining, True)
                parts.append(part)

    penalty = sum((p.penalty for p in parts), _ZERO)
    interest = sum((p.interest for p in parts), _ZERO)
    principal = sum((p.principal for p in parts), _ZERO) + early
    return Allocation(
        amount=amount,
        penalty=penalty,
        interest=interest,
        principal=principal,
        excess=remaining,
        early_principal=early,
        parts=tuple(parts),
        rescheduled=rescheduled,
        state=tuple(current),
    )


def arrears(
    state: Sequence[InstallmentState],
    as_of: date,
    *,
    late_rate: Decimal = _ZERO,
    currency: str = "EUR",
) -> Arrears:
    """Overdue amount and days past due as of ``as_of``.

    ``state`` holds the payments with value date on or before ``as_of``.
    ``overdue_amount``: unpaid principal, interest and late interest of the installments
    due before ``as_of``; ``days_past_due``: days from the oldest such installment with
    anything unpaid to ``as_of`` (1 on the day after), 0 when nothing is overdue.
    """
    accrued = accrue_late_interest(state, as_of, late_rate, currency)
    overdue = [s for s in accrued if s.due_date < as_of and s.unpaid > 0]
    if not overdue:
        return Arrears(_ZERO, 0, None)
    oldest = min(s.due_date for s in overdue)
    return Arrears(
        overdue_amount=sum((s.unpaid for s in overdue), _ZERO),
        days_past_due=(as_of - oldest).days,
        oldest_due_date=oldest,
    )


def restructure_loan(
    state: Sequence[InstallmentState],
    on: date,
    terms: LoanTerms,
    *,
    added_grace_periods: int = 0,
    new_periods: int | None = None,
    method: Method | None = None,
    late_rate: Decimal = _ZERO,
) -> tuple[InstallmentState, ...]:
    """Reschedule the whole outstanding principal from ``on`` (after a bad harvest).

    Unpaid principal of installments due on or before ``on`` is moved into the new
    schedule (their interest and late interest stay owed, late interest stops growing);
    installments after ``on`` already paid in part or in full are kept; the rest are
    replaced by ``new_periods`` installments (default: as many as they were plus
    ``added_grace_periods``) on the loan's calendar, the first ones interest-only: the
    grace periods still left plus ``added_grace_periods``. ``method`` changes the method
    (default: the loan's). Returns the new state; the loan counts as restructured.
    """
    if added_grace_periods < 0:
        raise ValueError("added_grace_periods must not be negative")
    current = list(accrue_late_interest(state, on, late_rate, terms.currency))
    moved = _ZERO
    for k, s in enumerate(current):
        if s.due_date <= on and s.unpaid_principal > 0:
            moved += s.unpaid_principal
            current[k] = replace(s, principal=s.paid_principal)
    # Advance payments only ever touch the first open installments, so the untouched
    # future installments form a tail.
    start = next(
        (k for k, s in enumerate(current) if s.due_date > on and not s.touched), len(current)
    )
    kept, tail = current[:start], current[start:]
    balance = moved + sum((s.principal for s in tail), _ZERO)
    if balance <= 0:
        return tuple(kept)
    new_method = method or terms.method
    grace = added_grace_periods
    for s in tail:
        # a bullet loan's interest-only periods are its shape, not grace left to keep
        if not s.interest_only or "bullet" in (new_method, terms.method):
            break
        grace += 1
    periods = new_periods if new_periods is not None else len(tail) + added_grace_periods
    months = terms.months_per_period
    anchor = terms.resolved_first_due_date
    first_number = kept[-1].number + 1 if kept else 1
    # The loan's calendar: period i falls on anchor + i periods. Start at the first
    # replaced installment's date (or after the last one), and never on or before ``on``.
    if tail:
        target, step = tail[0].due_date, 0
    else:
        target, step = (kept[-1].due_date, 1) if kept else (anchor, 0)
    offset = ((target.year - anchor.year) * 12 + target.month - anchor.month) // months + step
    while add_months(anchor, offset * months) <= on:
        offset += 1
    new = restructure(
        balance,
        terms.annual_rate,
        new_method,
        terms.frequency,
        anchor,
        first_number,
        periods,
        grace_periods=grace if new_method != "bullet" else 0,
        calendar_offset=offset,
        currency=terms.currency,
    )
    last = len(new) - 1
    return tuple(kept) + tuple(
        InstallmentState(
            number=i.number,
            due_date=i.due_date,
            principal=i.principal,
            interest=i.interest,
            balance_after=i.balance_after,
            interest_only=k < last if new_method == "bullet" else k < grace,
        )
        for k, i in enumerate(new)
    )


def replay(
    terms: LoanTerms,
    schedule: Sequence[Installment],
    events: Iterable[Payment | Restructuring],
    *,
    late_rate: Decimal = _ZERO,
) -> Replay:
    """Apply ``events`` to a fresh state in ``(value_date, id)`` order.

    The order the events were recorded in does not matter, so a backdated payment is
    handled by replaying again: the caller compares the allocations before and after
    and books the difference as compensating transfers.
    """
    state = initial_state(terms, schedule)
    allocations: list[tuple[str, Allocation]] = []
    restructured = False
    for event in sorted(events, key=lambda e: (e.value_date, e.id)):
        if isinstance(event, Payment):
            allocation = allocate_repayment(
                state,
                event.amount,
                event.value_date,
                terms,
                early_repayment=event.early_repayment,
                late_rate=late_rate,
                in_advance=event.in_advance,
            )
            state = allocation.state
            allocations.append((event.id, allocation))
        else:
            state = restructure_loan(
                state,
                event.value_date,
                terms,
                added_grace_periods=event.added_grace_periods,
                new_periods=event.new_periods,
                method=event.method,
                late_rate=late_rate,
            )
            restructured = True
            if event.method is not None:
                # later early repayments recompute with the new method
                terms = replace(terms, method=event.method)
    return Replay(state=state, allocations=tuple(allocations), restructured=restructured)
