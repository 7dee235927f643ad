"""Reports over HTTP: the list a role may get, and each report as XLSX, CSV or Parquet
(and PDF for the loan statement and the portfolio).

``GET /api/reports`` lists them with their parameters; ``GET /api/reports/{name}.{fmt}``
builds the file (``service.app.report_files``) and streams it back in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Annotated

from litestar import get
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
)
from litestar.openapi.spec import Schema as OpenAPISchema
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream

from service.app.report_catalog import ReportCatalog, report_catalog
from service.app.report_files import build_report_file
from service.app.reports import CONTENT_TYPES
from service.http.params import Ctx, User, responses
from service.web.core import AnyRequest

_STREAM_CHUNK = 64 * 1024


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    try:
        handle.seek(0)
        while chunk := handle.read(_STREAM_CHUNK):
            yield chunk
    finally:
        handle.close()


@dataclass
class DownloadOperation(Operation):
    """A download's 200 is a file in one of the report formats, named by
    ``Content-Disposition``: one ``responses`` entry can give a single media type, so the
    operation lists them itself."""

    def __post_init__(self) -> None:
        binary = OpenAPISchema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
        if self.responses is None:
            self.responses = {}
        self.responses["200"] = OpenAPIResponse(
            description="The report as a file: XLSX, CSV or Parquet, as the name's "
                        "extension says (PDF, A4, for loan-statement and portfolio); "
                        "Content-Disposition gives its file name",
            content={media_type: OpenAPIMediaType(schema=binary)
                     for media_type in CONTENT_TYPES.values()})


@get("/api/reports", sync_to_thread=False, tags=["reports"], responses=responses(422))
def list_reports(principal: User, lang: FromQuery[str | None] = None) -> ReportCatalog:
    """The reports this user's role may get, with their parameters and formats."""
    return report_catalog(principal, lang)


@get("/api/reports/{filename:str}", sync_to_thread=True, tags=["reports"],
     operation_class=DownloadOperation, responses=responses(403, 404, 422))
def get_report(
    filename: FromPath[str],
    request: AnyRequest,
    ctx: Ctx,
    principal: User,
    as_of: FromQuery[str | None] = None,
    from_: Annotated[str | None, QueryParameter(name="from")] = None,
    to: FromQuery[str | None] = None,
    loan_id: FromQuery[str | None] = None,
    gas_id: FromQuery[str | None] = None,
    producer_id: FromQuery[str | None] = None,
    provisioning: FromQuery[str | None] = None,
    lang: FromQuery[str | None] = None,
    italian: FromQuery[str | None] = None,
    sheet: FromQuery[str | None] = None,
) -> Stream:
    """The report as ``{name}.xlsx``, ``.csv`` or ``.parquet``, and ``.pdf`` (A4) for
    ``loan-statement`` and ``portfolio`` (see ``GET /api/reports`` for names and
    parameters). Producer and GAS users get their own figures only."""
    # Every query parameter, so one the report does not take is refused, not ignored.
    query = {key: request.query_params.get(key) for key in request.query_params}
    report = build_report_file(ctx, principal, filename, query)
    return Stream(_chunks(report.content), media_type=report.media_type, headers={
        "Content-Disposition": f'attachment; filename="{report.filename}"',
        "Content-Length": str(report.size),
    })


HANDLERS = [list_reports, get_report]
