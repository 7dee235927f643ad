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
    out = capsys.readouterr().out
    assert "scale network loaded: 4 GAS, 9 producers, 12 loans" in out
    with sqlite3.connect(tmp_path / "filiera.db") as db:
        kinds = dict(db.execute("SELECT kind, count(*) FROM parties GROUP BY kind").fetchall())
        demo_gas = db.execute("SELECT count(*) FROM parties WHERE kind = 'gas' AND "
                              "created_by = 'demo'").fetchone()[0]
        scale_loans = db.execute("SELECT count(*) FROM loans WHERE created_by = 'scale' "
                                 "AND request_id IS NULL").fetchone()[0]
        relationships = db.execute("SELECT count(*) FROM relationships WHERE "
                                   "created_by = 'scale'").fetchone()[0]
        contributions = db.execute("SELECT count(*) FROM contributions WHERE "
                                   "created_by = 'scale'").fetchone()[0]
    assert kinds["gas"] == demo_gas + 4
    assert scale_loans == 12
    # Each producer is bought from by two or three GAS; each GAS pays 2 to 6 contributions.
    assert 9 * 2 <= relationships <= 9 * 3
    assert 4 * 2 <= contributions <= 4 * 6
    assert f"{contributions} contributions, 8 requests" in out
    assert main(["verify"]) == 0


def _rows(db: sqlite3.Connection, query: str) -> list[tuple[object, ...]]:
    return sorted(db.execute(query).fetchall(), key=repr)


