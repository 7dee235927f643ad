"""The replayed schedule of each loan, kept beside the journal for fast arrears.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loan_installments",
        sa.Column("loan_id", sa.String(36), sa.ForeignKey("loans.id"), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("principal_minor", sa.BigInteger, nullable=False),
        sa.Column("interest_minor", sa.BigInteger, nullable=False),
        sa.Column("paid_principal_minor", sa.BigInteger, nullable=False),
        sa.Column("paid_interest_minor", sa.BigInteger, nullable=False),
        sa.Column("penalty_minor", sa.BigInteger, nullable=False),
        sa.Column("paid_penalty_minor", sa.BigInteger, nullable=False),
        sa.Column("through", sa.Date, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("loan_installments")
