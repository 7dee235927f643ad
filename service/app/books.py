"""Closed periods: an admin closes the books through a date, and from then on nothing
valued on or before it is recorded or reversed (409 ``period_closed``).

Every command that records or reverses money calls :func:`refuse_closed` inside its
transaction with the operation's value date (a reversal: its original's), after the
target's 404 and 403 and the 422s that compare dates with the target's own. The check
reads the one row (seeded by the migrations, a NULL date until the first close) under a
shared lock, so closing (an UPDATE of that row) waits for operations under way and they
wait for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import msgspec
from sqlalchemy import Connection, select, update

from service.app.auth import Principal
from service.app.clock import today
from service.app.commands import command
from service.app.common import now_utc
from service.app.context import AppContext
from service.app.errors import Conflict, Errors, Forbidden
from service.app.inputs import Input, day
from service.db.tables import books_closed

_ROW = 1


class ClosedThroughIn(msgspec.Struct, forbid_unknown_fields=True):
    date: str


@dataclass(frozen=True, kw_only=True)
class Closing(Input):
    through: date = day("date")

    def check(self, errors: Errors) -> None:
        if self.read_fine("through") and self.through > today():
            errors.add("date", f"after today ({today().isoformat()}): only days that have "
                       "passed can be closed")


class ClosedThroughOut(msgspec.Struct):
    # null while the books have never been closed
    closed_through: str | None


def closed_through(conn: Connection, *, lock: bool = False) -> date | None:
    """The last closed day, or None."""
    query = select(books_closed.c.closed_through).where(books_closed.c.id == _ROW)
    if lock:
        query = query.with_for_update(read=True)
    value: date | None = conn.execute(query).scalar_one_or_none()
    return value


def refuse_closed(conn: Connection, on: date, what: str = "an operation") -> None:
    """409 ``period_closed`` when ``on`` falls in a closed period."""
    through = closed_through(conn, lock=True)
    if through is not None and on <= through:
        raise Conflict("period_closed",
                       f"{what} valued on {on.isoformat()}: the books are closed through "
                       f"{through.isoformat()}")


def read_closed_through(ctx: AppContext, principal: Principal) -> ClosedThroughOut:
    """Officers and admins."""
    principal.require("officer")

    def read(conn: Connection) -> ClosedThroughOut:
        through = closed_through(conn)
        return ClosedThroughOut(through.isoformat() if through else None)

    return ctx.read(read)


def close_books(ctx: AppContext, principal: Principal, data: ClosedThroughIn
                ) -> ClosedThroughOut:
    """Admins only; the date only moves forward and is not after today."""
    on = Closing.read(data).through

    def before(conn: Connection) -> None:
        if principal.role != "admin":
            raise Forbidden("only an admin closes the books")

    def run(conn: Connection, _: None) -> tuple[int, ClosedThroughOut]:
        current = conn.execute(select(books_closed.c.closed_through)
                               .where(books_closed.c.id == _ROW)
                               .with_for_update()).scalar_one_or_none()
        if current is not None and on <= current:
            raise Conflict("period_closed",
                           f"the books are already closed through {current.isoformat()}; "
                           "a closed period only moves forward")
        # An UPDATE of the row the migrations seed (0023), locked above: an operation
        # under way holds it shared (refuse_closed) and the close waits for it, and an
        # operation starting now waits for the close, on PostgreSQL as on SQLite.
        done = conn.execute(update(books_closed).where(books_closed.c.id == _ROW).values(
            closed_through=on, closed_at=now_utc(), closed_by=principal.username))
        if done.rowcount != 1:
            raise RuntimeError("books_closed has no row: run the database migrations")
        return 200, ClosedThroughOut(on.isoformat())

    # No client id: closing through a day twice is a 409 (it only moves forward).
    return command(ctx, principal, "PUT /api/books/closed-through", data, run, before,
                   returns=ClosedThroughOut)[1]
