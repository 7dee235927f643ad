"""Refusals of the application layer. Each carries the HTTP status the entry points answer
with (and a 409 its ``code``), so the HTTP API, the web pages and the CLI refuse alike."""

from __future__ import annotations

from contextvars import ContextVar


class ApiError(Exception):
    """An error the API answers as a problem document."""

    status = 400
    kind = "bad-request"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(ApiError):
    status, kind = 400, "bad-request"


class Unauthorized(ApiError):
    status, kind = 401, "unauthorized"


class Forbidden(ApiError):
    status, kind = 403, "forbidden"


class NotFound(ApiError):
    status, kind = 404, "not-found"

    def __init__(self, what: str = "resource") -> None:
        super().__init__(f"{what} not found")


class TooManyRequests(ApiError):
    status, kind = 429, "too-many-requests"


# Seconds a client is told to wait before sending again a request the database could
# not take (a lost connection is replaced on the next request; a lock is usually free).
RETRY_AFTER_UNAVAILABLE = 1


class Unavailable(ApiError):
    """503 ``unavailable``: the database could not be used (connection lost, server
    restarting, SQLite's lock held past the busy timeout). Nothing of the request was
    applied, or, when the connection broke while committing, the same request sent again
    with the same ``id`` answers as the first time: either way the client retries with
    the same ``id``. Never a statement about the request itself."""

    status, kind = 503, "unavailable"

    def __init__(self, detail: str = "the database is unavailable for a moment; send the "
                 "same request again (with the same id) shortly") -> None:
        super().__init__(detail, code="unavailable", retry_after=RETRY_AFTER_UNAVAILABLE)


class Conflict(ApiError):
    """409 with a machine-readable ``code`` (see API.md for the list)."""

    status, kind = 409, "conflict"

    def __init__(self, code: str, detail: str, **extra: object) -> None:
        super().__init__(detail, code=code, **extra)
        self.code = code


class Invalid(ApiError):
    """422 with ``errors``: a list of ``{"field": "dotted.path", "message": ...}``."""

    status, kind = 422, "invalid-input"

    def __init__(self, errors: list[dict[str, str]], detail: str | None = None) -> None:
        first = errors[0] if errors else {"field": "", "message": "invalid input"}
        super().__init__(detail or f"{first['field'] or 'body'}: {first['message']}", errors=errors)
        self.errors = errors


def invalid(field: str, message: str) -> Invalid:
    return Invalid([{"field": field, "message": message}])


class Errors:
    """Collects field errors so one 422 names every bad field at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})

    def raise_if_any(self) -> None:
        if self.items:
            raise Invalid(self.items)
        refuse_bad_body()


# A body with fields of the wrong type (``"economic_score": 6.5``): the HTTP layer lists
# every such field here and hands the use case a stand-in value for each, so that the use
# case's own checks name the other bad fields too (API.md: a 422 names every bad field at
# once, type errors included). Nothing runs on the stand-ins: ``AppContext.read`` and
# ``write`` and ``Errors.raise_if_any`` refuse while the list is set, and the 422 names
# the type errors with the use case's other refusals (``with_body_errors``).
BODY_TYPE_ERRORS: ContextVar[list[dict[str, str]] | None] = ContextVar(
    "BODY_TYPE_ERRORS", default=None)


def refuse_bad_body() -> None:
    """422 naming the body's type errors, if it had any."""
    pending = BODY_TYPE_ERRORS.get()
    if pending:
        raise Invalid(pending)


def _related(a: str, b: str) -> bool:
    """The same field, or one inside the other (``amount`` and ``amount.amount``)."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def with_body_errors(errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """The body's type errors, then ``errors`` on other fields: a check the use case made
    on a stand-in value says nothing about what the client sent."""
    pending = BODY_TYPE_ERRORS.get() or []
    typed = [e["field"] for e in pending]
    merged = list(pending)
    for e in errors:
        if e in merged or (e["field"] and any(_related(e["field"], f) for f in typed if f)):
            continue
        merged.append(e)
    return merged


__all__ = [
    "ApiError",
    "BadRequest",
    "Conflict",
    "Errors",
    "Forbidden",
    "Invalid",
    "NotFound",
    "TooManyRequests",
    "Unauthorized",
    "invalid",
]
