"""Agreement dates: the day a prepayment was paid and a guarantee signed.

Existing rows take the day they were recorded, in Europe/Rome (the service's default
timezone), which is what the reports counted them from until now.

Revision ID: 0010
Revises: 0009
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ROME = ZoneInfo("Europe/Rome")
TABLES = ("prepayments", "guarantees")


def _recorded_day(created_at: datetime | str) -> object:
    if isinstance(created_at, str):  # SQLite returns text to a bare select
        created_at = datetime.fromisoformat(created_at)
    if created_at.tzinfo is None:  # stored as UTC without its offset
        created_at = created_at.replace(tzinfo=UTC)
    return created_at.astimezone(ROME).date()


def upgrade() -> None:
    conn = op.get_bind()
    for name in TABLES:
        op.add_column(name, sa.Column("date", sa.Date, nullable=True))
        table = sa.table(name, sa.column("id", sa.String), sa.column("date", sa.Date),
                         sa.column("created_at", sa.DateTime(timezone=True)))
        for row in conn.execute(sa.select(table.c.id, table.c.created_at)).all():
            conn.execute(sa.update(table).where(table.c.id == row.id)
                         .values(date=_recorded_day(row.created_at)))
        with op.batch_alter_table(name) as batch:
            batch.alter_column("date", existing_type=sa.Date, nullable=False)


def downgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name) as batch:
            batch.drop_column("date")
