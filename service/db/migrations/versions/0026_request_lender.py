"""Several lenders on one service: a funding request belongs to the lender whose officer
first takes it under review (NULL until an officer bound to a lender does).

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("funding_requests", sa.Column("lender_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("funding_requests") as batch:
        batch.drop_column("lender_id")
