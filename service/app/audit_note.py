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
    # What an edit changed, as stored (field -> new value); {} when it changed nothing
    # (then nothing is recorded); None when the use case did not say.
    changes: dict[str, object] | None = None
    # The use case committed the request's entry itself, with the operation (raw
    # transfers, in the ledger's group transaction): the entry point writes none.
    recorded: bool = False

    @property
    def changed_nothing(self) -> bool:
        return self.changes is not None and not self.changes


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


def note_changes(changes: dict[str, object]) -> None:
    """What an edit changed, as stored: the audit entry lists it, and an edit that
    changed nothing is not recorded at all (API.md: "records nothing")."""
    note = audit_note.get()
    if note is not None:
        note.changes = dict(changes)


def note_recorded() -> None:
    """The request's entry was committed with the operation (``AuditNote.recorded``)."""
    note = audit_note.get()
    if note is not None:
        note.recorded = True


def note_made(ids: list[str]) -> None:
    """Every id the operation created or changed, replacing what an earlier attempt of
    the same request said (a transaction retried after a conflict makes new ones)."""
    note = audit_note.get()
    if note is not None:
        note.ids = list(dict.fromkeys(ids))
