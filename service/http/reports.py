"""Reports over HTTP: the list a role may get, and each report as XLSX, CSV or Parquet.

``GET /api/reports`` lists them with their parameters; ``GET /api/reports/{name}.{fmt}``
builds the file in a read transaction (``service.report_data``), into a temporary file
on disk, and streams it back in chunks, so a large export never sits in memory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO, Annotated, Any

from litestar import Request, get
from litestar.params import QueryParameter
from litestar.response import Stream

from reports.catalog import FORMATS
from service.app import reports as report_data
from service.app.auth import Principal
from service.app.context import AppContext
from service.app.errors import invalid

_STREAM_CHUNK = 64 * 1024
# Where a report is built before it is sent: memory up to this size, then a disk file.
_SPOOL_BYTES = 4 * 1024 * 1024

_COMMON = (
    {"name": "lang", "kind": "enum", "values": ["it", "en"], "required": False,
     "description": {"it": "lingua di intestazioni e testi (predefinita: it)",
                     "en": "language of headers and texts (default: it)"}},
    {"name": "italian", "kind": "boolean", "required": False,
     "description": {"it": "CSV all'italiana: ';', virgola decimale, date GG/MM/AAAA",
                     "en": "Italian CSV: ';', decimal comma, dates DD/MM/YYYY"}},
    {"name": "sheet", "kind": "text", "required": False,
     "description": {"it": "CSV e Parquet: il foglio da esportare (predefinito: il "
                     "dettaglio)", "en": "CSV and Parquet: the sheet to export (default: "
                     "the detail rows)"}},
)


def _lang(value: str | None) -> str:
    lang = value or "it"
    if lang not in ("it", "en"):
        raise invalid("lang", "either 'it' or 'en'")
    return lang


@get("/api/reports", sync_to_thread=False, tags=["reports"])
def list_reports(principal: Principal, lang: str | None = None) -> dict[str, Any]:
    """The reports this user's role may get, with their parameters and formats."""
    language = _lang(lang)
    items = []
    for info in report_data.available_reports():
        if principal.role not in info.roles:
            continue
        scope_key = info.scope_parameter.get(principal.role)
        parameters = [
            {"name": p.name, "kind": p.kind, "required": p.required,
             "description": p.description_it if language == "it" else p.description_en}
            for p in info.parameters if principal.is_staff or p.name != scope_key]
        item: dict[str, Any] = {
            "name": info.name,
            "title": info.title_it if language == "it" else info.title_en,
            "description": info.description_it if language == "it" else info.description_en,
            "parameters": parameters,
            "formats": list(FORMATS),
            "urls": {fmt: f"/api/reports/{info.name}.{fmt}" for fmt in FORMATS},
            "streaming": info.streaming,
        }
        if not principal.is_staff and scope_key:
            # Producer and GAS users get their own party's figures only.
            item["scope"] = {scope_key: principal.party_id}
        items.append(item)
    common = [{**p, "description": p["description"][language]}  # type: ignore[index]
              for p in _COMMON]
    # The shape of every list; the catalog is short, so it is always one page.
    return {"items": items, "next_cursor": None, "common_parameters": common}


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    try:
        handle.seek(0)
        while chunk := handle.read(_STREAM_CHUNK):
            yield chunk
    finally:
        handle.close()


@get("/api/reports/{filename:str}", sync_to_thread=True, tags=["reports"])
def get_report(
    filename: str,
    request: Request[Any, Any, Any],
    ctx: AppContext,
    principal: Principal,
    as_of: str | None = None,
    from_: Annotated[str | None, QueryParameter(name="from")] = None,
    to: str | None = None,
    loan_id: str | None = None,
    gas_id: str | None = None,
    producer_id: str | None = None,
    provisioning: str | None = None,
    lang: str | None = None,
    italian: str | None = None,
    sheet: str | None = None,
) -> Stream:
    """The report as ``{name}.xlsx``, ``.csv`` or ``.parquet`` (see ``GET /api/reports``
    for names and parameters). Producer and GAS users get their own figures only."""
    name, fmt = report_data.split_filename(filename)
    info = report_data.find_report(name, fmt)
    # Every query parameter, so one the report does not take is refused, not ignored.
    query = {key: request.query_params.get(key) for key in request.query_params}
    req = report_data.parse_request(info, fmt, query)
    req = report_data.scoped(req, principal)
    store = ctx.store
    handle: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by _chunks
        max_size=_SPOOL_BYTES, prefix="filiera-report-")
    try:
        with report_data.snapshot(ctx.engine) as conn:
            report_data.render(conn, req, store, handle)
        size = handle.seek(0, 2)
    except BaseException:
        handle.close()
        raise
    return Stream(_chunks(handle), media_type=report_data.CONTENT_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{req.filename()}"',
        "Content-Length": str(size),
    })


HANDLERS = [list_reports, get_report]
