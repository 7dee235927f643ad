"""Posting instrument batches and turning ledger refusals into the contract's 409s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection

from ledger.accounts import Account
from ledger.money import format_amount
from ledger.store import LedgerStore
from ledger.transfers import MAX_AMOUNT, Transfer, TransferResultCode
from service.app.errors import Conflict, invalid

_LIMIT_CODES = {TransferResultCode.EXCEEDS_CREDITS, TransferResultCode.EXCEEDS_DEBITS}
_OVERFLOW_CODES = {TransferResultCode.OVERFLOWS_DEBITS, TransferResultCode.OVERFLOWS_CREDITS}


def ensure_accounts(conn: Connection, store: LedgerStore, specs: Sequence[Account]) -> None:
    for result in store.create_accounts(conn, specs):
        if str(result.result) == "exists_with_different_fields":
            raise RuntimeError(f"instrument account {result.id} exists with other fields")


def post(conn: Connection, store: LedgerStore, transfers: Sequence[Transfer],
         refusals: Mapping[str, tuple[str, str]]) -> None:
    """Submit one linked batch inside ``conn``'s transaction, or raise the 409 that the
    refusing account stands for (``refusals``: account id -> (code, message)).

    Anything else the ledger refuses is a bug in the instrument, never the user's fault.
    """
    if not transfers:
        return
    results = store.submit(conn, transfers)
    by_id = {t.id: t for t in transfers}
    for result in results:
        if result.ok or result.result == TransferResultCode.LINKED_EVENT_FAILED:
            continue
        transfer = by_id[result.id]
        if result.result in _LIMIT_CODES:
            for account in (transfer.debit_account_id, transfer.credit_account_id):
                if account in refusals:
                    code, message = refusals[account]
                    raise Conflict(code, message)
        if result.result in _OVERFLOW_CODES:
            raise invalid("amount", "too large: an account's total would pass the "
                          "largest amount kept "
                          f"({format_amount(MAX_AMOUNT, transfer.currency)})")
        raise RuntimeError(f"ledger refused instrument transfer {result.id} "
                           f"({transfer.code}): {result.result}")

