"""The database side of the reports: parameters, one loading function per report, files.

Each ``load_*`` function reads the service's tables (and the ledger, through
``LedgerStore``) into the plain rows the ``reports`` builders take, and returns a
``reports.workbook.Report``. ``write_report`` turns one into XLSX, CSV or Parquet.
"As of" follows the API: everything recorded so far whose value date is on or before
``as_of``; guarantees and prepayments count from their agreement ``date``, never from
when they were recorded.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO

import polars as pl
from sqlalchemy import Connection, Engine, Table, select

from ledger.accounts import Account
from ledger.as_of import PAYMENT_KINDS, REVERSAL, fund_on, guarantee_on, loan_on
from ledger.chart import account_id
from ledger.money import currency_exponent, minor_to_decimal, to_minor_decimal
from ledger.repayments import Allocation, InstallmentState, arrears, initial_state
from ledger.schedules import build_schedule, summarize
from ledger.store import LedgerStore
from ledger.transfers import Transfer, transfer_flags_from_bits
from matching.geo import haversine_km
from reports.accounts import account_label
from reports.catalog import CATALOG, ReportInfo, report_info
from reports.impact import FundingRequestRow, ImpactRow, impact_report, requests_report
from reports.instruments import (
    ArrearsRow,
    GuaranteeRow,
    InstallmentRow,
    LoanSummary,
    MovementRow,
    PrepaymentRow,
    SolidarityRow,
    arrears_report,
    guarantees_report,
    loan_statement_report,
    prepayments_report,
    solidarity_report,
)
from reports.italian import text
from reports.journal import TrialBalanceRow, trial_balance_report
from reports.pdf import PDF_MEDIA_TYPE, write_pdf
from reports.portfolio import AGING_BUCKETS, LoanPosition, PortfolioParams, portfolio_report
from reports.workbook import (
    ColumnKind,
    ColumnSpec,
    FormulaNote,
    Lang,
    Report,
    ReportSheet,
    StreamSheet,
    csv_options,
    export_frame,
    people_first,
    write_parquet,
    write_xlsx_streaming,
)
from service.app import clock, lending
from service.app.auth import Principal
from service.app.errors import Errors, Forbidden, NotFound, invalid
from service.app.inputs import Input, optional_day, optional_id
from service.app.lender_scope import lender_scope
from service.app.loans import visible_loan
from service.app.parties import related_party_ids
from service.app.read_cache import Memo
from service.app.reversals import live
from service.db.engine import engine_token, read_tx
from service.db.records import Record
from service.db.tables import (
    contributions,
    deliveries,
    funding_requests,
    funds,
    guarantee_calls,
    guarantees,
    loans,
    parties,
    payouts,
    prepayments,
    relationships,
    request_assessments,
    request_history,
    request_instruments,
)

CONTENT_TYPES: Mapping[str, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",  # Litestar adds "; charset=utf-8" to text types
    "parquet": "application/vnd.apache.parquet",
    "pdf": PDF_MEDIA_TYPE,  # the printable reports only (ReportInfo.printable)
}
# Query parameters every report takes, besides its own (reports.catalog).
COMMON_PARAMETERS = ("lang", "italian", "sheet")
_CHUNK_ROWS = 50_000  # rows per polars frame when a sheet is streamed to CSV or Parquet
_LEDGER_PAGE = 500  # the most LedgerStore.list_transfers gives at once


def available_reports() -> tuple[ReportInfo, ...]:
    return tuple(CATALOG)


# -- parameters ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportRequest:
    """A report asked for, its parameters checked and defaults filled in."""

    info: ReportInfo
    fmt: str
    as_of: date
    period_from: date
    period_to: date
    loan_id: str | None = None
    gas_id: str | None = None
    producer_id: str | None = None
    lang: Lang = "it"
    italian: bool = False
    sheet: str | None = None
    # Portfolio: provisioning rates in percent, one per aging bucket (None: the defaults).
    provisioning_percent: tuple[Decimal, ...] | None = None
    given: frozenset[str] = frozenset()  # the parameters the query named
    # An officer bound to a lender: the lender-wide reports (portfolio, arrears,
    # guarantees, impact) cover that lender's loans only (service.app.lender_scope).
    lender_id: str | None = None

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def explicit_period(self) -> bool:
        return bool(self.given & {"from", "to"})

    def filename(self) -> str:
        day = (self.as_of if "as_of" in self.info.parameter_names() else self.period_to)
        parts = [self.name]
        if self.loan_id:
            parts.append(self.loan_id[:8])
        if "from" in self.info.parameter_names() and "as_of" not in self.info.parameter_names():
            parts.append(f"{self.period_from.isoformat()}_{self.period_to.isoformat()}")
        else:
            parts.append(day.isoformat())
        if self.sheet:
            parts.append(_slug(self.sheet))
        return "_".join(parts) + "." + self.fmt


def find_report(name: str, fmt: str) -> ReportInfo:
    """The report named, in a format it comes in, or 404 (a PDF of a report that is not
    made to be printed is a format it does not come in)."""
    info = report_info(name)
    if info is None or info not in available_reports() or fmt not in info.formats():
        raise NotFound("report")
    return info


def split_filename(filename: str) -> tuple[str, str]:
    name, dot, fmt = filename.rpartition(".")
    if not dot:
        raise NotFound("report")
    return name, fmt


_PERCENT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


def parse_provisioning(value: str | None, errors: Errors) -> tuple[Decimal, ...] | None:
    """``provisioning=0,10,25,50,100``: one rate in percent per aging bucket (current,
    1-30, 31-60, 61-90, over 90 days), each 0-100 with at most 2 decimals."""
    if value is None:
        return None
    parts = [part.strip() for part in value.split(",")]
    expected = (f"{len(AGING_BUCKETS)} percentages 0-100 (at most 2 decimals), comma-"
                "separated, for current, 1-30, 31-60, 61-90 and over 90 days past due, "
                "e.g. 0,10,25,50,100")
    if len(parts) != len(AGING_BUCKETS):
        errors.add("provisioning", f"{len(parts)} values given; {expected}")
        return None
    bad = [part for part in parts
           if not _PERCENT.fullmatch(part) or Decimal(part) > 100]
    if bad:
        errors.add("provisioning", f"{', '.join(repr(b) for b in bad)}: {expected}")
        return None
    return tuple(Decimal(part) for part in parts)


@dataclass(frozen=True, kw_only=True)
class ReportFilters(Input):
    """The dates and filters a report's query names, each may be left out (which ones a
    report takes: ``parse_request``)."""

    as_of: date | None = optional_day()
    start: date | None = optional_day("from")
    end: date | None = optional_day("to")
    loan_id: str | None = optional_id()
    gas_id: str | None = optional_id()
    producer_id: str | None = optional_id()


def parse_request(info: ReportInfo, fmt: str, query: Mapping[str, str | None],
                  today: date | None = None) -> ReportRequest:
    """Check the query parameters (422 naming every bad one) and fill in the defaults:
    ``as_of`` today (or ``to``), ``to`` = ``as_of``, ``from`` = 1 January of ``to``'s
    year. A parameter the report does not take is refused, so a filter is never ignored
    in silence."""
    errors = Errors()
    allowed = set(info.parameter_names()) | set(COMMON_PARAMETERS)
    for key, value in query.items():
        if key not in allowed and value is not None:
            errors.add(key, f"not a parameter of report {info.name!r} (it takes "
                       f"{', '.join(sorted(allowed))})")
    asked = ReportFilters.read_into(query, errors)
    as_of, start, end = asked.as_of, asked.start, asked.end
    # Only the portfolio takes it; elsewhere it is refused above as an unknown parameter.
    provisioning = (parse_provisioning(query.get("provisioning"), errors)
                    if "provisioning" in info.parameter_names() else None)
    for p in info.parameters:
        if p.required and not query.get(p.name):
            errors.add(p.name, "required")
    lang = query.get("lang") or "it"
    if lang not in ("it", "en"):
        errors.add("lang", "either 'it' or 'en'")
    italian_text = (query.get("italian") or "false").lower()
    if italian_text not in ("true", "false", "1", "0", "yes", "no"):
        errors.add("italian", "true or false")
    sheet = query.get("sheet")
    if sheet is not None and fmt in ("xlsx", "pdf"):
        errors.add("sheet", f"a {'workbook' if fmt == 'xlsx' else 'PDF'} has every sheet; "
                   "'sheet' picks one for CSV or Parquet")
    today = today or clock.today()
    if as_of is None:
        as_of = end if end is not None and "as_of" in info.parameter_names() else today
    end = end or as_of
    start = start or date(end.year, 1, 1)
    if start > end:
        errors.add("from", "after 'to'")
    if "as_of" in info.parameter_names() and end > as_of:
        errors.add("to", "after 'as_of': the period ends on or before the as-of date")
    errors.raise_if_any()
    return ReportRequest(info=info, fmt=fmt, as_of=as_of, period_from=start, period_to=end,
                         loan_id=asked.loan_id, gas_id=asked.gas_id,
                         producer_id=asked.producer_id,
                         lang="en" if lang == "en" else "it",
                         italian=italian_text in ("true", "1", "yes"), sheet=sheet,
                         provisioning_percent=provisioning,
                         given=frozenset(k for k, v in query.items() if v is not None))


def scoped(req: ReportRequest, principal: Principal) -> ReportRequest:
    """Officers and admins get every report as asked; a producer or GAS user only the
    reports of its role, with the scope parameter fixed to its own party (another
    party's id there is "not yours": 404)."""
    role = principal.role
    if role not in req.info.roles:
        raise Forbidden(f"role {role!r} may not get report {req.name!r}")
    if principal.is_staff:
        return replace(req, lender_id=lender_scope(principal))
    party = principal.party_id
    if not party:
        raise Forbidden(f"a {role} user bound to no party gets no report")
    key = req.info.scope_parameter.get(role)
    if key == "producer_id":
        if req.producer_id not in (None, party):
            raise NotFound("producer")
        return replace(req, producer_id=party)
    if key == "gas_id":
        if req.gas_id not in (None, party):
            raise NotFound("GAS")
        return replace(req, gas_id=party)
    raise Forbidden(f"role {role!r} may not get report {req.name!r}")


def check_filters_visible(conn: Connection, req: ReportRequest, principal: Principal
                          ) -> None:
    """A producer or GAS user filtering on a party or loan it may not see gets 404, as
    anywhere else: a filter must not tell whether something exists."""
    if req.loan_id is not None and lender_scope(principal) is not None:
        visible_loan(conn, principal, req.loan_id)  # another lender's loan: 404
    if principal.is_staff or not principal.party_id:
        return
    visible = related_party_ids(conn, principal.party_id)
    for name, value in (("producer", req.producer_id), ("GAS", req.gas_id)):
        if value is not None and value not in visible:
            raise NotFound(name)
    if req.loan_id is not None:
        visible_loan(conn, principal, req.loan_id)


# -- shared loading -----------------------------------------------------------------------

_WORDS: Mapping[str, Mapping[str, str]] = {
    "it": {
        "approved": "approvato", "active": "attivo", "repaid": "rimborsato",
        "written_off": "a perdita", "g_active": "attiva", "g_called": "escussa",
        "g_released": "liberata", "open": "aperto", "closed": "chiuso",
        "gas": "GAS", "person": "persona", "producer": "produttore", "lender": "finanziatore",
        "des": "DES", "contribution": "contributo", "prepayment": "residuo prefinanziamento",
        "grant": "contributo a fondo perduto", "loss_cover": "copertura perdite",
        "none": "n/d",
    },
    "en": {
        "approved": "approved", "active": "active", "repaid": "repaid",
        "written_off": "written off", "g_active": "active", "g_called": "called",
        "g_released": "released", "open": "open", "closed": "closed",
        "gas": "GAS", "person": "person", "producer": "producer", "lender": "lender",
        "des": "DES", "contribution": "contribution", "prepayment": "prepayment remainder",
        "grant": "grant", "loss_cover": "loss cover", "none": "n/a",
    },
}


def _word(lang: Lang, key: str) -> str:
    return _WORDS[lang].get(key, key)


def _cents(value: Decimal) -> int:
    return to_minor_decimal(value, "EUR")


def _in_chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _parties(conn: Connection) -> dict[str, Record]:
    return {r.id: r for r in conn.execute(select(parties))}


def _party_names(conn: Connection) -> dict[str, str]:
    """Every party's name by id (what ``_name`` reads of ``_parties``)."""
    return {r.id: str(r.name) for r in conn.execute(select(parties.c.id, parties.c.name))}


def _name(people: Mapping[str, Record], party_id: str | None) -> str:
    row = people.get(party_id or "")
    return str(row.name) if row is not None else (party_id or "")


@dataclass(frozen=True)
class LoanAsOf:
    """A loan as it stood at the end of ``as_of``."""

    row: Record
    status: str  # approved (not yet disbursed), active, repaid, written_off
    schedule: tuple[InstallmentState, ...]  # late interest accrued to as_of
    allocations: Mapping[str, Allocation]
    outstanding: int
    overdue: int
    days_past_due: int
    oldest_due: date | None
    restructured: bool
    written_off: int
    late_rate: Decimal
    # What each payment after the write-off recovered (the rest of it is excess).
    recoveries: Mapping[str, int] = field(default_factory=dict)


class LoanBook:
    """Loans replayed as of a date, loaded once for a report (events in one query each
    500 loans; late-interest rates once per lender category)."""

    def __init__(self, conn: Connection, loan_rows: Sequence[Record], *,
                 every_column: bool = False) -> None:
        self.conn = conn
        self.rows = list(loan_rows)
        self.events = lending.events_by_loan(conn, [r.id for r in self.rows],
                                             every_column=every_column)
        self._rates: dict[tuple[str, str], Decimal] = {}

    def late_rate(self, row: Record) -> Decimal:
        key = (row.lender_id, row.category)
        if key not in self._rates:
            self._rates[key] = lending.late_rate_of(self.conn, row)
        return self._rates[key]

    def as_of(self, row: Record, day: date) -> LoanAsOf:
        rate = self.late_rate(row)
        on = loan_on(lending.terms_of(row), self.events.get(row.id, []), day,
                     disbursed_on=row.disbursed_on, late_rate=rate,
                     flagged_restructured=bool(row.restructured))
        # The reports' arrears are those of active loans: a written-off debt is reported
        # as written off, not as overdue.
        active = on.status == "active"
        return LoanAsOf(row, on.status, on.schedule, on.allocations, on.outstanding,
                        on.overdue if active else 0, on.days_past_due if active else 0,
                        on.oldest_due if active else None, on.restructured, on.written_off,
                        rate, on.replay.recoveries if on.replay is not None else {})


def _loan_rows(conn: Connection, producer_id: str | None = None,
               lender_id: str | None = None) -> list[Record]:
    query = select(loans).order_by(loans.c.seq)
    if producer_id:
        query = query.where(loans.c.borrower_id == producer_id)
    if lender_id:
        query = query.where(loans.c.lender_id == lender_id)
    return list(conn.execute(query))


@dataclass(frozen=True)
class GuaranteeAsOf:
    row: Record
    status: str  # active, called, released
    called: int
    released: int  # what remained when it was released

    @property
    def remaining(self) -> int:
        return int(self.row.amount_minor) - self.called - self.released


def _calls_by_guarantee(conn: Connection, day: date) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for c in conn.execute(select(guarantee_calls).where(guarantee_calls.c.date <= day,
                                                        live(guarantee_calls, "call"))):
        out[c.guarantee_id] += c.amount_minor
    return out


def guarantee_as_of(row: Record, called: int, day: date) -> GuaranteeAsOf:
    """Called amounts count by their dates; a release by its date (``ledger.as_of``)."""
    on = guarantee_on(row.amount_minor, [(day, called)], day,
                      released=row.status == "released", released_on=row.released_on)
    return GuaranteeAsOf(row, on.status, on.called, on.remaining if on.released else 0)


def _guarantees_by_loan(conn: Connection) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = defaultdict(list)
    for g in conn.execute(select(guarantees).order_by(guarantees.c.seq)):
        out[g.loan_id].append(g)
    return out


def _fund_money(conn: Connection, day: date) -> tuple[int, dict[str, int]]:
    """(money not earmarked, money earmarked per producer) in every fund at ``day``,
    from the contributions and payouts dated on or before it."""
    money = fund_on(
        ((c.date, c.earmark_producer_id, c.amount_minor) for c in conn.execute(
            select(contributions).where(contributions.c.date <= day,
                                        live(contributions, "contribution")))),
        ((p.date, p.producer_id, p.from_general_minor, p.from_earmark_minor)
         for p in conn.execute(select(payouts).where(payouts.c.date <= day,
                                                     live(payouts, "payout")))), day)
    return money.general, money.earmarks


def _filters(people: Mapping[str, Record], req: ReportRequest) -> dict[str, str]:
    out: dict[str, str] = {}
    if req.producer_id:
        out["producer_id"] = f"{req.producer_id} ({_name(people, req.producer_id)})"
    if req.gas_id:
        out["gas_id"] = f"{req.gas_id} ({_name(people, req.gas_id)})"
    return out


def _check_party(people: Mapping[str, Record], party_id: str | None, kind: str,
                 field: str) -> None:
    if party_id is not None:
        row = people.get(party_id)
        if row is None or row.kind != kind:
            raise NotFound(field.removesuffix("_id"))


def _spec(key: str, label_it: str, label_en: str, kind: ColumnKind, total: bool = False,
          description_it: str = "", description_en: str = "") -> ColumnSpec:
    return ColumnSpec(key, label_it, label_en, kind, description_it, description_en,
                      "sum" if total else None)


def _frame(rows: Sequence[Mapping[str, object]], columns: Sequence[ColumnSpec]
           ) -> pl.DataFrame:
    return pl.DataFrame({c.key: [r.get(c.key) for r in rows] for c in columns},
                        schema={c.key: _dtype(c.kind) for c in columns})


def _dtype(kind: ColumnKind, decimals: int = 4) -> pl.DataType:
    return {
        "money": pl.Int64(), "int": pl.Int64(), "text": pl.String(), "date": pl.Date(),
        "datetime": pl.Datetime("us", "UTC"), "percent": pl.Decimal(38, 4),
        "decimal": pl.Decimal(38, decimals),
    }[kind]


# -- portfolio ----------------------------------------------------------------------------

# What a portfolio reads of a loan on a day: status, outstanding, overdue, days past due,
# restructured, written off.
_Figures = tuple[str, int, int, int, bool, int]
# Kept per loan row, late-interest rate, day and operation ids: operations are only
# ever added (a reversal is one more), so a key never names other figures, and after a
# write only the loans it touched are replayed again (3,000 loans: ~1 s -> ~50 ms).
_LOAN_FIGURES: Memo[tuple[Hashable, ...], _Figures] = Memo(kept=20_000)


def _figures_on(book: LoanBook, row: Record, day: date) -> _Figures:
    def replay() -> _Figures:
        loan = book.as_of(row, day)
        return (loan.status, loan.outstanding, loan.overdue, loan.days_past_due,
                loan.restructured, loan.written_off)
    key = (engine_token(book.conn.engine), tuple(row), book.late_rate(row), day,
           tuple(e.id for e in book.events.get(row.id, ())))
    return _LOAN_FIGURES.get(key, replay)


def _positions(book: LoanBook, day: date, people: Mapping[str, Record],
               by_loan: Mapping[str, list[Record]], calls: Mapping[str, int]
               ) -> list[LoanPosition]:
    out: list[LoanPosition] = []
    for row in book.rows:
        status, outstanding, overdue, days_past_due, restructured, written_off = \
            _figures_on(book, row, day)
        if status == "approved":
            continue
        pledges = sum(guarantee_as_of(g, calls.get(g.id, 0), day).remaining
                      for g in by_loan.get(row.id, []) if g.date <= day)
        borrower = people.get(row.borrower_id)
        written_off_on = row.written_off_on if status == "written_off" else None
        out.append(LoanPosition(
            loan_id=row.id, borrower_id=row.borrower_id,
            borrower_name=_name(people, row.borrower_id),
            province=(borrower.province or "") if borrower is not None else "",
            category=row.category, status=status,  # type: ignore[arg-type]
            disbursed_cents=row.principal_minor,
            outstanding_principal_cents=outstanding, overdue_cents=overdue,
            days_past_due=days_past_due, restructured=restructured,
            guarantee_remaining_cents=pledges, written_off_cents=written_off,
            written_off_on=written_off_on))
    return out


def load_portfolio(conn: Connection, req: ReportRequest) -> Report:
    """Every disbursed loan as of ``as_of``: borrower, province, category, disbursed,
    outstanding, overdue and days past due (replayed from its operations), restructured,
    pledges still standing, written off. The figures are ``reports.portfolio``'s."""
    positions, params = portfolio_inputs(conn, req)
    return portfolio_report(positions, req.as_of, params, lang=req.lang)


def portfolio_inputs(conn: Connection, req: ReportRequest
                     ) -> tuple[list[LoanPosition], PortfolioParams]:
    """The loan positions as of ``as_of`` and the parameters of their figures: what the
    portfolio report (and the portfolio page, through ``portfolio_metrics``) is made of."""
    people = _parties(conn)
    _check_party(people, req.producer_id, "producer", "producer_id")
    book = LoanBook(conn, _loan_rows(conn, req.producer_id, req.lender_id))
    by_loan = _guarantees_by_loan(conn)
    positions = _positions(book, req.as_of, people, by_loan,
                           _calls_by_guarantee(conn, req.as_of))
    opening_day = req.period_from - timedelta(days=1)
    opening = _positions(book, opening_day, people, by_loan,
                         _calls_by_guarantee(conn, opening_day))
    opening_gross = sum(p.outstanding_principal_cents for p in opening
                        if p.status == "active")
    # The period may end before the as-of date: its average is then over its own end.
    closing = positions if req.period_to == req.as_of else _positions(
        book, req.period_to, people, by_loan, _calls_by_guarantee(conn, req.period_to))
    closing_gross = sum(p.outstanding_principal_cents for p in closing
                        if p.status == "active")
    # Fund money that could cover the PAR30 loans: money not earmarked, and money
    # earmarked for their borrowers.
    general, marks = _fund_money(conn, req.as_of)
    at_risk = {p.borrower_id for p in positions
               if p.status == "active" and (p.days_past_due > 30 or p.restructured)}
    fund_available = max(general, 0) + sum(max(marks.get(b, 0), 0) for b in at_risk)
    params = PortfolioParams(period_from=req.period_from, period_to=req.period_to,
                             opening_gross_portfolio_cents=opening_gross,
                             # exact: (opening + closing) / 2 has at most one decimal
                             average_gross_portfolio_cents=Decimal(
                                 opening_gross + closing_gross) / 2,
                             fund_available_cents=fund_available,
                             filters=_filters(people, req))
    if req.provisioning_percent is not None:
        params = replace(params, provisioning_percent=dict(
            zip(AGING_BUCKETS, req.provisioning_percent, strict=True)))
    return positions, params


# -- loan statement -----------------------------------------------------------------------

def load_loan_statement(conn: Connection, req: ReportRequest) -> Report:
    """One loan's schedule as of ``as_of``: each installment's principal, interest, late
    interest, what was paid of it and when last, and the principal balance."""
    row = conn.execute(select(loans).where(loans.c.id == req.loan_id)).first()
    if row is None or (req.producer_id is not None and row.borrower_id != req.producer_id):
        raise NotFound("loan")
    people = _parties(conn)
    book = LoanBook(conn, [row], every_column=True)
    loan = book.as_of(row, req.as_of)
    terms = lending.terms_of(row)
    schedule = build_schedule(terms)
    if loan.status == "approved":

        states: Sequence[InstallmentState] = initial_state(terms, schedule)
    else:
        states = loan.schedule
    dates = {e.id: e.value_date for e in book.events.get(row.id, [])}
    paid_on: dict[int, date] = {}
    for event_id, allocation in loan.allocations.items():
        for part in allocation.parts:
            if part.total > 0 and event_id in dates:
                paid_on[part.number] = max(paid_on.get(part.number, dates[event_id]),
                                           dates[event_id])
    installments = [InstallmentRow(
        number=s.number, due_on=s.due_date, principal_cents=_cents(s.principal),
        interest_cents=_cents(s.interest), penalties_cents=_cents(s.penalty),
        paid_cents=_cents(s.paid_principal + s.paid_interest + s.paid_penalty),
        paid_on=paid_on.get(s.number), principal_balance_cents=_cents(s.balance_after))
        for s in states]
    disbursed = loan.status != "approved"
    overdue, days_late = loan.overdue, loan.days_past_due
    if loan.status == "written_off":
        # Out of the portfolio's figures, but still owed and past due, as the loan's own
        # page (GET /api/loans/{id}) says.
        late = arrears(loan.schedule, req.as_of, late_rate=book.late_rate(row))
        overdue, days_late = _cents(late.overdue_amount), late.days_past_due
    summary = LoanSummary(
        loan_id=row.id, borrower_name=_name(people, row.borrower_id),
        disbursed_on=row.disbursed_on if disbursed else None,
        disbursed_cents=row.principal_minor if disbursed else 0,
        annual_rate_percent=Decimal(row.annual_rate),
        apr_percent=summarize(terms, schedule).apr,
        outstanding_principal_cents=loan.outstanding, overdue_cents=overdue,
        days_past_due=days_late, status=loan.status,
        lender_name=_name(people, row.lender_id), reference=row.reference or "")
    return loan_statement_report(summary, installments, req.as_of,
                                 filters={"borrower": _name(people, row.borrower_id)},
                                 lang=req.lang,
                                 movements=_movements(conn, row, book, loan, people,
                                                      req))


_RESCHEDULE_WORDS: Mapping[str, Mapping[str, str]] = {
    "it": {"added_grace_periods": "periodi di solo interesse aggiunti: {}",
           "new_periods": "nuove rate: {}", "method": "metodo: {}"},
    "en": {"added_grace_periods": "interest-only periods added: {}",
           "new_periods": "new installments: {}", "method": "method: {}"},
}


def _recorded_on(moment: datetime | None) -> date | None:
    """The day an operation was recorded, in Filiera's time zone (a naive timestamp,
    as SQLite gives it back, is UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(clock.timezone()).date()


def _movements(conn: Connection, row: Record, book: LoanBook, loan: LoanAsOf,
               people: Mapping[str, Record], req: ReportRequest) -> list[MovementRow]:
    """Every operation on the loan with a value date on or before ``as_of``, in the
    replay's order (value date, then recording order), each payment split as that
    replay splits it: the running balance of the statement is the replay's own."""
    events = sorted((e for e in book.events.get(row.id, []) if e.value_date <= req.as_of),
                    key=lambda e: (e.value_date, e.seq))
    # Who paid: a guarantee call names its guarantee's account, a loss cover comes from
    # a payout of a fund (one operation per part: earmarked money, money not earmarked).
    called = {account_id("guarantee", g.id): g for g in conn.execute(
        select(guarantees).where(guarantees.c.loan_id == row.id))}
    covers: dict[str, Record] = {}
    fund_names: dict[str, str] = {}
    for p in conn.execute(select(payouts).where(payouts.c.loan_id == row.id)):
        for part in ("earmark", "general"):
            covers[str(uuid.uuid5(uuid.UUID(p.id), part))] = p
        fund_names[p.fund_id] = ""
    if fund_names:
        fund_names = {f.id: f.name for f in conn.execute(
            select(funds.c.id, funds.c.name).where(funds.c.id.in_(list(fund_names))))}
    words = _RESCHEDULE_WORDS[req.lang]
    # A reversed operation is listed, marked, and moves nothing; the reversal itself is
    # not a movement of its own (the replay leaves both out).
    gone = {str((e.params or {}).get("of")) for e in events if e.kind == REVERSAL}
    out: list[MovementRow] = []
    for e in events:
        if e.kind == REVERSAL:
            continue
        common = {"value_date": e.value_date, "recorded_on": _recorded_on(e.recorded_at)}
        if e.id in gone:
            out.append(MovementRow(
                e.kind, **common,
                reference=e.reference or "", description=e.note or "",
                amount_cents=int(e.amount_minor or 0), reversed=True))
            continue
        if e.kind == "disbursement":
            out.append(MovementRow("disbursement", **common, reference=row.reference or "",
                                   amount_cents=int(row.principal_minor)))
        elif e.kind in PAYMENT_KINDS:
            amount = int(e.amount_minor or 0)
            reference, payer = e.reference or "", ""
            if e.kind == "guarantee_call" and e.payer_ref in called:
                g = called[e.payer_ref]
                reference, payer = g.reference or "", _name(people, g.guarantor_id)
            elif e.kind == "loss_cover" and e.id in covers:
                p = covers[e.id]
                reference, payer = p.reference or "", fund_names.get(p.fund_id, "")
            allocation = loan.allocations.get(e.id)
            if allocation is None:  # after the write-off: recovery up to the debt
                recovered = loan.recoveries.get(e.id, 0)
                kind = e.kind if e.kind != "repayment" else "recovery"
                out.append(MovementRow(
                    "recovery", **common, reference=reference,
                    description=", ".join(x for x in (
                        text("loan_movement", kind, req.lang) if kind != "recovery" else "",
                        payer, e.note or "") if x),
                    amount_cents=amount, recovery_cents=recovered,
                    excess_cents=amount - recovered))
                continue
            out.append(MovementRow(
                e.kind, **common, reference=reference,
                description=", ".join(x for x in (payer, e.note or "") if x),
                amount_cents=amount, penalty_cents=_cents(allocation.penalty),
                interest_cents=_cents(allocation.interest),
                principal_cents=_cents(allocation.principal),
                excess_cents=_cents(allocation.excess)))
        elif e.kind == "restructuring":
            params = e.params or {}
            said = [words[key].format(text("method", str(params[key]), req.lang)
                                      if key == "method" else params[key])
                    for key in ("added_grace_periods", "new_periods", "method")
                    if params.get(key)]
            out.append(MovementRow("restructuring", **common,
                                   description="; ".join([*said, e.note or ""]).strip("; ")))
        elif e.kind == "write_off":
            out.append(MovementRow("write_off", **common, description=e.note or "",
                                   written_off_cents=loan.written_off))
    return out


# -- arrears ------------------------------------------------------------------------------

_GUARANTOR_COLUMNS = (
    _spec("loan_id", "Prestito", "Loan", "text"),
    _spec("borrower_name", "Beneficiario", "Borrower", "text"),
    _spec("days_past_due", "Giorni di ritardo", "Days past due", "int"),
    _spec("guarantor_name", "Garante", "Guarantor", "text"),
    replace(_spec("guarantor_kind", "Tipo garante", "Guarantor kind", "text"),
            codes="party_kind"),
    _spec("phone", "Telefono", "Phone", "text"),
    _spec("email", "Email", "Email", "text"),
    _spec("pec", "PEC", "PEC", "text"),
    _spec("address", "Indirizzo", "Address", "text"),
    _spec("tax_code", "Codice fiscale", "Tax code", "text"),
    _spec("municipality", "Comune", "Municipality", "text"),
    _spec("province", "Provincia", "Province", "text"),
    _spec("remaining", "Garanzia residua", "Remaining pledge", "money", True,
          "quanto il garante può ancora essere chiamato a pagare",
          "what the guarantor can still be called to pay"),
)


def load_arrears(conn: Connection, req: ReportRequest) -> Report:
    """Active loans with anything overdue as of ``as_of``, split into principal,
    interest and late interest, with the guarantors to contact (pledges still standing)."""
    people = _parties(conn)
    _check_party(people, req.producer_id, "producer", "producer_id")
    book = LoanBook(conn, _loan_rows(conn, req.producer_id, req.lender_id))
    by_loan = _guarantees_by_loan(conn)
    calls = _calls_by_guarantee(conn, req.as_of)
    rows: list[ArrearsRow] = []
    contacts: list[dict[str, object]] = []
    for row in book.rows:
        loan = book.as_of(row, req.as_of)
        if loan.status != "active" or loan.days_past_due <= 0 or loan.oldest_due is None:
            continue
        due = [s for s in loan.schedule if s.due_date < req.as_of and s.unpaid > 0]
        standing = [guarantee_as_of(g, calls.get(g.id, 0), req.as_of)
                    for g in by_loan.get(row.id, []) if g.date <= req.as_of]
        standing = [g for g in standing if g.status == "active"]
        borrower = people.get(row.borrower_id)
        rows.append(ArrearsRow(
            loan_id=row.id, borrower_id=row.borrower_id,
            borrower_name=_name(people, row.borrower_id),
            province=(borrower.province or "") if borrower is not None else "",
            category=row.category, oldest_due_on=loan.oldest_due,
            days_past_due=loan.days_past_due,
            overdue_principal_cents=_cents(sum((s.unpaid_principal for s in due), Decimal(0))),
            overdue_interest_cents=_cents(sum((s.unpaid_interest for s in due), Decimal(0))),
            penalties_cents=_cents(sum((s.unpaid_penalty for s in due), Decimal(0))),
            outstanding_principal_cents=loan.outstanding,
            guarantee_remaining_cents=sum(g.remaining for g in standing)))
        for g in standing:
            guarantor = people.get(g.row.guarantor_id)
            contacts.append({
                "loan_id": row.id, "borrower_name": _name(people, row.borrower_id),
                "days_past_due": loan.days_past_due,
                "guarantor_name": _name(people, g.row.guarantor_id),
                "guarantor_kind": guarantor.kind if guarantor else None,
                # How to reach the guarantor (the contacts PATCH /api/parties keeps).
                "phone": getattr(guarantor, "phone", None),
                "email": getattr(guarantor, "email", None),
                "pec": getattr(guarantor, "pec", None),
                "address": " ".join(x for x in (getattr(guarantor, "address", None),
                                                 getattr(guarantor, "postal_code", None))
                                    if x) or None,
                "tax_code": guarantor.tax_code if guarantor else None,
                "municipality": guarantor.municipality if guarantor else None,
                "province": guarantor.province if guarantor else None,
                "remaining": g.remaining})
    report = arrears_report(rows, req.as_of, lang=req.lang, filters=_filters(people, req))
    contacts.sort(key=lambda c: (-int(str(c["days_past_due"])), str(c["borrower_name"]),
                                 str(c["guarantor_name"])))
    sheet = ReportSheet("Garanti da contattare", _GUARANTOR_COLUMNS,
                        _frame(contacts, _GUARANTOR_COLUMNS), "Guarantors to contact")
    return replace(report, sheets=(*report.sheets, sheet))


# -- guarantees ---------------------------------------------------------------------------

def load_guarantees(conn: Connection, req: ReportRequest) -> Report:
    """Every guarantee recorded, as of ``as_of``: pledged, called (by call date),
    released, remaining, and the cover of each loan's outstanding principal."""
    people = _parties(conn)
    _check_party(people, req.producer_id, "producer", "producer_id")
    _check_party(people, req.gas_id, "gas", "gas_id")
    book = LoanBook(conn, _loan_rows(conn, req.producer_id, req.lender_id))
    calls = _calls_by_guarantee(conn, req.as_of)
    by_loan = _guarantees_by_loan(conn)
    rows: list[GuaranteeRow] = []
    for row in book.rows:
        items = [g for g in by_loan.get(row.id, []) if g.date <= req.as_of
                 and (req.gas_id is None or g.guarantor_id == req.gas_id)]
        if not items:
            continue
        loan = book.as_of(row, req.as_of)
        base = row.principal_minor if loan.status == "approved" else loan.outstanding
        for g in items:
            state = guarantee_as_of(g, calls.get(g.id, 0), req.as_of)
            guarantor = people.get(g.guarantor_id)
            rows.append(GuaranteeRow(
                guarantee_id=g.id, loan_id=row.id,
                borrower_name=_name(people, row.borrower_id), guarantor_id=g.guarantor_id,
                guarantor_name=_name(people, g.guarantor_id),
                guarantor_kind=guarantor.kind if guarantor else "",
                status=state.status,
                pledged_on=g.date, pledged_cents=g.amount_minor,
                called_cents=state.called, released_cents=state.released,
                loan_outstanding_cents=base))
    return guarantees_report(rows, req.as_of, filters=_filters(people, req))


# -- prepayments --------------------------------------------------------------------------

def load_prepayments(conn: Connection, req: ReportRequest) -> Report:
    """Every prepayment agreed (paid) on or before ``as_of``, with deliveries and the
    season-close settlement dated on or before it. With ``from``/``to`` given, only
    those open at some time in the period."""
    people = _parties(conn)
    _check_party(people, req.producer_id, "producer", "producer_id")
    _check_party(people, req.gas_id, "gas", "gas_id")
    query = select(prepayments).order_by(prepayments.c.seq)
    if req.producer_id:
        query = query.where(prepayments.c.producer_id == req.producer_id)
    if req.gas_id:
        query = query.where(prepayments.c.gas_id == req.gas_id)
    items = list(conn.execute(query))
    delivered: dict[str, int] = defaultdict(int)
    for chunk in _in_chunks([p.id for p in items]):
        for d in conn.execute(select(deliveries).where(deliveries.c.prepayment_id.in_(chunk),
                                                       deliveries.c.date <= req.as_of,
                                                       live(deliveries, "delivery"))):
            delivered[d.prepayment_id] += d.value_minor
    rows: list[PrepaymentRow] = []
    for p in items:
        agreed = p.date
        if agreed > req.as_of:
            continue  # not paid yet on that day
        closed = p.status == "closed" and p.closed_on is not None and p.closed_on <= req.as_of
        if req.explicit_period and (agreed > req.period_to or (
                closed and p.closed_on < req.period_from)):
            continue
        rows.append(PrepaymentRow(
            prepayment_id=p.id, gas_id=p.gas_id, gas_name=_name(people, p.gas_id),
            producer_id=p.producer_id, producer_name=_name(people, p.producer_id),
            agreed_on=agreed, season_end=p.expires_on,
            status="closed" if closed else "open",
            advance_cents=p.amount_minor, delivered_cents=delivered.get(p.id, 0),
            settled_cents=(p.settlement_minor or 0) if closed else 0))
    return prepayments_report(rows, req.as_of, period_from=req.period_from,
                              period_to=req.period_to, filters=_filters(people, req))


# -- solidarity ---------------------------------------------------------------------------

def load_solidarity(conn: Connection, req: ReportRequest) -> Report:
    """Fund entries dated in the period (and on or before ``as_of``): contributions in
    (from GAS, or the remainder of a prepayment closed to the fund), grants and loss
    cover out. With ``gas_id``: that GAS's own fund, and its contributions elsewhere."""
    people = _parties(conn)
    _check_party(people, req.gas_id, "gas", "gas_id")
    fund_rows = {f.id: f for f in conn.execute(select(funds))}
    start, end = req.period_from, min(req.period_to, req.as_of)
    rows: list[SolidarityRow] = []
    refs: dict[str, str] = {}
    for c in conn.execute(select(contributions).where(
            contributions.c.date >= start, contributions.c.date <= end,
            live(contributions, "contribution")).order_by(contributions.c.seq)):
        fund = fund_rows[c.fund_id]
        if req.gas_id and req.gas_id not in (c.gas_id, fund.gas_id):
            continue
        refs[c.id] = c.reference
        rows.append(SolidarityRow(
            entry_id=c.id, fund_id=fund.id, fund_name=fund.name, on=c.date,
            kind="prepayment" if c.source == "prepayment" else "contribution",
            direction="in", amount_cents=c.amount_minor, gas_name=_name(people, c.gas_id),
            earmark=_name(people, c.earmark_producer_id) if c.earmark_producer_id else "",
            description=c.note or ""))
    for p in conn.execute(select(payouts).where(payouts.c.date >= start, payouts.c.date <= end,
                                                live(payouts, "payout"))
                          .order_by(payouts.c.seq)):
        fund = fund_rows[p.fund_id]
        if req.gas_id and req.gas_id != fund.gas_id:
            continue
        refs[p.id] = p.reference
        rows.append(SolidarityRow(
            entry_id=p.id, fund_id=fund.id, fund_name=fund.name, on=p.date,
            kind=p.kind, direction="out", amount_cents=p.amount_minor,
            counterparty=_name(people, p.producer_id),
            description=f"{_word(req.lang, 'loss_cover')}: {p.loan_id}" if p.loan_id else ""))
    report = solidarity_report(rows, req.as_of, period_from=req.period_from,
                               period_to=req.period_to, filters=_filters(people, req))
    # The entries sheet lists the rows in solidarity_report's order; its frame carries no
    # ids, so the references follow that same order.
    ordered = sorted(rows, key=lambda r: (r.fund_name, r.on, r.entry_id))
    entries = report.sheets[0]
    assert isinstance(entries, ReportSheet) and entries.frame.height == len(ordered)
    column = pl.Series("reference", [refs[r.entry_id] for r in ordered], dtype=pl.Utf8)
    entries = replace(entries, columns=(*entries.columns, _REFERENCE),
                      frame=entries.frame.with_columns(column))
    return replace(report, sheets=(entries, *report.sheets[1:]))


# -- journal ------------------------------------------------------------------------------

def _transfer_day(t: Transfer) -> date:
    """A transfer's value date, or the day (UTC) it was recorded when it has none."""
    if t.value_date is not None:
        return t.value_date
    return datetime.fromtimestamp(t.timestamp // 1_000_000_000, UTC).date()


def _ns_timestamp(ns_since_epoch: int) -> datetime:
    seconds, ns = divmod(ns_since_epoch, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=ns // 1000)


def iter_transfers(conn: Connection, store: LedgerStore) -> Iterator[Transfer]:
    """The whole journal in chain order, read a page at a time."""
    cursor: str | None = None
    while True:
        page, cursor = store.list_transfers(conn, None, _LEDGER_PAGE, cursor)
        yield from page
        if cursor is None:
            return


def _all_accounts(conn: Connection, store: LedgerStore) -> Iterator[Account]:
    cursor: str | None = None
    while True:
        page, cursor = store.list_accounts(conn, limit=500, cursor=cursor)
        yield from page
        if cursor is None:
            return


# A transfer's flags as the journal lists them, for each stored bit pattern: sorted,
# joined by ", " (the codes of reports.italian's "transfer_flags").
_FLAG_TEXTS = tuple(", ".join(sorted(str(f) for f in transfer_flags_from_bits(bits)))
                    for bits in range(16))


@dataclass(frozen=True)
class StreamedReport:
    """A report whose one sheet is a stream of rows (read once): the journal."""

    report: Report
    columns: tuple[ColumnSpec, ...]
    rows: Iterable[Sequence[object]]
    decimals: int


def load_journal(conn: Connection, req: ReportRequest, store: LedgerStore) -> StreamedReport:
    """Every transfer whose value date (or, without one, the day it was recorded) falls
    in the period, with its accounts' codes: read from the ledger a page at a time and
    written as it comes, so memory stays flat however long the journal is."""
    people = _party_names(conn)
    codes: dict[str, str] = {}
    names: dict[str, str] = {}
    groups: dict[str, str] = {}
    currencies: set[str] = set()
    # Accounts of one code and owner share their label: made once each.
    labels: dict[tuple[str, str], tuple[str, str]] = {}
    for account, code, party_id, currency in store.account_codes(conn):
        codes[account] = code
        owner = (people.get(party_id, party_id) if party_id else "")
        label = labels.get((code, owner))
        if label is None:
            made = account_label(code, owner, req.lang)
            label = labels[code, owner] = (made.name, made.group_name)
        names[account], groups[account] = label
        currencies.add(currency)
    euro = currencies <= {"EUR"}
    decimals = max((currency_exponent(c) for c in currencies), default=2)
    amount_kind: ColumnKind = "money" if euro else "decimal"
    # Each account's code (what machines match on; CSV readers find the columns where
    # they always were) and, after them, its Italian name and group (the chart of
    # accounts) for people.
    # The ids and codes are folded away in the workbook and not printed (``technical``).
    columns = (
        replace(_spec("id", "Id", "Id", "text"), technical=True),
        _spec("timestamp", "Registrato il", "Recorded at (UTC)", "datetime"),
        _spec("value_date", "Data valuta", "Value date", "date"),
        replace(_spec("debit_account", "Conto dare", "Debit account", "text",
                      description_it="codice del conto addebitato",
                      description_en="code of the account debited"), technical=True),
        replace(_spec("credit_account", "Conto avere", "Credit account", "text",
                      description_it="codice del conto accreditato",
                      description_en="code of the account credited"), technical=True),
        _spec("amount", "Importo", "Amount", amount_kind, euro),
        _spec("currency", "Valuta", "Currency", "text"),
        replace(_spec("code", "Causale", "Code", "text"), codes="transfer_code"),
        replace(_spec("flags", "Flag", "Flags", "text",
                      description_it="collegato, in sospeso, conferma o annullamento del "
                      "sospeso", description_en="pending, post_pending, void_pending, "
                      "linked"), codes="transfer_flags"),
        replace(_spec("operation_id", "Operazione", "Operation", "text"), technical=True),
        _spec("debit_name", "Descrizione conto dare", "Debit account name", "text"),
        _spec("credit_name", "Descrizione conto avere", "Credit account name", "text"),
        _spec("debit_group", "Gruppo conto dare", "Debit account group", "text"),
        _spec("credit_group", "Gruppo conto avere", "Credit account group", "text"),
    )

    def rows() -> Iterator[tuple[object, ...]]:
        # The database keeps the period's transfers (value date, else the UTC day they
        # were recorded: as ``_transfer_day``) and gives them as plain tuples.
        for t in store.journal_entries(conn, req.period_from, req.period_to):
            amount: object = t.amount if euro else minor_to_decimal(t.amount, t.currency)
            yield (t.id, _ns_timestamp(t.timestamp), t.value_date,
                   codes.get(t.debit_account_id), codes.get(t.credit_account_id), amount,
                   t.currency, t.code, _FLAG_TEXTS[t.flags & 15], t.operation_id,
                   names.get(t.debit_account_id), names.get(t.credit_account_id),
                   groups.get(t.debit_account_id), groups.get(t.credit_account_id))

    stream = rows()
    report = Report(
        name="journal", title_it="Libro giornale", title_en="Journal",
        sheets=(StreamSheet("Giornale", columns, stream, "Journal"),),
        parameters={"from": req.period_from.isoformat(), "to": req.period_to.isoformat()},
        as_of=req.period_to, period_from=req.period_from, period_to=req.period_to,
        formulas=(
            FormulaNote("Periodo", "Period", "movimenti con data valuta nel periodo (senza "
                        "data valuta: il giorno di registrazione, UTC)",
                        "transfers whose value date is in the period (without one: the day "
                        "they were recorded, UTC)"),
            FormulaNote("Totale importi", "Total amount",
                        "somma degli importi dei movimenti visibili (SUBTOTALE)",
                        "sum of the amounts of the visible transfers (SUBTOTAL)"),
        ),
        description_it="Tutti i movimenti del registro nel periodo, con i codici dei conti.",
        description_en="Every ledger transfer in the period, with the accounts' codes.")
    return StreamedReport(report, columns, stream, decimals)


# -- trial balance ------------------------------------------------------------------------

def _posts(t: Transfer) -> bool:
    """Whether a transfer moves posted totals (a pending reserves; a void releases)."""
    if t.pending:
        return False
    return t.pending_id is None or t.post_pending


def load_trial_balance(conn: Connection, req: ReportRequest, store: LedgerStore) -> Report:
    """Debits and credits posted on every account, and the check debits = credits per
    currency. Without ``as_of``: the accounts' stored totals (everything recorded); with
    it: the journal replayed up to ``as_of`` by value date, a page at a time."""
    people = _parties(conn)
    accounts = list(_all_accounts(conn, store))
    totals: dict[str, list[int]] = {a.id: [a.debits_posted, a.credits_posted]
                                    for a in accounts}
    if "as_of" in req.given:
        totals = {a.id: [0, 0] for a in accounts}
        for t in iter_transfers(conn, store):
            if _posts(t) and _transfer_day(t) <= req.as_of:
                totals[t.debit_account_id][0] += t.amount
                totals[t.credit_account_id][1] += t.amount
    rows = []
    for a in accounts:
        owner = _name(people, a.party_id) if a.party_id else ""
        rows.append(TrialBalanceRow(
            account_code=a.code, account_name="", owner_name=owner,
            currency=a.currency, debits_posted_minor=totals[a.id][0],
            credits_posted_minor=totals[a.id][1]))
    return trial_balance_report(rows, req.as_of, lang=req.lang)


# -- impact -------------------------------------------------------------------------------

_IMPACT_SUMMARY_COLUMNS = (
    _spec("figure", "Indicatore", "Figure", "text"),
    _spec("amount", "Importo", "Amount", "money"),
    _spec("count", "Numero", "Count", "int"),
    _spec("value", "Valore", "Value", "decimal"),
)
_PROVINCE_COLUMNS = (
    _spec("province", "Provincia", "Province", "text"),
    _spec("producers", "Produttori", "Producers", "int", True),
    _spec("loans", "Prestiti", "Loans", "int", True),
    _spec("disbursed", "Credito erogato", "Credit disbursed", "money", True),
    _spec("outstanding", "Capitale residuo", "Outstanding principal", "money", True),
    _spec("prepaid", "Prefinanziamenti ricevuti", "Prepayments received", "money", True),
    _spec("solidarity", "Solidarietà ricevuta", "Solidarity received", "money", True),
)
_DISTANCE_COLUMNS = (
    _spec("producer_name", "Produttore", "Producer", "text"),
    _spec("gas_name", "GAS", "GAS", "text"),
    _spec("km", "Distanza (km)", "Distance (km)", "decimal", False,
          "in linea d'aria (formula dell'emisenoverso), 1 decimale",
          "great-circle (haversine), 1 decimal"),
    _spec("prepaid", "Prefinanziato", "Prepaid", "money", True),
    _spec("pledged", "Garantito", "Pledged", "money", True),
    _spec("contributed", "Contributi vincolati", "Earmarked contributions", "money", True),
)


def _km(a: Record | None, b: Record | None) -> Decimal | None:

    if a is None or b is None or None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return None
    # A distance is not money: the float is rounded to a tenth of a km for display.
    return Decimal(f"{haversine_km(a.latitude, a.longitude, b.latitude, b.longitude):.1f}")


def load_impact(conn: Connection, req: ReportRequest) -> Report:
    """Per producer financed (a loan disbursed, money prepaid or solidarity received in
    the period, or credit or pledges still standing at its end): credit disbursed,
    outstanding, prepaid (new agreements, roll-overs excluded), pledges standing,
    solidarity received, the GAS that buy from it or prepay it and their households;
    summed by category (the producer's first category) and province, with the distance
    between each producer and the GAS that fund it (prepaid, pledged or earmarked)."""
    people = _parties(conn)
    _check_party(people, req.producer_id, "producer", "producer_id")
    start, end = req.period_from, req.period_to
    book = LoanBook(conn, _loan_rows(conn, req.producer_id, req.lender_id))
    calls = _calls_by_guarantee(conn, end)
    by_loan = _guarantees_by_loan(conn)

    lent: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # loans, disbursed, outstanding
    pledged: dict[tuple[str, str], int] = defaultdict(int)  # (producer, guarantor)
    for row in book.rows:
        loan = book.as_of(row, end)
        if loan.status == "approved":
            continue
        entry = lent[row.borrower_id]
        if start <= row.disbursed_on <= end:
            entry[0] += 1
            entry[1] += row.principal_minor
        entry[2] += loan.outstanding
        for g in by_loan.get(row.id, []):
            if g.date > end:
                continue
            remaining = guarantee_as_of(g, calls.get(g.id, 0), end).remaining
            if remaining:
                pledged[(row.borrower_id, g.guarantor_id)] += remaining

    prepaid: dict[tuple[str, str], int] = defaultdict(int)  # (producer, gas)
    buyers: dict[str, set[str]] = defaultdict(set)
    for p in conn.execute(select(prepayments).order_by(prepayments.c.seq)):
        agreed = p.date
        if agreed > end:
            continue
        buyers[p.producer_id].add(p.gas_id)
        if p.rolled_from is None and agreed >= start:
            prepaid[(p.producer_id, p.gas_id)] += p.amount_minor
    for rel in conn.execute(select(relationships).where(relationships.c.since <= end)):
        buyers[rel.producer_id].add(rel.gas_id)
    earmarked: dict[tuple[str, str], int] = defaultdict(int)
    for c in conn.execute(select(contributions).where(
            contributions.c.date >= start, contributions.c.date <= end,
            contributions.c.earmark_producer_id.is_not(None),
            live(contributions, "contribution"))):
        earmarked[(c.earmark_producer_id, c.gas_id)] += c.amount_minor
    solidarity: dict[str, int] = defaultdict(int)
    for p in conn.execute(select(payouts).where(payouts.c.date >= start, payouts.c.date <= end,
                                                live(payouts, "payout"))):
        solidarity[p.producer_id] += p.amount_minor

    def first_category(producer: Record) -> str:
        cats = producer.categories or []
        return str(cats[0]) if cats else _word(req.lang, "none")

    rows: list[ImpactRow] = []
    gas_sets: dict[str, set[str]] = {}
    for pid, producer in people.items():
        if producer.kind != "producer" or (req.producer_id and pid != req.producer_id):
            continue
        loans_n, disbursed, outstanding = lent.get(pid, [0, 0, 0])
        got_prepaid = sum(v for (prod, _), v in prepaid.items() if prod == pid)
        got_pledged = sum(v for (prod, _), v in pledged.items() if prod == pid)
        got_solidarity = solidarity.get(pid, 0)
        if not (disbursed or outstanding or got_prepaid or got_pledged or got_solidarity):
            continue
        served = {g for g in buyers.get(pid, set())
                  if g in people and people[g].kind == "gas"}
        gas_sets[pid] = served
        rows.append(ImpactRow(
            producer_id=pid, producer_name=producer.name, category=first_category(producer),
            province=producer.province or "", loans=loans_n, disbursed_cents=disbursed,
            outstanding_cents=outstanding, prepaid_cents=got_prepaid,
            guaranteed_cents=got_pledged, solidarity_cents=got_solidarity,
            gas_served=len(served),
            households_served=sum(people[g].households or 0 for g in served)))

    report = impact_report(rows, period_from=start, period_to=end,
                           filters=_filters(people, req))

    # Distances: each producer and every GAS that funded it.
    included = {r.producer_id for r in rows}
    pairs: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"prepaid": 0, "pledged": 0, "contributed": 0})
    for (prod, gas), v in prepaid.items():
        pairs[(prod, gas)]["prepaid"] += v
    for (prod, party), v in pledged.items():
        if party in people and people[party].kind == "gas":
            pairs[(prod, party)]["pledged"] += v
    for (prod, gas), v in earmarked.items():
        pairs[(prod, gas)]["contributed"] += v
    distances: list[dict[str, object]] = []
    for (prod, gas), money in sorted(pairs.items(), key=lambda kv: (
            _name(people, kv[0][0]), _name(people, kv[0][1]))):
        if prod not in included:
            continue
        distances.append({"producer_name": _name(people, prod), "gas_name": _name(people, gas),
                          "km": _km(people.get(prod), people.get(gas)), **money})

    provinces: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        place = provinces[r.province or _word(req.lang, "none")]
        place["producers"] += 1
        place["loans"] += r.loans
        place["disbursed"] += r.disbursed_cents
        place["outstanding"] += r.outstanding_cents
        place["prepaid"] += r.prepaid_cents
        place["solidarity"] += r.solidarity_cents
    province_rows = [{"province": k, **v} for k, v in sorted(provinces.items())]

    involved = set().union(*gas_sets.values()) if gas_sets else set()
    involved |= {gas for (prod, gas) in pairs if prod in included
                 and gas in people and people[gas].kind == "gas"}
    kms = [d["km"] for d in distances if isinstance(d["km"], Decimal)]
    weights = [(d["km"], int(str(d["prepaid"]))) for d in distances
               if isinstance(d["km"], Decimal) and int(str(d["prepaid"])) > 0]
    weight_total = sum(w for _, w in weights)
    contributions_in = sum(int(c.amount_minor) for c in conn.execute(select(contributions).where(
        contributions.c.date >= start, contributions.c.date <= end,
        live(contributions, "contribution"))))
    it = req.lang == "it"

    def fig(label_it: str, label_en: str, amount: int | None = None, count: int | None = None,
            value: Decimal | None = None) -> dict[str, object]:
        return {"figure": label_it if it else label_en, "amount": amount, "count": count,
                "value": value}

    summary = [
        fig("Produttori finanziati", "Producers financed", count=len(rows)),
        fig("GAS coinvolti", "GAS involved", count=len(involved)),
        fig("Famiglie coinvolte (ogni GAS contato una volta)",
            "Households involved (each GAS counted once)",
            count=sum(people[g].households or 0 for g in involved)),
        fig("Prestiti erogati nel periodo", "Loans disbursed in the period",
            count=sum(r.loans for r in rows)),
        fig("Credito erogato nel periodo", "Credit disbursed in the period",
            amount=sum(r.disbursed_cents for r in rows)),
        fig("Capitale residuo a fine periodo", "Outstanding principal at the end",
            amount=sum(r.outstanding_cents for r in rows)),
        fig("Prefinanziato dai GAS nel periodo", "Prepaid by GAS in the period",
            amount=sum(r.prepaid_cents for r in rows)),
        fig("Garanzie in essere a fine periodo", "Pledges standing at the end",
            amount=sum(r.guaranteed_cents for r in rows)),
        fig("Contributi di solidarietà raccolti nel periodo",
            "Solidarity contributions collected in the period", amount=contributions_in),
        fig("Solidarietà erogata ai produttori nel periodo",
            "Solidarity paid to producers in the period",
            amount=sum(r.solidarity_cents for r in rows)),
        fig("Distanza media produttore–GAS finanziatore (km)",
            "Mean distance producer–funding GAS (km)", count=len(kms),
            value=(sum(kms, Decimal(0)) / len(kms)).quantize(Decimal("0.1"))
            if kms else None),
        fig("Distanza media pesata sul prefinanziato (km)",
            "Mean distance weighted by euros prepaid (km)",
            value=(sum((k * w for k, w in weights), Decimal(0)) / weight_total)
            .quantize(Decimal("0.1")) if weight_total else None),
    ]
    sheets = (
        ReportSheet("Sintesi", _IMPACT_SUMMARY_COLUMNS,
                    _frame(summary, _IMPACT_SUMMARY_COLUMNS), "Summary"),
        *report.sheets,
        ReportSheet("Per provincia", _PROVINCE_COLUMNS, _frame(province_rows, _PROVINCE_COLUMNS),
                    "By province"),
        ReportSheet("Distanze", _DISTANCE_COLUMNS, _frame(distances, _DISTANCE_COLUMNS),
                    "Distances"),
    )
    formulas = (*report.formulas, FormulaNote(
        "Distanza", "Distance",
        "in linea d'aria tra le coordinate del produttore e del GAS (emisenoverso, raggio "
        "terrestre medio 6371 km); GAS finanziatori: prefinanziamenti, garanzie o contributi "
        "vincolati al produttore",
        "great-circle between the producer's and the GAS's coordinates (haversine, mean "
        "Earth radius 6371 km); funding GAS: prepayments, pledges or contributions "
        "earmarked for the producer"))
    return replace(report, sheets=sheets, formulas=formulas)


# -- requests -----------------------------------------------------------------------------

def load_requests(conn: Connection, req: ReportRequest) -> Report:
    """Funding requests submitted in the period (by the day they were recorded): form,
    status, decision date (the assessment's, else the last approval or rejection),
    amount requested, amount granted (the loan and prepayments the funding created;
    guarantees cover risk and are not funding) and the latest review scores."""

    people = _parties(conn)
    _check_party(people, req.producer_id, "producer", "producer_id")
    query = select(funding_requests).order_by(funding_requests.c.seq)
    if req.producer_id:
        query = query.where(funding_requests.c.producer_id == req.producer_id)
    # A request cannot be recorded after today; with today fixed (FILIERA_TODAY, for
    # demonstrations and tests) one recorded later counts as recorded today.
    last = clock.today()
    items = [r for r in conn.execute(query)
             if req.period_from <= min(r.created_at.date(), last) <= req.period_to]
    ids = [r.id for r in items]
    assessment: dict[str, Record] = {}
    decided: dict[str, date] = {}
    granted: dict[str, int] = defaultdict(int)
    for chunk in _in_chunks(ids):
        for version in conn.execute(select(request_assessments).where(
                request_assessments.c.request_id.in_(chunk)).order_by(
                request_assessments.c.seq)):
            assessment[version.request_id] = version  # the latest version counts
        for h in conn.execute(select(request_history).where(
                request_history.c.request_id.in_(chunk),
                request_history.c.to_status.in_(("approved", "rejected"))).order_by(
                request_history.c.seq)):
            decided[h.request_id] = h.at.date()
        made = list(conn.execute(select(request_instruments).where(
            request_instruments.c.request_id.in_(chunk))))
        loan_ids = [m.instrument_id for m in made if m.kind == "loan"]
        prepayment_ids = [m.instrument_id for m in made if m.kind == "prepayment"]
        owner = {m.instrument_id: m.request_id for m in made}
        for loan in conn.execute(select(loans.c.id, loans.c.principal_minor).where(
                loans.c.id.in_(loan_ids or [""]))):
            granted[owner[loan.id]] += loan.principal_minor
        for p in conn.execute(select(prepayments.c.id, prepayments.c.amount_minor).where(
                prepayments.c.id.in_(prepayment_ids or [""]))):
            granted[owner[p.id]] += p.amount_minor
    rows = []
    for r in items:
        producer = people.get(r.producer_id)
        cats = (producer.categories or []) if producer is not None else []
        review = assessment.get(r.id)
        decision = (review.decision_date if review is not None and review.decision_date
                    else decided.get(r.id))
        rows.append(FundingRequestRow(
            request_id=r.id, producer_name=_name(people, r.producer_id),
            category=str(cats[0]) if cats else _word(req.lang, "none"),
            province=(producer.province or "") if producer is not None else "",
            kind=r.instrument, status=r.status, submitted_on=r.created_at.date(),
            decided_on=decision, requested_cents=r.amount_minor,
            granted_cents=granted.get(r.id, 0),
            economic_score=Decimal(review.economic_score) if review is not None else None,
            social_score=Decimal(review.social_score) if review is not None else None))
    return requests_report(rows, period_from=req.period_from, period_to=req.period_to,
                           filters=_filters(people, req))


# -- files --------------------------------------------------------------------------------

@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """One consistent, read-only view of the database for a whole report (the journal's
    pages and the account list must agree): REPEATABLE READ on PostgreSQL, whose default
    lets each statement see later commits; SQLite's read transaction already is one."""
    if engine.dialect.name != "postgresql":
        with read_tx(engine) as conn:
            yield conn
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ",
                                      postgresql_readonly=True)
        with conn.begin():
            yield conn


