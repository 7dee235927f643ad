"""What every controller declares the same way: the app context and the caller as named
dependencies, and the refusals an operation can answer, documented as problem details."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import QueryParameter

from service.app.auth import Principal
from service.app.context import AppContext

Ctx = NamedDependency[AppContext]
User = NamedDependency[Principal]
# Every list takes ``limit`` (1-500, default 50) and an opaque ``cursor``. The bounds are
# documented only: the use case refuses a bad limit with its own 422 ("must be between 1
# and 500"), after the refusals that come before it.
Limit = Annotated[int | None, QueryParameter(schema_extra={"minimum": 1, "maximum": 500})]

PROBLEM_MEDIA_TYPE = "application/problem+json"

CONFLICT_CODES = (
    "idempotency_conflict", "invalid_transition", "insufficient_funds", "exceeds_capacity",
    "exceeds_prepayment", "closed", "usury_threshold_exceeded", "loan_limit_exceeded",
    "coverage_below_minimum", "loan_not_active", "already_disbursed", "already_released",
    "already_reversed", "period_closed", "conflict",
)


class FieldError(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    # 409: what refused it; ``invalid_transition`` also lists the allowed targets.
    code: str | None = None
    allowed: list[str] | None = None
    # 422: every bad field at once.
    errors: list[FieldError] | None = None
    # 429: seconds to wait (also the Retry-After header).
    retry_after: int | None = None


_DESCRIPTIONS = {
    400: "The request could not be read: a body that is not JSON (or not UTF-8, or "
         "nested too deep), or a malformed parameter",
    401: "No or bad credentials",
    403: "The caller's role may not do this",
    404: "Not found, or not visible to the caller",
    409: "Refused by a rule or the current state; `code` says which",
    413: "The body is too large",
    415: "The body's content type is not one the operation takes",
    422: "Invalid input; `errors` names every bad field",
    429: "Too many failed logins; retry after `Retry-After` seconds",
}


def refusals(*statuses: int, codes: tuple[str, ...] = ()) -> dict[int, ResponseSpec]:
    """The problem responses an operation documents. Every authenticated operation can
    answer 401, and any request that cannot be read 400; bodies add 413 and 422."""
    responses: dict[int, ResponseSpec] = {}
    # Naming a 409 code documents the 409 itself.
    for status in sorted({400, 401, *statuses, *((409,) if codes else ())}):
        description = _DESCRIPTIONS[status]
        if status == 409 and codes:
            description += ": " + ", ".join(f"`{c}`" for c in codes)
        responses[status] = ResponseSpec(data_container=Problem, description=description,
                                         media_type=PROBLEM_MEDIA_TYPE,
                                         generate_examples=False)
    return responses


READ = (404, 422)  # a read by id or with filters
BODY = (400, 413, 422)  # anything with a JSON body


def responses(*statuses: int, codes: tuple[str, ...] = ()) -> dict[int, ResponseSpec]:
    """Shorthand for decorators: ``@post(..., responses=responses(*BODY, 403, 404, 409,
    codes=("loan_not_active",)))``."""
    return dict(refusals(*statuses, codes=codes))
