"""Loans, guarantees and funds as they stood at the end of a day: the one computation the
API, the web pages, the reports and matching all read.

"As of a day" counts every operation whose value date is on or before that day, in
value-date order (same date: recording order), and nothing after it: a loan's status,
debt, arrears and restructuring; a guarantee's calls and release; a fund's contributions
and payouts. Inputs are plain records (anything with the attributes the protocols name,
database rows included), so this module stays free of SQL.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, Protocol

from ledger.money import minor_to_decimal, to_minor_decimal
from ledger.repayments import (
    Allocation,
    InstallmentState,
    Payment,
    Restructuring,
    accrue_late_interest,
    arrears,
    initial_state,
    outstanding_principal,
    replay,
)
from ledger.schedules import Installment, LoanTerms, build_schedule

__all__ = [
    "PAYMENT_KINDS",
    "REVERSAL",
    "FundOnDay",
    "GuaranteeOnDay",
    "LoanEvent",
    "LoanOnDay",
    "LoanReplay",
    "LoanStatus",
    "first_short_day",
    "fund_on",
    "guarantee_on",
    "live_events",
    "loan_on",
    "replay_loan",
]

EUR = "EUR"
# Money paid towards a loan: by the borrower, by its guarantors, by a solidarity fund.
PAYMENT_KINDS = ("repayment", "guarantee_call", "loss_cover")
# A correction: the operation named in its ``params["of"]`` counts as never recorded.
REVERSAL = "reversal"

LoanStatus = Literal["approved", "active", "repaid", "written_off"]
GuaranteeStatus = Literal["active", "called", "released"]


class LoanEvent(Protocol):
    """One recorded operation on a loan (a ``loan_events`` row)."""

    @property
    def id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def value_date(self) -> date: ...
    @property
    def amount_minor(self) -> int | None: ...
    @property
    def params(self) -> Mapping[str, Any] | None: ...


def _cents(value: Decimal) -> int:
    return to_minor_decimal(value, EUR)


def live_events(events: Sequence[LoanEvent]) -> list[LoanEvent]:
    """The operations that count: every one but the reversals and what they reversed (a
    reversed operation is as if it had never been recorded, from its own value date)."""
    gone = {str((e.params or {}).get("of")) for e in events if e.kind == REVERSAL}
    return [e for e in events if e.kind != REVERSAL and e.id not in gone]


def order_key(event: LoanEvent) -> str:
    """Operations on the same value date apply in the order they were recorded."""
    return f"{event.seq:020d}"


@dataclass(frozen=True)
class LoanReplay:
    """A loan's operations replayed up to a day (or all of them)."""

    terms: LoanTerms
    planned: tuple[Installment, ...]  # the contractual schedule, before any operation
    schedule: tuple[InstallmentState, ...]
    allocations: dict[str, Allocation]  # by event id
    recoveries: dict[str, int]  # by event id: what a payment after the write-off recovered
    written_off: int  # principal written off (cents), 0 if none
    write_off_event: str | None
    restructured: bool  # a restructuring replayed (or, for old loans, the stored flag)
    outstanding: int  # principal still owed (0 after a write-off)
    debt_left: Decimal  # principal + interest + penalties still unpaid


def planned(terms: LoanTerms) -> tuple[tuple[Installment, ...], tuple[InstallmentState, ...]]:
    """The contract's schedule for ``terms`` and its state with nothing paid. Both are
    immutable and depend on the terms alone, so each loan's are built once and shared by
    every replay of it (a portfolio replays each loan at two or three dates)."""
    # Equal decimals with other exponents (3 and 3.00) key apart: the key is the text.
    return _planned(terms, (str(terms.principal), str(terms.annual_rate), str(terms.fees)))


@lru_cache(maxsize=8192)
def _planned(terms: LoanTerms, _exact: tuple[str, str, str]
             ) -> tuple[tuple[Installment, ...], tuple[InstallmentState, ...]]:
    schedule = tuple(build_schedule(terms))
    return schedule, initial_state(terms, schedule)


# Replays kept by everything they are computed from (the terms, each operation's fields,
# the day, the rate, the flag): a pure function of its key, so a key never names other
# figures. A repayment replays its loan once to book it, and its answer (and the reads
# after it) ask for the same replay again as of today.
_REPLAYS: OrderedDict[tuple[Any, ...], LoanReplay] = OrderedDict()
_REPLAYS_KEPT = 256
_REPLAYS_LOCK = threading.Lock()


