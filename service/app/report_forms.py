"""What the report forms of ``GET /report`` offer to choose: the loans, producers and
GAS a user may name in a report's parameters (officers: every one; a producer or GAS
user: its own loans and the parties it is related to, as ``reports.check_filters_visible``
allows)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from service.app.auth import Principal
from service.app.lender_scope import of_own_lender
from service.app.parties import related_party_ids
from service.db.tables import loans, parties


@dataclass(frozen=True)
class ReportChoices:
    loans: list[tuple[str, str]]  # (id, "reference · borrower"), newest first
    producers: list[tuple[str, str]]  # (id, name), by name
    gas: list[tuple[str, str]]


def choices_on(conn: Connection, principal: Principal) -> ReportChoices:
    visible: set[str] | None = None
    if not principal.is_staff:
        visible = related_party_ids(conn, principal.party_id) if principal.party_id \
            else set()
    names: dict[str, str] = {}
    producers: list[tuple[str, str]] = []
    gas: list[tuple[str, str]] = []
    for p in conn.execute(select(parties.c.id, parties.c.name, parties.c.kind).where(
            parties.c.kind.in_(("producer", "gas"))).order_by(parties.c.name)):
        names[p.id] = p.name
        if visible is not None and p.id not in visible:
            continue
        (producers if p.kind == "producer" else gas).append((p.id, p.name))
    query = of_own_lender(select(loans.c.id, loans.c.reference, loans.c.borrower_id),
                          loans.c.lender_id, principal).order_by(loans.c.seq.desc())
    if not principal.is_staff:
        if principal.role != "producer":
            query = query.where(loans.c.id.is_(None))  # only producers get statements
        query = query.where(loans.c.borrower_id == (principal.party_id or ""))
    loan_items = [(r.id, f"{r.reference} · {names.get(r.borrower_id, '')}")
                  for r in conn.execute(query)]
    return ReportChoices(loan_items, producers, gas)
