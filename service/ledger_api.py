"""The raw ledger over HTTP: accounts, transfer batches, the journal and verify.

Raw transfers may only move money between accounts created through this API: the
instrument accounts (pools, loans, funds ...) change only through their instruments,
so their state can always be rebuilt from the journal.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from sqlalchemy import Column, Connection, DateTime, String, Table, insert, select

from ledger.accounts import Account, AccountFlag, CreateAccountResult
from ledger.ids import uuid7
from ledger.money import MoneyError, parse_amount
from ledger.store import LedgerStore
from ledger.transfers import MAX_BATCH, Transfer, TransferFlag, TransferResult
from service.auth import Principal
from service.common import MoneyIn, check_limit, money_minor, money_out, now_utc, path_uuid
from service.context import AppContext
from service.errors import Conflict, Errors, NotFound, invalid
from service.idempotency import once
from service.tables import metadata

api_accounts = Table(
    "api_accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

ACCOUNT_FLAGS = ("debits_must_not_exceed_credits", "credits_must_not_exceed_debits")
TRANSFER_FLAGS = ("linked", "pending", "post_pending", "void_pending")


class AccountIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    currency: str
    id: str | None = None
    party_id: str | None = None
    flags: list[str] = msgspec.field(default_factory=list)


class TransferIn(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    debit_account_id: str
    credit_account_id: str
    amount: MoneyIn
    code: str = ""
    flags: list[str] = msgspec.field(default_factory=list)
    pending_id: str | None = None
    timeout_seconds: int | None = None


def account_out(a: Account) -> dict[str, Any]:
    return {
        "id": a.id,
        "code": a.code,
        "currency": a.currency,
        "party_id": a.party_id,
        "flags": sorted(str(f) for f in a.flags),
        "debits_pending": money_out(a.debits_pending, a.currency),
        "debits_posted": money_out(a.debits_posted, a.currency),
        "credits_pending": money_out(a.credits_pending, a.currency),
        "credits_posted": money_out(a.credits_posted, a.currency),
        "balance": money_out(a.balance, a.currency),
    }


def _timestamp(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1_000_000_000, UTC).isoformat().replace("+00:00", "Z")


def transfer_out(t: Transfer) -> dict[str, Any]:
    return {
        "id": t.id,
        "debit_account_id": t.debit_account_id,
        "credit_account_id": t.credit_account_id,
        "amount": money_out(t.amount, t.currency),
        "code": t.code,
        "flags": sorted(str(f) for f in t.flags),
        "pending_id": t.pending_id,
        "timeout_seconds": t.timeout_seconds,
        "value_date": t.value_date.isoformat() if t.value_date else None,
        "user_data": t.user_data,
        "operation_id": t.operation_id,
        "timestamp": _timestamp(t.timestamp),
    }


def store_of(ctx: AppContext) -> LedgerStore:
    store: LedgerStore = ctx.services["ledger"]
    return store


def parse_transfers(items: list[TransferIn]) -> list[Transfer]:
    """The whole request is refused (422) when any event is malformed."""
    if len(items) > MAX_BATCH:
        raise invalid("", f"at most {MAX_BATCH} transfers in one request, got {len(items)}")
    if not items:
        raise invalid("", "send at least one transfer")
    errors = Errors()
    transfers: list[Transfer] = []
    for i, item in enumerate(items):
        for name in ("id", "debit_account_id", "credit_account_id", "pending_id"):
            value = getattr(item, name)
            if value is not None:
                try:
                    uuid.UUID(value)
                except ValueError:
                    errors.add(f"{i}.{name}", f"{value!r} is not a UUID")
        unknown = [f for f in item.flags if f not in TRANSFER_FLAGS]
        if unknown:
            errors.add(f"{i}.flags", f"unknown flags {unknown}; use {', '.join(TRANSFER_FLAGS)}")
        before = len(errors.items)
        amount = money_minor(item.amount, f"{i}.amount", errors, eur_only=False)
        if len(errors.items) > before:
            continue
        if len(item.code) > 128:
            errors.add(f"{i}.code", "at most 128 characters")
        if errors.items:
            continue
        try:
            transfers.append(Transfer(
                id=item.id, debit_account_id=item.debit_account_id,
                credit_account_id=item.credit_account_id, amount=amount,
                currency=item.amount.currency, code=item.code,
                flags=frozenset(TransferFlag(f) for f in item.flags),
                pending_id=item.pending_id, timeout_seconds=item.timeout_seconds))
        except ValueError as exc:
            errors.add(f"{i}", str(exc))
    errors.raise_if_any()
    return transfers


class RawAccounts:
    """Ids of the accounts created through this API (the only ones raw transfers may
    touch). Accounts are never deleted, so a remembered id stays valid: the database is
    asked only about ids not seen yet."""

    def __init__(self) -> None:
        self.known: set[str] = set()

    def allowed(self, conn: Connection, ids: set[str]) -> set[str]:
        unknown = ids - self.known
        if unknown:
            rows = conn.execute(select(api_accounts.c.id).where(
                api_accounts.c.id.in_(sorted(unknown))))
            self.known.update(r.id for r in rows)
        return ids & self.known


def raw_accounts(ctx: AppContext) -> RawAccounts:
    cache: RawAccounts = ctx.services.setdefault("raw_accounts", RawAccounts())
    return cache


class LedgerController(Controller):
    path = "/api/ledger"
    tags = ["ledger"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/accounts", sync_to_thread=True, status_code=201)
    def create_account(self, data: AccountIn, ctx: AppContext, principal: Principal
                       ) -> Response[Any]:
        errors = Errors()
        if data.id is not None:
            try:
                uuid.UUID(data.id)
            except ValueError:
                errors.add("id", f"{data.id!r} is not a UUID")
                data = msgspec.structs.replace(data, id=None)
        if not data.code or len(data.code) > 128:
            errors.add("code", "a label of 1 to 128 characters")
        try:
            parse_amount("1", data.currency)
        except MoneyError as exc:
            errors.add("currency", str(exc))
        bad = [f for f in data.flags if f not in ACCOUNT_FLAGS]
        if bad:
            errors.add("flags", f"unknown flags {bad}; use {', '.join(ACCOUNT_FLAGS)}")
        elif set(ACCOUNT_FLAGS) <= set(data.flags):
            errors.add("flags", "the two limit flags exclude each other")
        if data.party_id is not None:
            try:
                uuid.UUID(data.party_id)
            except ValueError:
                errors.add("party_id", f"{data.party_id!r} is not a UUID")
        if data.id is not None and str(uuid.UUID(data.id)) in (HIDDEN_DEBIT, HIDDEN_CREDIT):
            errors.add("id", "this id is reserved")
        errors.raise_if_any()
        principal.require("officer")
        account_id = str(uuid.UUID(data.id)) if data.id else uuid7()
        spec = Account(id=account_id, code=data.code, currency=data.currency,
                       party_id=data.party_id,
                       flags=frozenset(AccountFlag(f) for f in data.flags))
        store = store_of(ctx)

        def action(conn: Connection) -> tuple[int, Any]:
            def create() -> tuple[int, Any]:
                if data.party_id is not None:
                    from service.parties import get_party

                    if get_party(conn, data.party_id) is None:
                        raise invalid("party_id", "no party with this id")
                result = store.create_accounts(conn, [spec])[0]
                if result.result != CreateAccountResult.CREATED:
                    raise Conflict("idempotency_conflict",
                                   f"account {account_id} already exists")
                conn.execute(insert(api_accounts).values(id=account_id, created_at=now_utc()))
                # Not added to the RawAccounts cache here: the transaction may still roll
                # back; the first transfer naming it asks the database.
                created = store.get_account(conn, account_id)
                assert created is not None
                return 201, account_out(created)

            return once(conn, data.id, "POST /api/ledger/accounts", data, principal.username,
                        create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/accounts/{account_id:str}", sync_to_thread=True)
    def get_account(self, account_id: str, ctx: AppContext, principal: Principal
                    ) -> dict[str, Any]:
        aid = path_uuid(account_id, "account")
        if not principal.is_staff:
            raise NotFound("account")
        account = ctx.read(lambda conn: store_of(ctx).get_account(conn, aid))
        if account is None:
            raise NotFound("account")
        return account_out(account)

    @post("/transfers", status_code=200)
    async def create_transfers(self, request: Request[Any, Any, Any], data: list[TransferIn]
                               ) -> dict[str, Any]:
        # The hot path: async, so the request waits on the group-commit writer without
        # holding a thread, and it reads the app context and the user from the request
        # itself (resolving dependencies costs a task group per request).
        ctx: AppContext = request.app.state.ctx
        principal: Principal = request.state.principal
        transfers = parse_transfers(data)
        principal.require("officer")
        ids = {t.debit_account_id for t in transfers} | {t.credit_account_id for t in transfers}
        cache = raw_accounts(ctx)
        if ids <= cache.known:
            allowed = ids
        else:
            from litestar.concurrency import sync_to_thread

            allowed = await sync_to_thread(
                lambda: ctx.read(lambda conn: cache.allowed(conn, ids)))
        transfers = [_hide_outside(t, allowed) for t in transfers]
        results: list[TransferResult] = await ctx.services["writer"].submit_async(transfers)
        return {"results": [{"id": r.id, "result": str(r.result)} for r in results]}

    @get("/transfers", sync_to_thread=True)
    def list_transfers(self, ctx: AppContext, principal: Principal,
                       account_id: str | None = None, limit: int | None = None,
                       cursor: str | None = None) -> dict[str, Any]:
        size = check_limit(limit)
        if account_id is not None:
            try:
                account_id = str(uuid.UUID(account_id))
            except ValueError:
                raise invalid("account_id", "not a UUID") from None
        principal.require("officer")

        def read(conn: Connection) -> dict[str, Any]:
            try:
                items, nxt = store_of(ctx).list_transfers(conn, account_id, size, cursor)
            except ValueError:
                raise invalid("cursor", "not a cursor this API returned") from None
            return {"items": [transfer_out(t) for t in items], "next_cursor": nxt}

        return ctx.read(read)

    @get("/verify", sync_to_thread=True)
    def verify(self, ctx: AppContext, principal: Principal) -> dict[str, Any]:
        principal.require("officer")
        from service.verification import verify_all

        return verify_all(ctx.engine)


# Stand-ins for accounts the raw API may not touch: no account can have these ids (the
# API refuses them), so the state machine answers account_not_found and applies the
# linked-chain rules as for any missing account.
HIDDEN_DEBIT = "00000000-0000-0000-0000-00000000d001"
HIDDEN_CREDIT = "00000000-0000-0000-0000-00000000c001"


def _hide_outside(t: Transfer, allowed: set[str]) -> Transfer:
    from dataclasses import replace

    if t.debit_account_id in allowed and t.credit_account_id in allowed:
        return t
    return replace(
        t,
        debit_account_id=t.debit_account_id if t.debit_account_id in allowed else HIDDEN_DEBIT,
        credit_account_id=t.credit_account_id if t.credit_account_id in allowed
        else HIDDEN_CREDIT)


HANDLERS = [LedgerController]
