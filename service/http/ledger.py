"""The raw ledger over HTTP: accounts, transfer batches, the journal and verify."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from service.app import ledger
from service.app.ledger import (
    AccountIn,
    AccountOut,
    TransferIn,
    TransferPage,
    TransferResults,
)
from service.app.verification import VerifyOut
from service.http.audit import entry_before_answer
from service.http.params import BODY, Ctx, Limit, User, responses


class LedgerController(Controller):
    path = "/api/ledger"
    tags = ["ledger"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/accounts", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, 409, codes=("idempotency_conflict", "conflict")))
    def create_account(self, data: JSONBody[AccountIn], ctx: Ctx, principal: User
                       ) -> Response[AccountOut]:
        status, body = ledger.create_account(ctx, principal, data)
        return Response(body, status_code=status)

    @get("/accounts/{account_id:str}", sync_to_thread=True, responses=responses(404))
    def get_account(self, account_id: FromPath[str], ctx: Ctx, principal: User
                    ) -> AccountOut:
        return ledger.read_account(ctx, principal, account_id)

    @post("/transfers", status_code=200, responses=responses(*BODY, 403))
    async def create_transfers(self, request: Request[Any, Any, Any],
                               data: JSONBody[list[TransferIn]]) -> TransferResults:
        # The hot path: async (see ledger.submit_transfers), and it reads the app context
        # and the user from the request itself (resolving dependencies costs a task group
        # per request). Its audit entry is committed with the batch, by the ledger's
        # writer: the entry of a 200, its ids the transfers created (the answer, a list
        # of results, names none the audit door would read).
        return await ledger.submit_transfers(request.app.state.ctx, request.state.principal,
                                             data, entry_before_answer(request.scope, 200))

    @get("/transfers", sync_to_thread=True, responses=responses(403, 422))
    def list_transfers(self, ctx: Ctx, principal: User,
                       account_id: FromQuery[str | None] = None, limit: Limit = None,
                       cursor: FromQuery[str | None] = None) -> TransferPage:
        return ledger.list_transfers(ctx, principal, account_id, limit, cursor)

    @get("/verify", sync_to_thread=True, responses=responses(403))
    def verify(self, ctx: Ctx, principal: User) -> VerifyOut:
        return ledger.verify(ctx, principal)


HANDLERS = [LedgerController]
