"""Reversals: money recorded by mistake is reversed, never edited or deleted.

One row per reversed operation (a contribution, a payout, a delivery, a repayment, a
guarantee call): who reversed it, when and why. The unique pair (kind, target_id) makes
a second reversal of the same operation impossible, even under concurrency.

A reversal's operation names two ids (``POST /api/loans/{id}/repayments/{id}/reversal``):
the idempotency register's ``operation`` grows from 100 to 200 characters to hold it.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reversals",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(36), nullable=False),
        sa.Column("value_date", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.UniqueConstraint("kind", "target_id", name="uq_reversal_target"),
    )
    with op.batch_alter_table("idempotency") as batch:
        batch.alter_column("operation", existing_type=sa.String(100), type_=sa.String(200),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency") as batch:
        batch.alter_column("operation", existing_type=sa.String(200), type_=sa.String(100),
                           existing_nullable=False)
    op.drop_table("reversals")
