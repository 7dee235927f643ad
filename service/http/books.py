"""Closed periods over HTTP: the date through which the books are closed."""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.params import JSONBody

from service.app import books
from service.app.books import ClosedThroughIn, ClosedThroughOut
from service.http.params import BODY, Ctx, User, responses


class ClosedThroughController(Controller):
    path = "/api/books/closed-through"
    tags = ["books"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @put("/", sync_to_thread=True,
         responses=responses(*BODY, 403, 409, codes=("period_closed",)),
         description="Close the books through `date` (admins): any operation or reversal "
                     "valued on or before it is then refused with 409 `period_closed`. "
                     "The date only moves forward and is not after today.")
    def close(self, data: JSONBody[ClosedThroughIn], ctx: Ctx, principal: User
              ) -> ClosedThroughOut:
        return books.close_books(ctx, principal, data)

    @get("/", sync_to_thread=True, responses=responses(403),
         description="The last closed day (null while the books were never closed).")
    def read(self, ctx: Ctx, principal: User) -> ClosedThroughOut:
        return books.read_closed_through(ctx, principal)


HANDLERS = [ClosedThroughController]
