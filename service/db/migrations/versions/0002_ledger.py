"""Ledger: accounts, the append-only transfer journal, the chain head.

Mirrors the tables of ``ledger.store`` (written out by hand: a migration must not change
when the code does). On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE on
the journal; SQLite gets the same guard for UPDATE and DELETE.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(128), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("party_id", sa.String(36)),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("debits_pending", sa.BigInteger, nullable=False),
        sa.Column("debits_posted", sa.BigInteger, nullable=False),
        sa.Column("credits_pending", sa.BigInteger, nullable=False),
        sa.Column("credits_posted", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_ledger_accounts_party_id", "ledger_accounts", ["party_id"])
    op.create_index("ix_ledger_accounts_timestamp", "ledger_accounts", ["timestamp", "id"])

    op.create_table(
        "ledger_transfers",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("debit_account_id", sa.String(36), nullable=False),
        sa.Column("credit_account_id", sa.String(36), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("code", sa.String(128), nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("pending_id", sa.String(36)),
        sa.Column("timeout_seconds", sa.BigInteger),
        sa.Column("expires_at", sa.BigInteger),
        sa.Column("value_date", sa.Date),
        sa.Column("user_data", sa.String(128)),
        sa.Column("operation_id", sa.String(128)),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("id", name="uq_ledger_transfers_id"),
        sa.UniqueConstraint("pending_id", name="uq_ledger_transfers_pending_id"),
    )
    op.create_index("ix_ledger_transfers_debit", "ledger_transfers",
                    ["debit_account_id", "seq"])
    op.create_index("ix_ledger_transfers_credit", "ledger_transfers",
                    ["credit_account_id", "seq"])
    op.create_index("ix_ledger_transfers_expires_at", "ledger_transfers", ["expires_at"],
                    sqlite_where=sa.text("expires_at IS NOT NULL"),
                    postgresql_where=sa.text("expires_at IS NOT NULL"))
    op.create_index("ix_ledger_transfers_user_data", "ledger_transfers", ["user_data"])
    op.create_index("ix_ledger_transfers_operation_id", "ledger_transfers", ["operation_id"])

    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("transfer_count", sa.BigInteger, nullable=False),
        sa.Column("last_timestamp", sa.BigInteger, nullable=False),
        sa.Column("expired_through", sa.BigInteger, nullable=False),
        sa.Column("next_expiry", sa.BigInteger),
    )
    op.bulk_insert(head, [{"id": 1, "last_hash": "0" * 64, "transfer_count": 0,
                           "last_timestamp": 0, "expired_through": 0,
                           "next_expiry": None}])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION ledger_transfers_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'ledger_transfers is append-only: % refused', TG_OP;
            END
            $$
        """)
        op.execute("""
            CREATE TRIGGER ledger_transfers_append_only
            BEFORE UPDATE OR DELETE ON ledger_transfers
            FOR EACH ROW EXECUTE FUNCTION ledger_transfers_append_only()
        """)
        op.execute("""
            CREATE TRIGGER ledger_transfers_no_truncate
            BEFORE TRUNCATE ON ledger_transfers
            FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_append_only()
        """)
    elif op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER ledger_transfers_no_{action.lower()}
                BEFORE {action} ON ledger_transfers
                BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only'); END
            """)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ledger_transfers_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_transfers_no_delete")
    op.drop_table("ledger_head")
    op.drop_table("ledger_transfers")
    op.drop_table("ledger_accounts")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_transfers_append_only()")
