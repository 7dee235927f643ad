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


def upgrade() -> None:
    # A nullable column without a default: no row is rewritten (the journal's rows are
    # never updated; older transfers keep NULL and their hashes).
    op.add_column("ledger_transfers", sa.Column("recorded_by", sa.String(128), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN on both engines (SQLite >= 3.35): a batch copy of the table would
    # lose the journal's append-only triggers.
    op.execute("ALTER TABLE ledger_transfers DROP COLUMN recorded_by")
