"""Migration 0010 gives every prepayment and guarantee recorded before it an agreement
date: the day it was recorded, in Europe/Rome (late evening UTC is already tomorrow)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from service.db.engine import make_engine
from service.db.migrate import upgrade
from tests.conftest import PG_URL, PgSchemas


@pytest.fixture
def bare_engine(backend: str, tmp_path: Path, pg_schemas: PgSchemas | None
                ) -> Iterator[Engine]:
    """An empty database, migrated by the test itself."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        assert pg_schemas is not None and PG_URL
        engine = make_engine(PG_URL, schema=pg_schemas.new())
    yield engine
    engine.dispose()


# (recorded at, in UTC) -> the day in Rome: CET is UTC+1 in winter, CEST UTC+2 in summer.
RECORDED = {
    datetime(2026, 1, 31, 22, 30, tzinfo=UTC): date(2026, 1, 31),   # 23:30 in Rome
    datetime(2026, 1, 31, 23, 30, tzinfo=UTC): date(2026, 2, 1),    # 00:30 in Rome
    datetime(2026, 6, 30, 21, 59, tzinfo=UTC): date(2026, 6, 30),   # 23:59 in Rome
    datetime(2026, 6, 30, 22, 0, tzinfo=UTC): date(2026, 7, 1),     # 00:00 in Rome
}


def test_existing_rows_take_the_day_they_were_recorded_in_rome(bare_engine: Engine) -> None:
    upgrade(bare_engine, "0009")
    with bare_engine.begin() as conn:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        for i, kind in enumerate(("producer", "gas", "lender")):
            conn.execute(text(
                "INSERT INTO parties (id, kind, name, created_at) VALUES (:id, :kind, :name, :at)"
            ), {"id": f"p{i}", "kind": kind, "name": kind, "at": now})
        conn.execute(text(
            "INSERT INTO pools (id, lender_id, name, is_general, created_at)"
            " VALUES ('pool', 'p2', 'pool', true, :at)"), {"at": now})
        conn.execute(text(
            "INSERT INTO loans (id, borrower_id, lender_id, pool_id, category, principal_minor,"
            " annual_rate, term_months, method, frequency, grace_periods, disbursement_date,"
            " fees_minor, status, restructured, created_at) VALUES ('l', 'p0', 'p2', 'pool',"
            " 'microcredit', 100000, '4.00', 12, 'french', 'monthly', 0, '2026-01-15', 0,"
            " 'approved', false, :at)"), {"at": now})
        for n, at in enumerate(RECORDED):
            conn.execute(text(
                "INSERT INTO prepayments (id, producer_id, gas_id, amount_minor, product, unit,"
                " unit_price_minor, expires_on, on_expiry, status, delivered_minor, created_at)"
                " VALUES (:id, 'p0', 'p1', 100, 'x', 'kg', 1, '2026-12-31', 'refund', 'open',"
                " 0, :at)"), {"id": f"pp{n}", "at": at})
            conn.execute(text(
                "INSERT INTO guarantees (id, loan_id, guarantor_id, amount_minor, called_minor,"
                " status, created_at) VALUES (:id, 'l', 'p1', 100, 0, 'active', :at)"),
                {"id": f"g{n}", "at": at})
    upgrade(bare_engine)
    with bare_engine.connect() as conn:
        for table, prefix in (("prepayments", "pp"), ("guarantees", "g")):
            got = {r.id: r.date for r in conn.execute(text(f"SELECT id, date FROM {table}"))}
            want = {f"{prefix}{n}": day for n, day in enumerate(RECORDED.values())}
            assert {k: (v if isinstance(v, date) else date.fromisoformat(v))
                    for k, v in got.items()} == want
