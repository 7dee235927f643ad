"""The audit log: every change of state (from the API, the pages or the CLI), every
login, failed login and logout, and every refusal for lack of rights (403).

Entry points write entries (they know the channel, the route and the outcome); the use
cases only say what an entry needs and they alone know: the actor of a login, and that
a command was a replay of an idempotent operation (not listed again). They say it on
the request's ``AuditNote``, which the entry point sets in a context variable.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import anyio.to_thread
import msgspec
from sqlalchemy import select

from service.app.audit_note import AuditNote, audit_note, note_actor, note_replay
from service.app.audit_writer import AuditEntry, AuditWriter, write_entry
from service.app.auth import Principal
from service.app.clock import timezone
from service.app.common import paginate
from service.app.context import AppContext
from service.app.errors import Errors, Forbidden
from service.app.types import Timestamp
from service.db.records import Record
from service.db.tables import audit_log

CHANNELS = ("api", "web", "cli")
# Sub-collections whose items are resources of their own (a repayment, a delivery ...).
SUB_RESOURCES = frozenset({"repayments", "deliveries", "payouts", "deposits",
                           "guarantee-calls", "interests", "match-rule", "pledge-capacity",
                           "categories", "assessment", "terms", "transitions", "funding"})
_PARAM = re.compile(r"\{[^}]+\}")
__all__ = [
    "AuditEntry",
    "AuditNote",
    "AuditWriter",
    "audit_note",
    "list_audit",
    "note_actor",
    "note_replay",
    "record",
    "write_entry",
]


def record(ctx: AppContext, entry: AuditEntry) -> None:
    """One entry in its own transaction (the operation's own has already ended)."""
    ctx.write(lambda conn: write_entry(conn, entry))


class AuditItem(msgspec.Struct):
    at: Timestamp
    actor: str | None
    channel: str
    operation: str
    kind: str
    ids: list[str]
    changes: Any  # whatever JSON the entry stored
    outcome: int
    http_request_id: str | None


class AuditPage(msgspec.Struct):
    items: list[AuditItem]
    next_cursor: str | None


def _bound(value: str | None, name: str, errors: Errors, *, end: bool) -> datetime | None:
    """A date (the whole day, in the service's time zone) or an ISO timestamp."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime.combine(day, time(), timezone())
            return (start + timedelta(days=1) if end else start).astimezone(UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone())).astimezone(UTC)
    except ValueError:
        errors.add(name, "a date YYYY-MM-DD or a timestamp such as 2026-12-06T10:00:00Z")
        return None


def _item(row: Record) -> AuditItem:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return AuditItem(at=at, actor=row.actor, channel=row.channel, operation=row.operation,
                     kind=row.kind, ids=json.loads(row.ids),
                     changes=None if row.changes is None else json.loads(row.changes),
                     outcome=row.outcome, http_request_id=row.http_request_id)


def list_audit(ctx: AppContext, principal: Principal, actor: str | None, from_: str | None,
               to: str | None, kind: str | None, limit: int | None,
               cursor: str | None) -> AuditPage:
    """The audit log, oldest first (admins only)."""
    if principal.role != "admin":
        raise Forbidden("only an admin reads the audit log")
    errors = Errors()
    start = _bound(from_, "from", errors, end=False)
    end = _bound(to, "to", errors, end=True)
    errors.raise_if_any()
    query = select(audit_log)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if kind is not None:
        query = query.where(audit_log.c.kind == kind)
    if start is not None:
        query = query.where(audit_log.c.at >= start)
    if end is not None:
        # A date bound takes its whole day; a timestamp bound is inclusive.
        query = query.where(audit_log.c.at < end if to is not None and len(to) == 10
                            else audit_log.c.at <= end)
    rows, next_cursor = ctx.read(lambda conn: paginate(conn, query, audit_log.c.seq, limit,
                                                       cursor))
    return AuditPage([_item(r) for r in rows], next_cursor)


def operation_of(method: str, template: str) -> str:
    """``POST /api/loans/{id}/repayments``: the route as API.md writes it (the first
    parameter is the resource's ``{id}``)."""
    first = True

    def name(match: re.Match[str]) -> str:
        nonlocal first
        if first:
            first = False
            return "{id}"
        return "{" + match.group(0)[1:-1].split(":")[0] + "}"

    return f"{method} {_PARAM.sub(name, template)}"


def kind_of(template: str) -> str:
    parts = [p for p in template.split("/")[2:] if p and not p.startswith("{")]
    if not parts:
        return "api"
    if parts[0] == "me":
        return "users"
    for part in reversed(parts[1:]):
        if part in SUB_RESOURCES:
            return part
    return parts[0]


async def record_entry(ctx: AppContext, entry: AuditEntry) -> None:
    if ctx.audit is not None:
        await asyncio.wrap_future(ctx.audit.submit(entry))
    else:  # no writer running (a bare test app): one transaction of its own
        await anyio.to_thread.run_sync(record, ctx, entry)
