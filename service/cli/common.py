"""What every `filiera` command shares: the database it works on, and its refusals."""

from __future__ import annotations

from sqlalchemy import Engine

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
