"""What every `filiera` command shares: the database it works on, and its refusals."""

from __future__ import annotations

import getpass

from sqlalchemy import Connection, Engine

from service.app.audit_writer import AuditEntry, write_entry
from service.db.migrate import DatabaseNotReady, open_database
from service.settings import Settings


class CliError(Exception):
    """A refusal the command prints in one line before exiting 2."""


def open_engine() -> Engine:
    """The configured database, which must exist and be migrated; nothing is created
    (only `db upgrade` and `serve` create what they need)."""
    try:
        return open_database(Settings.from_env(create=False).database_url)
    except DatabaseNotReady as exc:
        raise CliError(str(exc)) from None


def audit_cli(conn: Connection, operation: str, *ids: str) -> None:
    """The audit entry of a command that changed something (outcome: its exit status),
    in the command's own transaction. The actor is the system user who ran it."""
    try:
        actor = getpass.getuser()
    except (KeyError, OSError):
        actor = None
    write_entry(conn, AuditEntry(actor=actor, channel="cli", operation=operation,
                                 kind="users", ids=list(ids), outcome=0))
