"""One leg of an instrument's batch: guarantees, prepayments and funds book their money
as linked EUR transfers whose ids derive from the operation, so a retry posts the same
transfers and the ledger refuses the duplicate."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from ledger.chart import leg_id
from ledger.store import LedgerStore
from ledger.transfers import Transfer, TransferFlag

EUR = "EUR"


def store(conn: Connection) -> LedgerStore:
    return LedgerStore(conn.engine)


def leg(op_id: str, name: str, debit: str, credit: str, amount: int, code: str,
        user_data: str, on: date | None, *, flags: frozenset[TransferFlag] = frozenset()
        ) -> Transfer:
    """The ``name`` leg of operation ``op_id`` (linked: a batch stands or falls whole)."""
    return Transfer(id=leg_id(op_id, name), debit_account_id=debit, credit_account_id=credit,
                    amount=amount, currency=EUR, code=code,
                    flags=flags | {TransferFlag.LINKED}, value_date=on, user_data=user_data,
                    operation_id=op_id)
