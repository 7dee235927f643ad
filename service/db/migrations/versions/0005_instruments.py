"""Guarantees, pledge capacities, prepayments and deliveries, funds, contributions, payouts.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pledge_capacities",
        sa.Column("party_id", sa.String(36), sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64)),
    )
    op.create_table(
        "guarantees",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("loan_id", sa.String(36), sa.ForeignKey("loans.id"), nullable=False, index=True),
        sa.Column("guarantor_id", sa.String(36), sa.ForeignKey("parties.id"),
                  nullable=False, index=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("called_minor", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pending_transfer_id", sa.String(36)),
        sa.Column("released_on", sa.Date),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "guarantee_calls",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("loan_id", sa.String(36), sa.ForeignKey("loans.id"), nullable=False, index=True),
        sa.Column("guarantee_id", sa.String(36), sa.ForeignKey("guarantees.id"), nullable=False,
               index=True),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "prepayments",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("producer_id", sa.String(36), sa.ForeignKey("parties.id"),
                  nullable=False, index=True),
        sa.Column("gas_id", sa.String(36), sa.ForeignKey("parties.id"), nullable=False, index=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("on_expiry", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("delivered_minor", sa.BigInteger, nullable=False),
        sa.Column("closed_on", sa.Date),
        sa.Column("settlement_kind", sa.String(16)),
        sa.Column("settlement_minor", sa.BigInteger),
        sa.Column("new_prepayment_id", sa.String(36)),
        sa.Column("rolled_from", sa.String(36)),
        sa.Column("request_id", sa.String(36)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "deliveries",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("prepayment_id", sa.String(36), sa.ForeignKey("prepayments.id"), nullable=False,
               index=True),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("quantity", sa.String(32), nullable=False),
        sa.Column("value_minor", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "funds",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("gas_id", sa.String(36), sa.ForeignKey("parties.id"), index=True),
        sa.Column("owner_id", sa.String(36), sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "contributions",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("fund_id", sa.String(36), sa.ForeignKey("funds.id"), nullable=False, index=True),
        sa.Column("gas_id", sa.String(36), sa.ForeignKey("parties.id"), nullable=False, index=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("earmark_producer_id", sa.String(36), sa.ForeignKey("parties.id")),
        sa.Column("note", sa.Text),
        sa.Column("basis", sa.JSON),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "payouts",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("fund_id", sa.String(36), sa.ForeignKey("funds.id"), nullable=False, index=True),
        sa.Column("producer_id", sa.String(36), sa.ForeignKey("parties.id"),
                  nullable=False, index=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("from_earmark_minor", sa.BigInteger, nullable=False),
        sa.Column("from_general_minor", sa.BigInteger, nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("loan_id", sa.String(36), sa.ForeignKey("loans.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
    )


def downgrade() -> None:
    op.drop_table("payouts")
    op.drop_table("contributions")
    op.drop_table("funds")
    op.drop_table("deliveries")
    op.drop_table("prepayments")
    op.drop_table("guarantee_calls")
    op.drop_table("guarantees")
    op.drop_table("pledge_capacities")
