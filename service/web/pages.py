"""Every page's handlers, feature by feature (each module owns its paths)."""

from __future__ import annotations

from typing import Any

from service.web import (
    party_pages,
    plan_pages,
    portfolio_pages,
    report_pages,
    simulator_pages,
)

HANDLERS: list[Any] = [
    *simulator_pages.HANDLERS,
    *portfolio_pages.HANDLERS,
    *plan_pages.HANDLERS,
    *report_pages.HANDLERS,
    *party_pages.HANDLERS,
]
