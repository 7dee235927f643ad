"""What every correction shares: money recorded by mistake is reversed, never edited or
deleted (API.md, "Corrections").

A reversal is a command of its own, ``{"id"?, "reason"}``: it records who reversed what,
when and why (the ``reversals`` table, one row per reversed operation), and books
compensating transfers dated on the reversed operation's value date, so every as-of
figure is as if the operation had never been recorded while the journal keeps both. The
feature modules (funds, prepayments, loans, guarantees) do the booking; this module
parses the body, keeps the register, and refuses a reversal that would leave an account
short on any day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import msgspec
from sqlalchemy import ColumnElement, Connection, Table, insert, select

from ledger.as_of import first_short_day
from ledger.store import LedgerStore
from ledger.transfers import Transfer, TransferFlag
from service.app.books import refuse_closed
from service.app.common import now_utc, rfc3339
from service.app.errors import Conflict, Errors
from service.app.inputs import Input, client_id, custom
from service.app.types import Timestamp, Uuid
from service.db.records import Record
from service.db.tables import reversals

ReversedKind = Literal["contribution", "payout", "delivery", "repayment", "call"]

# Accounts whose money must be there on every day of the replay, not only today: a
# pool's, a fund's and its earmarks', a prepayment's.
DAY_CHECKED = ("pool", "fund", "earmark", "prepayment")
_WHAT = {"pool": "the pool", "fund": "the fund", "earmark": "the fund's earmark",
         "prepayment": "the prepayment"}


class ReversalIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str
    id: str | None = None


class ReversalOut(msgspec.Struct):
    """Who reversed an operation, when, and why."""

    id: Uuid  # the reversal command's id
    at: Timestamp
    by: str | None
    reason: str


def _reason(value: str, field: str, errors: Errors) -> str | None:
    text = value.strip()
    if not text:
        errors.add(field, "say why the operation is reversed")
        return None
    if len(text) > 2000:
        errors.add(field, "at most 2000 characters")
        return None
    return text


@dataclass(frozen=True, kw_only=True)
class Reversal(Input):
    id: str = client_id()
    reason: str = custom(_reason)  # stripped


def parse_reversal(data: ReversalIn) -> tuple[str, str]:
    """(the command's id, the reason): 422 naming ``id`` or ``reason``."""
    asked = Reversal.read(data)
    return asked.id, asked.reason


def reversal_out(row: Record) -> ReversalOut:
    return ReversalOut(id=row.id, at=rfc3339(row.created_at) or "", by=row.created_by,
                       reason=row.reason)


def reversals_of(conn: Connection, kind: ReversedKind, target_ids: Iterable[str]
                 ) -> dict[str, Record]:
    """The reversal rows of the given operations, by reversed operation id."""
    ids = sorted(set(target_ids))
    out: dict[str, Record] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in conn.execute(select(reversals).where(reversals.c.kind == kind,
                                                        reversals.c.target_id.in_(chunk))):
            out[row.target_id] = row
    return out


def reversal_of(conn: Connection, kind: ReversedKind, target_id: str) -> Record | None:
    return reversals_of(conn, kind, [target_id]).get(target_id)


def live(table: Table, kind: ReversedKind, column: str = "id") -> ColumnElement[bool]:
    """A condition keeping the rows of ``table`` whose operation was not reversed."""
    return table.c[column].not_in(select(reversals.c.target_id)
                                  .where(reversals.c.kind == kind))


def record_reversal(conn: Connection, *, rev_id: str, kind: ReversedKind, target_id: str,
                    value_date: date, reason: str, username: str | None) -> Record:
    """Register the reversal (409 ``already_reversed`` for an operation reversed before)."""
    if reversal_of(conn, kind, target_id) is not None:
        raise Conflict("already_reversed", f"this {kind} was already reversed")
    refuse_closed(conn, value_date, f"a reversal of a {kind}")
    conn.execute(insert(reversals).values(
        id=rev_id, kind=kind, target_id=target_id, value_date=value_date, reason=reason,
        created_at=now_utc(), created_by=username))
    return conn.execute(select(reversals).where(reversals.c.id == rev_id)).one()


def refuse_shortfall(conn: Connection, store: LedgerStore, transfers: Sequence[Transfer]
                     ) -> None:
    """409 ``insufficient_funds`` when ``transfers`` would take a pool, a fund, an earmark
    or a prepayment below zero on any day, counted by value date (money already lent
    again, paid out or delivered after the day it came in)."""
    change: dict[str, dict[date | None, int]] = defaultdict(lambda: defaultdict(int))
    for t in transfers:
        if t.flags & {TransferFlag.PENDING, TransferFlag.VOID_PENDING}:
            continue
        change[t.debit_account_id][t.value_date] -= t.amount
        change[t.credit_account_id][t.value_date] += t.amount
    accounts = store.get_accounts(conn, change)
    for account_id in sorted(change):
        account = accounts.get(account_id)
        purpose = account.code.split(":", 1)[0] if account is not None else ""
        if purpose not in DAY_CHECKED or not any(v < 0 for v in change[account_id].values()):
            continue
        day = first_short_day(store.net_by_value_date(conn, account_id), change[account_id])
        if day is not None:
            raise Conflict("insufficient_funds",
                           f"{_WHAT[purpose]} would be short on {day.isoformat()}: the money "
                           "was already lent, paid out or delivered after it came in")
