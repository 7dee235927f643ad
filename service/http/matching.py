"""Matching over HTTP: a request's funding opportunities and allocation plans."""

from __future__ import annotations

from litestar import get, post
from litestar.params import FromPath, FromQuery, JSONBody

from service.app import matching
from service.app.matching import Opportunities, PlanIn, PlanOut
from service.http.params import BODY, READ, Ctx, User, responses


@get("/api/requests/{request_id:str}/opportunities", sync_to_thread=True, tags=["matching"],
     responses=responses(*READ))
def get_opportunities(request_id: FromPath[str], ctx: Ctx, principal: User,
                      as_of: FromQuery[str | None] = None) -> Opportunities:
    """Who could fund the request, how much and why, best first."""
    return matching.get_opportunities(ctx, principal, request_id, as_of)


@post("/api/matching/plan", sync_to_thread=True, status_code=200, tags=["matching"],
      responses=responses(*BODY, 403))
def post_plan(ctx: Ctx, principal: User, data: JSONBody[PlanIn | None] = None) -> PlanOut:
    """The allocation that maximizes the assessment-weighted funding of the requests
    (default: every request under review or approved and not yet funded; for an
    officer bound to a lender, those its lender may fund: another lender's named ->
    403) within every limit; officers only. The body may be left out."""
    return matching.post_plan(ctx, principal, data)


HANDLERS = [get_opportunities, post_plan]
