"""``filiera demo-data --scale``: the MAG-scale network the page benchmarks run on."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from service.cli.main import main


def test_scale_network_adds_what_it_says_and_the_ledger_verifies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FILIERA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    assert main(["db", "upgrade"]) == 0
    assert main(["demo-data", "--quiet", "--scale", "4,9,12"]) == 0
    assert "scale network loaded: 4 GAS, 9 producers, 12 loans" in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "filiera.db") as db:
        kinds = dict(db.execute("SELECT kind, count(*) FROM parties GROUP BY kind").fetchall())
        demo_gas = db.execute("SELECT count(*) FROM parties WHERE kind = 'gas' AND "
                              "created_by = 'demo'").fetchone()[0]
        scale_loans = db.execute("SELECT count(*), sum(status = 'active') FROM loans "
                                 "WHERE created_by = 'scale'").fetchone()
        relationships = db.execute("SELECT count(*) FROM relationships WHERE "
                                   "created_by = 'scale'").fetchone()[0]
    assert kinds["gas"] == demo_gas + 4
    assert scale_loans == (12, 12)
    # Each producer is bought from by two or three GAS.
    assert 9 * 2 <= relationships <= 9 * 3
    assert main(["verify"]) == 0


def test_scale_takes_n_or_three_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_VAR_DIR", str(tmp_path))
    with pytest.raises(SystemExit):
        main(["demo-data", "--scale", "500,2000"])


def test_todays_arrears_list_every_late_loan_of_the_book(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GET /api/arrears for today reads the kept schedules first: it must list exactly
    the loans a replay of every loan finds late."""
    from sqlalchemy import select

    from ledger.as_of import loan_on
    from service.app import lending
    from service.app.arrears import list_arrears
    from service.app.auth import Principal
    from service.bootstrap import build_context
    from service.db.engine import make_engine
    from service.db.tables import loans
    from service.settings import Settings

    monkeypatch.setenv("FILIERA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    assert main(["db", "upgrade"]) == 0
    assert main(["demo-data", "--quiet", "--scale", "3,8,24"]) == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'filiera.db'}")
    ctx = build_context(Settings("unused", "k" * 48), engine)
    day = date(2026, 12, 6)
    with engine.connect() as conn:
        expected = {}
        for row in conn.execute(select(loans).where(loans.c.disbursed_on.is_not(None))):
            on = loan_on(lending.terms_of(row), lending.events_of(conn, row.id), day,
                         disbursed_on=row.disbursed_on,
                         late_rate=lending.late_rate_of(conn, row),
                         flagged_restructured=bool(row.restructured))
            if on.status == "active" and on.overdue > 0:
                expected[row.id] = (on.overdue, on.days_past_due)
    page = list_arrears(ctx, Principal("officer", "officer", None), None, None, None, 500,
                        None)
    got = {i.loan_id: (lending.cents(Decimal(i.overdue_amount.amount)), i.days_past_due)
           for i in page.items}
    assert len(expected) >= 4  # one scale loan in six stops paying, and the demo's
    assert got == expected
    engine.dispose()


def test_scale_n_is_n_times_the_demo() -> None:
    from service.cli.main import _scale

    assert _scale("40") == (500, 2000, 3000)
    assert _scale("1") == (12, 50, 75)
    assert _scale("3,4,5") == (3, 4, 5)
