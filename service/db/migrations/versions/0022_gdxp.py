"""GDXP import: the file date behind a relationship's purchases, and the price lists a
GAS last imported for each producer (the export writes them back).

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("relationships", sa.Column("purchases_as_of", sa.Date, nullable=True))
    op.create_table(
        "gdxp_price_lists",
        sa.Column("gas_id", sa.String(36), sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("producer_id", sa.String(36), sa.ForeignKey("parties.id"),
                  primary_key=True),
        sa.Column("products", sa.JSON, nullable=False),
        sa.Column("creation_date", sa.Date, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gdxp_price_lists")
    with op.batch_alter_table("relationships") as batch:
        batch.drop_column("purchases_as_of")
