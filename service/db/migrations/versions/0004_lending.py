"""Lending: pools, deposits, member shares, loan categories, loans and their events.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pools",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("lender_id", sa.String(36), sa.ForeignKey("parties.id"),
                  nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("partner_id", sa.String(36), sa.ForeignKey("parties.id")),
        sa.Column("max_loan_minor", sa.BigInteger),
        sa.Column("is_general", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "pool_deposits",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("pool_id", sa.String(36), sa.ForeignKey("pools.id"), nullable=False, index=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "shares",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("member_id", sa.String(36), sa.ForeignKey("parties.id"),
                  nullable=False, index=True),
        sa.Column("lender_id", sa.String(36), sa.ForeignKey("parties.id"),
                  nullable=False, index=True),
        sa.Column("pool_id", sa.String(36), sa.ForeignKey("pools.id"), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "loan_categories",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("lender_id", sa.String(36), sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("max_principal_minor", sa.BigInteger, nullable=False),
        sa.Column("max_term_months", sa.Integer, nullable=False),
        sa.Column("frequencies", sa.JSON, nullable=False),
        sa.Column("usury_threshold", sa.String(16)),
        sa.Column("late_interest_rate", sa.String(16)),
        sa.Column("min_coverage", sa.String(16)),
        sa.Column("share_multiple", sa.String(16)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64)),
        sa.UniqueConstraint("lender_id", "name", name="uq_category_per_lender"),
    )
    op.create_table(
        "loans",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("borrower_id", sa.String(36), sa.ForeignKey("parties.id"),
                  nullable=False, index=True),
        sa.Column("lender_id", sa.String(36), sa.ForeignKey("parties.id"),
                  nullable=False, index=True),
        sa.Column("pool_id", sa.String(36), sa.ForeignKey("pools.id"), nullable=False, index=True),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(36)),
        sa.Column("principal_minor", sa.BigInteger, nullable=False),
        sa.Column("annual_rate", sa.String(16), nullable=False),
        sa.Column("term_months", sa.Integer, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("grace_periods", sa.Integer, nullable=False),
        sa.Column("disbursement_date", sa.Date, nullable=False),
        sa.Column("first_due_date", sa.Date),
        sa.Column("fees_minor", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("disbursed_on", sa.Date),
        sa.Column("restructured", sa.Boolean, nullable=False),
        sa.Column("written_off_on", sa.Date),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "loan_events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("loan_id", sa.String(36), sa.ForeignKey("loans.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("value_date", sa.Date, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("payer_kind", sa.String(16), nullable=False),
        sa.Column("payer_ref", sa.String(36)),
        sa.Column("params", sa.JSON),
        sa.Column("note", sa.Text),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("loan_events")
    op.drop_table("loans")
    op.drop_table("loan_categories")
    op.drop_table("shares")
    op.drop_table("pool_deposits")
    op.drop_table("pools")
