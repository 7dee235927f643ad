"""JSON bodies checked strictly against their declared types.

Litestar converts a request body leniently (``msgspec.convert(strict=False)``, needed for
query strings), so ``"8"`` would pass where the contract asks for a JSON integer and
``"45.1"`` where it asks for a JSON number. This request class checks the decoded body
strictly against the handler's ``data`` type first; a mismatch is the usual 422 naming
the field. Money is unaffected: amounts are strings checked by ``ledger.money``.
"""

from __future__ import annotations

import contextlib
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from litestar import Litestar, Response
from litestar.exceptions import ClientException, ValidationException
from litestar.routes import HTTPRoute

from ledger.text import TextError, check_free_text, check_text, without_refused
from service.app.errors import BODY_TYPE_ERRORS, Invalid
from service.web.core import AnyRequest

# One wrapper struct per body type: the body sits under ``data`` as in Litestar's own
# conversion, so errors carry the same paths (``$.data.principal``) and reach the same
# 422 (service.http.problems), root-level ones (an unknown field) included.
_WRAPPERS: dict[object, type[msgspec.Struct]] = {}


def _wrapper(annotation: object) -> type[msgspec.Struct]:
    wrapper = _WRAPPERS.get(annotation)
    if wrapper is None:
        wrapper = _WRAPPERS[annotation] = msgspec.defstruct("Body", [("data", annotation)])
    return wrapper


# -- every bad field of a body at once --------------------------------------------------
#
# msgspec stops at the first field of the wrong type. On such a body the fields are
# checked one by one against their declared types (into structs and lists), so the 422
# names each of them; the body then reaches the use case with a stand-in value in each bad
# field, so that its own checks (ranges, dates, money, ids) name the other bad fields too.
# service.app.errors.BODY_TYPE_ERRORS keeps the type errors meanwhile: nothing is read or
# written while it is set, and the 422 lists them with the use case's refusals.

_AT = re.compile(r" - at `\$(.*)`$")
_INDEX = re.compile(r"\[(\d+)\]")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path and name else path or name


def _refusal(exc: msgspec.ValidationError, path: str) -> dict[str, str]:
    """msgspec's refusal of a value at ``path`` as ``{"field", "message"}``, the field
    dotted as the API names fields (``prepayments.0.amount``)."""
    text_ = str(exc)
    m = _AT.search(text_)
    message = text_[: m.start()] if m else text_
    inner = _INDEX.sub(r".\1", m.group(1)).lstrip(".") if m else ""
    return {"field": _join(path, inner), "message": message}


def _struct_of(annotation: object) -> type[msgspec.Struct] | None:
    """The struct a field holds (``X``, ``X | None``, ``Annotated[X, ...]``), else None."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _struct_of(get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    if origin in (Union, types.UnionType):
        arms = [a for a in get_args(annotation) if a is not type(None)]
        return _struct_of(arms[0]) if len(arms) == 1 else None
    return None


def _item_of(annotation: object) -> object:
    """The item type of a list field (``list[X]``, ``list[X] | None``), else None."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _item_of(get_args(annotation)[0])
    if origin is list:
        return get_args(annotation)[0] if get_args(annotation) else None
    if origin in (Union, types.UnionType):
        arms = [a for a in get_args(annotation) if a is not type(None)]
        return _item_of(arms[0]) if len(arms) == 1 else None
    return None


def _fits(value: object, annotation: object) -> bool:
    try:
        msgspec.convert(value, annotation, strict=True, str_keys=True)
    except msgspec.ValidationError:
        return False
    return True


