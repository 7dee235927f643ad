"""What every `filiera` command shares: the database it works on, and its refusals."""

from __future__ import annotations

import getpass

from sqlalchemy import Connection, Engine

from service.app.audit_writer import AuditEntry, write_entry
from service.db.engine import write_tx
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


def audit_cli(conn: Connection, operation: str, *ids: str, kind: str = "users",
              changes: object = None, outcome: int = 0) -> None:
    """The audit entry of a command that changed something (outcome: its exit status),
    in the command's own transaction where it has one. The actor is the system user who
    ran it; ``http_request_id`` is null from the CLI."""
    try:
        actor = getpass.getuser()
    except (KeyError, OSError):
        actor = None
    write_entry(conn, AuditEntry(actor=actor, channel="cli", operation=operation,
                                 kind=kind, ids=list(ids), outcome=outcome,
                                 changes=changes))


def audit_cli_apart(engine: Engine, operation: str, *ids: str, kind: str,
                    changes: object = None, outcome: int = 0) -> None:
    """``audit_cli`` in a transaction of its own, for a command whose work committed in
    transactions it does not hold (as the API writes its entries after the operation)."""
    with write_tx(engine) as conn:
        audit_cli(conn, operation, *ids, kind=kind, changes=changes, outcome=outcome)
