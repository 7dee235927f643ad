"""The one way a command runs, whichever entry point (HTTP API, web page, CLI) asks.

A command is one write transaction, retried a bounded number of times on a database
conflict. Inside it, ``before`` runs first (visibility and role: a 404 or 403 comes
before any replay, so a stranger learns nothing from a client id), then ``run`` at most
once per client id: a repeat with the same body answers exactly as the first time, the
same id with another body is 409 ``idempotency_conflict``, and a refused command (any
error) leaves no trace, so it may be sent again with the same id.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

import msgspec
from sqlalchemy import Connection

from service.app.auth import Principal
from service.app.context import AppContext
from service.app.idempotency import once

P = TypeVar("P")
R = TypeVar("R")


def _nothing(conn: Connection) -> None:
    return None


def command(ctx: AppContext, principal: Principal, operation: str, data: object,
            run: Callable[[Connection, P], tuple[int, R]],
            before: Callable[[Connection], P] = _nothing,  # type: ignore[assignment]
            *, returns: type[R] | None = None) -> tuple[int, R]:
    """``(status, answer)`` of the command named ``operation`` (e.g. ``POST
    /api/loans/{id}/repayments``) with body ``data`` (its ``id`` is the client id).

    ``before(conn)`` checks who may act and returns what ``run`` works on (a locked row,
    say); ``run(conn, that)`` does the work. A replay answers the remembered answer,
    converted to ``returns`` when given (else the JSON builtins)."""
    key = getattr(data, "id", None)

    def transaction(conn: Connection) -> tuple[int, R]:
        target = before(conn)
        status, answer = once(conn, key, operation, data, principal.username,
                              lambda: run(conn, target))
        if returns is not None and not isinstance(answer, returns):
            # An answer remembered before a field was added (a migration) does not
            # convert: it is answered as it was the first time, as a replay promises.
            with contextlib.suppress(msgspec.ValidationError):
                answer = msgspec.convert(answer, returns)
        return status, answer

    return ctx.write(transaction)
