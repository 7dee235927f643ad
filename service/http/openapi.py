"""The OpenAPI document and the interactive docs, served by the app itself (no CDN).

Field types annotated in ``service.app.types`` carry their ``format``/``pattern`` as
msgspec metadata (the application layer does not know Litestar); the schema plugin here
turns that metadata into the document's schema. Swagger UI's files come from the
``swagger-ui-py`` package and are served under ``/schema/assets``, so the docs work
offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import swagger_ui
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, OpenAPIType, Schema, SecurityScheme
from litestar.plugins import OpenAPISchemaPlugin
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler
from litestar.typing import FieldDefinition
from msgspec import Meta

if TYPE_CHECKING:  # Litestar passes it; its module is private
    from litestar._openapi.schema_generation import SchemaCreator

ASSETS_PATH = "/schema/assets"
SWAGGER_FILES = Path(swagger_ui.__file__).parent / "static"


def _documented(field_definition: FieldDefinition) -> dict[str, Any] | None:
    for meta in field_definition.metadata:
        if isinstance(meta, Meta) and meta.extra_json_schema:
            return dict(meta.extra_json_schema)
    return None


class DocumentedStrings(OpenAPISchemaPlugin):
    """A string field annotated with ``Meta(extra_json_schema=...)`` is documented with
    that ``format`` and ``pattern``."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return field_definition.annotation is str and _documented(field_definition) is not None

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator
                          ) -> Schema:
        extra = _documented(field_definition) or {}
        return Schema(type=OpenAPIType.STRING, format=extra.get("format"),
                      pattern=extra.get("pattern"), description=extra.get("description"))


def openapi_config(version: str) -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>")
    return OpenAPIConfig(
        title="Filiera API",
        version=version,
        description="Ethical finance for short supply chains. The contract is API.md; "
                    "every refusal is an RFC 9457 problem document.",
        path="/schema",
        render_plugins=[swagger],
        components=Components(security_schemes={
            "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}),
        security=[{"bearer": []}],
    )


def docs_assets() -> ControllerRouterHandler:
    """Swagger UI's own files, from the installed package."""
    return create_static_files_router(path=ASSETS_PATH, directories=[SWAGGER_FILES],
                                      include_in_schema=False, opt={"public": True})
