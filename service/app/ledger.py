"""The raw ledger's use cases: accounts, transfer batches, the journal and verify.

Raw transfers may only move money between accounts created through these operations:
the instrument accounts (pools, loans, funds ...) change only through their instruments,
so their state can always be rebuilt from the journal.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, insert, select

from ledger.accounts import Account, AccountFlag, CreateAccountResult
from ledger.ids import uuid7
from ledger.money import MoneyError, parse_amount
from ledger.store import LedgerStore
from ledger.transfers import MAX_BATCH, Transfer, TransferFlag
from service.app.auth import Principal
from service.app.common import MoneyIn, check_limit, money_minor, money_out, now_utc, path_uuid
from service.app.errors import Conflict, Errors, NotFound, invalid
from service.app.idempotency import once
from service.db.tables import api_accounts, parties

ACCOUNT_FLAGS = ("debits_must_not_exceed_credits", "credits_must_not_exceed_debits")
TRANSFER_FLAGS = ("linked", "pending", "post_pending", "void_pending")

# Stand-ins for accounts the raw API may not touch: no account can have these ids (the
# API refuses them), so the state machine answers account_not_found and applies the
# linked-chain rules as for any missing account.
HIDDEN_DEBIT = "00000000-0000-0000-0000-00000000d001"
HIDDEN_CREDIT = "00000000-0000-0000-0000-00000000c001"


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


def hide_outside(t: Transfer, allowed: set[str]) -> Transfer:
    """The transfer with every account the raw API may not touch replaced by a stand-in."""
    if t.debit_account_id in allowed and t.credit_account_id in allowed:
        return t
    return replace(
        t,
        debit_account_id=t.debit_account_id if t.debit_account_id in allowed else HIDDEN_DEBIT,
        credit_account_id=t.credit_account_id if t.credit_account_id in allowed
        else HIDDEN_CREDIT)


def check_account(data: AccountIn) -> Account:
    """The account a create asks for, or 422 naming every bad field."""
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
    account_id = str(uuid.UUID(data.id)) if data.id else uuid7()
    return Account(id=account_id, code=data.code, currency=data.currency,
                   party_id=data.party_id, flags=frozenset(AccountFlag(f) for f in data.flags))


def create_account(conn: Connection, store: LedgerStore, principal: Principal,
                   data: AccountIn, spec: Account) -> tuple[int, Any]:
    def create() -> tuple[int, Any]:
        if data.party_id is not None and conn.execute(
                select(parties.c.id).where(parties.c.id == data.party_id)).first() is None:
            raise invalid("party_id", "no party with this id")
        result = store.create_accounts(conn, [spec])[0]
        if result.result != CreateAccountResult.CREATED:
            raise Conflict("idempotency_conflict", f"account {spec.id} already exists")
        conn.execute(insert(api_accounts).values(id=spec.id, created_at=now_utc()))
        # Not added to the RawAccounts cache here: the transaction may still roll back;
        # the first transfer naming it asks the database.
        created = store.get_account(conn, spec.id)
        assert created is not None
        return 201, account_out(created)

    return once(conn, data.id, "POST /api/ledger/accounts", data, principal.username, create)


def get_account(conn: Connection, store: LedgerStore, principal: Principal,
                account_id: str) -> dict[str, Any]:
    aid = path_uuid(account_id, "account")
    if not principal.is_staff:
        raise NotFound("account")
    account = store.get_account(conn, aid)
    if account is None:
        raise NotFound("account")
    return account_out(account)


def list_transfers(conn: Connection, store: LedgerStore, principal: Principal,
                   account_id: str | None, limit: int | None, cursor: str | None
                   ) -> dict[str, Any]:
    size = check_limit(limit)
    if account_id is not None:
        try:
            account_id = str(uuid.UUID(account_id))
        except ValueError:
            raise invalid("account_id", "not a UUID") from None
    principal.require("officer")
    try:
        items, nxt = store.list_transfers(conn, account_id, size, cursor)
    except ValueError:
        raise invalid("cursor", "not a cursor this API returned") from None
    return {"items": [transfer_out(t) for t in items], "next_cursor": nxt}
