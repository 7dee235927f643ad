"""The API's door to the audit log: an entry for every change of state, login, failed
login, logout and 403; ``GET /api/audit`` for admins."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Annotated

import msgspec
from litestar import get
from litestar.params import FromQuery, QueryParameter
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from service.app.audit import (
    AuditEntry,
    AuditNote,
    AuditPage,
    audit_note,
    kind_of,
    list_audit,
    operation_of,
    record_entry,
)
from service.app.audit_note import request_id_var
from service.app.context import AppContext
from service.http.params import Ctx, Limit, User, responses

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# POSTs that compute and change nothing.
READ_ONLY = frozenset({"/api/loans/simulate", "/api/matching/plan"})
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                   r"[0-9a-fA-F]{12}$")
MAX_KEPT = 64 * 1024
LOGINS = frozenset({"/api/auth/token", "/accedi"})
log = logging.getLogger("filiera.audit")


class _Named(msgspec.Struct):
    """An object of the answer, read only for its ``id`` (its other fields skipped)."""

    id: object = None


_ANSWER = msgspec.json.Decoder(dict[str, msgspec.Raw])
_NAMED = msgspec.json.Decoder(_Named)


def _ids(path_params: Mapping[str, object], body: bytes) -> list[str]:
    """The ids in the path, the answer's ``id`` and ``call_id``, and the ``id`` of each
    object at its top level but the loan. Only those are decoded: a repayment's answer
    holds its loan's whole schedule, which decoding whole cost more than the audit."""
    ids = [str(v) for v in path_params.values() if isinstance(v, str) and _UUID.match(v)]
    try:
        answer = _ANSWER.decode(body) if body else None
    except ValueError:  # not JSON, or not an object (msgspec.DecodeError is one)
        answer = None
    if answer is None:
        return ids
    own = msgspec.json.decode(answer["id"]) if "id" in answer else None
    if isinstance(own, str):
        ids.append(own)
    for key, raw in answer.items():
        if key == "loan":
            continue
        first = memoryview(raw)[:1].tobytes()
        if first == b"{":
            named = _NAMED.decode(raw).id
            if isinstance(named, str):
                ids.append(named)
        elif key == "call_id" and first == b'"':
            ids.append(msgspec.json.decode(raw))
    return ids


def audited_request(method: str, template: str, status: int, note: AuditNote) -> bool:
    """Changes of state (not a refused one, not a replay), every login attempt, every
    403."""
    if status == 403 or template in LOGINS:
        return True
    return (method in WRITES and status < 400 and template not in READ_ONLY
            and not note.replayed and not note.changed_nothing)


def audit_middleware(app: ASGIApp) -> ASGIApp:
    """Record the audit entry of each API request that changes state, logs in or out, or
    is refused for lack of rights; the answer goes out once its entry is committed."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/"):  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        method = str(scope.get("method", "GET"))
        note = AuditNote()
        token = audit_note.set(note)
        changes: list[bytes] = []
        kept = 0

        async def receive_kept() -> ReceiveMessage:
            nonlocal kept
            message = await receive()
            if method in ("PUT", "PATCH") and message["type"] == "http.request":
                chunk = message.get("body", b"")
                if kept + len(chunk) <= MAX_KEPT:
                    changes.append(chunk)
                kept += len(chunk)
            return message

        held: list[Message] = []
        status = 0
        audited = False

        async def send_after_audit(message: Message) -> None:
            nonlocal status, audited
            if message["type"] == "http.response.start":
                status = message["status"]
                template = scope.get("path_template") or path
                # An entry the use case committed with its operation is not written again.
                audited = audited_request(method, template, status, note) and not note.recorded
                if not audited:
                    await send(message)
                    return
                held.append(message)
                return
            if not audited:
                await send(message)
                return
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                try:
                    await _write(scope, method, status, note, changes, held)
                except Exception:
                    # The operation has committed: its own answer goes out (an error now
                    # would be a plain-text 500 and a retry would only replay it). The
                    # failure is logged with who did what, for the operator to add it.
                    log.exception("audit entry not written for %s %s (outcome %s, actor "
                                  "%s, request id %s)", method, path, status,
                                  _actor(scope, note), request_id_var.get())
                for item in held:
                    await send(item)
                held.clear()

        try:
            await app(scope, receive_kept, send_after_audit)
        finally:
            audit_note.reset(token)

    return middleware


async def _write(scope: Scope, method: str, status: int, note: AuditNote,
                 changes: list[bytes], held: list[Message]) -> None:
    ctx: AppContext = scope["app"].state.ctx
    body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
    await record_entry(ctx, _entry(scope, method, status, note, changes, body))


def entry_before_answer(scope: Scope, status: int) -> AuditEntry:
    """The entry ``audit_middleware`` would write for this request answered ``status``,
    made before the answer: for a handler whose answer names no id (its body is not
    read) and whose use case commits the entry with its operation, adding the ids it
    made (raw transfers: ``service.app.ledger.submit_transfers``)."""
    note = audit_note.get() or AuditNote()
    return _entry(scope, str(scope.get("method", "GET")), status, note, [], b"")


def _entry(scope: Scope, method: str, status: int, note: AuditNote, changes: list[bytes],
           body: bytes) -> AuditEntry:
    template = scope.get("path_template") or scope.get("path", "")
    actor = _actor(scope, note)
    patch: object = note.changes  # what the edit changed, as stored, where the use case says
    if patch is None and changes:
        try:
            patch = json.loads(b"".join(changes))
        except ValueError:
            patch = None
    ids = _ids(scope.get("path_params") or {}, body if status < 400 else b"")
    for made in note.ids:  # what the use case named itself
        if made not in ids:
            ids.append(made)
    return AuditEntry(
        actor=actor, channel="api", operation=operation_of(method, template),
        kind=kind_of(template), ids=ids,
        outcome=status, changes=_redacted(patch),
        http_request_id=request_id_var.get())


def _actor(scope: Scope, note: AuditNote) -> str | None:
    state = scope.get("state") or {}
    principal = state.get("principal")
    return note.actor or (principal.username if principal is not None else None)


def _redacted(value: object) -> object:
    if isinstance(value, dict):
        return {k: "[redacted]" if "password" in k.lower() else _redacted(v)
                for k, v in value.items()}
    return value


@get("/api/audit", sync_to_thread=True, tags=["audit"], responses=responses(403, 422))
def audit(ctx: Ctx, principal: User, actor: FromQuery[str | None] = None,
          from_: Annotated[str | None, QueryParameter(name="from")] = None,
          to: FromQuery[str | None] = None,
          kind: FromQuery[str | None] = None, limit: Limit = None,
          cursor: FromQuery[str | None] = None) -> AuditPage:
    """The audit log, oldest first (admins only): who changed what, through which door."""
    return list_audit(ctx, principal, actor, from_, to, kind, limit, cursor)