def type_errors(value: object, annotation: object, path: str = "") -> list[dict[str, str]]:
    """Every field of ``value`` that does not fit its declared type: unknown fields,
    missing required ones, values of the wrong type, each named by its dotted path."""
    cls = _struct_of(annotation)
    if cls is not None and isinstance(value, dict):
        errors: list[dict[str, str]] = []
        fields = msgspec.structs.fields(cls)
        known = {f.encode_name for f in fields}
        if cls.__struct_config__.forbid_unknown_fields:
            errors += [{"field": _join(path, str(k)),
                        "message": f"Object contains unknown field `{k}`"}
                       for k in value if k not in known]
        for f in fields:
            if f.encode_name in value:
                errors += type_errors(value[f.encode_name], f.type, _join(path, f.encode_name))
            elif f.required:
                errors.append({"field": _join(path, f.encode_name),
                               "message": f"Object missing required field `{f.encode_name}`"})
        return errors
    item = _item_of(annotation)
    if item is not None and isinstance(value, list):
        return [e for i, v in enumerate(value) for e in type_errors(v, item, _join(path, str(i)))]
    try:
        msgspec.convert(value, annotation, strict=True, str_keys=True)
    except msgspec.ValidationError as exc:
        return [_refusal(exc, path)]
    return []


class _NoStandIn(Exception):
    """No value of the declared type to stand in for a bad one."""


def _stand_in(annotation: object) -> object:
    """A value of the declared type (null, empty, zero ...) to hold a bad field's place."""
    candidates: list[object] = [None, "", 0, False, 0.0, [], {}, 1, "0"]
    cls = _struct_of(annotation)
    if cls is not None:
        with contextlib.suppress(_NoStandIn):
            candidates.insert(1, _repaired({}, cls))
    for candidate in candidates:
        if _fits(candidate, annotation):
            return candidate
    raise _NoStandIn(str(annotation))


def _repaired(value: object, annotation: object) -> object:
    """``value`` with a stand-in in each field of the wrong type (unknown fields left out,
    missing required ones filled in)."""
    cls = _struct_of(annotation)
    if cls is not None and isinstance(value, dict):
        out: dict[str, object] = {}
        for f in msgspec.structs.fields(cls):
            if f.encode_name in value:
                out[f.encode_name] = _repaired(value[f.encode_name], f.type)
            elif f.required:
                out[f.encode_name] = _stand_in(f.type)
        return out
    item = _item_of(annotation)
    if item is not None and isinstance(value, list):
        return [_repaired(v, item) for v in value]
    return value if _fits(value, annotation) else _stand_in(annotation)


def _every_bad_field(value: object, annotation: object) -> object:
    """``value`` checked field by field after msgspec refused it: with stand-ins and the
    type errors kept for the 422 (BODY_TYPE_ERRORS), or a 422 naming them all now."""
    errors = type_errors(value, annotation)
    if not errors:
        return None
    try:
        stand_in = _repaired(value, annotation)
    except _NoStandIn:
        raise Invalid(errors) from None
    if not _fits({"data": stand_in}, _wrapper(annotation)):
        raise Invalid(errors)
    BODY_TYPE_ERRORS.set(errors)
    return stand_in


def refuse_after_bad_body(response: Response[Any]) -> Response[Any]:
    """A handler that ran on stand-ins without reading or writing anything (a simulation)
    still answers the 422 (the ``after_request`` hook)."""
    pending = BODY_TYPE_ERRORS.get()
    if pending and (response.status_code or 200) < 400:
        raise Invalid(pending)
    return response


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, without parameters, in lower case."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def json_media_type(content_type: str | None) -> bool:
    """``application/json`` or ``application/<something>+json``, parameters allowed."""
    kind, _, subtype = media_type(content_type).partition("/")
    return kind == "application" and (subtype == "json" or (
        subtype.endswith("+json") and len(subtype) > len("+json")))


# The other media types an operation takes besides JSON, in its handler's ``opt`` (the
# GDXP import: XML). Every other /api operation takes JSON bodies only.
BODY_MEDIA_TYPES = "body_media_types"


def _415(request: AnyRequest) -> ClientException:
    others = request.route_handler.opt.get(BODY_MEDIA_TYPES, ())
    listed = " or ".join(("application/json", *others))
    return ClientException(detail=f"send the body as {listed} (Content-Type header)",
                           status_code=415)


