"""Every page's handlers, feature by feature (each module owns its paths)."""

from __future__ import annotations

from typing import Any

HANDLERS: list[Any] = []
from service.web import party_pages, plan_pages, portfolio_pages, report_pages  # noqa: E402

HANDLERS += portfolio_pages.HANDLERS + plan_pages.HANDLERS  # officer's desk
HANDLERS += report_pages.HANDLERS + party_pages.HANDLERS  # officer's desk
