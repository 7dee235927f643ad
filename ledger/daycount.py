"""Day counts and calendar steps for loan schedules.

* 30E/360 (Eurobond basis) for contractual interest: every month has 30 days.
* actual/365 for late interest, which accrues day by day.
* ``add_months`` steps a date by whole months and clamps to the month's last day, so a
  schedule anchored on the 31st falls on Jan 31, Feb 28, Mar 31, ... Due dates are always
  computed from the anchor date plus k periods, never chained from the previous due date
  (chaining would drift: Jan 31 -> Feb 28 -> Mar 28).
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from functools import lru_cache

__all__ = [
    "add_months",
    "days_30e_360",
    "days_actual",
    "due_date_tuple",
    "due_dates",
    "year_fraction_30e_360",
    "year_fraction_act_365",
]


def days_30e_360(start: date, end: date) -> int:
    """Days from ``start`` to ``end`` under 30E/360: day 31 counts as day 30.

    Negative when ``end`` is before ``start``.
    """
    d1 = min(start.day, 30)
    d2 = min(end.day, 30)
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def year_fraction_30e_360(start: date, end: date) -> Decimal:
    """``days_30e_360(start, end) / 360`` as an exact-as-possible Decimal."""
    return Decimal(days_30e_360(start, end)) / Decimal(360)


def days_actual(start: date, end: date) -> int:
    """Calendar days from ``start`` to ``end`` (0 on the same day, 1 on the day after)."""
    return (end - start).days


def year_fraction_act_365(start: date, end: date) -> Decimal:
    """Actual days over 365 (also in leap years: the ACT/365 fixed convention)."""
    return Decimal(days_actual(start, end)) / Decimal(365)


def add_months(anchor: date, months: int) -> date:
    """``anchor`` moved by ``months`` whole months, on the anchor's day of month or the
    target month's last day when that month is shorter."""
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    if not 1 <= year <= 9999:
        raise ValueError(f"{anchor.isoformat()} + {months} months is outside the calendar")
    day = anchor.day
    if day > 28:
        day = min(day, _month_length(year, month))
    return date(year, month, day)


def _month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if calendar.isleap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def due_dates(first_due_date: date, count: int, months_per_period: int) -> list[date]:
    """``count`` due dates one period apart, each computed from ``first_due_date``."""
    return list(due_date_tuple(first_due_date, count, months_per_period))


@lru_cache(maxsize=1024, typed=True)
def due_date_tuple(first_due_date: date, count: int, months_per_period: int) -> tuple[date, ...]:
    """``due_dates`` as a tuple, cached: loans disbursed on the same day share a calendar.

    The k-th date is ``add_months(first_due_date, k * months_per_period)``, inlined.
    """
    base = first_due_date.year * 12 + (first_due_date.month - 1)
    anchor_day = first_due_date.day
    out: list[date] = []
    for k in range(count):
        months = k * months_per_period
        year, month0 = divmod(base + months, 12)
        if not 1 <= year <= 9999:
            raise ValueError(
                f"{first_due_date.isoformat()} + {months} months is outside the calendar"
            )
        day = anchor_day
        if day > 28:
            day = min(day, _month_length(year, month0 + 1))
        out.append(date(year, month0 + 1, day))
    return tuple(out)
