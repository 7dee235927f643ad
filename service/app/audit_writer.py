"""Audit entries and their writer (see ``service.app.audit``)."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from ledger.store import Companion
from ledger.transfers import TransferResult, TransferResultCode
from service.db.engine import write_tx
from service.db.tables import audit_log

log = logging.getLogger("filiera.audit")
# Seconds between the tries of one batch (a dropped connection is replaced at once).
RETRY_PAUSES = (0.05, 0.2, 1.0)


@dataclass(frozen=True)
class AuditEntry:
    actor: str | None
    channel: str
    operation: str
    kind: str
    ids: list[str]
    outcome: int
    changes: object = None  # stored as JSON
    http_request_id: str | None = None
    # The event's own key, made once with the entry: every try to write it uses it.
    key: str = field(default_factory=lambda: str(uuid.uuid4()))


def write_entry(conn: Connection, entry: AuditEntry, at: datetime | None = None) -> None:
    """The entry, unless one with its key is already there: a try after a commit whose
    acknowledgement was lost (a connection dropped during COMMIT) adds nothing."""
    write_entries(conn, [(entry, at or datetime.now(UTC))])


def write_entries(conn: Connection, entries: list[tuple[AuditEntry, datetime]]) -> None:
    """Entries with the time each happened, as ``write_entry`` writes one, in one
    multi-row INSERT (on PostgreSQL a statement a entry was a round trip each, in the
    transaction every audited request waits for)."""
    if not entries:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(audit_log).on_conflict_do_nothing(
        index_elements=["entry_key"]), [entry_row(entry, at) for entry, at in entries])


def entry_row(entry: AuditEntry, at: datetime) -> dict[str, Any]:
    """The entry as its ``audit_log`` row."""
    return {"at": at, "actor": entry.actor, "channel": entry.channel,
            "operation": entry.operation[:200], "kind": entry.kind[:64],
            "ids": json.dumps(list(dict.fromkeys(entry.ids))),
            "changes": None if entry.changes is None else json.dumps(entry.changes,
                                                                     default=str),
            "outcome": entry.outcome, "http_request_id": entry.http_request_id,
            "entry_key": entry.key}


def with_transfers(entry: AuditEntry) -> Companion:
    """The entry of a request posting a batch of raw transfers, as a row the ledger's
    group-commit writer commits with the batch (``ledger.store.Companion``): in the same
    transaction, so it exists exactly when the batch's outcome does and the request waits
    for no transaction of the audit writer's. It lists, after ``entry.ids``, the
    transfers the batch created (known once applied) and is timed when written."""

    def row(results: list[TransferResult]) -> dict[str, Any]:
        made = [r.id for r in results if r.result == TransferResultCode.CREATED]
        return entry_row(replace(entry, ids=[*entry.ids, *made]), datetime.now(UTC))

    return Companion(audit_log, row)


class AuditWriter:
    """Writes entries on a thread of its own, many per transaction when requests come
    together (SQLite has one writer: an insert per request would queue behind every
    ledger batch). ``submit`` answers a future that is done once the entry is
    committed, so an entry point can answer after its entry is safely written."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queue: queue.SimpleQueue[tuple[AuditEntry, datetime, Future[None]] | None] = \
            queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self.thread.start()

    def submit(self, entry: AuditEntry) -> Future[None]:
        done: Future[None] = Future()
        self.queue.put((entry, datetime.now(UTC), done))
        return done

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < 500:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self.queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            try:
                self._write(batch)
            except Exception as exc:  # the request already ran: say so, never hang
                log.exception("audit entries not written")
                for _, _, done in batch:
                    done.set_exception(exc)
                continue
            for _, _, done in batch:
                done.set_result(None)

    def _write(self, batch: list[tuple[AuditEntry, datetime, Future[None]]]) -> None:
        """One transaction for the batch, tried again on a fresh connection when the
        database dropped the one in use (a restarted or terminated backend); the
        operations these entries describe have already committed. The failed try may
        have committed too (the connection lost during COMMIT): each entry is written
        only if its key is absent, so a try again never lists an event twice."""
        for attempt in range(len(RETRY_PAUSES) + 1):
            try:
                with write_tx(self.engine) as conn:
                    write_entries(conn, [(entry, at) for entry, at, _ in batch])
                return
            except DBAPIError:
                if attempt == len(RETRY_PAUSES):
                    raise
                log.warning("audit entries not written; trying again", exc_info=True)
                time.sleep(RETRY_PAUSES[attempt])

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(10)
