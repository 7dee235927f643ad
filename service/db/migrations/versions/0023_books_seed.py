"""Closed periods: the one ``books_closed`` row exists from the start (a NULL date while
the books have never been closed), so the first close is an UPDATE of a row every money
operation reads under a shared lock: the check and the close serialise on PostgreSQL as
they do on SQLite.

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_ROW = 1


def upgrade() -> None:
    with op.batch_alter_table("books_closed") as batch:
        batch.alter_column("closed_through", existing_type=sa.Date, nullable=True)
        batch.alter_column("closed_at", existing_type=sa.DateTime(timezone=True),
                           nullable=True)
        batch.alter_column("closed_by", existing_type=sa.String(64), nullable=True)
    op.execute(sa.text("INSERT INTO books_closed (id) SELECT :row WHERE NOT EXISTS "
                       "(SELECT 1 FROM books_closed WHERE id = :row)")
               .bindparams(row=_ROW))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM books_closed WHERE closed_through IS NULL"))
    with op.batch_alter_table("books_closed") as batch:
        batch.alter_column("closed_by", existing_type=sa.String(64), nullable=False)
        batch.alter_column("closed_at", existing_type=sa.DateTime(timezone=True),
                           nullable=False)
        batch.alter_column("closed_through", existing_type=sa.Date, nullable=False)
