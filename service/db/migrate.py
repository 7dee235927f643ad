"""Run the Alembic migrations programmatically on an engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from service.db.engine import make_engine, normalize_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


class DatabaseNotReady(Exception):
    """The database does not exist, cannot be reached, or is not migrated to the head."""


NOT_INITIALISED = "database not initialised: run `filiera db upgrade`"


def open_database(url: str) -> Engine:
    """An engine on a database that exists and is migrated, creating nothing: a SQLite
    file that is not there stays not there (connecting would create it)."""
    parsed = make_url(normalize_url(url))
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if file not in (None, "", ":memory:") and not Path(str(file)).is_file():
        raise DatabaseNotReady(f"{NOT_INITIALISED} (no file {file})")
    engine = make_engine(url)
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseNotReady(f"database not reachable: {exc.__class__.__name__}: "
                               f"{str(exc.orig if hasattr(exc, 'orig') else exc)[:200]}"
                               ) from None
    if revision != head_revision():
        engine.dispose()
        raise DatabaseNotReady(NOT_INITIALISED if revision is None else
                               f"database at revision {revision}, this Filiera needs "
                               f"{head_revision()}: run `filiera db upgrade`")
    return engine
