"""What the officers' desk (``GET /``, Scrivania) lists besides requests and arrears:
open prepayments about to expire, soonest first; and the words that name loans in lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, func, select

from service.app.auth import Principal
from service.app.clock import today
from service.app.common import check_limit
from service.app.context import AppContext
from service.app.prepayments import PrepaymentOut, prepayment_out
from service.db.tables import loans, parties, prepayments

EXPIRING_DAYS = 30


@dataclass(frozen=True)
class ExpiringPrepayments:
    by: date  # open prepayments expiring on or before this day (expired ones included)
    count: int  # all of them, however many ``items`` the limit lets through
    items: list[PrepaymentOut]


def expiring_prepayments(ctx: AppContext, principal: Principal, limit: int | None,
                         days: int = EXPIRING_DAYS) -> ExpiringPrepayments:
    """Open prepayments whose ``expires_on`` is within ``days`` from today (or already
    past), soonest first; officers only."""
    principal.require("officer")
    size = check_limit(limit)
    by = today() + timedelta(days=days)
    c = prepayments.c
    where = (c.status == "open") & (c.expires_on <= by)

    def read(conn: Connection) -> ExpiringPrepayments:
        rows = list(conn.execute(select(prepayments).where(where)
                                 .order_by(c.expires_on, c.seq).limit(size)))
        count = conn.execute(select(func.count()).select_from(prepayments)
                             .where(where)).scalar_one()
        return ExpiringPrepayments(by, int(count), [prepayment_out(conn, r) for r in rows])

    return ctx.read(read)


def loan_labels(ctx: AppContext, principal: Principal, loan_ids: list[str]
                ) -> dict[str, tuple[str, str]]:
    """Each loan's reference and borrower's name, for lists that name loans by id
    (officers only)."""
    principal.require("officer")
    ids = sorted(set(loan_ids))

    def read(conn: Connection) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for start in range(0, len(ids), 500):
            query = select(loans.c.id, loans.c.reference, parties.c.name).join(
                parties, parties.c.id == loans.c.borrower_id).where(
                loans.c.id.in_(ids[start:start + 500]))
            out.update({r.id: (r.reference, r.name) for r in conn.execute(query)})
        return out

    return ctx.read(read) if ids else {}
