"""Every page's handlers, feature by feature (each module owns its paths)."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

from service.web import (
    fund_pages,
    guarantees_pages,
    loans_pages,
    party_pages,
    plan_pages,
    portfolio_pages,
    prepayments_pages,
    report_pages,
    requests_pages,
    reversal_pages,
    simulator_pages,
)

HANDLERS: list[HTTPRouteHandler] = [
    *simulator_pages.HANDLERS,
    *requests_pages.HANDLERS,
    *loans_pages.HANDLERS,
    *fund_pages.HANDLERS,
    *prepayments_pages.HANDLERS,
    *guarantees_pages.HANDLERS,
    *portfolio_pages.HANDLERS,
    *plan_pages.HANDLERS,
    *report_pages.HANDLERS,
    *party_pages.HANDLERS,
    *reversal_pages.HANDLERS,
]
