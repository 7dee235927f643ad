"""The reports a role may get (``GET /api/reports``): names, parameters, formats, links.

Producer and GAS users get their own party's figures only: the parameter that would name
another party is left out of their list and shown as the report's fixed ``scope``.
"""

from __future__ import annotations

from typing import Literal, get_args

import msgspec
from msgspec import UNSET, UnsetType

from reports.catalog import FORMATS, PDF
from service.app.auth import Principal
from service.app.errors import invalid
from service.app.reports import available_reports
from service.app.types import Uuid

Lang = Literal["it", "en"]
ReportFormat = Literal["xlsx", "csv", "parquet", "pdf"]
# The report's own parameters (reports.catalog) and the ones every report takes.
ParameterKind = Literal["date", "uuid", "percentages", "enum", "boolean", "text"]

_FORMATS: tuple[ReportFormat, ...] = get_args(ReportFormat)
if (*FORMATS, PDF) != _FORMATS:  # what the catalog serves is what the document lists
    raise RuntimeError(f"report formats {FORMATS} and {PDF} differ from the documented "
                       f"{_FORMATS}")


class ParameterOut(msgspec.Struct, kw_only=True):
    name: str
    kind: ParameterKind
    values: list[str] | UnsetType = UNSET  # an enum's values, only for enums
    required: bool
    description: str


class ReportOut(msgspec.Struct, kw_only=True):
    name: str
    title: str
    description: str
    parameters: list[ParameterOut]
    formats: list[ReportFormat]  # pdf: the printable ones (loan-statement, portfolio)
    urls: dict[ReportFormat, str]
    streaming: bool
    # Producer and GAS users: the parameter fixed to their own party.
    scope: dict[str, Uuid | None] | UnsetType = UNSET


class ReportCatalog(msgspec.Struct):
    items: list[ReportOut]
    next_cursor: str | None  # the catalog is short: always one page
    common_parameters: list[ParameterOut]


class _Common(msgspec.Struct, frozen=True):
    name: str
    kind: ParameterKind
    values: tuple[str, ...] | None
    it: str
    en: str


_COMMON = (
    _Common("lang", "enum", ("it", "en"),
            "lingua di intestazioni e testi (predefinita: it)",
            "language of headers and texts (default: it)"),
    _Common("italian", "boolean", None,
            "CSV all'italiana: ';', virgola decimale, date GG/MM/AAAA",
            "Italian CSV: ';', decimal comma, dates DD/MM/YYYY"),
    _Common("sheet", "text", None,
            "CSV e Parquet: il foglio da esportare (predefinito: il dettaglio)",
            "CSV and Parquet: the sheet to export (default: the detail rows)"),
)


def check_lang(value: str | None) -> Lang:
    if value is None or value == "it":
        return "it"
    if value == "en":
        return "en"
    raise invalid("lang", "either 'it' or 'en'")


def report_catalog(principal: Principal, lang: str | None) -> ReportCatalog:
    """The reports this user's role may get, with their parameters and formats."""
    italian = check_lang(lang) == "it"
    items = []
    for info in available_reports():
        if principal.role not in info.roles:
            continue
        scope_key = info.scope_parameter.get(principal.role)
        items.append(ReportOut(
            name=info.name,
            title=info.title_it if italian else info.title_en,
            description=info.description_it if italian else info.description_en,
            parameters=[
                ParameterOut(name=p.name, kind=p.kind, required=p.required,
                             description=p.description_it if italian else p.description_en)
                for p in info.parameters if principal.is_staff or p.name != scope_key],
            formats=[fmt for fmt in _FORMATS if fmt in info.formats()],
            urls={fmt: f"/api/reports/{info.name}.{fmt}" for fmt in _FORMATS
                  if fmt in info.formats()},
            streaming=info.streaming,
            scope={scope_key: principal.party_id}
            if not principal.is_staff and scope_key else UNSET))
    common = [ParameterOut(name=c.name, kind=c.kind,
                           values=list(c.values) if c.values is not None else UNSET,
                           required=False, description=c.it if italian else c.en)
              for c in _COMMON]
    return ReportCatalog(items, None, common)