def _replay_key(terms: LoanTerms, events: Sequence[LoanEvent], as_of: date | None,
                late_rate: Decimal, flagged_restructured: bool) -> tuple[Any, ...]:
    rows = tuple((e.id, e.seq, e.kind, e.value_date, e.amount_minor,
                  None if e.params is None else repr(sorted(e.params.items())))
                 for e in events)
    # As of a day on or after every operation's value date, nothing is left out: the
    # same replay as of no day at all.
    if as_of is not None and all(e.value_date <= as_of for e in events):
        as_of = None
    return (terms, str(terms.principal), str(terms.annual_rate), str(terms.fees),
            as_of, str(late_rate), flagged_restructured, rows)


def replay_loan(terms: LoanTerms, events: Sequence[LoanEvent], as_of: date | None = None,
                late_rate: Decimal = Decimal(0), *, flagged_restructured: bool = False
                ) -> LoanReplay:
    """Replay the loan's operations in value-date order, up to ``as_of`` when given;
    ``late_rate`` is the category's late interest (percent a year, on overdue principal).
    ``flagged_restructured`` is a stored flag for loans restructured before restructurings
    were recorded as operations. Reversed operations are left out (``live_events``).
    The replay is kept by its inputs (it is immutable): asked again, it is not redone."""
    key = _replay_key(terms, events, as_of, late_rate, flagged_restructured)
    with _REPLAYS_LOCK:
        kept = _REPLAYS.get(key)
        if kept is not None:
            _REPLAYS.move_to_end(key)
            return kept
    result = _replay_loan(terms, events, as_of, late_rate,
                          flagged_restructured=flagged_restructured)
    with _REPLAYS_LOCK:
        _REPLAYS[key] = result
        while len(_REPLAYS) > _REPLAYS_KEPT:
            _REPLAYS.popitem(last=False)
    return result


def _replay_loan(terms: LoanTerms, events: Sequence[LoanEvent], as_of: date | None,
                 late_rate: Decimal, *, flagged_restructured: bool) -> LoanReplay:
    events = live_events(events)
    schedule, start = planned(terms)
    write_off = next((e for e in events if e.kind == "write_off"
                      and (as_of is None or e.value_date <= as_of)), None)
    replayed: list[Payment | Restructuring] = []
    recovered: list[LoanEvent] = []
    restructurings = False
    for e in events:
        if as_of is not None and e.value_date > as_of:
            continue
        if e.kind in PAYMENT_KINDS:
            if write_off is not None and e.value_date > write_off.value_date:
                recovered.append(e)
                continue
            params = e.params or {}
            replayed.append(Payment(
                id=order_key(e), value_date=e.value_date,
                amount=minor_to_decimal(int(e.amount_minor or 0), EUR),
                early_repayment=params.get("early_repayment", "term"),
                in_advance=e.kind == "repayment"))
        elif e.kind == "restructuring":
            restructurings = True
            p = e.params or {}
            replayed.append(Restructuring(
                id=order_key(e), value_date=e.value_date,
                added_grace_periods=int(p.get("added_grace_periods", 0)),
                new_periods=p.get("new_periods"), method=p.get("method")))
    result = replay(terms, schedule, replayed, late_rate=late_rate, start=start)
    ids = {order_key(e): e.id for e in events}
    outstanding = _cents(outstanding_principal(result.state))
    written_off = outstanding if write_off is not None else 0
    recoveries: dict[str, int] = {}
    if write_off is not None:
        # Recoveries, by value date, up to the debt at the write-off: the principal
        # written off and the interest and late interest then due; the rest is excess.
        left = written_off + sum(
            _cents(s.interest - s.paid_interest + s.penalty - s.paid_penalty)
            for s in result.state if s.due_date <= write_off.value_date)
        for e in sorted(recovered, key=lambda e: (e.value_date, e.seq)):
            recoveries[e.id] = min(int(e.amount_minor or 0), left)
            left -= recoveries[e.id]
    debt_left = sum((s.unpaid for s in result.state), Decimal(0))
    has_restructuring_events = any(e.kind == "restructuring" for e in events)
    return LoanReplay(
        terms=terms, planned=schedule, schedule=result.state,
        allocations={ids[key]: a for key, a in result.allocations},
        recoveries=recoveries, written_off=written_off,
        write_off_event=write_off.id if write_off else None,
        restructured=(result.restructured or restructurings
                      or (flagged_restructured and not has_restructuring_events)),
        outstanding=0 if write_off is not None else outstanding, debt_left=debt_left)


@dataclass(frozen=True)
class LoanOnDay:
    """A loan at the end of ``day``."""

    day: date
    status: LoanStatus
    replay: LoanReplay | None  # None before the disbursement: nothing owed yet
    schedule: tuple[InstallmentState, ...]  # late interest accrued to ``day``
    outstanding: int  # principal still owed
    overdue: int  # what is unpaid of installments due before ``day`` (late interest too)
    days_past_due: int
    oldest_due: date | None
    restructured: bool
    written_off: int

    @property
    def allocations(self) -> Mapping[str, Allocation]:
        return self.replay.allocations if self.replay is not None else {}


