"""Database wiring: engines for SQLite (embedded default) and PostgreSQL, transactions.

The engine is synchronous on purpose: every write goes through short transactions run
in worker threads (and ledger batches through one group-commit writer), so an async
driver would only add a per-call hop without adding concurrency to a serialized writer.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from service.db.records import Record


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and point them at the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+asyncpg"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("sqlite+aiosqlite",):
        parsed = parsed.set(drivername="sqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


# How long a SQLite writer waits for the write lock before the request answers 503.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, *, schema: str | None = None, echo: bool = False,
                sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database))
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False,
                          "timeout": sqlite_busy_timeout_ms / 1000},
            pool_size=8,
            max_overflow=8,
        )
        _configure_sqlite(engine, sqlite_busy_timeout_ms)
        return engine
    connect_args: dict[str, str] = {}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(
        url, echo=echo, connect_args=connect_args, pool_size=10, max_overflow=10,
        pool_pre_ping=True,
    )


def _private_file(path: Path) -> None:
    """The database file, readable by its owner only (it holds the password hashes);
    SQLite gives its -wal and -shm files the same permissions as the database's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
            path.chmod(0o600)  # made by an earlier version with the default umask


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (so BEGIN IMMEDIATE
        # can be emitted); WAL with synchronous=FULL: nothing acknowledged is ever lost.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    # An RLock: a thread that opens a second write transaction inside its first goes on
    # to SQLite as before (and waits there as before).
    _WRITERS[engine] = (threading.RLock(), busy_timeout_ms / 1000)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the database lock up front: a deferred transaction that later
        # writes can fail with SQLITE_BUSY instead of waiting its turn.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


def lock_row(conn: Connection, table: Table, key: str, column: str = "id") -> Record | None:
    """The row (None if there is none), locked until the transaction ends (``SELECT ...
    FOR UPDATE`` on PostgreSQL; SQLite's write transactions are already serialized by
    BEGIN IMMEDIATE).

    Operations that read an instrument's state and then write from it lock its row
    first, so two concurrent commands on one loan, prepayment or fund never both work
    from the same stale state."""
    return conn.execute(select(table).where(table.c[column] == key).with_for_update()).first()


def relock(conn: Connection, table: Table, key: str) -> Record:
    """``lock_row`` of a row the operation has already read (rows are never deleted):
    the row as it is now, locked."""
    row = lock_row(conn, table, key)
    assert row is not None, f"{table.name} {key} vanished"
    return row


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A write transaction: BEGIN IMMEDIATE on SQLite, a plain transaction on PostgreSQL.

    On SQLite the process's writers also queue on a lock of their own before BEGIN
    IMMEDIATE: SQLite lets one writer in at a time anyway, but a writer refused the
    database lock sleeps in its busy handler (up to 100 ms a try) while the lock may
    already be free, which under many concurrent writers left the database idle and
    made the slowest answers seconds long. Other processes still wait on SQLite's own
    lock (the busy timeout); a writer queued longer than the busy timeout stops waiting
    for the queue and asks SQLite as before (so it waits at most the busy timeout in the
    queue and then SQLite's, and a writer stuck behind a stuck one still ends in a 503)."""
    queue = _writer_queue(engine)
    if queue is None:
        with engine.connect() as conn, conn.begin():
            yield conn
        return
    lock, timeout = queue
    queued = lock.acquire(timeout=timeout)
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    finally:
        if queued:
            lock.release()


_WRITERS: weakref.WeakKeyDictionary[Engine, tuple[threading.RLock, float]] = \
    weakref.WeakKeyDictionary()


def _writer_queue(engine: Engine) -> tuple[threading.RLock, float] | None:
    """The SQLite engine's writer lock and how long to wait for it: its busy timeout
    (None on PostgreSQL, where writers to different rows go on together)."""
    return _WRITERS.get(engine)


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """A read-only snapshot; on SQLite a deferred transaction so readers never queue."""
    with engine.connect() as conn:
        conn = conn.execution_options(sqlite_begin="DEFERRED")
        with conn.begin():
            yield conn


# -- what changed --------------------------------------------------------------------------

class _SqliteWatch:
    """A connection of its own that never writes: SQLite's ``PRAGMA data_version`` on it
    changes whenever another connection commits a write."""

    _made = itertools.count()

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.lock = threading.Lock()
        self.name = f"sqlite:{next(self._made)}"  # a new watch never repeats an old key

    def version(self) -> str:
        with self.lock:
            (value,) = self.conn.execute("PRAGMA data_version").fetchone()
        return f"{self.name}:{value}"


_WATCHES: weakref.WeakKeyDictionary[Engine, _SqliteWatch] = weakref.WeakKeyDictionary()
_WATCHES_LOCK = threading.Lock()
_TOKENS: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


@event.listens_for(Engine, "engine_disposed")
def _close_watch(engine: Engine) -> None:
    """A disposed engine lets go of its files: its watch connection too (used again, the
    engine gets a new watch under a new name, so nothing kept before is taken for now)."""
    with _WATCHES_LOCK:
        watch = _WATCHES.pop(engine, None)
    if watch is not None:
        with watch.lock:
            watch.conn.close()

_NEXT_TOKEN = itertools.count(1)


def engine_token(engine: Engine) -> int:
    """A number for this engine that no other engine of the process ever gets (an
    object's ``id`` can be reused once it is gone): what keeps figures computed from
    one database apart from another's in the same process (tests open many)."""
    with _WATCHES_LOCK:
        token = _TOKENS.get(engine)
        if token is None:
            token = _TOKENS[engine] = next(_NEXT_TOKEN)
        return token


def data_generation(conn: Connection) -> str | None:
    """A value that changes whenever a transaction that wrote has committed (anywhere in
    the database; on PostgreSQL anywhere in the cluster), for caches of figures computed
    from many rows. Read it before the rows: a write committed in between then changes
    the next value, so what is cached under a value is never older than it. None where
    it cannot be told (an in-memory SQLite database): do not cache then."""
    if is_sqlite(conn):
        path = conn.engine.url.database
        if not path or path == ":memory:":
            return None
        with _WATCHES_LOCK:
            watch = _WATCHES.get(conn.engine)
            if watch is None:
                watch = _WATCHES[conn.engine] = _SqliteWatch(path)
        return watch.version()
    # Every transaction that writes takes an id: the snapshot (lowest running, next to
    # be given, running ones) moves when one starts or ends.
    return str(conn.exec_driver_sql("SELECT pg_current_snapshot()::text").scalar())
