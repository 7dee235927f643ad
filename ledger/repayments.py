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
from itertools import pairwise
from typing import Any, Literal

from ledger.daycount import add_months
from ledger.money import quantize
from ledger.schedules import (
    Installment,
    Keep,
    LoanTerms,
    Method,
    reschedule_rows,
    restructure_rows,
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
# Frozen dataclasses built on internal paths fill their __dict__ directly (the same
# fields in the same order as __init__ would): replay builds one per installment paid.
_new = object.__new__

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
        # unpaid_principal + unpaid_interest + unpaid_penalty, the same operations inlined
        return (
            (self.principal - self.paid_principal)
            + (self.interest - self.paid_interest)
            + (self.penalty - self.paid_penalty)
        )

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


def _fresh_state(
    number: int,
    due_date: date,
    principal: Decimal,
    interest: Decimal,
    balance_after: Decimal,
    interest_only: bool,
) -> InstallmentState:
    """``InstallmentState(number, ..., interest_only)`` with nothing paid, built directly."""
    s = _new(InstallmentState)
    fields = s.__dict__
    fields["number"] = number
    fields["due_date"] = due_date
    fields["principal"] = principal
    fields["interest"] = interest
    fields["balance_after"] = balance_after
    fields["interest_only"] = interest_only
    fields["paid_principal"] = _ZERO
    fields["paid_interest"] = _ZERO
    fields["penalty"] = _ZERO
    fields["paid_penalty"] = _ZERO
    fields["late_accrued"] = _ZERO
    fields["late_accrued_to"] = None
    return s


def _evolve(s: InstallmentState, **changes: Any) -> InstallmentState:
    """``dataclasses.replace(s, **changes)`` without re-running the frozen ``__init__``."""
    if type(s) is not InstallmentState:
        return replace(s, **changes)
    new = _new(InstallmentState)
    fields = new.__dict__
    fields.update(s.__dict__)
    fields.update(changes)
    return new


def _part(
    number: int, penalty: Decimal, interest: Decimal, principal: Decimal, in_advance: bool
) -> InstallmentPart:
    part = _new(InstallmentPart)
    fields = part.__dict__
    fields["number"] = number
    fields["penalty"] = penalty
    fields["interest"] = interest
    fields["principal"] = principal
    fields["in_advance"] = in_advance
    return part


def initial_state(
    terms: LoanTerms, schedule: Sequence[Installment]
) -> tuple[InstallmentState, ...]:
    """Nothing paid yet: one state per installment of ``schedule``."""
    last = len(schedule) - 1
    bullet = terms.method == "bullet"
    grace = terms.grace_periods
    states: list[InstallmentState] = []
    append = states.append
    new = _new
    for k, i in enumerate(schedule):
        s = new(InstallmentState)  # _fresh_state, inlined
        fields = s.__dict__
        fields["number"] = i.number
        fields["due_date"] = i.due_date
        fields["principal"] = i.principal
        fields["interest"] = i.interest
        fields["balance_after"] = i.balance_after
        fields["interest_only"] = k < last if bullet else k < grace
        fields["paid_principal"] = _ZERO
        fields["paid_interest"] = _ZERO
        fields["penalty"] = _ZERO
        fields["paid_penalty"] = _ZERO
        fields["late_accrued"] = _ZERO
        fields["late_accrued_to"] = None
        append(s)
    return tuple(states)


def outstanding_principal(state: Iterable[InstallmentState]) -> Decimal:
    total = _ZERO
    for s in state:
        total += s.principal - s.paid_principal
    return total


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
            due = s.due_date
            accrued_to = s.late_accrued_to
            start = due if accrued_to is None else max(due, accrued_to)
            days = (on - start).days
            if days > 0:
                unpaid_principal = s.principal - s.paid_principal
                if unpaid_principal > 0:
                    accrued = s.late_accrued + (
                        unpaid_principal * days * late_rate / _HUNDRED / _DAYS_IN_YEAR
                    )
                    s = _evolve(
                        s,
                        late_accrued=accrued,
                        late_accrued_to=on,
                        penalty=quantize(accrued, currency),
                    )
                else:
                    s = _evolve(s, late_accrued_to=on)
            out.append(s)
    return tuple(out)


def _pay(
    inst: InstallmentState, remaining: Decimal, in_advance: bool, *, penalty_first: bool = True
) -> tuple[InstallmentState, InstallmentPart, Decimal]:
    """Pay ``inst``'s penalty, interest, then principal from ``remaining``.

    ``x if x < remaining else remaining`` is ``min(remaining, x)``, ties included.
    """
    paid_penalty = inst.paid_penalty
    paid_interest = inst.paid_interest
    paid_principal = inst.paid_principal
    if penalty_first:
        pen = inst.penalty - paid_penalty
        if not pen < remaining:
            pen = remaining
    else:
        pen = _ZERO
    remaining -= pen
    interest = inst.interest - paid_interest
    if not interest < remaining:
        interest = remaining
    remaining -= interest
    principal = inst.principal - paid_principal
    if not principal < remaining:
        principal = remaining
    remaining -= principal
    paid = _evolve(
        inst,
        paid_penalty=paid_penalty + pen,
        paid_interest=paid_interest + interest,
        paid_principal=paid_principal + principal,
    )
    return paid, _part(inst.number, pen, interest, principal, in_advance), remaining


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
    balance = outstanding_principal(tail) - early
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
    # reschedule_remaining, built as states: the loop's interest-only periods are the
    # leading grace ones but never the last (a bullet loan: all but the last).
    out: list[InstallmentState] = reschedule_rows(
        _fresh_state,
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
    if fixed_interest is not None:
        # Keep the first installment (its interest is owed) and what was paid of it.
        head = out[0] if out else _evolve(first, principal=_ZERO, balance_after=_ZERO)
        out[:1] = [
            _evolve(
                first,
                principal=first.paid_principal + head.principal,
                interest=fixed_interest,
                balance_after=head.balance_after,
                interest_only=head.interest_only,
            )
        ]
    return out


def _paid_prefix(state: Sequence[InstallmentState], lo: int = 0) -> int:
    """The first index from ``lo`` whose installment is not paid exactly in full.

    Before it every paid part equals what was asked, so nothing there can be paid again,
    be rescheduled, or accrue late interest (no unpaid principal): allocation skips it.
    """
    n = len(state)
    while lo < n:
        s = state[lo]
        if (
            s.paid_principal != s.principal
            or s.paid_interest != s.interest
            or s.paid_penalty != s.penalty
        ):
            break
        lo += 1
    return lo


def _dates_in_order(state: Sequence[InstallmentState]) -> bool:
    return all(a.due_date <= b.due_date for a, b in pairwise(state))


def _check_repayment(amount: Decimal, early_repayment: Keep, currency: str) -> None:
    if amount <= 0:
        raise ValueError("a repayment must be positive")
    if early_repayment not in ("term", "shorten_term"):
        raise ValueError("early_repayment must be 'term' or 'shorten_term'")
    if amount != quantize(amount, currency):
        raise ValueError(f"amount {amount} has more decimals than {currency}")


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
    currency = terms.currency
    _check_repayment(amount, early_repayment, currency)
    if late_rate <= 0:  # accrue_late_interest would copy the state unchanged
        current = list(state)
    else:
        current = list(accrue_late_interest(state, on, late_rate, currency))
    return _allocate(
        current, amount, on, terms, early_repayment, in_advance, _paid_prefix(current), False
    )


def _allocate(
    current: list[InstallmentState],
    amount: Decimal,
    on: date,
    terms: LoanTerms,
    early_repayment: Keep,
    in_advance: bool,
    lo: int,
    dates_in_order: bool,
) -> Allocation:
    """``allocate_repayment`` on the accrued ``current`` (changed in place), given that
    ``current[:lo]`` is paid in full (see ``_paid_prefix``); ``dates_in_order``: due
    dates never decrease along ``current``."""
    remaining = amount
    parts: list[InstallmentPart] = []

    # 1. everything due on or before the payment date, oldest first; in the same pass,
    # the first two installments not yet due with something unpaid (step 1 never
    # changes those). Nothing before ``lo`` is unpaid; with the dates in order, nothing
    # after the second of those is due yet.
    # (``unpaid`` inlined: this is the scan every payment makes.)
    n = len(current)
    first_future = second_future = -1
    for k in range(lo, n):
        inst = current[k]
        if inst.due_date <= on:
            if remaining != 0 and (
                (inst.principal - inst.paid_principal)
                + (inst.interest - inst.paid_interest)
                + (inst.penalty - inst.paid_penalty)
            ) > 0:
                current[k], part, remaining = _pay(inst, remaining, False)
                parts.append(part)
        elif second_future < 0 and (
            (inst.principal - inst.paid_principal)
            + (inst.interest - inst.paid_interest)
            + (inst.penalty - inst.paid_penalty)
        ) > 0:
            if first_future < 0:
                first_future = k
            else:
                second_future = k
                if dates_in_order:
                    break

    # 2. the next installment not yet due, paid in advance
    if in_advance and remaining > 0 and first_future >= 0:
        k = first_future
        first_future = second_future
        current[k], part, remaining = _pay(current[k], remaining, True)
        parts.append(part)

    # 3. early repayment of principal over the installments still open
    early = _ZERO
    rescheduled = False
    if remaining > 0 and first_future >= 0:
        start = first_future
        tail_principal = outstanding_principal(current[start:])
        early = tail_principal if tail_principal < remaining else remaining
        if early > 0:
            remaining -= early
            current[start:] = _reschedule_tail(current, start, early, on, terms, early_repayment)
            rescheduled = True
            # Installments paid in advance before the tail now leave a lower balance.
            for k in range(start):
                if current[k].due_date > on:
                    current[k] = _evolve(
                        current[k], balance_after=current[k].balance_after - early
                    )
        # All principal repaid: what is left of the debt is the current period's
        # interest (owed whatever the calendar); a repayment pays it before calling
        # money excess, a call or loss cover never pays an installment before it is due.
        for k in range(start, len(current) if in_advance else start):
            if remaining == 0:
                break
            if current[k].unpaid > 0:
                current[k], part, remaining = _pay(current[k], remaining, True)
                parts.append(part)

    penalty = interest = principal = _ZERO
    for p in parts:
        penalty += p.penalty
        interest += p.interest
        principal += p.principal
    allocation = _new(Allocation)
    fields = allocation.__dict__
    fields["amount"] = amount
    fields["penalty"] = penalty
    fields["interest"] = interest
    fields["principal"] = principal + early
    fields["excess"] = remaining
    fields["early_principal"] = early
    fields["parts"] = tuple(parts)
    fields["rescheduled"] = rescheduled
    fields["state"] = tuple(current)
    return allocation


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
    accrued = state if late_rate <= 0 else accrue_late_interest(state, as_of, late_rate, currency)
    overdue_amount = _ZERO
    oldest: date | None = None
    for s in accrued:
        due = s.due_date
        if due < as_of:
            unpaid = (  # s.unpaid, inlined
                (s.principal - s.paid_principal)
                + (s.interest - s.paid_interest)
                + (s.penalty - s.paid_penalty)
            )
            if unpaid > 0:
                overdue_amount += unpaid
                if oldest is None or due < oldest:
                    oldest = due
    if oldest is None:
        return Arrears(_ZERO, 0, None)
    return Arrears(
        overdue_amount=overdue_amount,
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
            current[k] = _evolve(s, principal=s.paid_principal)
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
    # restructure, built as states (interest-only: the loop's grace periods, for a
    # bullet loan all but the last)
    return tuple(kept) + tuple(restructure_rows(
        _fresh_state,
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
    ))


def replay(
    terms: LoanTerms,
    schedule: Sequence[Installment],
    events: Iterable[Payment | Restructuring],
    *,
    late_rate: Decimal = _ZERO,
    start: tuple[InstallmentState, ...] | None = None,
) -> Replay:
    """Apply ``events`` to a fresh state in ``(value_date, id)`` order; ``start`` is
    ``initial_state(terms, schedule)`` when the caller already has it (states are never
    changed in place, so one fresh state serves every replay of the same schedule).

    The order the events were recorded in does not matter, so a backdated payment is
    handled by replaying again: the caller compares the allocations before and after
    and books the difference as compensating transfers.
    """
    state = start if start is not None else initial_state(terms, schedule)
    allocations: list[tuple[str, Allocation]] = []
    restructured = False
    # Installments state[:paid] are paid in full: they stay so, so each payment's
    # allocation starts after them instead of rescanning the whole state. Early
    # repayments keep the due dates (fewer of them at most), so only a restructuring
    # can change their order.
    paid = 0
    in_order = _dates_in_order(state)
    for event in sorted(events, key=lambda e: (e.value_date, e.id)):
        if isinstance(event, Payment):
            # allocate_repayment, with the paid prefix carried over
            on = event.value_date
            _check_repayment(event.amount, event.early_repayment, terms.currency)
            if late_rate <= 0:
                current = list(state)
            else:
                current = list(accrue_late_interest(state, on, late_rate, terms.currency))
            paid = _paid_prefix(current, paid)
            allocation = _allocate(
                current, event.amount, on, terms, event.early_repayment, event.in_advance,
                paid, in_order,
            )
            state = allocation.state
            allocations.append((event.id, allocation))
        else:
            paid = 0
            state = restructure_loan(
                state,
                event.value_date,
                terms,
                added_grace_periods=event.added_grace_periods,
                new_periods=event.new_periods,
                method=event.method,
                late_rate=late_rate,
            )
            in_order = _dates_in_order(state)
            restructured = True
            if event.method is not None:
                # later early repayments recompute with the new method
                terms = replace(terms, method=event.method)
    return Replay(state=state, allocations=tuple(allocations), restructured=restructured)
