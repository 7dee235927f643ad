"""References: the human numbers of loans, requests, prepayments, guarantees,
contributions, payouts and repayments (``PRE-2026-0001``).

A number counts from 1 per kind and year recorded (today's year in FILIERA_TIMEZONE),
without gaps: it is taken by an upsert of the kind's counter row inside the transaction
that records the item, so the row stays locked until that transaction ends (a concurrent
one waits and takes the next number) and a refused operation rolls its number back."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from service.app.clock import today
from service.db.tables import reference_counters

Kind = Literal["PRE", "RIC", "PRF", "GAR", "CON", "USC", "RIM"]

LOAN: Kind = "PRE"
REQUEST: Kind = "RIC"
PREPAYMENT: Kind = "PRF"
GUARANTEE: Kind = "GAR"
CONTRIBUTION: Kind = "CON"
PAYOUT: Kind = "USC"
REPAYMENT: Kind = "RIM"


def next_reference(conn: Connection, kind: Kind) -> str:
    """The next reference of ``kind`` this year, e.g. ``RIM-2026-0042``."""
    year = today().year
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    upsert = insert(reference_counters).values(kind=kind, year=year, last=1)
    statement = upsert.on_conflict_do_update(
        index_elements=[reference_counters.c.kind, reference_counters.c.year],
        set_={"last": reference_counters.c.last + 1},
    ).returning(reference_counters.c.last)
    number = int(conn.execute(statement).scalar_one())
    return f"{kind}-{year}-{number:04d}"


def number_of(reference: str | None) -> int:
    """The counting number of a reference (for orderings that tie-break on it)."""
    return int(reference.rsplit("-", 1)[1]) if reference else 0
