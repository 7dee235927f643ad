"""Funding requests: requests, their GAS, history, assessments, terms, instruments,
and GAS interest.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _request_fk() -> "sa.Column[str]":
    return sa.Column("request_id", sa.String(36), sa.ForeignKey("funding_requests.id"),
                     nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "funding_requests",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("producer_id", sa.String(36), sa.ForeignKey("parties.id"),
                  nullable=False, index=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("instrument", sa.String(16), nullable=False),
        sa.Column("term_months", sa.Integer, nullable=False),
        sa.Column("needed_by", sa.Date),
        sa.Column("business", sa.JSON),
        sa.Column("social_notes", sa.Text),
        sa.Column("environmental_notes", sa.Text),
        sa.Column("links", sa.JSON),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("previous_status", sa.String(16)),
        sa.Column("status_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_by", sa.String(64)),
        sa.Column("funding_id", sa.String(36)),
        sa.Column("funded_on", sa.Date),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
    )
    op.create_table(
        "request_gas",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        _request_fk(),
        sa.Column("gas_id", sa.String(36), sa.ForeignKey("parties.id"), nullable=False,
                  index=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_table(
        "request_history",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        _request_fk(),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_table(
        "request_assessments",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        _request_fk(),
        sa.Column("economic_score", sa.Integer, nullable=False),
        sa.Column("social_score", sa.Integer, nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("site_visit_date", sa.Date),
        sa.Column("decision_date", sa.Date),
        sa.Column("decision_reference", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "request_terms",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        _request_fk(),
        sa.Column("terms", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "request_instruments",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        _request_fk(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("instrument_id", sa.String(36), nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_table(
        "request_interests",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        _request_fk(),
        sa.Column("gas_id", sa.String(36), sa.ForeignKey("parties.id"), nullable=False,
                  index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for name in ("request_interests", "request_instruments", "request_terms",
                 "request_assessments", "request_history", "request_gas", "funding_requests"):
        op.drop_table(name)
