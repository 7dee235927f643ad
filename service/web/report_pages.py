"""``/report``: every report the user may get, each a GET form with its parameters, and
the file itself at ``/report/{name}.{xlsx|csv}`` on the session.

The file is ``service.app.report_files.build_report_file``'s, the one
``GET /api/reports/{name}.{fmt}`` streams, with the same checks: a role gets only its
reports, a producer or GAS user only its own figures (another party's filter: 404), a bad
parameter 422 (here: the form again, the error beside its field).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO

from litestar import get
from litestar.params import FromPath
from litestar.response import Stream, Template
from markupsafe import Markup, escape
from sqlalchemy import Connection

from service.app.errors import Invalid
from service.app.read_cache import ReadCache
from service.app.report_catalog import ReportOut, report_catalog
from service.app.report_files import build_report_file
from service.app.report_forms import choices_on
from service.web.core import AnyRequest, Form, ctx_of, principal_of, render
from service.web.labels import field_message

FORMATS = ("xlsx", "csv")  # what the page offers (the API also gives Parquet)
_CHUNK = 64 * 1024

LABELS = {"as_of": "Alla data", "from": "Dal", "to": "Al", "loan_id": "Prestito",
          "gas_id": "GAS", "producer_id": "Produttore",
          "provisioning": "Aliquote di accantonamento (%)"}
HINTS = {"as_of": "Vuota: oggi.", "from": "Vuota: il 1° gennaio dell'anno.",
         "to": "Vuota: la data di riferimento.",
         "provisioning": "Cinque percentuali separate da virgole, per le fasce in regola, "
         "1–30, 31–60, 61–90 e oltre 90 giorni (decimali con il punto). Vuoto: "
         "0,10,25,50,100."}
ITALIAN_CSV = "italian"
# The report's own refusals, in Italian (others: labels.field_message).
MESSAGES = (("after 'to'", "La data di inizio è successiva alla data di fine."),
            ("after 'as_of'", "La fine del periodo è successiva alla data di riferimento."),
            ("percentages 0-100", "Scrivi cinque percentuali da 0 a 100 separate da "
             "virgole, per esempio 0,10,25,50,100."),
            ("not a parameter", "Parametro non previsto da questo report."))


@dataclass(frozen=True)
class Options:
    """A select's options as HTML, made once for every form of the page that lists them
    (2,000 producers, 3,000 loans at MAG scale): the markup ``m.select`` writes."""

    html: Markup

    @classmethod
    def of(cls, items: list[tuple[str, str]]) -> Options:
        return cls(Markup("".join(f'<option value="{escape(code)}">{escape(text)}</option>'
                                  for code, text in items)))

    def marked(self, current: str) -> Markup:
        """The options with ``current`` (a form's value sent back) selected."""
        if not current:
            return self.html
        plain = f'<option value="{escape(current)}">'
        # On the text: Markup.replace would escape its arguments.
        return Markup(str(self.html).replace(plain, plain[:-1] + " selected>", 1))


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str  # date, select, text
    hint: str | None = None
    options: Options | None = None
    blank: str | None = None


@dataclass(frozen=True)
class PageOptions:
    loans: Options
    producers: Options
    gas: Options


# The options of a user's page, kept while nothing is written (the lists are the same
# for every visit between writes); keyed by what they depend on: role and party.
_OPTIONS: ReadCache[PageOptions] = ReadCache(kept=8)


def _page_options(request: AnyRequest) -> PageOptions:
    ctx, principal = ctx_of(request), principal_of(request)

    def compute(conn: Connection) -> PageOptions:
        choices = choices_on(conn, principal)
        return PageOptions(Options.of(choices.loans), Options.of(choices.producers),
                           Options.of(choices.gas))

    key = ("report-options", principal.role, principal.party_id)
    return ctx.read(lambda conn: _OPTIONS.get(conn, key, compute))


@dataclass(frozen=True)
class ReportForm:
    report: ReportOut
    fields: list[Field]
    form: Form
    scoped: bool  # the report is limited to the user's own party

    @property
    def prefix(self) -> str:
        return f"{self.report.name}-"


def _fields(report: ReportOut, choices: PageOptions) -> list[Field]:
    out = []
    for p in report.parameters:
        label = LABELS.get(p.name, p.name)
        if p.kind == "date":
            out.append(Field(p.name, label, "date", HINTS.get(p.name)))
        elif p.name == "loan_id":
            out.append(Field(p.name, label, "select", options=choices.loans,
                             blank="Scegli il prestito"))
        elif p.name == "producer_id":
            out.append(Field(p.name, label, "select", options=choices.producers,
                             blank="Tutti i produttori"))
        elif p.name == "gas_id":
            out.append(Field(p.name, label, "select", options=choices.gas,
                             blank="Tutti i GAS"))
        else:
            out.append(Field(p.name, label, "text", HINTS.get(p.name) or p.description))
    return out


def _forms(request: AnyRequest, failed: tuple[str, Form] | None = None
           ) -> list[ReportForm]:
    principal = principal_of(request)
    choices = _page_options(request)  # once for every form of the page
    out = []
    for report in report_catalog(principal, "it").items:
        form = Form()
        if failed is not None and failed[0] == report.name:
            form = failed[1]
        out.append(ReportForm(report, _fields(report, choices), form,
                              isinstance(report.scope, dict)))
    return out


@get("/report", sync_to_thread=True)
def reports_page(request: AnyRequest) -> Template:
    return render(request, "officer/report.html", title="Report", forms=_forms(request),
                  formats=FORMATS)


def _message(text: str) -> str:
    for needle, italian in MESSAGES:
        if needle in text:
            return italian
    return field_message(text)


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    try:
        handle.seek(0)
        while chunk := handle.read(_CHUNK):
            yield chunk
    finally:
        handle.close()


def _query(params: Mapping[str, str]) -> dict[str, str]:
    """The form's fields as the report's parameters: an empty field is left out (the
    report's default), the Italian-CSV checkbox is ``italian=true``."""
    return {k: v.strip() for k, v in params.items() if v.strip()}


@get("/report/{filename:str}", sync_to_thread=True)
def report_file(request: AnyRequest, filename: FromPath[str]) -> Template | Stream:
    """The report as a file, or the report page again (422) with the refusal beside the
    parameter it names."""
    ctx, principal = ctx_of(request), principal_of(request)
    params = {k: request.query_params.get(k) or "" for k in request.query_params}
    try:
        report = build_report_file(ctx, principal, filename, _query(params))
    except Invalid as exc:
        name = filename.rpartition(".")[0]
        shown = {p.name for r in report_catalog(principal, "it").items if r.name == name
                 for p in r.parameters}
        form = Form(values=dict(params))
        for item in exc.errors:
            key = item.get("field", "")
            message = _message(item.get("message", ""))
            if key in shown:
                form.add(key, message)
            else:
                form.refusal = form.refusal or message
        return render(request, "officer/report.html", status=422, title="Report",
                      forms=_forms(request, (name, form)), formats=FORMATS, failed=name)
    return Stream(_chunks(report.content), media_type=report.media_type, headers={
        "Content-Disposition": f'attachment; filename="{report.filename}"',
        "Content-Length": str(report.size)})


HANDLERS = [reports_page, report_file]
