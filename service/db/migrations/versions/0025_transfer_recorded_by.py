"""Raw ledger transfers record who posted them (``ledger_transfers.recorded_by``); login
failures are counted in the database, so every server process shares the limits.

Revision ID: 0025
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0023"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A nullable column without a default: no row is rewritten (the journal's rows are
    # never updated; older transfers keep NULL and their hashes).
    op.add_column("ledger_transfers", sa.Column("recorded_by", sa.String(128), nullable=True))
    op.create_table(
        "login_failures",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(1), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"])
    op.create_index("ix_login_failures_at", "login_failures", ["at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_at", "login_failures")
    op.drop_index("ix_login_failures_key_at", "login_failures")
    op.drop_table("login_failures")
    # Plain DROP COLUMN on both engines (SQLite >= 3.35): a batch copy of the table would
    # lose the journal's append-only triggers.
    op.execute("ALTER TABLE ledger_transfers DROP COLUMN recorded_by")
