"""Closed periods: the date through which the books are closed (one row).

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


def downgrade() -> None:
    op.drop_table("books_closed")
