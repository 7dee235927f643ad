"""References: a human number per loan, request, prepayment, guarantee, contribution,
payout and repayment (PRE-2026-0001 ...), and the counters that hand them out.

Existing rows are numbered here in recording order, per kind and year recorded (in
FILIERA_TIMEZONE, default Europe/Rome), and the counters continue from there.

Revision ID: 0011
Revises: 0010
"""

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# (table, kind, column of the recording time, only rows where ...)
NUMBERED = (
    ("loans", "PRE", "created_at", None),
    ("funding_requests", "RIC", "created_at", None),
    ("prepayments", "PRF", "created_at", None),
    ("guarantees", "GAR", "created_at", None),
    ("contributions", "CON", "created_at", None),
    ("payouts", "USC", "created_at", None),
    ("loan_events", "RIM", "recorded_at", "repayment"),
)


def _year(at: datetime, zone: ZoneInfo) -> int:
    if at.tzinfo is None:  # SQLite keeps UTC without the offset
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone).year


def upgrade() -> None:
    op.create_table(
        "reference_counters",
        sa.Column("kind", sa.String(3), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    for table, _, _, _ in NUMBERED:
        op.add_column(table, sa.Column("reference", sa.String(24)))
        op.create_index(f"ix_{table}_reference", table, ["reference"], unique=True)
    zone = ZoneInfo(os.environ.get("FILIERA_TIMEZONE") or "Europe/Rome")
    conn = op.get_bind()
    counters = sa.table("reference_counters", sa.column("kind"), sa.column("year"),
                        sa.column("last"))
    for table, kind, at_column, only in NUMBERED:
        t = sa.table(table, sa.column("seq", sa.BigInteger), sa.column("reference", sa.String),
                     sa.column(at_column, sa.DateTime(timezone=True)),
                     sa.column("kind", sa.String))
        query = sa.select(t.c.seq, t.c[at_column]).order_by(t.c.seq)
        if only is not None:
            query = query.where(t.c.kind == only)
        last: dict[int, int] = {}
        for seq, at in conn.execute(query).all():
            year = _year(at, zone)
            last[year] = last.get(year, 0) + 1
            conn.execute(sa.update(t).where(t.c.seq == seq)
                         .values(reference=f"{kind}-{year}-{last[year]:04d}"))
        for year, n in last.items():
            conn.execute(sa.insert(counters).values(kind=kind, year=year, last=n))


def downgrade() -> None:
    for table, _, _, _ in NUMBERED:
        op.drop_index(f"ix_{table}_reference", table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("reference")
    op.drop_table("reference_counters")