async def refuse_foreign_body(request: AnyRequest) -> None:
    """415 for a non-empty body that is not JSON (nor a type the operation lists), on
    every /api operation, whether or not it reads a body: a body it would ignore is
    refused as one it would read (API.md, "Hardening"). An empty body is no body."""
    content_type = request.headers.get("content-type")
    if json_media_type(content_type) or media_type(content_type) in \
            request.route_handler.opt.get(BODY_MEDIA_TYPES, ()):
        return
    headers = request.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        return  # no body: nothing to read
    if await request.body():
        raise _415(request)


# Free text (API.md, "Hardening"): these fields also take tab, line feed, carriage
# return (CRLF stored as LF) and the zero-width joiner of emoji sequences.
_MAYBE_UNCLEAN = re.compile(rb"[\x00-\x1f\x7f-\xff\\]")
FREE_TEXT_FIELDS = frozenset({"note", "notes", "reason", "purpose", "description",
                              "social_notes", "environmental_notes", "address"})


def clean_text(value: object, path: str = "", errors: list[dict[str, str]] | None = None
               ) -> object:
    """``value`` with every string checked and in NFC (``ledger.text``); the refusals,
    one per bad field, are appended to ``errors``, and a refused string is returned
    without its refused characters (a stand-in for the other checks of its body)."""
    errors = [] if errors is None else errors
    if isinstance(value, str):
        free = path.rsplit(".", 1)[-1] in FREE_TEXT_FIELDS
        try:
            return (check_free_text if free else check_text)(value, path)
        except TextError as exc:
            errors.append({"field": path, "message": str(exc)})
            return without_refused(value, free=free)
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


async def check_request(request: AnyRequest) -> None:
    """Before any handler (after the route's 405 and the guard's 401): under /api a body
    that is not JSON is a 415, then the query string is checked."""
    BODY_TYPE_ERRORS.set(None)  # a new request: no body checked yet
    if request.scope["path"].startswith("/api/"):
        await refuse_foreign_body(request)
    check_query_text(request)


def check_query_text(request: AnyRequest) -> None:
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


class StrictBodyRequest(AnyRequest):
    _checked = False
    _checked_value: object = None

    async def json(self) -> Any:
        if self._checked:
            return self._checked_value
        if not json_media_type(self.headers.get("content-type")) and await self.body():
            # A body the handler would read as JSON, sent as something else (or as
            # nothing): refused, not guessed at. An empty body is an empty command.
            raise _415(self)
        try:
            value = await super().json()
            field = self.route_handler.parsed_data_field
            if field is not None:
                try:
                    msgspec.convert({"data": value}, _wrapper(field.annotation),
                                    strict=True, str_keys=True)
                except msgspec.ValidationError as exc:
                    stand_in = _every_bad_field(value, field.annotation)
                    if stand_in is None:  # not one field to name: as msgspec said it
                        raise ValidationException(detail="invalid body") from exc
                    value = stand_in
        except RecursionError:  # arrays in arrays a thousand deep: not a body of ours
            raise ClientException(detail="the request body is nested too deeply",
                                  status_code=400) from None
        # Plain printable ASCII without escapes is clean text in NFC already: only bodies
        # with other bytes are walked (a thousand transfers: 0.1 ms instead of 7 ms).
        if _MAYBE_UNCLEAN.search(await self.body()):
            errors: list[dict[str, str]] = []
            value = clean_text(value, "", errors)
            if errors:
                # Kept like type errors, not raised now: the use case's own checks run on
                # the text without its refused characters, so the 422 names the body's
                # other bad fields too (and nothing is read or written meanwhile).
                BODY_TYPE_ERRORS.set([*(BODY_TYPE_ERRORS.get() or []), *errors])
        self._checked, self._checked_value = True, value
        return value
