"""Match-funding rules: a pool tops up a request once GAS prepayments reach a share of it.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_rules",
        sa.Column("pool_id", sa.String(36), sa.ForeignKey("pools.id"), primary_key=True),
        sa.Column("threshold", sa.String(16), nullable=False),
        sa.Column("cap_minor", sa.BigInteger, nullable=False),
        sa.Column("budget_minor", sa.BigInteger),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("match_rules")
