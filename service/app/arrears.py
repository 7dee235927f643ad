"""The arrears list: loans late as of a day, most days late first, with the guarantors
to contact."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date

import msgspec
from sqlalchemy import Connection, case, func, select

from ledger.as_of import loan_on
from service.app import lending
from service.app.auth import Principal
from service.app.clock import today
from service.app.common import (
    check_limit,
    decode_cursor,
    encode_cursor,
)
from service.app.context import AppContext
from service.app.coverage import guarantees_on
from service.app.inputs import Input, flag, optional_day, optional_id
from service.app.lender_scope import of_own_lender
from service.app.read_cache import VersionedCache
from service.app.references import number_of
from service.app.types import Uuid
from service.app.views import Money, money
from service.db.records import Record
from service.db.tables import loans, parties


class GuarantorOut(msgspec.Struct):
    """A guarantor of the loan, what its active guarantees still cover, and how to reach
    it (the party's contacts, null where it has none)."""

    id: Uuid
    name: str
    remaining: Money
    email: str | None
    phone: str | None
    pec: str | None
    address: str | None


class ArrearsItem(msgspec.Struct):
    loan_id: Uuid
    reference: str
    borrower_id: Uuid
    borrower_name: str
    overdue_amount: Money
    days_past_due: int
    guarantors: list[GuarantorOut]


class ArrearsPage(msgspec.Struct):
    items: list[ArrearsItem]
    next_cursor: str | None


def _contact(party: Record, field: str) -> str | None:
    value = getattr(party, field, None)
    return None if value is None else str(value)


def _guarantors(conn: Connection, loan_id: str, day: date,
                names: dict[str, Record]) -> list[GuarantorOut]:
    """The loan's guarantees active on ``day``, summed by guarantor, by name."""
    remaining: dict[str, int] = {}
    for g, on in guarantees_on(conn, loan_id, day):
        if on.status == "active":
            remaining[g.guarantor_id] = remaining.get(g.guarantor_id, 0) + on.remaining
    out = []
    for gid in sorted(remaining, key=lambda p: (names[p].name, p)):
        party = names[gid]
        out.append(GuarantorOut(gid, party.name, money(remaining[gid]), _contact(party, "email"),
                                _contact(party, "phone"), _contact(party, "pec"),
                                _contact(party, "address")))
    return out


def loan_book_version(conn: Connection) -> tuple[Hashable, ...]:
    """What today's arrears of the active loans are computed from: the loan book's marks
    (``lending.loan_book_marks``), with which loans are active."""
    return lending.loan_book_marks(
        conn, func.sum(case((loans.c.status == "active", loans.c.seq), else_=0)))


# Today's arrears of every active loan, kept while nothing is written, and after a write
# that leaves the loans and their operations as they were (a party's contact, a
# request): the officers' desk shows them on every visit.
_TODAY: VersionedCache[dict[str, tuple[int, int]]] = VersionedCache(loan_book_version)


@dataclass(frozen=True, kw_only=True)
class ArrearsQuery(Input):
    """What ``GET /api/arrears`` filters on, from its query string."""

    on: date | None = optional_day("as_of")
    lender_id: str | None = optional_id()
    written_off_too: bool | None = flag("include_written_off")


def list_arrears(ctx: AppContext, principal: Principal, as_of: str | None,
                 lender_id: str | None, include_written_off: str | None,
                 limit: int | None, cursor: str | None) -> ArrearsPage:
    """Loans with anything overdue as of ``as_of`` (default today), officers only: most
    days late first, then the larger overdue amount, then the reference's number.
    Written-off loans only with ``include_written_off=true``."""
    query = ArrearsQuery.read({"as_of": as_of, "lender_id": lender_id,
                               "include_written_off": include_written_off})
    day = query.on or today()
    lender, written_off_too = query.lender_id, bool(query.written_off_too)
    size = check_limit(limit)
    start = decode_cursor(cursor) or 0  # a position in the ordered list
    principal.require("officer")
    statuses = ("active", "written_off") if written_off_too else ("active",)

    def read(conn: Connection) -> ArrearsPage:
        query = select(loans).where(loans.c.disbursed_on.is_not(None),
                                    loans.c.disbursed_on <= day)
        if lender:
            query = query.where(loans.c.lender_id == lender)
        query = of_own_lender(query, loans.c.lender_id, principal)
        names = {p.id: p for p in conn.execute(select(
            parties.c.id, parties.c.name, parties.c.email, parties.c.phone, parties.c.pec,
            parties.c.address)).all()}
        # (overdue cents, days past due) of each late loan.
        figures: dict[str, tuple[int, int]] = {}
        if day == today() and not written_off_too:
            # Today's arrears of active loans: the kept schedules answer in one query,
            # replaying only loans they cannot answer for (lending.portfolio_arrears,
            # checked against full replays by its tests): 3,000 loans 1.9 s -> ~50 ms.
            figures = {k: v for k, v in _TODAY.get(
                conn, day, lambda c: lending.portfolio_arrears(c, day)).items() if v[0] > 0}
            rows = list(conn.execute(query.where(loans.c.id.in_(list(figures)))))
        else:
            rows = []
            for row in conn.execute(query.order_by(loans.c.seq)):
                on = loan_on(lending.terms_of(row), lending.events_of(conn, row.id), day,
                             disbursed_on=row.disbursed_on,
                             late_rate=lending.late_rate_of(conn, row),
                             flagged_restructured=bool(row.restructured))
                if on.status in statuses and on.overdue > 0:
                    figures[row.id] = (on.overdue, on.days_past_due)
                    rows.append(row)
        late = sorted(((-figures[r.id][1], -figures[r.id][0], number_of(r.reference), r)
                       for r in rows), key=lambda t: t[:3])
        # The guarantors of the page's loans only (one query each).
        items = [ArrearsItem(
            loan_id=row.id, reference=row.reference, borrower_id=row.borrower_id,
            borrower_name=names[row.borrower_id].name,
            overdue_amount=money(figures[row.id][0]), days_past_due=figures[row.id][1],
            guarantors=_guarantors(conn, row.id, day, names))
            for *_, row in late[start:start + size]]
        nxt = encode_cursor(start + size) if len(late) > start + size else None
        return ArrearsPage(items, nxt)

    return ctx.read(read)
