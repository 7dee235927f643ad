"""The raw ledger over HTTP: accounts, transfer batches, the journal and verify."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.concurrency import sync_to_thread

from ledger.transfers import TransferResult
from service.app import ledger
from service.app.auth import Principal
from service.app.context import AppContext
from service.app.ledger import AccountIn, TransferIn
from service.app.verification import verify_all


class LedgerController(Controller):
    path = "/api/ledger"
    tags = ["ledger"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/accounts", sync_to_thread=True, status_code=201)
    def create_account(self, data: AccountIn, ctx: AppContext, principal: Principal
                       ) -> Response[Any]:
        spec = ledger.check_account(data)
        principal.require("officer")
        status, body = ctx.write(
            lambda conn: ledger.create_account(conn, ctx.store, principal, data, spec))
        return Response(body, status_code=status)

    @get("/accounts/{account_id:str}", sync_to_thread=True)
    def get_account(self, account_id: str, ctx: AppContext, principal: Principal
                    ) -> dict[str, Any]:
        return ctx.read(lambda conn: ledger.get_account(conn, ctx.store, principal, account_id))

    @post("/transfers", status_code=200)
    async def create_transfers(self, request: Request[Any, Any, Any], data: list[TransferIn]
                               ) -> dict[str, Any]:
        # The hot path: async, so the request waits on the group-commit writer without
        # holding a thread, and it reads the app context and the user from the request
        # itself (resolving dependencies costs a task group per request).
        ctx: AppContext = request.app.state.ctx
        principal: Principal = request.state.principal
        transfers = ledger.parse_transfers(data)
        principal.require("officer")
        ids = {t.debit_account_id for t in transfers} | {t.credit_account_id for t in transfers}
        cache = ctx.raw_accounts
        if ids <= cache.known:
            allowed = ids
        else:
            allowed = await sync_to_thread(
                lambda: ctx.read(lambda conn: cache.allowed(conn, ids)))
        transfers = [ledger.hide_outside(t, allowed) for t in transfers]
        assert ctx.writer is not None, "the app serves with its group-commit writer"
        results: list[TransferResult] = await ctx.writer.submit_async(transfers)
        return {"results": [{"id": r.id, "result": str(r.result)} for r in results]}

    @get("/transfers", sync_to_thread=True)
    def list_transfers(self, ctx: AppContext, principal: Principal,
                       account_id: str | None = None, limit: int | None = None,
                       cursor: str | None = None) -> dict[str, Any]:
        return ctx.read(lambda conn: ledger.list_transfers(conn, ctx.store, principal,
                                                           account_id, limit, cursor))

    @get("/verify", sync_to_thread=True)
    def verify(self, ctx: AppContext, principal: Principal) -> dict[str, Any]:
        principal.require("officer")
        return verify_all(ctx.engine)


HANDLERS = [LedgerController]
