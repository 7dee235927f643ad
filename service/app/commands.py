"""The one way a command runs, whichever entry point (HTTP API, web page, CLI) asks.

A command is one write transaction, retried a bounded number of times on a database
conflict. Inside it, ``before`` runs first (visibility and role: a 404 or 403 comes
before any replay, so a stranger learns nothing from a client id), then ``run`` at most
once per client id: a repeat with the same body answers exactly as the first time, the
same id with another body is 409 ``idempotency_conflict``, and a refused command (any
error) leaves no trace, so it may be sent again with the same id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

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
            *, returns: type[R]) -> tuple[int, R]:
    """``(status, answer)`` of the command named ``operation`` (e.g. ``POST
    /api/loans/{id}/repayments``) with body ``data`` (its ``id`` is the client id).

    ``before(conn)`` checks who may act and returns what ``run`` works on (a locked row,
    say); ``run(conn, that)`` does the work. A replay answers the remembered answer,
    converted to ``returns``."""
    key = getattr(data, "id", None)

    def transaction(conn: Connection) -> tuple[int, R]:
        target = before(conn)
        status, answer = once(conn, key, operation, data, principal.username,
                              lambda: run(conn, target))
        return status, _as(returns, answer)

    return ctx.write(transaction)


def _as(returns: type[R], answer: object) -> R:
    """``answer`` as a ``returns``: itself when ``run`` made it now, converted from the
    remembered JSON on a replay."""
    if isinstance(answer, returns):
        return answer
    try:
        return msgspec.convert(answer, returns)
    except msgspec.ValidationError:
        # An answer remembered before a field was added (a migration: 0011 added loans'
        # and repayments' ``reference``) does not convert: it is answered as it was the
        # first time, as a replay promises (tests/api/test_references.py). It is then the
        # stored JSON builtins and not an R, which the cast knowingly hides: the API
        # encodes it back to JSON as it would an R, answering the same bytes (code that
        # reads the answer's fields, as the web pages do, would not find them there).
        return cast(R, answer)
