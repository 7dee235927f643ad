"""RFC 9457 problem details: every error the API answers is one of these."""

from __future__ import annotations

import logging
import re
from typing import TypeAlias

from litestar import Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DBAPIError, DisconnectionError

from ledger.store import is_unavailable
from service.app.errors import BODY_TYPE_ERRORS, ApiError, Invalid, Unavailable, with_body_errors
from service.web.core import AnyRequest

log = logging.getLogger("filiera.errors")

PROBLEM = "application/problem+json"
TYPE_BASE = "https://filiera.example/problems/"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}

# A problem document (RFC 9457) as Litestar sends it.
ProblemResponse: TypeAlias = Response[dict[str, object]]


def problem(status: int, detail: str, kind: str | None = None, **extra: object) -> ProblemResponse:
    body: dict[str, object] = {
        "type": TYPE_BASE + (kind or TITLES.get(status, "error").lower().replace(" ", "-")),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(content=body, status_code=status, media_type=PROBLEM)


def handle_api_error(_: AnyRequest, exc: ApiError) -> ProblemResponse:
    if BODY_TYPE_ERRORS.get():
        if isinstance(exc, Invalid):
            # The body's bad fields (a wrong type, a refused character), with what the
            # use case found besides.
            exc = Invalid(with_body_errors(exc.errors))
        elif exc.status != 429:
            # A 404, 403, 409 (or a login's 401) found on stand-ins for the body's bad
            # fields: the 422 comes first in the order of refusals.
            exc = Invalid(with_body_errors([]))
    response = problem(exc.status, exc.detail, exc.kind, **exc.extra)
    if "retry_after" in exc.extra:  # the standard header beside the body's field
        response.headers["Retry-After"] = str(exc.extra["retry_after"])
    return response


_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


_MSGSPEC_PATH = re.compile(r" - at `\$(.*)`$")
_INDEX = re.compile(r"\[(\d+)\]")


def _dotted(path: str) -> str:
    """msgspec's ``$[1].amount.amount`` / ``$.categories[0]`` as ``1.amount.amount`` /
    ``categories.0``."""
    dotted = _INDEX.sub(r".\1", path).lstrip(".")
    # Litestar converts the body under the parameter name ``data``.
    return "" if dotted == "data" else dotted.removeprefix("data.")


def _body_problem(cause: BaseException | None) -> ProblemResponse | None:
    """A 422 naming the body field msgspec refused, when ``cause`` is such a refusal."""
    if cause is None or type(cause).__module__ != "msgspec":
        return None
    text_ = str(cause)
    m = _MSGSPEC_PATH.search(text_)
    if not m:
        return None
    message = text_[: m.start()]
    field = _dotted(m.group(1))
    for pattern in (_UNKNOWN_FIELD, _MISSING_FIELD):
        named = pattern.search(message)
        if named:  # name the field itself, not the object that holds it
            field = f"{field}.{named.group(1)}" if field else named.group(1)
    return problem(422, f"{field or 'body'}: {message}", "invalid-input",
                   errors=[{"field": field, "message": message}])


def handle_validation(request: AnyRequest, exc: ValidationException) -> ProblemResponse:
    """Litestar's 400 "Validation failed" becomes our 422 with dotted field paths."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    body = _body_problem(exc.__cause__)
    if body is not None:
        return body
    errors: list[dict[str, str]] = []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        key = str(item.get("key", ""))
        source = item.get("source")
        if key == "data" and message == "'data'":
            return problem(400, "a JSON request body is required")
        field = "" if key == "data" else _dotted(key.removeprefix("data."))
        for pattern in (_UNKNOWN_FIELD, _MISSING_FIELD):
            m = pattern.search(message)
            if m:
                field = f"{field}.{m.group(1)}" if field else m.group(1)
        if source and source != "body" and not field:
            field = str(source)
        errors.append({"field": field, "message": message})
    if not errors:
        return problem(400, exc.detail or "bad request")
    errors = with_body_errors(errors)  # a bad query parameter beside a bad body field
    return problem(422, f"{errors[0]['field'] or 'body'}: {errors[0]['message']}",
                   "invalid-input", errors=errors)


# What Litestar raises (as a 500) when the client hangs up before its body has arrived.
_CLIENT_GONE = "client disconnected prematurely"


def handle_http(request: AnyRequest, exc: HTTPException) -> ProblemResponse:
    status = exc.status_code
    if status == HTTP_500_INTERNAL_SERVER_ERROR and exc.detail == _CLIENT_GONE:
        # Nothing ran and nobody reads the answer: the client's doing, not a server error
        # (a load test's clients stopping mid-request logged a traceback each).
        log.info("client disconnected before its body arrived on %s %s", request.method,
                 request.url.path)
        return problem(400, "the client disconnected before its request body arrived")
    if status == HTTP_500_INTERNAL_SERVER_ERROR:
        # Litestar takes a bad body field named like a dependency (a loan's ``principal``
        # beside the ``principal`` of the caller) for a dependency failure: a 500. The
        # msgspec error it wraps says it was the body.
        m = _MSGSPEC_PATH.search(str(exc.__cause__ or ""))
        if m and (m.group(1) == ".data" or m.group(1).startswith((".data.", ".data["))):
            body = _body_problem(exc.__cause__)
            if body is not None:
                return body
        log.error("server error on %s %s", request.method, request.url.path, exc_info=exc)
    if isinstance(exc, NotAuthorizedException):
        return problem(401, exc.detail or "authentication required")
    if isinstance(exc, PermissionDeniedException):
        return problem(403, exc.detail or "your role may not do this")
    detail = exc.detail or TITLES.get(status, "error")
    if status == 400 and "JSON is malformed" in detail:
        detail = "the request body is not valid JSON"
    response = problem(status, detail)
    if status == 405 and exc.headers:  # the methods the path has, as Litestar found them
        response.headers["Allow"] = exc.headers.get("allow") or exc.headers.get("Allow", "")
    return response


def handle_bad_encoding(request: AnyRequest, exc: UnicodeDecodeError) -> ProblemResponse:
    """Litestar decodes a JSON body as UTF-8 and lets the error through: the body cannot
    be parsed, so it is the client's 400, not our 500."""
    return problem(400, "the request body is not valid UTF-8 JSON")


def handle_internal(request: AnyRequest, exc: Exception) -> ProblemResponse:
    if is_unavailable(exc):  # the driver's own error, or one raised on a lost connection
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                    exc.__class__.__name__)
        return handle_api_error(request, Unavailable())
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "internal error; it has been logged")


def handle_database(request: AnyRequest, exc: Exception) -> ProblemResponse:
    """A database error outside ``AppContext.read``/``write`` (a guard's look-up, say):
    503 when the database could not be used, so a client can tell "not applied, send
    it again" from a bug, which stays a 500."""
    if is_unavailable(exc):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                    exc.__class__.__name__)
        return handle_api_error(request, Unavailable())
    return handle_internal(request, exc)


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    DBAPIError: handle_database,
    DisconnectionError: handle_database,
    ValidationException: handle_validation,
    HTTPException: handle_http,
    UnicodeDecodeError: handle_bad_encoding,
    Exception: handle_internal,
}

