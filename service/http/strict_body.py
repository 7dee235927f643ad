"""JSON bodies checked strictly against their declared types.

Litestar converts a request body leniently (``msgspec.convert(strict=False)``, needed for
query strings), so ``"8"`` would pass where the contract asks for a JSON integer and
``"45.1"`` where it asks for a JSON number. This request class checks the decoded body
strictly against the handler's ``data`` type first; a mismatch is the usual 422 naming
the field. Money is unaffected: amounts are strings checked by ``ledger.money``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import ClientException, ValidationException

# One wrapper struct per body type: the body sits under ``data`` as in Litestar's own
# conversion, so errors carry the same paths (``$.data.principal``) and reach the same
# 422 (service.errors), root-level ones (an unknown field) included.
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


class StrictBodyRequest(Request[Any, Any, Any]):
    _strictly_checked = False

    async def json(self) -> Any:
        if not json_media_type(self.headers.get("content-type")) and await self.body():
            # A body the handler would read as JSON, sent as something else (or as
            # nothing): refused, not guessed at. An empty body is an empty command.
            raise ClientException(
                detail="send the body as application/json (Content-Type header)",
                status_code=415)
        try:
            value = await super().json()
            if not self._strictly_checked:
                self._strictly_checked = True
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
        return value
