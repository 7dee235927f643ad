"""Which accounts raw transfers may touch: those created through the raw ledger API.

The instrument accounts (pools, loans, funds ...) change only through their instruments,
so their state can always be rebuilt from the journal; a raw transfer naming one sees a
stand-in instead, which the ledger answers ``account_not_found``.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Connection, select

from ledger.transfers import Transfer
from service.db.tables import api_accounts

# Stand-ins for accounts the raw API may not touch: no account can have these ids (the
# API refuses them), so the state machine answers account_not_found and applies the
# linked-chain rules as for any missing account.
HIDDEN_DEBIT = "00000000-0000-0000-0000-00000000d001"
HIDDEN_CREDIT = "00000000-0000-0000-0000-00000000c001"


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
