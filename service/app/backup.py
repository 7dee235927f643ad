"""Backups a MAG can restore: every table, read in one consistent snapshot while the
service keeps writing, into one file; and that file loaded into an empty database.

The file is gzip-compressed JSON lines, the same on SQLite and PostgreSQL (a logical
export, so a SQLite backup restores into PostgreSQL and back): a header line (format,
migration revision, when, the chain head), then one line per table naming it and one line
per row. Restore refuses a database that already has tables, migrates the empty one to the
backup's revision, loads the rows in an order the foreign keys allow, and moves
PostgreSQL's sequences past the loaded keys. Both end with ``filiera verify``.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Date, DateTime, Engine, Table, inspect, select, text

from ledger.store import metadata as ledger_metadata
from service.db.engine import is_sqlite
from service.db.migrate import current_revision, head_revision, upgrade
from service.db.records import Record
from service.db.tables import metadata

FORMAT = "filiera-backup/1"
_BATCH = 1000


class BackupError(Exception):
    """A backup that cannot be read, or a database a restore must not touch."""


@dataclass(frozen=True)
class BackupSummary:
    revision: str | None
    tables: dict[str, int]  # rows per table

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _tables() -> list[Table]:
    """Every table, parents before children (the ledger's have no foreign keys)."""
    return [*ledger_metadata.sorted_tables, *metadata.sorted_tables]


def _encode_row(row: Record) -> dict[str, object]:
    return {str(k): (v.isoformat() if isinstance(v, date | datetime) else v)
            for k, v in row._mapping.items()}


def _decode_row(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for column in table.columns:
        value = out.get(column.name)
        if value is None:
            continue
        if isinstance(column.type, DateTime):
            out[column.name] = datetime.fromisoformat(value)
        elif isinstance(column.type, Date):
            out[column.name] = date.fromisoformat(value)
    return out


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One consistent view of every table: a deferred read transaction on SQLite (WAL
    readers see one snapshot), REPEATABLE READ on PostgreSQL."""
    with engine.connect() as conn:
        if is_sqlite(conn):
            conn = conn.execution_options(sqlite_begin="DEFERRED")
        else:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def backup(engine: Engine, path: Path) -> BackupSummary:
    """Write every table to ``path`` (the file is replaced only once it is complete)."""
    counts: dict[str, int] = {}
    encoder = msgspec.json.Encoder()
    partial = path.with_name(path.name + ".partial")
    with _snapshot(engine) as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        head = conn.execute(text("SELECT transfer_count, last_hash FROM ledger_head")).first()
        with gzip.open(partial, "wb") as out:
            out.write(encoder.encode({
                "format": FORMAT, "revision": revision,
                "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "head": {"count": head[0], "hash": head[1]} if head else None}) + b"\n")
            for table in _tables():
                out.write(encoder.encode({"table": str(table.name)}) + b"\n")
                n = 0
                for row in conn.execution_options(yield_per=_BATCH).execute(select(table)):
                    out.write(encoder.encode(_encode_row(row)) + b"\n")
                    n += 1
                counts[table.name] = n
    partial.replace(path)
    path.chmod(0o600)  # it holds the password hashes
    return BackupSummary(revision, counts)


def _read(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with gzip.open(path, "rb") as lines:
            for line in lines:
                yield msgspec.json.decode(line)
    except (OSError, EOFError, msgspec.DecodeError) as exc:
        raise BackupError(f"{path} is not a complete Filiera backup: {exc}") from None


def restore(engine: Engine, path: Path) -> BackupSummary:
    """Load the backup at ``path`` into the empty database behind ``engine``."""
    if inspect(engine).get_table_names():
        raise BackupError("the database is not empty: restore loads only into a database "
                          "that does not exist yet or has no tables")
    records = _read(path)
    header = next(records, None)
    if not header or header.get("format") != FORMAT:
        raise BackupError(f"{path} is not a Filiera backup")
    if header.get("revision") != head_revision():
        raise BackupError(f"the backup is at revision {header.get('revision')}, this Filiera "
                          f"at {head_revision()}: restore it with the version that wrote it")
    upgrade(engine)
    tables = {t.name: t for t in _tables()}
    counts: dict[str, int] = {}
    with engine.connect() as conn, conn.begin():
        # The rows the migrations seed (the chain's genesis head, the closed-books row) give
        # way to the backup's.
        conn.execute(tables["ledger_head"].delete())
        conn.execute(tables["books_closed"].delete())  # seeded too (migration 0023)
        table: Table | None = None
        batch: list[dict[str, Any]] = []
        for record in records:
            if "table" in record and len(record) == 1:
                if table is not None and batch:
                    conn.execute(table.insert(), batch)
                batch = []
                name = record["table"]
                if name not in tables:
                    raise BackupError(f"unknown table {name!r} in the backup")
                table = tables[name]
                counts[name] = 0
                continue
            if table is None:
                raise BackupError("a row before any table in the backup")
            batch.append(_decode_row(table, record))
            counts[table.name] += 1
            if len(batch) >= _BATCH:
                conn.execute(table.insert(), batch)
                batch = []
        if table is not None and batch:
            conn.execute(table.insert(), batch)
        if not is_sqlite(conn):
            for t in tables.values():
                if "seq" in t.columns and t.columns["seq"].autoincrement is True:
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{t.name}', 'seq'), "
                        f"COALESCE((SELECT max(seq) FROM {t.name}), 0) + 1, false)"))
    if not is_sqlite(engine):
        # Fresh tables have no statistics until autovacuum's first ANALYZE: meanwhile the
        # planner may scan a whole table where an index would answer (the journal's
        # lookups by id among them).
        with engine.connect() as conn, conn.begin():
            for t in tables.values():
                conn.execute(text(f'ANALYZE "{t.name}"'))
    return BackupSummary(current_revision(engine), counts)
