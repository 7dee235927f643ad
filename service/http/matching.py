"""Matching over HTTP: a request's funding opportunities and allocation plans."""

from __future__ import annotations

from typing import Any

from litestar import get, post

from service.app import matching
from service.app.auth import Principal
from service.app.context import AppContext
from service.app.matching import PlanIn


@get("/api/requests/{request_id:str}/opportunities", sync_to_thread=True, tags=["matching"])
def get_opportunities(request_id: str, ctx: AppContext, principal: Principal,
                      as_of: str | None = None) -> dict[str, Any]:
    """Who could fund the request, how much and why, best first."""
    return matching.get_opportunities(ctx, principal, request_id, as_of)


@post("/api/matching/plan", sync_to_thread=True, status_code=200, tags=["matching"])
def post_plan(ctx: AppContext, principal: Principal, data: PlanIn | None = None
              ) -> dict[str, Any]:
    """The allocation that maximizes the assessment-weighted funding of the requests
    (default: every request under review or approved and not yet funded) within every
    limit; officers only. The body may be left out."""
    return matching.post_plan(ctx, principal, data)


HANDLERS = [get_opportunities, post_plan]
