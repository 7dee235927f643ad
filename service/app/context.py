"""What a running app holds: settings, the engine, the ledger store and writer, the login
limiter and the event table; and the two ways to use the database (``read``, ``write``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from ledger.group_commit import GroupCommitWriter
from ledger.store import LedgerStore, is_unavailable
from service.app.audit_writer import AuditWriter
from service.app.checkpoints import CheckpointWriter
from service.app.errors import Conflict, Unavailable, refuse_bad_body
from service.app.events import Events
from service.app.expiry import PendingExpiry
from service.app.live_sessions import LiveSessions
from service.app.login_limits import LoginLimiter
from service.app.raw_accounts import RawAccounts
from service.db.engine import read_tx, write_tx
from service.settings import Settings

T = TypeVar("T")
log = logging.getLogger("filiera.db")

# SQLSTATEs worth a retry: serialization failure, deadlock, unique race on a client id.
_RETRY_STATES = {"40001", "40P01", "23505"}


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    limiter: LoginLimiter
    events: Events
    store: LedgerStore
    # The group-commit writer runs while the app serves (started by the composition root).
    writer: GroupCommitWriter | None = None
    expiry: PendingExpiry | None = None
    checkpoints: CheckpointWriter | None = None
    raw_accounts: RawAccounts = field(default_factory=RawAccounts)
    live_sessions: LiveSessions | None = None  # the guard's, made on first use
    audit: AuditWriter | None = None

    def write(self, fn: Callable[[Connection], T], retries: int = 3) -> T:
        """Run ``fn`` in one write transaction; retry a bounded number of times on a
        database conflict, then answer 409 (never a misleading business error)."""
        refuse_bad_body()  # nothing is written from a body with fields of the wrong type
        for attempt in range(retries + 1):
            try:
                with write_tx(self.engine) as conn:
                    return fn(conn)
            except DBAPIError as exc:
                if is_unavailable(exc):  # not tried again here: the client resends
                    raise Unavailable() from exc
                if not isinstance(exc, OperationalError | IntegrityError):
                    raise  # a bug, not the database's state
                if attempt == retries or not _retryable(exc):
                    if isinstance(exc, IntegrityError):
                        raise Conflict("idempotency_conflict",
                                       "a resource with this id already exists") from exc
                    raise Conflict("conflict", "the database was busy; try again") from exc
                log.info("retrying after database conflict (attempt %d): %s", attempt + 1,
                         exc.orig)
        raise AssertionError("unreachable")

    def read(self, fn: Callable[[Connection], T]) -> T:
        refuse_bad_body()  # a 422 comes before anything is looked up
        try:
            with read_tx(self.engine) as conn:
                return fn(conn)
        except DBAPIError as exc:
            if is_unavailable(exc):
                raise Unavailable() from exc
            raise


def _retryable(exc: DBAPIError) -> bool:
    """PostgreSQL's concurrency refusals and a unique race on SQLite. Not SQLite's
    "database is locked": BEGIN IMMEDIATE has already waited the busy timeout for it
    (``is_unavailable``, a 503)."""
    state = getattr(exc.orig, "sqlstate", None)
    if state is not None:
        return state in _RETRY_STATES
    return "unique constraint" in str(exc.orig).lower()
