"""Audit entries carry a key of their own (a UUID made once per audited event), unique:
the audit writer inserts an entry only if its key is absent, so a retry after a commit
whose acknowledgement was lost (the connection dropped) never writes it twice. Entries
written before have none (NULL, which a unique index allows many times).

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("entry_key", sa.String(36), nullable=True))
    op.create_index("ux_audit_log_entry_key", "audit_log", ["entry_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_audit_log_entry_key", "audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("entry_key")
