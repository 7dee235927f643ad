"""Funding requests over HTTP: submission, review workflow, assessment, terms, funding,
GAS interest, and the officers' to-do list."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.params import Body, FromPath, FromQuery, JSONBody

from service.app import requests
from service.app.requests import (
    AssessmentIn,
    AssessmentOut,
    FundingIn,
    InterestIn,
    InterestOut,
    InterestPage,
    RequestIn,
    RequestOut,
    RequestPage,
    RequestTermsIn,
    TermsOut,
    TodoOut,
    TransitionIn,
)
from service.http.params import BODY, READ, Ctx, Limit, User, responses

# What creating a package can meet besides the workflow (the loan's category and pool,
# the guarantors' capacity, the pool's money, the category's minimum coverage).
FUNDING_CODES = (
    "idempotency_conflict", "invalid_transition", "insufficient_funds", "exceeds_capacity",
    "usury_threshold_exceeded", "loan_limit_exceeded", "coverage_below_minimum",
    "period_closed",
)

_MONEY_IN = {"type": "object", "required": ["amount", "currency"],
             "properties": {"amount": {"type": "string"}, "currency": {"type": "string"}}}
_MONEY_OR_NULL = {"anyOf": [_MONEY_IN, {"type": "null"}]}
_TEXT_OR_NULL = {"type": ["string", "null"]}
# A merge patch is read as a JSON object (every bad field named at once, an absent field
# told from a null one); its shape is documented here.
RequestPatch = Annotated[dict[str, Any], Body(
    title="RequestPatch",
    description="JSON merge patch of a request: the fields given change, `null` clears "
                "an optional one; `business` merges field by field.",
    schema_extra={
        "additionalProperties": False,
        "properties": {
            "amount": _MONEY_IN,
            "purpose": {"type": "string", "minLength": 1},
            "instrument": {"type": "string", "enum": list(requests.INSTRUMENTS)},
            "term_months": {"type": "integer", "minimum": 1, "maximum": 600},
            "needed_by": {**_TEXT_OR_NULL, "format": "date"},
            "gas_ids": {"type": ["array", "null"],
                        "items": {"type": "string", "format": "uuid"}},
            "business": {"type": ["object", "null"], "additionalProperties": False,
                         "properties": {
                             "description": _TEXT_OR_NULL, "revenue": _MONEY_OR_NULL,
                             "costs": _MONEY_OR_NULL, "existing_debts": _MONEY_OR_NULL,
                             "workers": {"type": ["integer", "null"], "minimum": 0},
                             "hectares": _TEXT_OR_NULL,
                             "certifications": {"type": ["array", "null"],
                                                "items": {"type": "string"}}}},
            "social_notes": _TEXT_OR_NULL,
            "environmental_notes": _TEXT_OR_NULL,
            "links": {"type": ["array", "null"], "items": {"type": "string"}},
        }})]


class RequestController(Controller):
    path = "/api/requests"
    tags = ["requests"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, codes=("idempotency_conflict",)))
    def create_request(self, data: JSONBody[RequestIn], ctx: Ctx, principal: User
                       ) -> Response[RequestOut]:
        """Submit a request (a producer for itself, an officer on a producer's behalf)."""
        status, body = requests.submit_request(ctx, principal, data)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True, responses=responses(422))
    def list_requests(
        self, ctx: Ctx, principal: User, status: FromQuery[str | None] = None,
        producer_id: FromQuery[str | None] = None, gas_id: FromQuery[str | None] = None,
        instrument: FromQuery[str | None] = None, created_from: FromQuery[str | None] = None,
        created_to: FromQuery[str | None] = None, amount_min: FromQuery[str | None] = None,
        amount_max: FromQuery[str | None] = None, sort: FromQuery[str | None] = None,
        limit: Limit = None, cursor: FromQuery[str | None] = None,
        reference: FromQuery[str | None] = None,
    ) -> RequestPage:
        """Requests the user may see, oldest first unless ``sort`` says otherwise
        (``created_at``, ``amount``, ``needed_by``; ``-`` in front for descending)."""
        return requests.list_requests(
            ctx, principal, status=status, producer_id=producer_id, gas_id=gas_id,
            instrument=instrument, created_from=created_from, created_to=created_to,
            amount_min=amount_min, amount_max=amount_max, sort=sort, limit=limit,
            cursor=cursor, reference=reference)

    @get("/todo", sync_to_thread=True, responses=responses(403, 422))
    def todo(self, ctx: Ctx, principal: User, limit: Limit = None) -> TodoOut:
        """An officer's to-do list, each section oldest first by when the request
        entered its status."""
        return requests.officer_todo(ctx, principal, limit)

    @get("/{request_id:str}", sync_to_thread=True, responses=responses(*READ))
    def get_request(self, request_id: FromPath[str], ctx: Ctx, principal: User
                    ) -> RequestOut:
        return requests.read_request(ctx, principal, request_id)

    @patch("/{request_id:str}", sync_to_thread=True,
           responses=responses(*BODY, 403, 404, 409, codes=("invalid_transition",)),
           description="A JSON merge patch (RFC 7396) of the request's `amount`, `purpose`, "
           "`instrument`, `term_months`, `needed_by`, `gas_ids`, `business`, "
           "`social_notes`, `environmental_notes`, `links`: the producer while its request "
           "is `submitted` or `needs_info`, an officer while `submitted`, `under_review` or "
           "`needs_info`; any other status -> 409 `invalid_transition`. `null` clears an "
           "optional field (a required one -> 422); `id` or any other field -> 422. The "
           "history records each edit (`to_status` = `from_status`, `changes`: "
           "`{field: {from, to}}`); a patch that changes nothing answers 200 and records "
           "nothing.")
    def update_request(self, request_id: FromPath[str], data: RequestPatch, ctx: Ctx,
                       principal: User) -> RequestOut:
        return requests.update_request(ctx, principal, request_id, data)

    @post("/{request_id:str}/transitions", sync_to_thread=True, status_code=200,
          responses=responses(*BODY, 403, 404, 409,
                              codes=("idempotency_conflict", "invalid_transition")))
    def transition(self, request_id: FromPath[str], data: JSONBody[TransitionIn], ctx: Ctx,
                   principal: User) -> Response[RequestOut]:
        status, body = requests.move_request(ctx, principal, request_id, data)
        return Response(body, status_code=status)

    @put("/{request_id:str}/assessment", sync_to_thread=True,
         responses=responses(*BODY, 403, 404))
    def assess(self, request_id: FromPath[str], data: JSONBody[AssessmentIn], ctx: Ctx,
               principal: User) -> AssessmentOut:
        """Record the officers' assessment; an unchanged one adds no version."""
        return requests.assess_request(ctx, principal, request_id, data)

    @get("/{request_id:str}/assessment", sync_to_thread=True, responses=responses(403, 404))
    def get_assessment(self, request_id: FromPath[str], ctx: Ctx, principal: User
                       ) -> AssessmentOut:
        return requests.read_assessment(ctx, principal, request_id)

    @put("/{request_id:str}/terms", sync_to_thread=True,
         responses=responses(*BODY, 403, 404, 409, codes=("invalid_transition",)))
    def set_terms(self, request_id: FromPath[str], data: JSONBody[RequestTermsIn], ctx: Ctx,
                  principal: User) -> TermsOut:
        """Set the financing package (officers, under review or approved); unchanged
        terms add no version."""
        return requests.set_terms(ctx, principal, request_id, data)

    @get("/{request_id:str}/terms", sync_to_thread=True, responses=responses(403, 404))
    def get_terms(self, request_id: FromPath[str], ctx: Ctx, principal: User) -> TermsOut:
        return requests.read_terms(ctx, principal, request_id)

    @post("/{request_id:str}/funding", sync_to_thread=True, status_code=200,
          responses=responses(*BODY, 403, 404, 409, codes=FUNDING_CODES))
    def fund(self, request_id: FromPath[str], data: JSONBody[FundingIn], ctx: Ctx,
             principal: User) -> Response[RequestOut]:
        """Create the package of the terms in force, all or nothing: the request is then
        ``funded`` with its ``instruments``."""
        status, body = requests.fund_request(ctx, principal, request_id, data)
        return Response(body, status_code=status)

    @post("/{request_id:str}/interests", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, 404, 409,
                              codes=("idempotency_conflict", "closed")))
    def declare_interest(self, request_id: FromPath[str], data: JSONBody[InterestIn],
                         ctx: Ctx, principal: User) -> Response[InterestOut]:
        """A GAS says it may prepay or guarantee part of the request (non-binding);
        officers may record it for a GAS (``gas_id``)."""
        status, body = requests.declare_interest(ctx, principal, request_id, data)
        return Response(body, status_code=status)

    @delete("/{request_id:str}/interests/{kind:str}", sync_to_thread=True, status_code=204,
            responses=responses(403, 404, 409, 422, codes=("closed",)))
    def withdraw_interest(self, request_id: FromPath[str], kind: FromPath[str], ctx: Ctx,
                          principal: User, gas_id: FromQuery[str | None] = None) -> None:
        """A GAS withdraws its interest of ``kind`` (``prepayment`` or ``guarantee``);
        officers name the GAS with ``gas_id``."""
        requests.withdraw_interest(ctx, principal, request_id, kind, gas_id)

    @get("/{request_id:str}/interests", sync_to_thread=True, responses=responses(*READ))
    def list_interests(self, request_id: FromPath[str], ctx: Ctx, principal: User,
                       limit: Limit = None, cursor: FromQuery[str | None] = None
                       ) -> InterestPage:
        """Officers and the producer see every GAS's interest; a GAS user its own."""
        return requests.list_interests(ctx, principal, request_id, limit, cursor)


HANDLERS = [RequestController]