def loan_on(terms: LoanTerms, events: Sequence[LoanEvent], day: date, *,
            disbursed_on: date | None, late_rate: Decimal = Decimal(0),
            flagged_restructured: bool = False) -> LoanOnDay:
    """The loan as it stood at the end of ``day``: ``approved`` before its disbursement
    (nothing owed), ``written_off`` from the day of a write-off that wrote off principal,
    ``repaid`` once every installment is paid, else ``active``. Arrears are what is
    unpaid of installments due before ``day``, for active and written-off loans alike (a
    written-off debt is still owed); a restructuring counts from its value date."""
    if disbursed_on is None or disbursed_on > day:
        return LoanOnDay(day, "approved", None, (), 0, 0, 0, None, False, 0)
    replayed = replay_loan(terms, events, day, late_rate,
                           flagged_restructured=flagged_restructured)
    status: LoanStatus
    if replayed.write_off_event is not None and replayed.written_off > 0:
        status = "written_off"
    elif replayed.outstanding == 0 and replayed.debt_left == 0:
        status = "repaid"
    else:
        status = "active"
    schedule = accrue_late_interest(replayed.schedule, day, late_rate)
    overdue, dpd, oldest = 0, 0, None
    if status in ("active", "written_off"):
        late = arrears(replayed.schedule, day, late_rate=late_rate)
        overdue, dpd, oldest = _cents(late.overdue_amount), late.days_past_due, \
            late.oldest_due_date
    return LoanOnDay(day, status, replayed, schedule, replayed.outstanding, overdue, dpd,
                     oldest, replayed.restructured, replayed.written_off)


@dataclass(frozen=True)
class GuaranteeOnDay:
    """A guarantee at the end of a day. ``remaining`` is the contract's amount - called;
    ``pledged`` what the guarantor still stands for (0 once released)."""

    status: GuaranteeStatus
    called: int
    remaining: int
    released: bool

    @property
    def pledged(self) -> int:
        return 0 if self.released else self.remaining


def guarantee_on(amount: int, calls: Iterable[tuple[date, int]], day: date | None, *,
                 released: bool, released_on: date | None) -> GuaranteeOnDay:
    """Calls count by their dates, a release by its date (``day`` None: everything
    recorded). A release stored without a date, as before releases were always dated,
    counts as released on any day."""
    called = sum(a for on, a in calls if day is None or on <= day)
    remaining = amount - called
    if released and (day is None or released_on is None or released_on <= day):
        return GuaranteeOnDay("released", called, remaining, True)
    return GuaranteeOnDay("active" if remaining > 0 else "called", called, remaining, False)


@dataclass(frozen=True)
class FundOnDay:
    """A fund's money at the end of a day: not earmarked, and earmarked per producer."""

    general: int
    earmarks: dict[str, int] = field(default_factory=dict)

    @property
    def balance(self) -> int:
        return self.general + sum(self.earmarks.values())


def fund_on(contributions: Iterable[tuple[date, str | None, int]],
            payouts: Iterable[tuple[date, str, int, int]], day: date) -> FundOnDay:
    """From the contributions ``(date, earmarked producer or None, amount)`` and payouts
    ``(date, producer, from money not earmarked, from the producer's earmark)`` dated on
    or before ``day`` (reversed ones are the caller's to leave out)."""
    general = 0
    marks: dict[str, int] = defaultdict(int)
    for on, producer, amount in contributions:
        if on > day:
            continue
        if producer:
            marks[producer] += amount
        else:
            general += amount
    for on, producer, from_general, from_earmark in payouts:
        if on > day:
            continue
        general -= from_general
        if from_earmark:
            marks[producer] -= from_earmark
    return FundOnDay(general, {p: m for p, m in sorted(marks.items())})


def first_short_day(movements: Mapping[date | None, int], change: Mapping[date | None, int]
                    ) -> date | None:
    """The first day on which an account whose ``movements`` (net credits per value date;
    ``None``: undated, counted from the start) change by ``change`` would end below zero
    and lower than it stood without the change; None if there is none. A day already short
    before the change (money dated after it was spent, as old records may hold) is no
    fault of the change unless the change makes it worse."""
    before = after = 0
    for day in sorted({*movements, *change}, key=lambda d: d or date.min):
        before += movements.get(day, 0)
        after += movements.get(day, 0) + change.get(day, 0)
        if after < 0 and after < before:
            return day or date.min
    return None
