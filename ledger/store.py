"""The ledger's storage: the one module that holds ledger SQL (SQLAlchemy 2 Core, sync).

Tables: ``ledger_accounts`` (definitions and the four totals), ``ledger_transfers``
(the append-only journal, one hash-chained row per transfer, ``seq`` its position) and
``ledger_head`` (one row: the chain head). Amounts are BIGINT minor units. There is no
code path that updates or deletes a transfer; on PostgreSQL a trigger refuses it too
(migration 0002).

Every method taking ``conn`` works inside the caller's transaction, so a service can
write its own rows and ledger transfers atomically::

    with engine.begin() as conn:          # BEGIN IMMEDIATE on SQLite (service.db)
        store.create_accounts(conn, [new_account("cash", "EUR"), ...])
        results = store.submit(conn, [Transfer(...), ...])

Writers serialize on the chain head: ``submit``/``create_accounts``/``expire_pending``
first lock the head row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the
``BEGIN IMMEDIATE`` write transaction already holds the database lock), then the
accounts they touch in one sorted ``SELECT ... FOR UPDATE``. Everyone takes the locks
in that order, so concurrent batches neither deadlock nor lose an update.
Engines should come from ``service.db.make_engine`` (which makes SQLite begin write
transactions IMMEDIATE).
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from typing import Any, NamedTuple, TypeVar, cast

import psycopg
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Engine,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, PendingRollbackError
from sqlalchemy.sql.elements import BindParameter

from ledger.accounts import (
    Account,
    AccountResult,
    CreateAccountResult,
    account_flags_from_bits,
    account_flags_to_bits,
)
from ledger.chain import GENESIS_HASH, ChainHead, chain_hashes
from ledger.ids import normalize_uuid
from ledger.state_machine import BatchOutcome, LedgerState, apply_batch, next_state
from ledger.transfers import (
    Transfer,
    TransferFlag,
    TransferResult,
    expiry_void,
    transfer_flags_from_bits,
    transfer_flags_to_bits,
)
from ledger.verify import JournalHead, JournalVerifier, VerifyReport

__all__ = [
    "HEAD_ID",
    "Companion",
    "JournalEntry",
    "LedgerConflict",
    "LedgerStore",
    "is_unavailable",
    "ledger_accounts",
    "ledger_head",
    "ledger_transfers",
    "metadata",
]

metadata = MetaData()

# On SQLite an INTEGER PRIMARY KEY is the rowid: the journal is stored in chain order.
_SEQ = BigInteger().with_variant(Integer, "sqlite")

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("code", String(128), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("party_id", String(36)),
    Column("flags", Integer, nullable=False),
    Column("debits_pending", BigInteger, nullable=False),
    Column("debits_posted", BigInteger, nullable=False),
    Column("credits_pending", BigInteger, nullable=False),
    Column("credits_posted", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Index("ix_ledger_accounts_party_id", "party_id"),
    Index("ix_ledger_accounts_timestamp", "timestamp", "id"),
)

ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=False),
    Column("id", String(36), nullable=False),
    Column("debit_account_id", String(36), nullable=False),
    Column("credit_account_id", String(36), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("code", String(128), nullable=False),
    Column("flags", Integer, nullable=False),
    Column("pending_id", String(36)),
    Column("timeout_seconds", BigInteger),
    Column("expires_at", BigInteger),
    Column("value_date", Date),
    Column("user_data", String(128)),
    Column("operation_id", String(128)),
    Column("timestamp", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("recorded_by", String(128)),  # who posted it (raw transfers), migration 0025
    UniqueConstraint("id", name="uq_ledger_transfers_id"),
    # A pending is resolved at most once: the database enforces it too.
    UniqueConstraint("pending_id", name="uq_ledger_transfers_pending_id"),
    Index("ix_ledger_transfers_debit", "debit_account_id", "seq"),
    Index("ix_ledger_transfers_credit", "credit_account_id", "seq"),
    Index("ix_ledger_transfers_expires_at", "expires_at",
          sqlite_where=text("expires_at IS NOT NULL"),
          postgresql_where=text("expires_at IS NOT NULL")),
    Index("ix_ledger_transfers_user_data", "user_data"),
    Index("ix_ledger_transfers_operation_id", "operation_id"),
)

ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_hash", String(64), nullable=False),
    Column("transfer_count", BigInteger, nullable=False),
    Column("last_timestamp", BigInteger, nullable=False),
    Column("expired_through", BigInteger, nullable=False),
    Column("next_expiry", BigInteger),
)

HEAD_ID = 1
_R = TypeVar("_R")
_CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit
_MAX_LIST = 500

_T = ledger_transfers.c
_A = ledger_accounts.c
_H = ledger_head.c

# PostgreSQL: serialization failure, deadlock, lock not available.
_RETRY_SQLSTATES = {"40001", "40P01", "55P03"}


class LedgerConflict(RuntimeError):
    """The database kept refusing the batch for concurrency reasons (lock timeouts,
    deadlocks, serialization failures) after the retries. Nothing was written; the
    batch may be sent again. Never a statement about balances."""


class Companion(NamedTuple):
    """A row of a table of the caller's own, written in the transaction that writes a
    batch (the same commit: the row exists exactly when the batch's outcome does), made
    by ``row`` from the batch's results once they are known: the service's audit entry
    of the request that sent the batch, listing the transfers it created, say.

    The values are what ``insert(table)`` takes for the columns; PostgreSQL's two round
    trip path hands them to the driver in arrays as they are, so a column type that
    needs SQLAlchemy's conversion (JSON, Enum ...) is not for a companion. A row is
    written for every try of the transaction (``row`` is called again after a retry)
    and never when the transaction fails."""

    table: Table
    row: Callable[[list[TransferResult]], dict[str, Any]]


# PostgreSQL: the server ended the connection (shutdown, restart, a terminated backend)
# or will not take one now; class 08 is every connection exception.
_GONE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}
# What drivers say when the connection went away without a SQLSTATE.
_GONE_WORDS = ("connection is closed", "connection already closed", "server closed the",
               "terminating connection", "connection was lost", "consuming input failed",
               "connection refused", "could not connect", "lost synchronization",
               "the connection is lost")
_DRIVERS = {"sqlite3", "psycopg", "psycopg2", "asyncpg"}


def _is_retryable(exc: DBAPIError) -> bool:
    """Worth running the same transaction again at once: PostgreSQL's concurrency
    refusals. Not SQLite's "database is locked": writers take the lock with BEGIN
    IMMEDIATE, which has already waited the whole busy timeout for it."""
    return getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES


def is_unavailable(exc: BaseException) -> bool:
    """The database could not be used, as opposed to refusing what was asked: the
    connection was lost (a restarted server, a terminated backend), the server refuses
    connections, or SQLite's write lock stayed taken past the busy timeout. The
    transaction did not commit (or, when the connection broke during COMMIT, its
    outcome is unknown): the same request, with the same ids, may be sent again.
    Never a constraint violation or an error in a statement: those are not transient.

    An error raised while handling such a loss counts too (a rollback on the dead
    connection, say), and so does the driver's own error where it was not wrapped by
    SQLAlchemy (a connection of our own, as the session guard's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        if _connection_lost(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _connection_lost(exc: BaseException) -> bool:
    if isinstance(exc, DisconnectionError):
        return True
    if isinstance(exc, PendingRollbackError):
        # SQLAlchemy's answer on a connection it invalidated inside a transaction.
        return "invalid transaction" in str(exc)
    if isinstance(exc, DBAPIError):
        if isinstance(exc, IntegrityError):
            return False
        if exc.connection_invalidated:  # SQLAlchemy saw a disconnect, dropped the connection
            return True
        return _driver_says_gone(exc.orig)
    if _is_driver_operational_error(exc):
        return _driver_says_gone(exc)
    return False


def _is_driver_operational_error(exc: BaseException) -> bool:
    """A DB-API driver's OperationalError (PEP 249: the database's operation failed,
    not the statement), raised outside SQLAlchemy."""
    return any(kind.__name__ == "OperationalError"
               and kind.__module__.split(".")[0] in _DRIVERS
               for kind in type(exc).__mro__)


def _driver_says_gone(orig: BaseException | None) -> bool:
    state = getattr(orig, "sqlstate", None)
    if state is not None:
        return str(state).startswith("08") or state in _GONE_SQLSTATES
    message = str(orig).lower()
    if "database is locked" in message or "database is busy" in message:
        return True
    return any(words in message for words in _GONE_WORDS)


def _ns(now: int | datetime | None) -> int:
    if now is None:
        return time.time_ns()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return int(now.timestamp()) * 1_000_000_000 + now.microsecond * 1_000
    if type(now) is not int or now < 0:
        raise ValueError("now must be a datetime or a non-negative int of ns")
    return now


def _well_formed(ids: Iterable[str]) -> list[str]:
    """The distinct account ids among ``ids`` in canonical form, sorted; malformed ones
    are dropped (they name no account)."""
    wanted: set[str] = set()
    for account_id in ids:
        try:
            wanted.add(normalize_uuid(account_id))
        except ValueError:
            continue
    return sorted(wanted)


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _account_from_row(row: Row[Any]) -> Account:
    return Account(
        id=row.id, code=row.code, currency=row.currency, party_id=row.party_id,
        flags=account_flags_from_bits(row.flags), debits_pending=row.debits_pending,
        debits_posted=row.debits_posted, credits_pending=row.credits_pending,
        credits_posted=row.credits_posted, timestamp=row.timestamp,
    )


def _transfer_from_row(row: Row[Any]) -> Transfer:
    return Transfer(
        id=row.id, debit_account_id=row.debit_account_id,
        credit_account_id=row.credit_account_id, amount=row.amount, currency=row.currency,
        code=row.code, flags=transfer_flags_from_bits(row.flags), pending_id=row.pending_id,
        timeout_seconds=row.timeout_seconds, value_date=row.value_date,
        user_data=row.user_data, operation_id=row.operation_id, timestamp=row.timestamp,
        recorded_by=row.recorded_by,
    )


class JournalEntry(NamedTuple):
    """A stored transfer as the journal lists it (``flags`` as stored: bits)."""

    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    currency: str
    code: str
    flags: int
    value_date: date | None
    operation_id: str | None
    timestamp: int  # ns since the epoch, UTC


def _day_ns(day: date) -> int:
    """Nanoseconds since the epoch at the start (UTC) of ``day``."""
    return (day - date(1970, 1, 1)).days * 86_400 * 1_000_000_000


def _head_from_row(row: Row[Any]) -> ChainHead:
    return ChainHead(last_hash=row.last_hash, transfer_count=row.transfer_count,
                     last_timestamp=row.last_timestamp, expired_through=row.expired_through,
                     next_expiry=row.next_expiry)


def encode_cursor(kind: str, *parts: object) -> str:
    raw = ":".join([kind, *(str(p) for p in parts)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> list[str]:
    """The parts of an opaque cursor made by ``encode_cursor``; ``ValueError`` if bad."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("invalid cursor") from None
    head, _, rest = raw.partition(":")
    if head != kind or not rest:
        raise ValueError("invalid cursor")
    return rest.split(":")


# SQL BIGINT: a cursor naming a position beyond it was not made here.
_MAX_POSITION = 2**63 - 1


def cursor_int(text: str) -> int:
    """A position inside a cursor: ASCII digits naming a BIGINT; ``ValueError`` if not."""
    if not text.isascii() or not text.isdigit() or int(text) > _MAX_POSITION:
        raise ValueError("invalid cursor")
    return int(text)


def _check_limit(limit: int) -> None:
    if type(limit) is not int or not 1 <= limit <= _MAX_LIST:
        raise ValueError(f"limit must be between 1 and {_MAX_LIST}")


_INSERT_TRANSFERS = insert(ledger_transfers)
_TRANSFER_COLUMNS = [c.name for c in ledger_transfers.columns]
# On SQLite the rows go straight to the driver's executemany (SQLAlchemy's per-row
# parameter processing would cost a third of the batch); PostgreSQL gets SQLAlchemy's
# multi-row "insertmanyvalues" INSERTs, faster than the driver's executemany.
_INSERT_TRANSFERS_SQLITE = (
    f"INSERT INTO ledger_transfers ({', '.join(_TRANSFER_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_TRANSFER_COLUMNS))})"
)
# Hot statements built once (SQLAlchemy then only looks them up in its cache).
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_HEAD = select(ledger_head).where(_H.id == HEAD_ID)
_HEAD_FOR_UPDATE = _HEAD.with_for_update()
_HEAD_FOR_SHARE = _HEAD.with_for_update(read=True)
_ACCOUNTS_BY_IDS = select(ledger_accounts).where(_A.id.in_(_IDS)).order_by(_A.id)
_ACCOUNTS_FOR_UPDATE = _ACCOUNTS_BY_IDS.with_for_update()
_TRANSFERS_BY_IDS = select(ledger_transfers).where(_T.id.in_(_IDS))
_RESOLUTIONS_BY_IDS = select(ledger_transfers).where(_T.pending_id.in_(_IDS))
_IDS_BY_IDS = select(_T.id).where(_T.id.in_(_IDS))
_EXISTING_IDS_SQLITE = (
    "SELECT id FROM ledger_transfers WHERE id IN (SELECT value FROM json_each(?))"
)
_RESOLVER = ledger_transfers.alias("resolver")
_UNRESOLVED = ~select(_RESOLVER.c.seq).where(_RESOLVER.c.pending_id == _T.id).exists()
_EXPIRED = (
    select(ledger_transfers)
    .where(_T.expires_at.isnot(None), _T.expires_at > bindparam("through"),
           _T.expires_at <= bindparam("now"), _UNRESOLVED)
    .order_by(_T.expires_at, _T.seq)
)
_NEXT_EXPIRY = (
    select(func.min(_T.expires_at))
    .where(_T.expires_at.isnot(None), _T.expires_at > bindparam("now"), _UNRESOLVED)
)
_UPDATE_TOTALS = (
    update(ledger_accounts)
    .where(_A.id == bindparam("b_id"))
    .values(debits_pending=bindparam("b_dp"), debits_posted=bindparam("b_dpo"),
            credits_pending=bindparam("b_cp"), credits_posted=bindparam("b_cpo"))
)


# PostgreSQL's group in two round trips (``LedgerStore._submit_many_postgres``): the
# statements' texts never change with the number of ids or rows (arrays, not lists of
# placeholders), so each is prepared once a connection and then only executed.
_ACCOUNT_COLUMNS = [c.name for c in ledger_accounts.columns]
_PG_HEAD = ("SELECT last_hash, transfer_count, last_timestamp, expired_through, next_expiry"
            f" FROM ledger_head WHERE id = {HEAD_ID} FOR UPDATE")
_PG_ACCOUNTS = (f"SELECT {', '.join(_ACCOUNT_COLUMNS)} FROM ledger_accounts"
                " WHERE id = ANY(%s::varchar[]) ORDER BY id FOR UPDATE")
# The journal probed through its unique indexes, one lookup an id (LIMIT 1 keeps each
# lookup a subquery of its own, so the planner cannot turn them into one join). As
# "id = ANY(array)", or a plain join with the array, the planner scanned the whole
# journal for every group while it had no statistics yet (a new or restored database,
# before autovacuum's first ANALYZE) or at a few thousand rows: measured 1.3 ms a group
# at 9,600 rows, 6 ms under load, growing with the journal.
_PG_PROBE = (f"SELECT {', '.join('t.' + c for c in _TRANSFER_COLUMNS)}"
             " FROM unnest(%s::varchar[]) AS q(id), LATERAL (SELECT * FROM ledger_transfers"
             " WHERE {column} = q.id LIMIT 1) AS t")
_PG_TRANSFERS = _PG_PROBE.format(column="id")
_PG_RESOLUTIONS = _PG_PROBE.format(column="pending_id")
_PG_ARRAY_TYPES = {"seq": "bigint", "amount": "bigint", "flags": "integer",
                   "timeout_seconds": "bigint", "expires_at": "bigint", "value_date": "date",
                   "timestamp": "bigint"}
_PG_WRITE = (
    "WITH journal AS (INSERT INTO ledger_transfers (" + ", ".join(_TRANSFER_COLUMNS) + ")"
    " SELECT * FROM unnest(" + ", ".join(
        f"%s::{_PG_ARRAY_TYPES.get(c, 'varchar')}[]" for c in _TRANSFER_COLUMNS) + ")),"
    " totals AS (UPDATE ledger_accounts AS a SET debits_pending = v.dp,"
    " debits_posted = v.dpo, credits_pending = v.cp, credits_posted = v.cpo"
    " FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])"
    " AS v(id, dp, dpo, cp, cpo) WHERE a.id = v.id)"
    " UPDATE ledger_head SET last_hash = %s, transfer_count = %s, last_timestamp = %s,"
    f" expired_through = %s, next_expiry = %s WHERE id = {HEAD_ID}"
)


_Companions = Sequence["Companion | None"]


def _companion_rows(companions: _Companions, results: list[list[TransferResult]]
                    ) -> dict[Table, list[dict[str, Any]]]:
    """The companions' rows for the batches' results, by table, in batch order."""
    rows: dict[Table, list[dict[str, Any]]] = {}
    for companion, batch_results in zip(companions, results, strict=False):
        if companion is not None:
            rows.setdefault(companion.table, []).append(companion.row(batch_results))
    return rows


_PG_COMPANION_SQL: dict[tuple[str, tuple[str, ...]], str] = {}


def _pg_companion_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]
                         ) -> tuple[str, list[list[Any]]]:
    """One INSERT of ``rows`` into ``table`` from arrays (unnest: one statement text
    whatever the number of rows, prepared once), and its parameters. The arrays are cast
    to the columns' types without a length: an over-long value then fails the INSERT as
    a VALUES list would, where a cast to varchar(n) would cut it silently."""
    names = tuple(c.name for c in table.columns if c.name in rows[0])
    if len(names) != len(rows[0]) or any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError(f"companion rows of {table.name} name other columns or differ")
    key = (table.name, names)
    sql = _PG_COMPANION_SQL.get(key)
    if sql is None:
        quote = conn.dialect.identifier_preparer.quote
        casts = [re.sub(r"\(.*?\)", "", table.c[n].type.compile(dialect=conn.dialect))
                 for n in names]
        sql = (f"INSERT INTO {conn.dialect.identifier_preparer.format_table(table)}"
               f" ({', '.join(quote(n) for n in names)}) SELECT * FROM unnest("
               + ", ".join(f"%s::{cast}[]" for cast in casts) + ")")
        _PG_COMPANION_SQL[key] = sql
    return sql, [[row[n] for row in rows] for n in names]


def _account_from_tuple(row: tuple[Any, ...]) -> Account:
    """``_account_from_row`` for a driver's row in ``_ACCOUNT_COLUMNS`` order."""
    (id_, code, currency, party_id, flags, debits_pending, debits_posted, credits_pending,
     credits_posted, timestamp) = row
    return Account(
        id=id_, code=code, currency=currency, party_id=party_id,
        flags=account_flags_from_bits(flags), debits_pending=debits_pending,
        debits_posted=debits_posted, credits_pending=credits_pending,
        credits_posted=credits_posted, timestamp=timestamp,
    )


def _transfer_from_tuple(row: tuple[Any, ...]) -> Transfer:
    """``_transfer_from_row`` for a driver's row in ``_TRANSFER_COLUMNS`` order."""
    (_seq, id_, debit, credit, amount, currency, code, flags, pending_id, timeout_seconds,
     _expires_at, value_date, user_data, operation_id, timestamp, _hash, recorded_by) = row
    return Transfer(
        id=id_, debit_account_id=debit, credit_account_id=credit, amount=amount,
        currency=currency, code=code, flags=transfer_flags_from_bits(flags),
        pending_id=pending_id, timeout_seconds=timeout_seconds, value_date=value_date,
        user_data=user_data, operation_id=operation_id, timestamp=timestamp,
        recorded_by=recorded_by,
    )


def _driver_error(conn: Connection, exc: psycopg.Error, statement: str) -> DBAPIError:
    """A driver's error raised outside SQLAlchemy, as SQLAlchemy would have raised it: a
    ``DBAPIError`` of the matching kind (what the retries and ``is_unavailable`` read),
    the connection invalidated when the error says it is gone."""
    dialect = conn.dialect
    gone = dialect.is_disconnect(cast(Any, exc), conn.connection.dbapi_connection, None)
    if gone:
        conn.invalidate(exc)
    error = DBAPIError.instance(statement, None, exc, psycopg.Error,
                                connection_invalidated=gone, dialect=dialect)
    assert isinstance(error, DBAPIError)
    return error


# Groups up to this many transfers take PostgreSQL's two round trips (a group of single
# transfers from the writer holds at most 256); larger ones, where the rows' own cost
# dwarfs a few round trips, the general path (SQLAlchemy's multi-row INSERTs): measured
# over HTTP, 1,000-transfer requests were not faster through unnest arrays.
PIPELINED_MAX_TRANSFERS = 256

# An execution option on the connections of the store's own transactions
# (``submit_many_batch``): the writes may commit them, in the same round trip.
_OWN_TRANSACTION = "ledger_own_transaction"


class _Named(NamedTuple):
    """The ids a group of batches names: its accounts, its transfers and the pendings
    its transfers resolve."""

    accounts: set[str]
    transfers: set[str]
    pendings: set[str]


def _named_ids(batches: Sequence[Sequence[Transfer]]) -> _Named:
    named = _Named(set(), set(), set())
    for batch in batches:
        for t in batch:
            named.accounts.add(t.debit_account_id)
            named.accounts.add(t.credit_account_id)
            named.transfers.add(t.id)
            if t.pending_id is not None:
                named.pendings.add(t.pending_id)
    return named


class _Plan(NamedTuple):
    """What applying a group of batches gives: each batch's outcome, the journal rows in
    ``_TRANSFER_COLUMNS`` order, the accounts whose totals changed (sorted by id) and
    the new head (the old one when nothing was created)."""

    outcomes: list[BatchOutcome]
    rows: list[tuple[Any, ...]]
    changed: list[Account]
    head: ChainHead


def _plan(state: LedgerState, head: ChainHead, batches: Sequence[Sequence[Transfer]],
          now_ns: int) -> _Plan:
    """Apply the batches in sequence (each sees the ones before) and chain what they
    created after ``head``."""
    outcomes: list[BatchOutcome] = []
    changed: dict[str, Account] = {}
    for k, batch in enumerate(batches):
        outcome = apply_batch(batch, state, now_ns)
        outcomes.append(outcome)
        changed.update(outcome.accounts)
        if k + 1 < len(batches):
            state = next_state(state, outcome)
    created = [t for outcome in outcomes for t in outcome.created]
    if not created:
        return _Plan(outcomes, [], [], head)
    first_seq = head.transfer_count + 1
    hashes = chain_hashes(head.last_hash, created, first_seq)
    rows = [
        (first_seq + i, t.id, t.debit_account_id, t.credit_account_id, t.amount,
         t.currency, t.code, transfer_flags_to_bits(t.flags), t.pending_id,
         t.timeout_seconds, t.expires_at, t.value_date, t.user_data, t.operation_id,
         t.timestamp, h, t.recorded_by)
        for i, (t, h) in enumerate(zip(created, hashes, strict=True))
    ]
    next_expiry = head.next_expiry
    for t in created:
        expires_at = t.expires_at
        if expires_at is not None and (next_expiry is None or expires_at < next_expiry):
            next_expiry = expires_at
    head = replace(head, last_hash=hashes[-1],
                   transfer_count=head.transfer_count + len(created),
                   last_timestamp=created[-1].timestamp, next_expiry=next_expiry)
    return _Plan(outcomes, rows, [changed[k] for k in sorted(changed)], head)


class LedgerStore:
    """Ledger storage on an engine; see the module docstring for the locking rules."""

    def __init__(self, engine: Engine, *, retries: int = 8) -> None:
        self.engine = engine
        self.retries = retries
        self._postgres = engine.dialect.name == "postgresql"
        self._local = threading.local()  # the connection a writer thread holds, if any

    # -- locking ---------------------------------------------------------------------

    def _lock_head(self, conn: Connection, *, share: bool = False) -> ChainHead:
        lock = _HEAD_FOR_SHARE if share else _HEAD_FOR_UPDATE
        query = lock if self._postgres else _HEAD
        row = conn.execute(query).one_or_none()
        if row is None:
            raise RuntimeError("ledger_head is missing: run the database migrations")
        return _head_from_row(row)

    def _lock_accounts(self, conn: Connection, ids: Iterable[str]) -> dict[str, Account]:
        found: dict[str, Account] = {}
        ordered = sorted(set(ids))
        for chunk in _chunks(ordered):
            query = _ACCOUNTS_FOR_UPDATE if self._postgres else _ACCOUNTS_BY_IDS
            for row in conn.execute(query, {"ids": list(chunk)}):
                found[row.id] = _account_from_row(row)
        return found

    # -- accounts --------------------------------------------------------------------

    def create_accounts(self, conn: Connection, specs: Sequence[Account],
                        now: int | datetime | None = None) -> list[AccountResult]:
        """Create account definitions (totals must be zero): per spec ``created``,
        ``exists`` (same id and fields) or ``exists_with_different_fields``."""
        for spec in specs:
            if any(spec.totals):
                raise ValueError(f"account {spec.id}: a new account starts with zero totals")
        self._lock_head(conn)  # the head first, as every ledger writer
        seen = self._lock_accounts(conn, (s.id for s in specs))
        base = _ns(now)
        results: list[AccountResult] = []
        rows: list[dict[str, Any]] = []
        for spec in specs:
            existing = seen.get(spec.id)
            if existing is not None:
                code = (CreateAccountResult.EXISTS if existing.same_definition(spec)
                        else CreateAccountResult.EXISTS_WITH_DIFFERENT_FIELDS)
                results.append(AccountResult(spec.id, code))
                continue
            account = replace(spec, timestamp=base + len(rows))
            seen[account.id] = account
            rows.append({
                "id": account.id, "code": account.code, "currency": account.currency,
                "party_id": account.party_id, "flags": account_flags_to_bits(account.flags),
                "debits_pending": 0, "debits_posted": 0, "credits_pending": 0,
                "credits_posted": 0, "timestamp": account.timestamp,
            })
            results.append(AccountResult(account.id, CreateAccountResult.CREATED))
        if rows:
            conn.execute(insert(ledger_accounts), rows)
        return results

    def get_accounts(self, conn: Connection, ids: Iterable[str]) -> dict[str, Account]:
        """The accounts found among ``ids``, by id (unknown or malformed ids are absent)."""
        found: dict[str, Account] = {}
        for chunk in _chunks(_well_formed(ids)):
            for row in conn.execute(select(ledger_accounts).where(_A.id.in_(chunk))):
                found[row.id] = _account_from_row(row)
        return found

    def total_balance(self, conn: Connection, ids: Iterable[str]) -> int:
        """The sum of the posted balances (credits - debits) of the accounts among
        ``ids``, added up by the database (a pool lends to thousands of loans)."""
        total = 0
        for chunk in _chunks(_well_formed(ids)):
            total += int(conn.execute(select(func.coalesce(
                func.sum(_A.credits_posted - _A.debits_posted), 0)).where(
                _A.id.in_(chunk))).scalar_one())
        return total

    def get_account(self, conn: Connection, account_id: str) -> Account | None:
        found = self.get_accounts(conn, [account_id])
        return next(iter(found.values()), None)

    def list_accounts(self, conn: Connection, *, party_id: str | None = None, limit: int = 50,
                      cursor: str | None = None) -> tuple[list[Account], str | None]:
        """Accounts oldest first (optionally one party's), and the next page's cursor."""
        _check_limit(limit)
        query = select(ledger_accounts)
        if party_id is not None:
            query = query.where(_A.party_id == party_id)
        if cursor is not None:
            parts = decode_cursor(cursor, "a")
            if len(parts) != 2:
                raise ValueError("invalid cursor")
            ts, last_id = cursor_int(parts[0]), parts[1]
            query = query.where(or_(_A.timestamp > ts, and_(_A.timestamp == ts, _A.id > last_id)))
        rows = conn.execute(query.order_by(_A.timestamp, _A.id).limit(limit + 1)).all()
        items = [_account_from_row(r) for r in rows[:limit]]
        next_cursor = (encode_cursor("a", items[-1].timestamp, items[-1].id)
                       if len(rows) > limit else None)
        return items, next_cursor

    def account_codes(self, conn: Connection) -> list[tuple[str, str, str | None, str]]:
        """Every account's (id, code, party id, currency), as stored: what a report that
        names accounts reads (the journal names 14,000 at MAG scale), without building
        and checking an ``Account`` for each."""
        return [(r.id, r.code, r.party_id, r.currency) for r in conn.execute(
            select(_A.id, _A.code, _A.party_id, _A.currency).order_by(_A.timestamp, _A.id))]

    # -- transfers -------------------------------------------------------------------

    def submit(self, conn: Connection, transfers: Sequence[Transfer],
               now: int | datetime | None = None) -> list[TransferResult]:
        """Apply one batch inside ``conn``'s transaction; one result per event, in order."""
        return self.submit_many(conn, [transfers], now)[0]

    def submit_many(self, conn: Connection, batches: Sequence[Sequence[Transfer]],
                    now: int | datetime | None = None, companions: _Companions = (),
                    ) -> list[list[TransferResult]]:
        """Apply independent batches in sequence and write them together (group commit):
        each batch keeps its own linked semantics; one's refusal never fails another.
        ``companions``: for each batch in order (or fewer; ``None`` for none), a row to
        write with it (``Companion``)."""
        if len(companions) > len(batches):
            raise ValueError("more companions than batches")
        if self._postgres and sum(map(len, batches)) <= PIPELINED_MAX_TRANSFERS:
            own = bool(conn.get_execution_options().get(_OWN_TRANSACTION, False))
            results = self._submit_many_postgres(conn, batches, now, companions, commit=own)
            if results is not None:
                return results
        return self._submit_many(conn, batches, now, companions)

    def _submit_many(self, conn: Connection, batches: Sequence[Sequence[Transfer]],
                     now: int | datetime | None, companions: _Companions = (),
                     ) -> list[list[TransferResult]]:
        start = self._lock_head(conn)
        # Ledger time never goes back behind the expiry watermark.
        now_ns = max(_ns(now), start.expired_through)
        head = self._expire(conn, start, now_ns)
        outcomes, head = self._apply_and_write(conn, head, batches, now_ns)
        if head != start:
            self._write_head(conn, head)
        results = [list(outcome.results) for outcome in outcomes]
        for table, rows in _companion_rows(companions, results).items():
            conn.execute(insert(table), rows)
        return results

    def _load_state(self, conn: Connection, batches: Sequence[Sequence[Transfer]],
                    head: ChainHead) -> LedgerState:
        named = _named_ids(batches)
        pending_ids = named.pendings
        accounts = self._lock_accounts(conn, named.accounts)
        # Probe the unique index for the ids first (almost always none exist), then
        # fetch whole rows only for those found and for the referenced pendings.
        wanted = sorted(self._existing_ids(conn, named.transfers) | pending_ids)
        transfers: dict[str, Transfer] = {}
        for chunk in _chunks(wanted):
            for row in conn.execute(_TRANSFERS_BY_IDS, {"ids": list(chunk)}):
                transfers[row.id] = _transfer_from_row(row)
        resolutions: dict[str, Transfer] = {}
        for chunk in _chunks(sorted(pending_ids)):
            for row in conn.execute(_RESOLUTIONS_BY_IDS, {"ids": list(chunk)}):
                resolutions[row.pending_id] = _transfer_from_row(row)
        return LedgerState(accounts=accounts, transfers=transfers, resolutions=resolutions,
                           last_timestamp=head.last_timestamp)

    def _existing_ids(self, conn: Connection, ids: set[str]) -> set[str]:
        if not ids:
            return set()
        if self._postgres:
            found: set[str] = set()
            for chunk in _chunks(sorted(ids)):
                found.update(conn.execute(_IDS_BY_IDS, {"ids": list(chunk)}).scalars())
            return found
        # SQLite: one JSON array parameter instead of thousands of placeholders.
        rows = conn.exec_driver_sql(_EXISTING_IDS_SQLITE, (json.dumps(sorted(ids)),))
        return {row[0] for row in rows}

    def _apply_and_write(self, conn: Connection, head: ChainHead,
                         batches: Sequence[Sequence[Transfer]], now_ns: int,
                         ) -> tuple[list[BatchOutcome], ChainHead]:
        """Apply the batches in sequence and write what they created; returns the new
        head for the caller to write (once per transaction)."""
        state = self._load_state(conn, batches, head)
        plan = _plan(state, head, batches, now_ns)
        if not plan.rows:
            return plan.outcomes, head
        if self._postgres:
            conn.execute(_INSERT_TRANSFERS,
                         [dict(zip(_TRANSFER_COLUMNS, row, strict=True)) for row in plan.rows])
        else:
            conn.exec_driver_sql(_INSERT_TRANSFERS_SQLITE,
                                 [_sqlite_row(row) for row in plan.rows])
        if plan.changed:
            conn.execute(_UPDATE_TOTALS, [
                {"b_id": a.id, "b_dp": a.debits_pending, "b_dpo": a.debits_posted,
                 "b_cp": a.credits_pending, "b_cpo": a.credits_posted}
                for a in plan.changed
            ])
        return plan.outcomes, plan.head

    # -- PostgreSQL: a group in two round trips ----------------------------------------

    def _submit_many_postgres(self, conn: Connection, batches: Sequence[Sequence[Transfer]],
                              now: int | datetime | None, companions: _Companions,
                              commit: bool) -> list[list[TransferResult]] | None:
        """``submit_many`` on PostgreSQL in two round trips of one pipeline each (psycopg's
        pipeline mode; statements prepared on the server): the reads (BEGIN when due, the
        head locked, then the accounts locked in id order, the transfers the batches name
        and the resolutions of their pendings), then the writes (the journal rows, the
        totals and the head in one statement, the companions' rows, and COMMIT too with
        ``commit``). The same
        locks in the same order and the same state as the general path, which used six
        to eight round trips (BEGIN, one a statement, COMMIT) with the head locked the
        whole time. ``None`` (nothing written) when an expiry is due: the general path
        journals it."""
        named = _named_ids(batches)
        account_ids, pending_ids = named.accounts, named.pendings
        wanted = named.transfers | pending_ids
        raw = cast("psycopg.Connection[tuple[Any, ...]]", conn.connection.driver_connection)
        statement = _PG_HEAD
        try:
            with raw.pipeline():
                head_cur = raw.cursor()
                head_cur.execute(_PG_HEAD, prepare=True)
                statement = _PG_ACCOUNTS
                accounts_cur = raw.cursor()
                accounts_cur.execute(_PG_ACCOUNTS, (sorted(account_ids),), prepare=True)
                statement = _PG_TRANSFERS
                transfers_cur = raw.cursor()
                transfers_cur.execute(_PG_TRANSFERS, (sorted(wanted),), prepare=True)
                resolutions_cur = None
                if pending_ids:
                    statement = _PG_RESOLUTIONS
                    resolutions_cur = raw.cursor()
                    resolutions_cur.execute(_PG_RESOLUTIONS, (sorted(pending_ids),),
                                            prepare=True)
            head_row = head_cur.fetchone()
            accounts = {r[0]: _account_from_tuple(r) for r in accounts_cur.fetchall()}
            transfers = {r[1]: _transfer_from_tuple(r) for r in transfers_cur.fetchall()}
            resolutions = ({} if resolutions_cur is None else
                           {r[8]: _transfer_from_tuple(r) for r in resolutions_cur.fetchall()})
        except psycopg.Error as exc:
            raise _driver_error(conn, exc, statement) from exc
        if head_row is None:
            raise RuntimeError("ledger_head is missing: run the database migrations")
        start = ChainHead(*head_row)
        now_ns = max(_ns(now), start.expired_through)
        if start.next_expiry is not None and start.next_expiry <= now_ns:
            return None
        state = LedgerState(accounts=accounts, transfers=transfers, resolutions=resolutions,
                            last_timestamp=start.last_timestamp)
        plan = _plan(state, start, batches, now_ns)
        results = [list(outcome.results) for outcome in plan.outcomes]
        extra = [_pg_companion_insert(conn, table, rows)
                 for table, rows in _companion_rows(companions, results).items()]
        if plan.rows or extra or commit:
            try:
                with raw.pipeline():
                    if plan.rows:
                        h = plan.head
                        columns = [list(column) for column in zip(*plan.rows, strict=True)]
                        totals = [[a.id for a in plan.changed],
                                  [a.debits_pending for a in plan.changed],
                                  [a.debits_posted for a in plan.changed],
                                  [a.credits_pending for a in plan.changed],
                                  [a.credits_posted for a in plan.changed]]
                        statement = _PG_WRITE
                        raw.cursor().execute(_PG_WRITE, (
                            *columns, *totals, h.last_hash, h.transfer_count,
                            h.last_timestamp, h.expired_through, h.next_expiry), prepare=True)
                    for statement, params in extra:
                        raw.cursor().execute(statement, params, prepare=True)
                    if commit:  # queued as a statement: the pipeline's one sync
                        statement = "COMMIT"  # waits for it (connection.commit() syncs
                        raw.cursor().execute("COMMIT")  # once more)
            except psycopg.Error as exc:
                raise _driver_error(conn, exc, statement) from exc
        return results

    def _write_head(self, conn: Connection, head: ChainHead) -> None:
        conn.execute(update(ledger_head).where(_H.id == HEAD_ID).values(
            last_hash=head.last_hash, transfer_count=head.transfer_count,
            last_timestamp=head.last_timestamp, expired_through=head.expired_through,
            next_expiry=head.next_expiry))

    # -- expiry ----------------------------------------------------------------------

    def _expire(self, conn: Connection, head: ChainHead, now_ns: int) -> ChainHead:
        """Journal a void for every pending whose timeout ran out by ``now_ns``; returns
        the new head (not yet written). Looks only when ``next_expiry`` says one may be
        due, so batches pay nothing while no timeout is near."""
        if head.next_expiry is None or head.next_expiry > now_ns:
            return head
        params = {"through": head.expired_through, "now": now_ns}
        voids = [expiry_void(_transfer_from_row(row)) for row in conn.execute(_EXPIRED, params)]
        if voids:
            outcomes, head = self._apply_and_write(conn, head, [voids], now_ns)
            refused = [r for r in outcomes[0].results if not r.ok]
            if refused:  # cannot happen unless the journal was altered
                raise RuntimeError(f"expiry refused: {refused[:3]}")
        next_expiry = conn.execute(_NEXT_EXPIRY, {"now": now_ns}).scalar_one_or_none()
        return replace(head, expired_through=now_ns, next_expiry=next_expiry)

    def expire_pending(self, conn: Connection, now: int | datetime | None = None) -> int:
        """Release every pending transfer expired by ``now``; returns how many.
        Idempotent: a second call finds nothing more to expire."""
        start = self._lock_head(conn)
        head = self._expire(conn, start, max(_ns(now), start.expired_through))
        if head != start:
            self._write_head(conn, head)
        return head.transfer_count - start.transfer_count

    # -- reading the journal -----------------------------------------------------------

    def get_head(self, conn: Connection) -> ChainHead | None:
        row = conn.execute(_HEAD).one_or_none()
        return None if row is None else _head_from_row(row)

    def get_transfer(self, conn: Connection, transfer_id: str) -> Transfer | None:
        try:
            transfer_id = normalize_uuid(transfer_id)
        except ValueError:
            return None
        row = conn.execute(select(ledger_transfers).where(_T.id == transfer_id)).one_or_none()
        return None if row is None else _transfer_from_row(row)

    def get_resolution(self, conn: Connection, pending_id: str) -> Transfer | None:
        """The post or void (or expiry) that resolved ``pending_id``, if any."""
        row = conn.execute(
            select(ledger_transfers).where(_T.pending_id == pending_id)).one_or_none()
        return None if row is None else _transfer_from_row(row)

    def list_transfers(self, conn: Connection, account_id: str | None = None, limit: int = 50,
                       cursor: str | None = None) -> tuple[list[Transfer], str | None]:
        """Transfers oldest first (optionally those touching ``account_id``) and an opaque
        cursor for the next page (``None`` on the last page)."""
        _check_limit(limit)
        query = select(ledger_transfers)
        if account_id is not None:
            query = query.where(or_(_T.debit_account_id == account_id,
                                    _T.credit_account_id == account_id))
        if cursor is not None:
            parts = decode_cursor(cursor, "t")
            if len(parts) != 1:
                raise ValueError("invalid cursor")
            query = query.where(_T.seq > cursor_int(parts[0]))
        rows = conn.execute(query.order_by(_T.seq).limit(limit + 1)).all()
        items = [_transfer_from_row(r) for r in rows[:limit]]
        next_cursor = encode_cursor("t", rows[limit - 1].seq) if len(rows) > limit else None
        return items, next_cursor

    def journal_entries(self, conn: Connection, first_day: date, last_day: date,
                        page: int = 2_000) -> Iterator[JournalEntry]:
        """The transfers whose value date (without one: the UTC day they were recorded)
        falls in ``first_day``..``last_day``, in chain order, read ``page`` rows at a time.

        The journal report's read: the period is filtered by the database, and rows come
        as plain tuples of the stored (already validated) values, without building a
        checked ``Transfer`` for each (at 46,000 transfers that took over a second)."""
        start = _day_ns(first_day)
        end = _day_ns(last_day) + 86_400 * 1_000_000_000
        in_period = or_(_T.value_date.between(first_day, last_day),
                        and_(_T.value_date.is_(None), _T.timestamp >= start,
                             _T.timestamp < end))
        query = select(_T.seq, *(getattr(_T, f) for f in JournalEntry._fields)
                       ).where(in_period).order_by(_T.seq).limit(page)
        after = -1
        while True:
            rows = conn.execute(query.where(_T.seq > after)).all()
            for r in rows:
                yield JournalEntry(*r[1:])
            if len(rows) < page:
                return
            after = rows[-1].seq

    def find_transfers(self, conn: Connection, *, user_data: str | None = None,
                       operation_id: str | None = None) -> list[Transfer]:
        """Every transfer with this ``user_data`` and/or ``operation_id``, oldest first
        (how instruments rebuild their state from the journal)."""
        if user_data is None and operation_id is None:
            raise ValueError("give user_data or operation_id")
        query = select(ledger_transfers)
        if user_data is not None:
            query = query.where(_T.user_data == user_data)
        if operation_id is not None:
            query = query.where(_T.operation_id == operation_id)
        return [_transfer_from_row(r) for r in conn.execute(query.order_by(_T.seq))]

    def find_entries(self, conn: Connection, *, user_data: str) -> list[JournalEntry]:
        """``find_transfers`` by ``user_data`` as the journal's plain tuples of the stored
        (already validated) values, oldest first: what a loan's booking sums on every
        payment, without building a checked ``Transfer`` for each of its rows."""
        query = select(*(getattr(_T, f) for f in JournalEntry._fields)
                       ).where(_T.user_data == user_data).order_by(_T.seq)
        return [JournalEntry(*r) for r in conn.execute(query)]

    def net_by_value_date(self, conn: Connection, account_id: str) -> dict[date | None, int]:
        """The account's posted movements (credits - debits) summed per value date
        (``None``: transfers without one); pending and voided reservations are left out.
        What a check of the account's balance on every past day reads."""
        totals: dict[date | None, int] = defaultdict(int)
        rows = conn.execute(select(_T.value_date, _T.debit_account_id, _T.amount, _T.flags)
                            .where(or_(_T.debit_account_id == account_id,
                                       _T.credit_account_id == account_id)))
        for row in rows:
            flags = transfer_flags_from_bits(row.flags)
            if TransferFlag.PENDING in flags or TransferFlag.VOID_PENDING in flags:
                continue
            sign = -1 if row.debit_account_id == account_id else 1
            totals[row.value_date] += sign * int(row.amount)
        return dict(totals)

    # -- verification ------------------------------------------------------------------

    def verify(self, conn: Connection, *, expect: JournalHead | None = None,
               watch: Iterable[int] = ()) -> VerifyReport:
        """Recompute the chain and every account's totals from the journal; with
        ``expect``, also whether the journal holds that head at its position (not ok if
        not); ``watch``: positions whose stored hashes the report keeps (``hashes_at``,
        what ``ledger.checkpoints.check_checkpoints`` takes).

        On PostgreSQL it holds the head lock in share mode while it reads, so the
        accounts and the journal it compares are one consistent state (writers wait);
        on SQLite a transaction already reads one snapshot.
        """
        try:
            head: ChainHead | None = self._lock_head(conn, share=True)
        except RuntimeError:
            head = None
        accounts = [_account_from_row(r) for r in conn.execute(select(ledger_accounts))]
        verifier = JournalVerifier(accounts, expect=expect, watch=watch)
        rows = conn.execution_options(yield_per=5000).execute(
            select(ledger_transfers).order_by(_T.seq))
        for row in rows:
            try:
                transfer = _transfer_from_row(row)
            except ValueError as exc:
                verifier.feed_malformed(row.seq, str(row.id), str(row.hash), str(exc))
                continue
            verifier.feed(row.seq, transfer, row.hash)
        return verifier.finish(head)

    # -- convenience: own transaction, bounded retries -----------------------------------

    def submit_batch(self, transfers: Sequence[Transfer],
                     now: int | datetime | None = None,
                     companion: Companion | None = None) -> list[TransferResult]:
        """``submit`` in a transaction of its own, retried on lock, deadlock or
        serialization errors; ``LedgerConflict`` when they persist. ``companion``: a row
        committed with the batch (``Companion``)."""
        return self.submit_many_batch([transfers], now, [companion])[0]

    def submit_many_batch(self, batches: Sequence[Sequence[Transfer]],
                          now: int | datetime | None = None, companions: _Companions = (),
                          ) -> list[list[TransferResult]]:
        """``submit_many`` in a transaction of its own, retried as ``submit_batch`` (on
        PostgreSQL COMMIT goes with the writes, in their round trip); on the thread's
        held connection inside ``holding_connection``."""
        return self._retrying(lambda conn: self.submit_many(
            conn.execution_options(**{_OWN_TRANSACTION: True}), batches, now, companions),
            held=True)

    @contextmanager
    def holding_connection(self) -> Iterator[None]:
        """While inside, this thread's ``submit_many_batch`` transactions run on one
        connection kept between them (the group-commit writer's), instead of taking one
        from the pool each time, which on PostgreSQL pings it first: a round trip of a
        group's three. A connection unused for ``HELD_IDLE_SECONDS`` goes back to the
        pool and the next transaction takes one afresh (pinged), so one broken while
        the ledger was idle (a restarted server) is still found before use; one that
        fails a transaction is given back (discarded by the pool when broken)."""
        held = _Held(self.engine)
        self._local.held = held
        try:
            yield
        finally:
            self._local.held = None
            held.release()

    def create_accounts_batch(self, specs: Sequence[Account]) -> list[AccountResult]:
        return self._retrying(lambda conn: self.create_accounts(conn, specs))

    def _retrying(self, work: Callable[[Connection], _R], *, held: bool = False) -> _R:
        kept: _Held | None = getattr(self._local, "held", None) if held else None
        last: DBAPIError | None = None
        for attempt in range(self.retries):
            try:
                if kept is None:
                    with self.engine.begin() as conn:
                        return work(conn)
                return kept.run(work)
            except DBAPIError as exc:
                if not _is_retryable(exc):
                    raise
                last = exc
                time.sleep(min(0.2, 0.002 * 2**attempt) * random.random())
        raise LedgerConflict(f"ledger busy after {self.retries} attempts: {last}") from last


# How long a held connection may sit unused before it goes back to the pool.
HELD_IDLE_SECONDS = 1.0


class _Held:
    """A connection one thread keeps between its transactions (``holding_connection``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection | None = None
        self.used = 0.0

    def run(self, work: Callable[[Connection], _R]) -> _R:
        if self.conn is not None and time.monotonic() - self.used > HELD_IDLE_SECONDS:
            self.release()
        if self.conn is None:
            self.conn = self.engine.connect()
        conn = self.conn
        try:
            with conn.begin():
                result = work(conn)
        except BaseException:
            self.release()  # broken or not, the next transaction takes one afresh
            raise
        self.used = time.monotonic()
        return result

    def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    value_date = row[11]
    if value_date is None:
        return row
    # What SQLAlchemy's Date type stores on SQLite, done here as the driver gets raw rows.
    return (*row[:11], value_date.isoformat(), *row[12:])


def genesis_head_row() -> dict[str, Any]:
    """The head row a new ledger starts from (the migration inserts it)."""
    return {"id": HEAD_ID, "last_hash": GENESIS_HASH, "transfer_count": 0,
            "last_timestamp": 0, "expired_through": 0, "next_expiry": None}


def head_count(conn: Connection) -> int:
    """Rows in the journal (for tests and tools)."""
    return int(conn.execute(select(func.count()).select_from(ledger_transfers)).scalar_one())