def build_report(conn: Connection, req: ReportRequest, store: LedgerStore
                 ) -> Report | StreamedReport:
    loaders: dict[str, Callable[[Connection, ReportRequest], Report]] = {
        "portfolio": load_portfolio, "loan-statement": load_loan_statement,
        "arrears": load_arrears, "guarantees": load_guarantees,
        "prepayments": load_prepayments, "solidarity": load_solidarity,
        "impact": load_impact, "requests": load_requests,
    }
    if req.name == "journal":
        journal = load_journal(conn, req, store)
        return replace(journal, report=_with_lenders(conn, journal.report))
    if req.name == "trial-balance":
        return _with_lenders(conn, load_trial_balance(conn, req, store))
    return _with_lenders(conn, with_references(conn, loaders[req.name](conn, req)),
                         req.lender_id)


def _with_lenders(conn: Connection, report: Report, lender_id: str | None = None
                  ) -> Report:
    """The lender named in the printed header: the report's own (a loan's), the one
    lender a bound officer's report covers, or every lender of the network."""
    if report.lender_names:
        return report
    query = select(parties.c.name).where(parties.c.kind == "lender")
    if lender_id is not None:
        query = query.where(parties.c.id == lender_id)
    names = tuple(sorted(str(p.name) for p in conn.execute(query)))
    return replace(report, lender_names=names)


