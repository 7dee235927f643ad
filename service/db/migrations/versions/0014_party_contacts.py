"""Contacts of a party: e-mail, phone, PEC, street address and postal code.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

COLUMNS = (("email", 254), ("phone", 16), ("pec", 254), ("address", 200),
           ("postal_code", 5))


def upgrade() -> None:
    for name, length in COLUMNS:
        op.add_column("parties", sa.Column(name, sa.String(length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("parties") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
