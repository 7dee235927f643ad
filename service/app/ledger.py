"""The raw ledger's use cases: accounts, transfer batches, the journal and verify.

Raw transfers may only move money between accounts created through these operations
(``service.app.raw_accounts``): the instrument accounts (pools, loans, funds ...) change
only through their instruments, so their state can always be rebuilt from the journal.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import DBAPIError

from ledger.accounts import Account, AccountFlag, CreateAccountResult
from ledger.ids import uuid7
from ledger.money import MoneyError, parse_amount
from ledger.store import LedgerConflict, is_unavailable
from ledger.transfers import (
    MAX_BATCH,
    MAX_TRANSFER_AMOUNT,
    Transfer,
    TransferFlag,
    TransferResultCode,
)
from service.app.audit_note import note_made, note_recorded
from service.app.audit_writer import AuditEntry, with_transfers
from service.app.auth import Principal
from service.app.commands import command
from service.app.common import MoneyIn, check_limit, money_minor, now_utc, path_uuid
from service.app.context import AppContext
from service.app.errors import (
    Conflict,
    Errors,
    NotFound,
    Unavailable,
    invalid,
    refuse_bad_body,
)
from service.app.inputs import Input, custom, optional_id
from service.app.parties import party_names
from service.app.raw_accounts import HIDDEN_CREDIT, HIDDEN_DEBIT, hide_outside
from service.app.types import CurrencyCode, Day, Timestamp, Uuid
from service.app.verification import VerifyOut, verify_service
from service.app.views import Money, money
from service.db.tables import api_accounts, parties

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


# -- what create_account reads from its body ---------------------------------------------


def _code(value: str, field: str, errors: Errors) -> str | None:
    if not value or len(value) > 128:
        errors.add(field, "a label of 1 to 128 characters")
        return None
    return value


def _currency(value: str, field: str, errors: Errors) -> str | None:
    try:
        parse_amount("1", value)
    except MoneyError as exc:
        errors.add(field, str(exc))
        return None
    return value


def _account_flags(value: list[str], field: str, errors: Errors
                   ) -> frozenset[AccountFlag] | None:
    bad = [f for f in value if f not in ACCOUNT_FLAGS]
    if bad:
        errors.add(field, f"unknown flags {bad}; use {', '.join(ACCOUNT_FLAGS)}")
        return None
    if set(ACCOUNT_FLAGS) <= set(value):
        errors.add(field, "the two limit flags exclude each other")
        return None
    return frozenset(AccountFlag(f) for f in value)


@dataclass(frozen=True, kw_only=True)
class NewAccount(Input):
    id: str | None = optional_id()  # a UUIDv7 when absent
    code: str = custom(_code)
    currency: str = custom(_currency)
    flags: frozenset[AccountFlag] = custom(_account_flags)
    party_id: str | None = optional_id()

    def check(self, errors: Errors) -> None:
        if self.id in (HIDDEN_DEBIT, HIDDEN_CREDIT):
            errors.add("id", "this id is reserved")


class AccountOut(msgspec.Struct):
    id: Uuid
    code: str
    currency: CurrencyCode
    party_id: Uuid | None
    party_name: str | None
    flags: list[AccountFlag]  # sorted
    debits_pending: Money
    debits_posted: Money
    credits_pending: Money
    credits_posted: Money
    balance: Money


class TransferOut(msgspec.Struct):
    id: Uuid
    debit_account_id: Uuid
    credit_account_id: Uuid
    amount: Money
    code: str
    flags: list[TransferFlag]  # sorted
    pending_id: Uuid | None
    timeout_seconds: int | None
    value_date: Day | None
    user_data: str | None
    operation_id: str | None
    timestamp: Timestamp
    recorded_by: str | None  # the user who posted it (raw transfers; null for the legs of
    # instruments, which their operations record, and the ledger's own expiries)


class TransferPage(msgspec.Struct):
    items: list[TransferOut]
    next_cursor: str | None


class TransferResultOut(msgspec.Struct):
    id: Uuid
    result: TransferResultCode


class TransferResults(msgspec.Struct):
    """One result per transfer sent, in the order sent."""

    results: list[TransferResultOut]


def account_out(a: Account, party_name: str | None) -> AccountOut:
    return AccountOut(
        id=a.id, code=a.code, currency=a.currency, party_id=a.party_id, party_name=party_name,
        flags=sorted(a.flags),
        debits_pending=money(a.debits_pending, a.currency),
        debits_posted=money(a.debits_posted, a.currency),
        credits_pending=money(a.credits_pending, a.currency),
        credits_posted=money(a.credits_posted, a.currency),
        balance=money(a.balance, a.currency))


def _timestamp(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1_000_000_000, UTC).isoformat().replace("+00:00", "Z")


def transfer_out(t: Transfer) -> TransferOut:
    return TransferOut(
        id=t.id, debit_account_id=t.debit_account_id, credit_account_id=t.credit_account_id,
        amount=money(t.amount, t.currency), code=t.code, flags=sorted(t.flags),
        pending_id=t.pending_id, timeout_seconds=t.timeout_seconds,
        value_date=t.value_date.isoformat() if t.value_date else None,
        user_data=t.user_data, operation_id=t.operation_id,
        timestamp=_timestamp(t.timestamp), recorded_by=t.recorded_by)


def parse_transfers(items: list[TransferIn], recorded_by: str | None = None
                    ) -> list[Transfer]:
    """The whole request is refused (422) when any event is malformed; ``recorded_by``
    is the user posting them."""
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
        # Above what an account's totals keep too: the ledger answers overflows_* then.
        amount = money_minor(item.amount, f"{i}.amount", errors, eur_only=False,
                             limit=MAX_TRANSFER_AMOUNT)
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
                pending_id=item.pending_id, timeout_seconds=item.timeout_seconds,
                recorded_by=recorded_by))
        except ValueError as exc:
            errors.add(f"{i}", str(exc))
    errors.raise_if_any()
    return transfers


def check_account(data: AccountIn) -> Account:
    """The account a create asks for, or 422 naming every bad field."""
    new = NewAccount.read(data)
    return Account(id=new.id or uuid7(), code=new.code, currency=new.currency,
                   party_id=new.party_id, flags=new.flags)


# -- use cases ------------------------------------------------------------------------------


def create_account(ctx: AppContext, principal: Principal, data: AccountIn
                   ) -> tuple[int, AccountOut]:
    spec = check_account(data)
    principal.require("officer")

    def run(conn: Connection, _: None) -> tuple[int, AccountOut]:
        if spec.party_id is not None and conn.execute(
                select(parties.c.id).where(parties.c.id == spec.party_id)).first() is None:
            raise invalid("party_id", "no party with this id")
        result = ctx.store.create_accounts(conn, [spec])[0]
        if result.result != CreateAccountResult.CREATED:
            raise Conflict("idempotency_conflict", f"account {spec.id} already exists")
        conn.execute(insert(api_accounts).values(id=spec.id, created_at=now_utc()))
        # Not added to the RawAccounts cache here: the transaction may still roll back;
        # the first transfer naming it asks the database.
        created = ctx.store.get_account(conn, spec.id)
        assert created is not None
        return 201, account_out(created, party_names(conn, [created.party_id]).get(
            created.party_id or ""))

    return command(ctx, principal, "POST /api/ledger/accounts", data, run, returns=AccountOut)


def read_account(ctx: AppContext, principal: Principal, account_id: str) -> AccountOut:
    aid = path_uuid(account_id, "account")
    if not principal.is_staff:
        raise NotFound("account")

    def read(conn: Connection) -> AccountOut:
        account = ctx.store.get_account(conn, aid)
        if account is None:
            raise NotFound("account")
        return account_out(account, party_names(conn, [account.party_id]).get(
            account.party_id or ""))

    return ctx.read(read)


async def submit_transfers(ctx: AppContext, principal: Principal, items: list[TransferIn],
                           audit: AuditEntry | None = None) -> TransferResults:
    """The hot path: async, so the request waits on the group-commit writer without
    holding a thread; the database is asked (in a thread) only about accounts not seen
    yet. ``audit``: the request's entry as its answer (200) would have it, but for the
    transfers created: the writer commits it with the batch, listing those (the entry
    point then writes none); without it the entry point writes the entry after."""
    transfers = parse_transfers(items, principal.username)
    refuse_bad_body()  # the writer below is not behind AppContext.write
    principal.require("officer")
    ids = {t.debit_account_id for t in transfers} | {t.credit_account_id for t in transfers}
    cache = ctx.raw_accounts
    if ids <= cache.known:
        allowed = ids
    else:
        allowed = await asyncio.to_thread(
            lambda: ctx.read(lambda conn: cache.allowed(conn, ids)))
    transfers = [hide_outside(t, allowed) for t in transfers]
    assert ctx.writer is not None, "the app serves with its group-commit writer"
    try:
        results = await ctx.writer.submit_async(
            transfers, companion=None if audit is None else with_transfers(audit))
    except LedgerConflict as exc:  # nothing written, as AppContext.write answers it
        raise Conflict("conflict", "the database was busy; try again") from exc
    except DBAPIError as exc:
        if is_unavailable(exc):  # not applied, or applied: the same ids sent again tell
            raise Unavailable() from exc
        raise
    note_made([r.id for r in results if r.result == "created"])
    if audit is not None:
        note_recorded()
    return TransferResults([TransferResultOut(r.id, r.result) for r in results])


def list_transfers(ctx: AppContext, principal: Principal, account_id: str | None,
                   limit: int | None, cursor: str | None) -> TransferPage:
    size = check_limit(limit)
    if account_id is not None:
        try:
            account_id = str(uuid.UUID(account_id))
        except ValueError:
            raise invalid("account_id", "not a UUID") from None
    principal.require("officer")

    def read(conn: Connection) -> TransferPage:
        try:
            items, nxt = ctx.store.list_transfers(conn, account_id, size, cursor)
        except ValueError:
            raise invalid("cursor", "not a cursor this API returned") from None
        return TransferPage([transfer_out(t) for t in items], nxt)

    return ctx.read(read)


def verify(ctx: AppContext, principal: Principal) -> VerifyOut:
    """The journal checked end to end (``service.app.verification``); officers only."""
    principal.require("officer")
    return verify_service(ctx.engine, ctx.settings)
