"""Day counts and month steps, checked against hand-counted calendar facts."""

import calendar
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.daycount import (
    add_months,
    days_30e_360,
    days_actual,
    due_dates,
    year_fraction_30e_360,
    year_fraction_act_365,
)


def test_30e_360_counts_every_month_as_30_days() -> None:
    assert days_30e_360(date(2023, 1, 15), date(2023, 2, 15)) == 30
    assert days_30e_360(date(2023, 1, 1), date(2024, 1, 1)) == 360
    # day 31 counts as 30, on both ends (the "E" of 30E/360)
    assert days_30e_360(date(2023, 1, 31), date(2023, 3, 31)) == 60
    assert days_30e_360(date(2023, 1, 30), date(2023, 1, 31)) == 0
    # February is not stretched in 30E/360: Feb 28 -> Mar 31 is 2 days plus a month
    assert days_30e_360(date(2023, 2, 28), date(2023, 3, 31)) == 32
    assert days_30e_360(date(2024, 1, 31), date(2024, 2, 29)) == 29
    # irregular first period: Jan 15 -> Mar 1 is 30 * 2 - 14
    assert days_30e_360(date(2024, 1, 15), date(2024, 3, 1)) == 46
    assert days_30e_360(date(2024, 3, 1), date(2024, 1, 15)) == -46


def test_year_fractions() -> None:
    assert year_fraction_30e_360(date(2023, 1, 1), date(2023, 7, 1)) == Decimal("0.5")
    assert days_actual(date(2024, 1, 1), date(2025, 1, 1)) == 366
    assert year_fraction_act_365(date(2024, 1, 1), date(2025, 1, 1)) == Decimal(366) / 365
    assert days_actual(date(2024, 3, 1), date(2024, 3, 2)) == 1


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2023, 1, 31), 2) == date(2023, 3, 31)
    assert add_months(date(2023, 1, 31), 3) == date(2023, 4, 30)
    assert add_months(date(2023, 11, 30), 3) == date(2024, 2, 29)
    assert add_months(date(2023, 12, 15), 1) == date(2024, 1, 15)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2024, 5, 10), -5) == date(2023, 12, 10)


def test_due_dates_are_anchored_never_chained() -> None:
    # chaining would give Jan 31, Feb 28, Mar 28, Apr 28
    assert due_dates(date(2023, 1, 31), 4, 1) == [
        date(2023, 1, 31),
        date(2023, 2, 28),
        date(2023, 3, 31),
        date(2023, 4, 30),
    ]
    assert due_dates(date(2023, 8, 31), 3, 3) == [
        date(2023, 8, 31),
        date(2023, 11, 30),
        date(2024, 2, 29),
    ]
    assert due_dates(date(2023, 8, 31), 3, 6) == [
        date(2023, 8, 31),
        date(2024, 2, 29),
        date(2024, 8, 31),
    ]


@settings(max_examples=200)
@given(
    st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(min_value=-120, max_value=120),
)
def test_add_months_properties(anchor: date, months: int) -> None:
    moved = add_months(anchor, months)
    assert (moved.year * 12 + moved.month) - (anchor.year * 12 + anchor.month) == months
    last = calendar.monthrange(moved.year, moved.month)[1]
    assert moved.day == min(anchor.day, last)


@settings(max_examples=200)
@given(
    st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(min_value=0, max_value=120),
    st.integers(min_value=0, max_value=900),
)
def test_30e_360_whole_months_and_additivity(start: date, months: int, span: int) -> None:
    # a whole number of months between days that exist in every month is 30 days each
    anchor = start.replace(day=min(start.day, 28))
    assert days_30e_360(anchor, add_months(anchor, months)) == 30 * months
    # counts add up over consecutive intervals, and never stray far from actual days
    middle = start + timedelta(days=span // 2)
    end = start + timedelta(days=span)
    assert days_30e_360(start, middle) + days_30e_360(middle, end) == days_30e_360(start, end)
    assert abs(days_30e_360(start, end) - span) <= 3 + span // 60
