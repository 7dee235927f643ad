"""Migration 0011 numbers the rows recorded before it, per kind and year recorded in
FILIERA_TIMEZONE, in recording order; new numbers continue from there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from service.app.references import CONTRIBUTION, LOAN, REPAYMENT, next_reference
from service.db.engine import make_engine, write_tx
from service.db.migrate import upgrade
from service.db.tables import contributions, funds, loan_events, loans, parties, pools
from tests.conftest import PG_URL, PgSchemas

L, P, G, POOL, FUND = (f"00000000-0000-4000-8000-00000000000{k}" for k in range(1, 6))


def loan_id(k: int) -> str:
    return f"10000000-0000-4000-8000-00000000000{k}"


@pytest.fixture
def old_engine(backend: str, tmp_path: Path, pg_schemas: PgSchemas | None
               ) -> Iterator[Engine]:
    """A database migrated to 0009 only, before references existed."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        assert pg_schemas is not None and PG_URL
        engine = make_engine(PG_URL, schema=pg_schemas.new())
    upgrade(engine, "0009")
    yield engine
    engine.dispose()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_existing_rows_get_references_in_recording_order(
        old_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TIMEZONE", "Europe/Rome")
    made = at("2025-06-01T10:00:00")
    # Recorded at 22:30 UTC on 31 December 2025 = 23:30 in Rome: a 2025 loan; 23:30 UTC
    # = 00:30 on 1 January 2026 in Rome: a 2026 loan; then another in March 2026.
    loans_made = [(loan_id(1), at("2025-12-31T22:30:00")),
                  (loan_id(2), at("2025-12-31T23:30:00")),
                  (loan_id(3), at("2026-03-01T09:00:00"))]
    with write_tx(old_engine) as conn:
        for pid, kind in ((L, "lender"), (P, "producer"), (G, "gas")):
            conn.execute(insert(parties).values(id=pid, kind=kind, name=kind, created_at=made))
        conn.execute(insert(pools).values(id=POOL, lender_id=L, name="general",
                                          is_general=True, created_at=made))
        for lid, created in loans_made:
            conn.execute(insert(loans).values(
                id=lid, borrower_id=P, lender_id=L, pool_id=POOL, category="microcredit",
                principal_minor=100000, annual_rate="0", term_months=12, method="french",
                frequency="monthly", grace_periods=0, disbursement_date=date(2026, 1, 15),
                fees_minor=0, status="active", disbursed_on=date(2026, 1, 15),
                restructured=False, created_at=created))
        # Events of loan 3 in recording order: a disbursement (not numbered), then two
        # repayments, the second with an earlier value date (numbers follow recording).
        for k, (kind, on, recorded) in enumerate((
                ("disbursement", date(2026, 1, 15), "2026-03-01T09:01:00"),
                ("repayment", date(2026, 3, 15), "2026-03-15T09:00:00"),
                ("repayment", date(2026, 2, 15), "2026-03-16T09:00:00"))):
            conn.execute(insert(loan_events).values(
                id=f"20000000-0000-4000-8000-00000000000{k}", loan_id=loan_id(3), kind=kind,
                value_date=on, amount_minor=10000, payer_kind="borrower",
                recorded_at=at(recorded)))
        conn.execute(insert(funds).values(id=FUND, name="fund", gas_id=G, owner_id=G,
                                          created_at=made))
        for k in range(2):
            conn.execute(insert(contributions).values(
                id=f"30000000-0000-4000-8000-00000000000{k}", fund_id=FUND, gas_id=G,
                amount_minor=500, date=date(2026, 2, 1), source="gas",
                created_at=at(f"2026-02-0{k + 1}T10:00:00")))
    upgrade(old_engine)

    with old_engine.connect() as conn:
        got = dict(conn.execute(select(loans.c.id, loans.c.reference)).all())
        assert got == {loan_id(1): "PRE-2025-0001", loan_id(2): "PRE-2026-0001",
                       loan_id(3): "PRE-2026-0002"}
        events = conn.execute(select(loan_events.c.kind, loan_events.c.reference)
                              .order_by(loan_events.c.seq)).all()
        assert [tuple(e) for e in events] == [("disbursement", None),
                                              ("repayment", "RIM-2026-0001"),
                                              ("repayment", "RIM-2026-0002")]
        assert sorted(conn.execute(select(contributions.c.reference)).scalars()) == [
            "CON-2026-0001", "CON-2026-0002"]

    # New numbers continue each kind's count of the year.
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    with write_tx(old_engine) as conn:
        assert next_reference(conn, LOAN) == "PRE-2026-0003"
        assert next_reference(conn, REPAYMENT) == "RIM-2026-0003"
        assert next_reference(conn, CONTRIBUTION) == "CON-2026-0003"
    monkeypatch.setenv("FILIERA_TODAY", "2025-12-31")
    with write_tx(old_engine) as conn:
        assert next_reference(conn, LOAN) == "PRE-2025-0002"
