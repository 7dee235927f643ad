"""GDXP network import and export over HTTP.

The import's body is the file itself: a GDXP v1 JSON document (``application/json``) or
a v0 XML one (``application/xml``, DTDs and entities refused). It is read as bytes; the
handler lists the XML types beside JSON in its ``opt`` (``BODY_MEDIA_TYPES``), and any
other content type is the 415 of ``strict_body.refuse_foreign_body``."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Response, get, post
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
)
from litestar.openapi.spec import Schema as OpenAPISchema
from litestar.params import FromQuery, RawBody

from service.app import gdxp_import
from service.app.gdxp_import import GdxpImportOut
from service.http.params import BODY, Ctx, User, responses
from service.http.strict_body import BODY_MEDIA_TYPES

XML_MEDIA_TYPES = ("application/xml", "text/xml")

_DOCUMENT = OpenAPISchema(
    type=OpenAPIType.OBJECT,
    description="A GDXP v1 document (protocolVersion, creationDate, "
                "applicationSignature, subject, blocks), as the protocol's JSON Schema "
                "`GDXP-1.json` states it")


@dataclass
class ImportOperation(Operation):
    """The body is a file in one of two formats: the operation lists them itself."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="The GDXP file: v1 JSON, or v0 XML (DTDs and entities refused)",
            content={"application/json": OpenAPIMediaType(schema=_DOCUMENT),
                     "application/xml": OpenAPIMediaType(
                         schema=OpenAPISchema(type=OpenAPIType.STRING))})


@dataclass
class ExportOperation(Operation):
    def __post_init__(self) -> None:
        if self.responses is None:
            self.responses = {}
        self.responses["200"] = OpenAPIResponse(
            description="The producers the GAS buys from, as a GDXP v1 document",
            content={"application/json": OpenAPIMediaType(schema=_DOCUMENT)})


@post("/api/imports/gdxp", sync_to_thread=True, status_code=200, tags=["network"],
      operation_class=ImportOperation, opt={BODY_MEDIA_TYPES: XML_MEDIA_TYPES},
      responses=responses(*BODY, 403, 404, 415, codes=("idempotency_conflict",)),
      description="Import a GDXP file (officers; a GAS user for its own GAS, the "
      "default `gas_id`): producers matched by partita IVA, relationships from the "
      "orders. `dry_run=true` answers what would be done and writes nothing; `overwrite"
      "=true` (officers) replaces a known producer's fields instead of filling the empty "
      "ones; `id` is the client id. An invalid file -> 422 naming each place as a dotted "
      "path, and nothing is written.")
def import_gdxp(ctx: Ctx, principal: User, body: RawBody,
                gas_id: FromQuery[str | None] = None,
                dry_run: FromQuery[bool] = False,
                overwrite: FromQuery[bool] = False,
                id: FromQuery[str | None] = None
                ) -> GdxpImportOut:
    return gdxp_import.import_gdxp(ctx, principal, body, gas_id=gas_id, dry_run=dry_run,
                                   overwrite=overwrite, client_id=id)


@get("/api/exports/gdxp", sync_to_thread=True, tags=["network"],
     operation_class=ExportOperation, responses=responses(403, 404, 422))
def export_gdxp(ctx: Ctx, principal: User, gas_id: FromQuery[str | None] = None
                ) -> Response[bytes]:
    """The producers the GAS buys from as a GDXP v1 document (officers, or the GAS's
    own user, whose GAS is the default `gas_id`)."""
    return Response(gdxp_import.export_gdxp(ctx, principal, gas_id),
                    media_type="application/json")


HANDLERS = [import_gdxp, export_gdxp]
