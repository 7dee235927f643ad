"""Database fixtures: every storage test runs on SQLite, and on PostgreSQL too when
``FILIERA_TEST_POSTGRES_URL`` is set (each run in its own schemas, dropped afterwards)."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

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
    """Schemas of this run in the shared test database, all dropped by the end.

    ``new()`` is an empty schema (for tests that run migrations themselves);
    ``migrated()`` a fresh copy of one template schema that the migrations built for
    real once per run: pg_dump's script of it, renamed and run in one round trip. Making
    one still costs the server an fsync per index (PostgreSQL 15 here) and dropping one a
    truncate per file, disk waits rather than work: so one thread makes the next test's
    copy, and drops the schemas of finished tests, while the tests run."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []  # not yet dropped (the background thread edits it)
        self.template = f"t_{RUN_ID}_tmpl"  # unique: the copies replace it textually
        self._script: str | None = None
        self._made_template = False
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-schemas")
        self._next: Future[str] | None = None
        self._pending: list[Future[Any]] = []

    def _name(self) -> str:
        with self._lock:
            name = f"t_{RUN_ID}_{next(self._numbers)}"
            self.created.append(name)  # before it exists: a half-made one is dropped too
        return name

    def new(self) -> str:
        name = self._name()
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        return name

    def migrated(self) -> str:
        """A new schema holding exactly what the migrations make (tables, indexes,
        constraints, sequences, the journal's trigger and function, seeded rows)."""
        if not self._made_template:
            self._make_template()
        if self._script is None:  # no pg_dump here: run the migrations every time
            name = self.new()
            migrated_engine = make_engine(self.url, schema=name)
            upgrade(migrated_engine)
            migrated_engine.dispose()
            return name
        made = self._next or self._submit(self._copy)
        self._next = self._submit(self._copy)  # the next test's, made while this one runs
        return made.result()

    def release(self, name: str) -> None:
        """The test is done with ``name``: dropped in the background."""
        self._submit(self._drop, name)

    def settle(self) -> None:
        """Returns once nothing runs in the background: for tests that would notice
        another transaction committing in the cluster."""
        for future in list(self._pending):
            future.exception()  # waits; a failure shows where its result is asked for

    def _submit(self, work: Callable[..., Any], *args: Any) -> Future[Any]:
        future = self._worker.submit(work, *args)
        self._pending = [f for f in self._pending if not f.done()] + [future]
        return future

    def _copy(self) -> str:
        assert self._script is not None
        name = self._name()
        with self.admin.connect() as conn:
            # No parameters: the script's own % signs (a RAISE message) stay as written.
            conn.execution_options(no_parameters=True).exec_driver_sql(
                self._script.replace(self.template, name))
        return name

    def _drop(self, name: str) -> None:
        try:
            with self.admin.connect() as conn:
                # A connection still inside a transaction on it would hold the thread up:
                # such a schema waits for the end of the run instead.
                conn.execution_options(no_parameters=True).exec_driver_sql(
                    f"BEGIN; SET LOCAL lock_timeout = '2s'; "
                    f'DROP SCHEMA "{name}" CASCADE; COMMIT;')
        except SQLAlchemyError:
            return
        with self._lock:
            self.created.remove(name)

    def _make_template(self) -> None:
        self._made_template = True
        with self._lock:
            self.created.append(self.template)
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.template}"'))
        template_engine = make_engine(self.url, schema=self.template)
        upgrade(template_engine)
        template_engine.dispose()
        self._script = schema_script(self.url, self.template)

    def drop_all(self) -> None:
        self._worker.shutdown(wait=True)  # the last copy made ahead is dropped too
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        self.admin.dispose()


# pg_dump's session settings become SET LOCAL (they would otherwise stay on the pooled
# admin connection, an empty search_path among them); psql's \restrict lines go.
_DUMP_SET = re.compile(r"^SET (\w+) = (.*);$")
_DUMP_SEARCH_PATH = "SELECT pg_catalog.set_config('search_path', '', false);"
_DUMP_META = re.compile(r"^\\(un)?restrict \S+$")


def schema_script(url: str, schema: str) -> str | None:
    """One SQL script (a single transaction) that remakes ``schema`` with its rows and
    sequence values, from pg_dump; None when pg_dump is not installed."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return None
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)  # kept off the command line
    dbname = parsed.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False)
    done = subprocess.run(
        [pg_dump, f"--dbname={dbname}", f"--schema={schema}", "--no-owner",
         "--no-privileges", "--inserts"],
        env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # e.g. a pg_dump older than the server: say why
        raise RuntimeError(f"pg_dump of the template schema failed: {done.stderr.strip()}")
    lines = ["BEGIN;"]
    for line in done.stdout.splitlines():
        if _DUMP_META.match(line):
            continue
        if line == _DUMP_SEARCH_PATH:
            line = "SELECT pg_catalog.set_config('search_path', '', true);"
        elif match := _DUMP_SET.match(line):
            line = f"SET LOCAL {match[1]} = {match[2]};"
        # Any other psql command would be a syntax error halfway: say so at once.
        assert not line.startswith("\\"), f"pg_dump wrote a psql command: {line}"
        lines.append(line)
    lines.append("COMMIT;")
    return "\n".join(lines)


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
    """A fresh, migrated database: (url, schema), a copy of a template migrated once."""
    if backend == "sqlite":
        path = tmp_path / "filiera.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}", None
    else:
        assert pg_schemas is not None and PG_URL
        schema = pg_schemas.migrated()
        yield PG_URL, schema
        pg_schemas.release(schema)


@pytest.fixture
def no_background_commits(db_url: tuple[str, str | None], pg_schemas: PgSchemas | None
                          ) -> None:
    """Nothing of this run commits in the background while the test runs (schemas are
    made and dropped only around tests): for tests that watch the cluster's commits."""
    if pg_schemas is not None:
        pg_schemas.settle()


@pytest.fixture
def engine(db_url: tuple[str, str | None]) -> Iterator[Engine]:
    url, schema = db_url
    eng = make_engine(url, schema=schema)
    yield eng
    eng.dispose()


@pytest.fixture
def really_migrated_engine(backend: str, tmp_path: Path, pg_schemas: PgSchemas | None
                           ) -> Iterator[Engine]:
    """An empty database that the migrations themselves have just built (not a copy of
    the template), for the tests about what the migrations make."""
    if backend == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    else:
        assert pg_schemas is not None and PG_URL
        eng = make_engine(PG_URL, schema=pg_schemas.new())
    upgrade(eng)
    yield eng
    eng.dispose()
