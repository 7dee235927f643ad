"""Closed periods: the date through which the books are closed (one row); and what an
edit of a request changed, on its history entry.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "books_closed",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("closed_through", sa.Date, nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(64), nullable=False),
    )
    op.add_column("request_history", sa.Column("changes", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("request_history") as batch:
        batch.drop_column("changes")
    op.drop_table("books_closed")
