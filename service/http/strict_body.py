"""JSON bodies checked strictly against their declared types.

Litestar converts a request body leniently (``msgspec.convert(strict=False)``, needed for
query strings), so ``"8"`` would pass where the contract asks for a JSON integer and
``"45.1"`` where it asks for a JSON number. This request class checks the decoded body
strictly against the handler's ``data`` type first; a mismatch is the usual 422 naming
the field. Money is unaffected: amounts are strings checked by ``ledger.money``.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar.exceptions import ClientException, ValidationException
from litestar.routes import HTTPRoute

from ledger.text import TextError, check_free_text, check_text
from service.app.errors import Invalid

# One wrapper struct per body type: the body sits under ``data`` as in Litestar's own
# conversion, so errors carry the same paths (``$.data.principal``) and reach the same
# 422 (service.http.problems), root-level ones (an unknown field) included.
_WRAPPERS: dict[Any, type[msgspec.Struct]] = {}


def _wrapper(annotation: Any) -> type[msgspec.Struct]:
    wrapper = _WRAPPERS.get(annotation)
    if wrapper is None:
        wrapper = _WRAPPERS[annotation] = msgspec.defstruct("Body", [("data", annotation)])
    return wrapper


def json_media_type(content_type: str | None) -> bool:
    """``application/json`` or ``application/<something>+json``, parameters allowed."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or (
        subtype.endswith("+json") and len(subtype) > len("+json")))


# Free text (API.md, "Hardening"): these fields also take tab, line feed, carriage
# return (CRLF stored as LF) and the zero-width joiner of emoji sequences.
_MAYBE_UNCLEAN = re.compile(rb"[\x00-\x1f\x7f-\xff\\]")
FREE_TEXT_FIELDS = frozenset({"note", "notes", "reason", "purpose", "description",
                              "social_notes", "environmental_notes", "address"})


def clean_text(value: Any, path: str = "", errors: list[dict[str, str]] | None = None
               ) -> Any:
    """``value`` with every string checked and in NFC (``ledger.text``); the refusals,
    one per bad field, are appended to ``errors``."""
    errors = [] if errors is None else errors
    if isinstance(value, str):
        name = path.rsplit(".", 1)[-1]
        try:
            return (check_free_text if name in FREE_TEXT_FIELDS else check_text)(value, path)
        except TextError as exc:
            errors.append({"field": path, "message": str(exc)})
            return value
    if isinstance(value, dict):
        return {k: clean_text(v, f"{path}.{k}" if path else str(k), errors)
                for k, v in value.items()}
    if isinstance(value, list):
        return [clean_text(v, f"{path}.{i}" if path else str(i), errors)
                for i, v in enumerate(value)]
    return value


def query_parameters(app: Litestar) -> dict[tuple[str, str], frozenset[str]]:
    """The query parameters each API operation takes, ``(path template, method)`` ->
    names: what its handler declares, which is what the OpenAPI document lists."""
    known: dict[tuple[str, str], frozenset[str]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path.startswith("/api"):
            for method, (_handler, kwargs_model) in route.route_handler_map.items():
                known[(route.path_format, method)] = frozenset(
                    p.field_alias for p in kwargs_model.expected_query_params)
    return known


def check_query_text(request: Request[Any, Any, Any]) -> None:
    """Query parameters take no control or invisible characters either (a 422 naming
    the parameter, before anything is looked up); an API operation refuses a parameter
    it does not take (a misspelt filter would otherwise be silently ignored)."""
    errors: list[dict[str, str]] = []
    known = request.app.state.get("query_parameters", {})
    taken = known.get((request.scope.get("path_template"), request.method))
    for key, value in request.query_params.multi_items():
        if taken is not None and key not in taken:
            listed = ", ".join(sorted(taken)) or "none"
            errors.append({"field": key, "message": "not a parameter of this operation "
                           f"(it takes: {listed})"})
            continue
        clean_text(value, key, errors)
    if errors:
        raise Invalid(errors)


class StrictBodyRequest(Request[Any, Any, Any]):
    _checked = False
    _checked_value: Any = None

    async def json(self) -> Any:
        if self._checked:
            return self._checked_value
        if not json_media_type(self.headers.get("content-type")) and await self.body():
            # A body the handler would read as JSON, sent as something else (or as
            # nothing): refused, not guessed at. An empty body is an empty command.
            raise ClientException(
                detail="send the body as application/json (Content-Type header)",
                status_code=415)
        try:
            value = await super().json()
            field = self.route_handler.parsed_data_field
            if field is not None:
                try:
                    msgspec.convert({"data": value}, _wrapper(field.annotation),
                                    strict=True, str_keys=True)
                except msgspec.ValidationError as exc:
                    raise ValidationException(detail="invalid body") from exc
        except RecursionError:  # arrays in arrays a thousand deep: not a body of ours
            raise ClientException(detail="the request body is nested too deeply",
                                  status_code=400) from None
        # Plain printable ASCII without escapes is clean text in NFC already: only bodies
        # with other bytes are walked (a thousand transfers: 0.1 ms instead of 7 ms).
        if _MAYBE_UNCLEAN.search(await self.body()):
            errors: list[dict[str, str]] = []
            value = clean_text(value, "", errors)
            if errors:
                raise Invalid(errors)
        self._checked, self._checked_value = True, value
        return value
