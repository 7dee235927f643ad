"""The portfolio as of a day, for the officers' desk (``GET /portafoglio``).

The figures are the portfolio report's own: the same positions (``reports.portfolio_inputs``,
the loans replayed as of the day) through the same ``portfolio_metrics``, so the page
and ``portfolio.xlsx`` for the same day can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, select

from reports.portfolio import (
    DEFAULT_PROVISIONING_PERCENT,
    AgingBucket,
    LoanPosition,
    PortfolioMetrics,
    aging_bucket,
    loan_allowance_cents,
    portfolio_metrics,
)
from service.app import reports
from service.app.auth import Principal
from service.app.context import AppContext
from service.app.lender_scope import lender_scope
from service.app.read_cache import ReadCache
from service.db.tables import loans


@dataclass(frozen=True)
class PortfolioLoan:
    """One loan of the portfolio as of the day, as the report's Loans sheet has it."""

    position: LoanPosition
    reference: str
    bucket: AgingBucket | None  # active loans only
    provisioning_percent: Decimal | None
    allowance_cents: int | None

    @property
    def active(self) -> bool:
        return self.position.status == "active"


@dataclass(frozen=True)
class PortfolioView:
    as_of: date
    metrics: PortfolioMetrics
    loans: list[PortfolioLoan]  # by borrower name, then loan id (the report's order)
    rates: Mapping[AgingBucket, Decimal]


def _references(conn: Connection, ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        out.update({r.id: r.reference for r in conn.execute(
            select(loans.c.id, loans.c.reference).where(loans.c.id.in_(chunk)))})
    return out


# Every loan replayed as of the date, and the figures made of them: the page is looked
# at again and again between writes (another date, back, the next page of loans).
_VIEWS: ReadCache[PortfolioView] = ReadCache()


def _view(conn: Connection, req: reports.ReportRequest) -> PortfolioView:
    positions, params = reports.portfolio_inputs(conn, req)
    refs = _references(conn, [p.loan_id for p in positions])
    metrics = portfolio_metrics(positions, req.as_of, params)
    rates = {**DEFAULT_PROVISIONING_PERCENT, **params.provisioning_percent}
    rows = []
    for p in sorted(positions, key=lambda p: (p.borrower_name, p.loan_id)):
        bucket = aging_bucket(p.days_past_due) if p.status == "active" else None
        rows.append(PortfolioLoan(
            position=p, reference=refs.get(p.loan_id, ""), bucket=bucket,
            provisioning_percent=rates[bucket] if bucket else None,
            allowance_cents=loan_allowance_cents(p.outstanding_principal_cents, rates[bucket])
            if bucket else None))
    return PortfolioView(req.as_of, metrics, rows, rates)


def portfolio_view(ctx: AppContext, principal: Principal, as_of: str | None) -> PortfolioView:
    """The portfolio's figures and loans as of ``as_of`` (default today), officers only;
    a bad date is a 422 naming ``as_of``, as the report says it."""
    principal.require("officer")
    info = reports.find_report("portfolio", "xlsx")
    # An officer bound to a lender: its lender's loans only, kept apart from the others'.
    req = replace(reports.parse_request(info, "xlsx", {"as_of": as_of}),
                  lender_id=lender_scope(principal))
    with reports.snapshot(ctx.engine) as conn:
        return _VIEWS.get(conn, (req.as_of, req.lender_id), lambda c: _view(c, req),
                          snapshot=reports.snapshot)