# -- references ---------------------------------------------------------------------------

# A sheet's item is named by the first of these id columns its frame has; its reference
# goes in a column of its own, after the existing ones (whose order CSV and Parquet
# clients may rely on; the workbook and the PDF put it first: ``people_first``). A sheet
# of guarantees also gets its loan's.
_ITEM_IDS = (("guarantee_id", guarantees), ("prepayment_id", prepayments),
             ("request_id", funding_requests), ("loan_id", loans))
_REFERENCE = _spec("reference", "Riferimento", "Reference", "text")
_LOAN_REFERENCE = _spec("loan_reference", "Riferimento prestito", "Loan reference", "text")


def _references(conn: Connection, table: Table, ids: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in _in_chunks(sorted(set(ids))):
        out.update({r.id: r.reference for r in conn.execute(
            select(table.c.id, table.c.reference).where(table.c.id.in_(chunk)))})
    return out


def _add_reference(conn: Connection, sheet: ReportSheet) -> ReportSheet:
    keys = sheet.frame.columns
    found = next(((k, t) for k, t in _ITEM_IDS if k in keys), None)
    if found is None or "reference" in keys:
        return sheet
    key, table = found
    ids = [str(v) for v in sheet.frame[key].to_list() if v is not None]
    refs = _references(conn, table, ids)
    added = [pl.Series("reference", [refs.get(v) for v in sheet.frame[key].to_list()],
                       dtype=pl.Utf8)]
    columns = [_REFERENCE]
    if key != "loan_id" and "loan_id" in keys:
        loan_refs = _references(conn, loans, [str(v) for v in sheet.frame["loan_id"].to_list()
                                              if v is not None])
        added.append(pl.Series("loan_reference", [loan_refs.get(v) for v in
                                                  sheet.frame["loan_id"].to_list()],
                               dtype=pl.Utf8))
        columns.append(_LOAN_REFERENCE)
    return replace(sheet, columns=(*sheet.columns, *columns),
                   frame=sheet.frame.with_columns(added))


def with_references(conn: Connection, report: Report) -> Report:
    """The report with each item's reference in a column of its own (the id columns
    stay as they were)."""
    report = replace(report, sheets=tuple(
        _add_reference(conn, s) if isinstance(s, ReportSheet) else s for s in report.sheets))
    loan_id = report.parameters.get("loan_id")
    if report.name == "loan-statement" and loan_id:
        # One loan's statement names its loan among the parameters (Info sheet).
        refs = _references(conn, loans, [loan_id])
        report = replace(report, parameters={**report.parameters,
                                             "reference": refs.get(loan_id, "")})
    return report


# The sheet a CSV or Parquet export holds unless ``sheet`` names another: the detail rows.
_MAIN_SHEET = {"portfolio": "Loans", "loan-statement": "Schedule", "impact": "By producer"}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def pick_sheet(report: Report, name: str | None) -> ReportSheet | StreamSheet:
    sheets = report.sheets
    if name is None:
        wanted = _MAIN_SHEET.get(report.name)
        return next((s for s in sheets if s.name_en == wanted), sheets[0])
    for index, sheet in enumerate(sheets, start=1):
        if _slug(name) in (_slug(sheet.name), _slug(sheet.name_en), str(index)):
            return sheet

    names = ", ".join(_slug(s.name_en or s.name) for s in sheets)
    raise invalid("sheet", f"report {report.name!r} has sheets {names}")


def _stream_frames(columns: Sequence[ColumnSpec], rows: Iterable[Sequence[object]],
                   decimals: int) -> Iterator[pl.DataFrame]:
    schema = {c.key: _dtype(c.kind, decimals) for c in columns}
    chunk: list[Sequence[object]] = []
    first = True
    for row in rows:
        chunk.append(row)
        if len(chunk) >= _CHUNK_ROWS:
            yield pl.DataFrame(chunk, schema=schema, orient="row")
            chunk, first = [], False
    if chunk or first:
        yield pl.DataFrame(chunk, schema=schema, orient="row")


def _italian_values(req: ReportRequest) -> bool:
    """CSV and Parquet keep codes and UTC unless ``lang=it`` is asked for explicitly
    (the workbooks and PDFs, Italian by default, always write Italian values)."""
    return req.lang == "it" and "lang" in req.given


def write_report(built: Report | StreamedReport, req: ReportRequest, out: IO[bytes]) -> None:
    """Write the report in the request's format to a binary file (seekable for XLSX)."""
    report = built.report if isinstance(built, StreamedReport) else built
    if req.fmt == "pdf":
        # A4, from the same report the workbook is written from (reports/pdf.py).
        write_pdf(people_first(report), out, req.lang)
        return
    if req.fmt == "xlsx":
        # Write-only mode for every workbook: same content (styles, filters, totals,
        # charts), lower memory, and within 1.3x of a bare openpyxl write (bench/reports.py).
        # References and names first, ids last; CSV and Parquet keep their columns.
        write_xlsx_streaming(people_first(report), out, req.lang)
        return
    sheet = pick_sheet(report, req.sheet)
    if isinstance(sheet, ReportSheet):
        frames: Iterable[pl.DataFrame] = [sheet.frame]
    else:
        assert isinstance(built, StreamedReport)
        frames = _stream_frames(sheet.columns, sheet.rows, built.decimals)
    if req.fmt == "csv":
        options = csv_options(req.italian, rome_time=_italian_values(req))
        for index, frame in enumerate(frames):
            buffer = io.BytesIO()
            export_frame(frame, sheet.columns, req.lang,
                         italian_values=_italian_values(req)).write_csv(
                buffer, include_header=index == 0, **options)
            out.write(buffer.getvalue())
        return
    if isinstance(sheet, ReportSheet):
        write_parquet(sheet.frame, out, columns=sheet.columns,
                      italian_values=_italian_values(req))
        return
    # A streamed sheet: one Parquet part per chunk, then polars' streaming engine joins
    # them into one file without holding them all.
    with tempfile.TemporaryDirectory(prefix="filiera-parquet-") as tmp:
        parts = []
        for index, frame in enumerate(frames):
            part = Path(tmp) / f"part-{index:06d}.parquet"
            export_frame(frame, sheet.columns,
                         italian_values=_italian_values(req)).write_parquet(part)
            parts.append(str(part))
        target = Path(tmp) / "report.parquet"
        pl.scan_parquet(parts).sink_parquet(target)
        with open(target, "rb") as src:
            shutil.copyfileobj(src, out)


def render(conn: Connection, req: ReportRequest, store: LedgerStore, out: IO[bytes]) -> None:
    write_report(build_report(conn, req, store), req, out)


def write_file(path: str | os.PathLike[str], render_to: Callable[[IO[bytes]], None]) -> None:
    """Write through a temporary file beside ``path`` so a failure leaves no half file."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w+b") as handle:
            render_to(handle)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
