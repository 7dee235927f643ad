"""What a use case tells its entry point for the audit entry of the request it serves:
the actor of a login, and that a command was a replay (not listed again)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class AuditNote:
    """What a request's use case tells its entry point for the audit entry."""

    replayed: bool = False
    actor: str | None = None
    ids: list[str] = field(default_factory=list)


audit_note: ContextVar[AuditNote | None] = ContextVar("audit_note", default=None)
# The request id answered as X-Request-ID (set by the HTTP entry point, logged, audited).
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def note_replay() -> None:
    note = audit_note.get()
    if note is not None:
        note.replayed = True


def note_actor(username: str) -> None:
    note = audit_note.get()
    if note is not None:
        note.actor = username


def note_id(value: str) -> None:
    """An id the operation created or changed (the audit entry lists it)."""
    note = audit_note.get()
    if note is not None:
        note.ids.append(value)
