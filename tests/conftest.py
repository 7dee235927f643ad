"""Database fixtures: every storage test runs on SQLite, and on PostgreSQL too when
``FILIERA_TEST_POSTGRES_URL`` is set (each run in its own schemas, dropped afterwards)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from service.db.engine import make_engine, normalize_url
from service.db.migrate import upgrade

PG_URL = os.environ.get("FILIERA_TEST_POSTGRES_URL")
RUN_ID = uuid.uuid4().hex[:10]

if os.environ.get("CI") and not PG_URL:
    raise RuntimeError("CI must set FILIERA_TEST_POSTGRES_URL: PostgreSQL tests never skip there")

BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> None:
    """argon2 at production cost takes ~0.2 s a hash here; tests need thousands of logins."""
    from service.app.auth import configure_hasher

    configure_hasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per run; each test gets a copy (migrations run for real)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


class PgSchemas:
    """Creates one fresh schema per test in the shared test database; drops them all at end."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def new(self) -> str:
        name = f"t_{RUN_ID}_{len(self.created)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        self.created.append(name)
        return name

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[PgSchemas | None]:
    if not PG_URL:
        yield None
        return
    schemas = PgSchemas(PG_URL)
    yield schemas
    schemas.drop_all()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(
    backend: str,
    tmp_path: Path,
    sqlite_template: Path,
    pg_schemas: PgSchemas | None,
) -> Iterator[tuple[str, str | None]]:
    """A fresh, migrated database: (url, schema)."""
    if backend == "sqlite":
        path = tmp_path / "filiera.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}", None
    else:
        assert pg_schemas is not None and PG_URL
        schema = pg_schemas.new()
        engine = make_engine(PG_URL, schema=schema)
        upgrade(engine)
        engine.dispose()
        yield PG_URL, schema


@pytest.fixture
def engine(db_url: tuple[str, str | None]) -> Iterator[Engine]:
    url, schema = db_url
    eng = make_engine(url, schema=schema)
    yield eng
    eng.dispose()