def test_scale_requests_are_in_every_state_with_what_each_state_implies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One request in ten loans, at least eight: every state of the workflow, each with
    the history, assessment, terms and instruments its state implies."""
    monkeypatch.setenv("FILIERA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    assert main(["db", "upgrade"]) == 0
    assert main(["demo-data", "--quiet", "--scale", "3,12,200"]) == 0
    with sqlite3.connect(tmp_path / "filiera.db") as db:
        status = dict(db.execute("SELECT id, status FROM funding_requests WHERE "
                                 "created_by = 'scale'").fetchall())
        assessed = {r for (r,) in db.execute("SELECT request_id FROM request_assessments")}
        with_terms = {r for (r,) in db.execute("SELECT request_id FROM request_terms")}
        instruments = {r for (r,) in db.execute("SELECT request_id FROM request_instruments")}
        paths = {}
        for rid, to in db.execute("SELECT request_id, to_status FROM request_history "
                                  "ORDER BY seq"):
            paths.setdefault(rid, []).append(to)
        open_prepayments = {r for (r,) in db.execute(
            "SELECT request_id FROM prepayments WHERE status = 'open' AND request_id "
            "IS NOT NULL")}
        loan_status = dict(db.execute("SELECT request_id, status FROM loans WHERE "
                                      "request_id IS NOT NULL").fetchall())
    counts: dict[str, int] = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    # 20 requests: the cycle of REQUEST_STATES once.
    assert counts == {"submitted": 3, "under_review": 3, "needs_info": 2, "approved": 3,
                      "rejected": 2, "withdrawn": 1, "funded": 4, "closed": 2}
    expected_paths = {
        "submitted": ["submitted"], "withdrawn": ["submitted", "withdrawn"],
        "under_review": ["submitted", "under_review"],
        "needs_info": ["submitted", "under_review", "needs_info"],
        "rejected": ["submitted", "under_review", "rejected"],
        "approved": ["submitted", "under_review", "approved"],
        "funded": ["submitted", "under_review", "approved", "funded"],
        "closed": ["submitted", "under_review", "approved", "funded", "closed"]}
    for rid, s in status.items():
        assert paths[rid] == expected_paths[s], (s, paths[rid])
        if s in ("approved", "rejected", "funded", "closed"):
            assert rid in assessed
        if s in ("approved", "funded", "closed"):
            assert rid in with_terms
        assert (rid in instruments) == (s in ("funded", "closed"))
        if s == "closed":  # settled: its loan repaid, its prepayments closed
            assert loan_status.get(rid, "repaid") == "repaid"
            assert rid not in open_prepayments
        if s == "funded":
            assert loan_status.get(rid, "active") == "active" or rid in open_prepayments
    assert main(["verify"]) == 0


def test_scale_loans_run_late_get_rescheduled_and_written_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two years of loans: some repaid, some late, some rescheduled, some written off
    after a call on their guarantee; prepayments with deliveries and closes."""
    from sqlalchemy import select

    from ledger.as_of import loan_on
    from service.app import lending
    from service.app.scale import _id
    from service.db.engine import make_engine
    from service.db.tables import loans

    monkeypatch.setenv("FILIERA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    assert main(["db", "upgrade"]) == 0
    assert main(["demo-data", "--quiet", "--scale", "6,20,96"]) == 0
    with sqlite3.connect(tmp_path / "filiera.db") as db:
        by_status = dict(db.execute("SELECT status, count(*) FROM loans WHERE created_by = "
                                    "'scale' AND request_id IS NULL GROUP BY status"))
        restructured = db.execute("SELECT count(*) FROM loans WHERE restructured AND "
                                  "created_by = 'scale'").fetchone()[0]
        calls = db.execute("SELECT count(*) FROM guarantee_calls").fetchone()[0]
        deliveries = db.execute("SELECT count(*) FROM deliveries d JOIN prepayments p ON "
                                "p.id = d.prepayment_id WHERE p.created_by = 'scale'"
                                ).fetchone()[0]
        closed = dict(db.execute("SELECT settlement_kind, count(*) FROM prepayments WHERE "
                                 "status = 'closed' AND created_by = 'scale' GROUP BY 1"))
    # k = 0, 24, 48, 72 stop paying and are written off (their guarantee called first)
    assert by_status["written_off"] == 4
    assert calls == 4
    assert by_status["active"] + by_status.get("repaid", 0) + 4 == 96
    # k % 10 == 7 (and not k % 6 in (0, 3)): 7, 17, 37, 47, 67, 77
    assert restructured == 6
    assert deliveries > 0
    assert set(closed) <= {"refund", "rollover", "solidarity"} and closed
    # Independently of the arrears query: replaying each loan to today, the loans that
    # pay on their due dates owe nothing overdue, those that stopped paying do.
    engine = make_engine(f"sqlite:///{tmp_path / 'filiera.db'}")
    day = date(2026, 12, 6)
    with engine.connect() as conn:
        rows = conn.execute(select(loans).where(loans.c.created_by == "scale",
                                                loans.c.request_id.is_(None))).all()
        assert len(rows) == 96
        index = {_id(1, f"loan:{k}"): k for k in range(96)}
        for row in rows:
            k = index[row.id]
            on = loan_on(lending.terms_of(row), lending.events_of(conn, row.id), day,
                         disbursed_on=row.disbursed_on, late_rate=lending.late_rate_of(conn, row),
                         flagged_restructured=bool(row.restructured))
            if k % 24 == 0:
                assert on.status == "written_off"
            elif k % 6 == 0:  # stopped paying halfway: late once anything fell due
                due = [i for i in lending.loan_state(row, lending.events_of(conn, row.id))
                       .schedule if i.due_date < day]
                assert on.status == "active" and (on.overdue > 0 or not due)
            elif k % 6 != 3:  # on time, rescheduled or not
                assert on.overdue == 0, k
                assert bool(row.restructured) == (k % 10 == 7)
    engine.dispose()
    assert main(["verify"]) == 0


def test_scale_network_is_deterministic_for_a_seed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same seed and day give the same network: parties, loans and their operations,
    the journal's transfers (but their timestamps and hashes), the requests."""
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    seen = []
    for run, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        var = tmp_path / run
        var.mkdir()
        monkeypatch.setenv("FILIERA_VAR_DIR", str(var))
        assert main(["db", "upgrade"]) == 0
        assert main(["demo-data", "--quiet", "--scale", "3,8,30", "--seed", seed]) == 0
        with sqlite3.connect(var / "filiera.db") as db:
            seen.append([
                _rows(db, "SELECT id, kind, name FROM parties"),
                _rows(db, "SELECT id, status, principal_minor, disbursed_on FROM loans"),
                _rows(db, "SELECT id, loan_id, kind, value_date, amount_minor FROM "
                          "loan_events"),
                _rows(db, "SELECT id, debit_account_id, credit_account_id, amount, "
                          "value_date FROM ledger_transfers"),
                _rows(db, "SELECT id, status, amount_minor FROM funding_requests"),
                _rows(db, "SELECT id, amount_minor, date FROM contributions"),
            ])
    assert seen[0] == seen[1]
    assert seen[0][1] != seen[2][1]  # another seed, other loans


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
