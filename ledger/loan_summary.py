"""What a borrower asks of a loan on a day: the next installment, what is due now, what
has been paid. Read from the one as-of computation (``ledger.as_of.loan_on``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ledger.as_of import LoanOnDay
from ledger.money import to_minor_decimal

__all__ = ["LoanSummary", "NextInstallment", "summarize_on"]


@dataclass(frozen=True)
class NextInstallment:
    number: int
    due_date: date
    amount_due: int  # cents still unpaid of it


@dataclass(frozen=True)
class LoanSummary:
    next_installment: NextInstallment | None
    due_now: int  # cents: overdue plus what is unpaid of an installment due on the day
    paid_total: int  # cents paid towards penalties, interest, principal and recovery


def _cents(value: Decimal) -> int:
    return to_minor_decimal(value, "EUR")


def summarize_on(on: LoanOnDay) -> LoanSummary:
    """``on`` replays only operations dated on or before its day, so every payment it
    allocated counts towards ``paid_total`` (excess never does: it was not owed)."""
    if on.replay is None:  # not disbursed by then: nothing owed, nothing paid
        return LoanSummary(None, 0, 0)
    day = on.day
    nxt: NextInstallment | None = None
    due_today = 0
    for s in on.schedule:
        unpaid = _cents(s.unpaid)
        if unpaid <= 0:
            continue
        if s.due_date == day:
            due_today += unpaid
        elif s.due_date > day and (nxt is None or s.due_date < nxt.due_date):
            nxt = NextInstallment(s.number, s.due_date, unpaid)
    if on.status == "repaid":
        nxt = None
    paid = sum(_cents(a.penalty + a.interest + a.principal)
               for a in on.replay.allocations.values())
    paid += sum(on.replay.recoveries.values())
    return LoanSummary(nxt, on.overdue + due_today, paid)
