"""What a loan rests on: its guarantees as they stood on a date, how far they cover the
principal, which GAS sees a loan through its pledges, and the share-capital cap.

Loans read these (coverage before disbursement, who may see a loan), and so do the
guarantee commands; they live apart from both so neither imports the other's use cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from sqlalchemy import Connection, select

from ledger import guarantees as g_rules
from ledger.as_of import guarantee_on
from ledger.shares import share_cap
from service.app import lending
from service.app.reversals import live
from service.db.records import Record
from service.db.tables import guarantee_calls, guarantees, relationships, shares

GuaranteeStatus = Literal["active", "released", "called"]


def guarantee_state(row: Record) -> g_rules.GuaranteeState:
    return g_rules.GuaranteeState(id=row.id, amount_cents=row.amount_minor,
                                  called_cents=row.called_minor,
                                  released=row.status == "released", created_seq=row.seq)


def loan_guarantees(conn: Connection, loan_id: str) -> list[Record]:
    return list(conn.execute(select(guarantees).where(guarantees.c.loan_id == loan_id)
                             .order_by(guarantees.c.seq)))


@dataclass(frozen=True)
class GuaranteeOn:
    """A guarantee as it stood on a date: calls count by their dates, a release by its."""

    status: GuaranteeStatus
    called: int
    remaining: int


def guarantee_now(row: Record) -> GuaranteeOn:
    return GuaranteeOn(row.status, row.called_minor, row.amount_minor - row.called_minor)


def guarantees_on(conn: Connection, loan_id: str, as_of: date | None
                  ) -> list[tuple[Record, GuaranteeOn]]:
    """The loan's guarantees, each with how it stood on ``as_of`` (None: now), as
    ``ledger.as_of.guarantee_on`` computes it for every surface (reversed calls never
    count); one signed after ``as_of`` did not exist yet and is left out."""
    rows = loan_guarantees(conn, loan_id)
    if as_of is None:
        return [(r, guarantee_now(r)) for r in rows]
    rows = [r for r in rows if r.date <= as_of]
    calls: dict[str, list[tuple[date, int]]] = {}
    for c in conn.execute(select(guarantee_calls.c.guarantee_id, guarantee_calls.c.date,
                                 guarantee_calls.c.amount_minor)
                          .where(guarantee_calls.c.loan_id == loan_id,
                                 live(guarantee_calls, "call"))):
        calls.setdefault(c.guarantee_id, []).append((c.date, c.amount_minor))
    out = []
    for r in rows:
        on = guarantee_on(r.amount_minor, calls.get(r.id, ()), as_of,
                          released=r.status == "released", released_on=r.released_on)
        out.append((r, GuaranteeOn(on.status, on.called, on.remaining)))
    return out


def coverage_parts(conn: Connection, loan: Record, as_of: date | None) -> tuple[int, int]:
    """(remaining of the guarantees active on ``as_of``, outstanding principal or, before
    disbursement, the principal)."""
    active = sum(on.remaining for _, on in guarantees_on(conn, loan.id, as_of)
                 if on.status == "active")
    if loan.status == "approved":
        return active, int(loan.principal_minor)
    state = lending.loan_state(loan, lending.events_of(conn, loan.id), as_of)
    return active, state.outstanding


def coverage_value(conn: Connection, loan: Record, as_of: date | None) -> Decimal | None:
    return g_rules.coverage_ratio(*coverage_parts(conn, loan, as_of))


def covers(conn: Connection, loan: Record, minimum: Decimal, on: date) -> bool:
    """Whether the active guarantees signed on or before ``on`` (the disbursement) cover
    at least ``minimum`` x the principal, exactly (the 2-decimal ratio shown to people
    would round 1.4999 up to 1.50)."""
    active = sum(r.amount_minor - r.called_minor for r in loan_guarantees(conn, loan.id)
                 if r.status == "active" and r.date <= on)
    return Decimal(active) >= minimum * int(loan.principal_minor)


def gas_sees_loan(conn: Connection, gas_id: str, loan_id: str) -> bool:
    return conn.execute(select(guarantees.c.id).where(
        guarantees.c.loan_id == loan_id, guarantees.c.guarantor_id == gas_id)).first() is not None


def share_cap_for(conn: Connection, producer_id: str, lender_id: str,
                  multiple: Decimal) -> int:
    """At most ``multiple`` x the share capital subscribed by the GAS that buy from it."""
    buyers = [r.gas_id for r in conn.execute(select(relationships.c.gas_id).where(
        relationships.c.producer_id == producer_id))]
    subscribed: dict[str, int] = {}
    for row in conn.execute(select(shares.c.member_id, shares.c.amount_minor).where(
            shares.c.lender_id == lender_id, shares.c.member_id.in_(buyers or [""]))):
        subscribed[row.member_id] = subscribed.get(row.member_id, 0) + row.amount_minor
    return share_cap(subscribed, multiple)
