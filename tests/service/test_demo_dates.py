"""The demo data reads the one clock (API.md, "Books a MAG can keep": every use of today,
demo data included): its story, told as of December 2026, moves by whole months to the
month it is loaded in, so that it stays true whenever it is loaded."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Date, select

from service.app import lending
from service.app.demo import demo_id, load_demo_data, shifted, story_shift
from service.bootstrap import build_context
from service.db.engine import make_engine
from service.db.migrate import upgrade
from service.db.tables import loans, metadata
from service.settings import Settings


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
       st.integers(min_value=-600, max_value=600))
def test_shifting_by_whole_months(day: date, months: int) -> None:
    moved = shifted(day, months)
    # Independently: count months on a calendar of (year, month) pairs.
    assert (moved.year - day.year) * 12 + moved.month - day.month == months
    if moved.day != day.day:  # only a day the target month lacks is clamped
        assert moved.day < day.day
        assert (date(moved.year + moved.month // 12, moved.month % 12 + 1, 1)
                - moved).days == 1  # the month's last day
    assert shifted(shifted(day, months), 0) == moved


def test_story_shift_counts_months_from_december_2026() -> None:
    assert story_shift(date(2026, 12, 6)) == 0
    assert story_shift(date(2026, 12, 31)) == 0
    assert story_shift(date(2027, 3, 1)) == 3
    assert story_shift(date(2026, 1, 15)) == -11


def demo(tmp_path: Path, today: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every date of every table of a demo database loaded on ``today``, by table and
    primary key; and each loan's state as of that day."""
    monkeypatch.setenv("FILIERA_TODAY", today)
    engine = make_engine(f"sqlite:///{tmp_path / (today + '.db')}")
    upgrade(engine)
    load_demo_data(build_context(Settings("unused", "k" * 48), engine), progress=False)
    found: dict[str, Any] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            dated = [c for c in table.columns if isinstance(c.type, Date)]
            if not dated:
                continue
            key = list(table.primary_key.columns)
            for row in conn.execute(select(*key, *dated)):
                found[f"{table.name}:{tuple(row)[:len(key)]}"] = tuple(row)[len(key):]
        found["state"] = {
            r.id: lending.loan_with_state(conn, r, date.fromisoformat(today))
            for r in conn.execute(select(loans))}
    engine.dispose()
    return found


def test_the_demo_story_moves_with_today(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    told = demo(tmp_path, "2026-12-06", monkeypatch)
    later = demo(tmp_path, "2027-03-06", monkeypatch)
    told_state, later_state = told.pop("state"), later.pop("state")
    assert told.keys() == later.keys()
    dates = 0
    for key, values in told.items():
        for before, after in zip(values, later[key], strict=True):
            assert after == (None if before is None else shifted(before, 3)), key
            dates += before is not None
    assert dates > 100  # loans, their schedules and events, shares, prepayments ...
    # The story as of each day: the same loans late by the same installments, the same
    # money overdue, the same installment next.
    assert told_state.keys() == later_state.keys()
    for loan_id, loan in told_state.items():
        moved = later_state[loan_id]
        assert (moved.status, moved.overdue_amount, moved.outstanding_principal) == (
            loan.status, loan.overdue_amount, loan.outstanding_principal)
        assert (moved.next_installment is None) == (loan.next_installment is None)
        if loan.next_installment is not None:
            assert moved.next_installment.number == loan.next_installment.number
    cheese = later_state[demo_id("loan:taleggio")]
    assert 30 <= cheese.days_past_due <= 70  # "about 40 days late", whenever loaded
    assert told_state[demo_id("loan:taleggio")].days_past_due == 40  # 27 Oct -> 6 Dec
    assert cheese.reference.startswith("PRE-2027-")
