"""Client-chosen ids: a repeat with the same body answers as the first time.

Only operations that succeeded are remembered: the record is written in the same
transaction as the operation, so a refused (rolled back) one leaves no trace.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable

import msgspec
from sqlalchemy import Connection, insert, select

from service.app.audit_note import note_replay
from service.app.common import now_utc
from service.app.errors import Conflict
from service.db.tables import idempotency


def _key(key: str) -> str:
    """The id as stored: a UUID in its canonical lower-case form, so the same id in
    capitals is still the same id (resources are stored under that form too)."""
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return key


def request_hash(operation: str, payload: object) -> str:
    body = msgspec.to_builtins(payload)
    if isinstance(body, dict) and isinstance(body.get("id"), str):
        body["id"] = _key(body["id"])  # the key itself: its spelling is not the body
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{operation}\n{canonical}".encode()).hexdigest()


class Replay(Exception):
    """Raised inside a transaction to answer with a remembered response."""

    def __init__(self, status: int, body: object) -> None:
        super().__init__("replay")
        self.status = status
        self.body = body


def remembered(conn: Connection, key: str | None, operation: str, payload: object
               ) -> tuple[int, object] | None:
    """The stored answer for ``key``, None when new; 409 when reused with another body.

    The answer is the JSON stored with the key, as builtins: the caller converts it to the
    operation's answer type (``commands.command``)."""
    if key is None:
        return None
    row = conn.execute(select(idempotency).where(idempotency.c.id == _key(key))).first()
    if row is None:
        return None
    if row.operation != operation or row.request_hash != request_hash(operation, payload):
        raise Conflict("idempotency_conflict",
                       f"id {key} was already used for a different request")
    return row.status_code, json.loads(row.response)


def remember(conn: Connection, key: str | None, operation: str, payload: object,
             status: int, body: object, username: str | None) -> None:
    if key is None:
        return
    conn.execute(insert(idempotency).values(
        id=_key(key), operation=operation, request_hash=request_hash(operation, payload),
        status_code=status, response=msgspec.json.encode(body).decode(), username=username,
        created_at=now_utc()))


def once(conn: Connection, key: str | None, operation: str, payload: object,
         username: str | None, action: Callable[[], tuple[int, object]]
         ) -> tuple[int, object]:
    """Run ``action`` at most once per ``key``; answer repeats from the record (as JSON
    builtins, which the caller converts: ``commands.command``)."""
    previous = remembered(conn, key, operation, payload)
    if previous is not None:
        note_replay()  # the audit log lists an operation once
        return previous
    status, body = action()
    remember(conn, key, operation, payload, status, body, username)
    return status, body
