"""Portfolio quality figures (SEEP/CGAP) from plain loan positions, and their report.

* PAR30 (PAR90): outstanding principal of every active loan with an installment more
  than 30 (90) days past due, plus every restructured active loan, over the gross
  outstanding principal of active loans. Written-off and repaid loans are outside both.
* Write-off ratio: principal written off in the period over the average gross portfolio
  of the period (given, or the mean of the opening and the closing gross portfolio).
* Loan-loss allowance: each active loan's outstanding principal times the provisioning
  rate of its aging bucket, rounded half-even to the cent per loan.
* Risk coverage: allowance over the PAR30 amount. Guarantee cover of PAR30 (pledges
  still standing on the PAR30 loans plus fund money available) is reported beside it.

Ratios are ``Decimal`` fractions rounded half-even to 4 places (0.1234 = 12.34%), or
None ("n/a") when the denominator is zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Literal

import polars as pl

from reports._frames import col, frame_of, percent_to_fraction, ratio, yes_no
from reports.italian import CodeDomain
from reports.workbook import BarChartSpec, ColumnSpec, FormulaNote, Lang, Report, ReportSheet

__all__ = [
    "AGING_BUCKETS",
    "DEFAULT_PROVISIONING_PERCENT",
    "AgingBucket",
    "BucketFigures",
    "ConcentrationRow",
    "LoanPosition",
    "LoanStatus",
    "PortfolioMetrics",
    "PortfolioParams",
    "aging_bucket",
    "loan_allowance_cents",
    "portfolio_metrics",
    "portfolio_report",
    "ratio",
]

LoanStatus = Literal["active", "repaid", "written_off"]
AgingBucket = Literal["current", "1-30", "31-60", "61-90", "90+"]
AGING_BUCKETS: tuple[AgingBucket, ...] = ("current", "1-30", "31-60", "61-90", "90+")
BUCKET_LABELS: Mapping[str, Mapping[AgingBucket, str]] = {
    "it": {"current": "In regola", "1-30": "1–30 giorni", "31-60": "31–60 giorni",
           "61-90": "61–90 giorni", "90+": "oltre 90 giorni"},
    "en": {"current": "Current", "1-30": "1–30 days", "31-60": "31–60 days",
           "61-90": "61–90 days", "90+": "over 90 days"},
}
# Provisioning rates in percent of outstanding principal, per aging bucket.
DEFAULT_PROVISIONING_PERCENT: Mapping[AgingBucket, Decimal] = {
    "current": Decimal("0"), "1-30": Decimal("10"), "31-60": Decimal("25"),
    "61-90": Decimal("50"), "90+": Decimal("100"),
}


@dataclass(frozen=True)
class LoanPosition:
    loan_id: str
    borrower_id: str
    borrower_name: str
    province: str
    category: str
    status: LoanStatus
    disbursed_cents: int
    outstanding_principal_cents: int
    overdue_cents: int
    days_past_due: int
    restructured: bool = False
    guarantee_remaining_cents: int = 0
    written_off_cents: int = 0
    written_off_on: date | None = None


@dataclass(frozen=True)
class PortfolioParams:
    """Inputs beyond the positions. The period defaults to 1 January of ``as_of``'s year
    through ``as_of``; the average gross portfolio is ``average_gross_portfolio_cents``
    when given, else the mean of ``opening_gross_portfolio_cents`` and the closing gross
    portfolio, else unknown (write-off ratio n/a)."""

    period_from: date | None = None
    period_to: date | None = None
    average_gross_portfolio_cents: int | Decimal | None = None
    opening_gross_portfolio_cents: int | None = None
    provisioning_percent: Mapping[AgingBucket, Decimal] = field(
        default_factory=lambda: dict(DEFAULT_PROVISIONING_PERCENT))
    fund_available_cents: int = 0
    filters: Mapping[str, str] = field(default_factory=dict)  # shown on the Info sheet


@dataclass(frozen=True)
class BucketFigures:
    bucket: AgingBucket
    loans: int
    outstanding_cents: int
    share: Decimal | None
    provisioning_percent: Decimal
    allowance_cents: int


@dataclass(frozen=True)
class ConcentrationRow:
    key: str
    name: str
    loans: int
    outstanding_cents: int
    share: Decimal | None
    par30_cents: int


@dataclass(frozen=True)
class PortfolioMetrics:
    as_of: date
    period_from: date
    period_to: date
    active_loans: int
    gross_portfolio_cents: int
    overdue_cents: int
    restructured_cents: int
    par30_cents: int
    par90_cents: int
    par30: Decimal | None
    par90: Decimal | None
    written_off_in_period_cents: int
    average_gross_portfolio_cents: Decimal | None  # may be a half cent: exact mean
    write_off_ratio: Decimal | None
    allowance_cents: int
    risk_coverage: Decimal | None
    par30_pledges_cents: int
    fund_available_cents: int
    guarantee_cover_par30: Decimal | None
    buckets: tuple[BucketFigures, ...]
    by_borrower: tuple[ConcentrationRow, ...]
    by_category: tuple[ConcentrationRow, ...]
    largest_borrower_share: Decimal | None
    top5_borrowers_share: Decimal | None


def aging_bucket(days_past_due: int) -> AgingBucket:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


def loan_allowance_cents(outstanding_cents: int, percent: Decimal) -> int:
    """Outstanding principal times a provisioning rate in percent, half-even to the cent."""
    return round(Fraction(outstanding_cents) * Fraction(percent) / 100)


def _at_risk(position: LoanPosition, days: int) -> bool:
    return position.days_past_due > days or position.restructured


def _concentration(active: Sequence[LoanPosition], gross: int, by: Literal["borrower", "category"]
                   ) -> tuple[ConcentrationRow, ...]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    names: dict[str, str] = {}
    for p in active:
        key = p.borrower_id if by == "borrower" else p.category
        names.setdefault(key, p.borrower_name if by == "borrower" else p.category)
        entry = totals[key]
        entry[0] += 1
        entry[1] += p.outstanding_principal_cents
        if _at_risk(p, 30):
            entry[2] += p.outstanding_principal_cents
    rows = [ConcentrationRow(key, names[key], n, out, ratio(out, gross), par)
            for key, (n, out, par) in totals.items()]
    rows.sort(key=lambda r: (-r.outstanding_cents, r.name, r.key))
    return tuple(rows)


def portfolio_metrics(positions: Iterable[LoanPosition], as_of: date,
                      params: PortfolioParams | None = None) -> PortfolioMetrics:
    params = params or PortfolioParams()
    period_from = params.period_from or date(as_of.year, 1, 1)
    period_to = params.period_to or as_of
    rates = {**DEFAULT_PROVISIONING_PERCENT, **params.provisioning_percent}
    all_positions = list(positions)
    active = [p for p in all_positions if p.status == "active"]

    gross = sum(p.outstanding_principal_cents for p in active)
    par30_loans = [p for p in active if _at_risk(p, 30)]
    par30_cents = sum(p.outstanding_principal_cents for p in par30_loans)
    par90_cents = sum(p.outstanding_principal_cents for p in active if _at_risk(p, 90))

    bucket_loans: dict[AgingBucket, int] = dict.fromkeys(AGING_BUCKETS, 0)
    bucket_out: dict[AgingBucket, int] = dict.fromkeys(AGING_BUCKETS, 0)
    bucket_allowance: dict[AgingBucket, int] = dict.fromkeys(AGING_BUCKETS, 0)
    for p in active:
        b = aging_bucket(p.days_past_due)
        bucket_loans[b] += 1
        bucket_out[b] += p.outstanding_principal_cents
        bucket_allowance[b] += loan_allowance_cents(p.outstanding_principal_cents, rates[b])
    buckets = tuple(
        BucketFigures(b, bucket_loans[b], bucket_out[b], ratio(bucket_out[b], gross), rates[b],
                      bucket_allowance[b])
        for b in AGING_BUCKETS)
    allowance = sum(bucket_allowance.values())

    written_off = sum(
        p.written_off_cents for p in all_positions
        if p.written_off_on is not None and period_from <= p.written_off_on <= period_to)
    average: Decimal | None
    if params.average_gross_portfolio_cents is not None:
        average = Decimal(params.average_gross_portfolio_cents)
    elif params.opening_gross_portfolio_cents is not None:
        # (opening + closing) / 2 is exact in Decimal: at most one decimal digit.
        average = Decimal(params.opening_gross_portfolio_cents + gross) / 2
    else:
        average = None

    pledges = sum(p.guarantee_remaining_cents for p in par30_loans)
    by_borrower = _concentration(active, gross, "borrower")
    top5 = sum(r.outstanding_cents for r in by_borrower[:5])
    return PortfolioMetrics(
        as_of=as_of, period_from=period_from, period_to=period_to,
        active_loans=len(active), gross_portfolio_cents=gross,
        overdue_cents=sum(p.overdue_cents for p in active),
        restructured_cents=sum(p.outstanding_principal_cents for p in active if p.restructured),
        par30_cents=par30_cents, par90_cents=par90_cents,
        par30=ratio(par30_cents, gross), par90=ratio(par90_cents, gross),
        written_off_in_period_cents=written_off, average_gross_portfolio_cents=average,
        write_off_ratio=ratio(written_off, average) if average is not None else None,
        allowance_cents=allowance, risk_coverage=ratio(allowance, par30_cents),
        par30_pledges_cents=pledges, fund_available_cents=params.fund_available_cents,
        guarantee_cover_par30=ratio(pledges + params.fund_available_cents, par30_cents),
        buckets=buckets, by_borrower=by_borrower,
        by_category=_concentration(active, gross, "category"),
        largest_borrower_share=by_borrower[0].share if by_borrower else None,
        top5_borrowers_share=ratio(top5, gross),
    )


# ---------------------------------------------------------------- report

_LOAN_COLUMNS = (
    col("loan_id", "Prestito", "Loan", "text"),
    col("borrower_name", "Beneficiario", "Borrower", "text"),
    col("province", "Provincia", "Province", "text"),
    col("category", "Categoria", "Category", "text", codes="loan_category"),
    col("status", "Stato", "Status", "text", "attivo, rimborsato o passato a perdita",
        "active, repaid or written off", codes="loan_status"),
    col("disbursed", "Erogato", "Disbursed", "money", "capitale erogato",
        "principal disbursed", total="sum"),
    col("outstanding", "Capitale residuo", "Outstanding principal", "money",
        "capitale ancora da rimborsare (solo prestiti attivi)",
        "principal still owed (active loans only)", total="sum"),
    col("overdue", "Scaduto non pagato", "Overdue", "money",
        "rate scadute e non pagate", "installments due and unpaid", total="sum"),
    col("days_past_due", "Giorni di ritardo", "Days past due", "int",
        "giorni dalla rata non pagata più vecchia", "days since the oldest unpaid installment"),
    col("bucket", "Fascia di ritardo", "Aging bucket", "text"),
    col("restructured", "Ristrutturato", "Restructured", "text"),
    col("par30", "A rischio (PAR30)", "At risk (PAR30)", "text",
        "attivo con ritardo > 30 giorni o ristrutturato",
        "active and more than 30 days past due or restructured"),
    col("provisioning", "Aliquota accantonamento", "Provisioning rate", "percent",
        "aliquota della fascia di ritardo", "rate of the aging bucket"),
    col("allowance", "Accantonamento", "Allowance", "money",
        "capitale residuo × aliquota, arrotondato al centesimo (metà al pari)",
        "outstanding principal × rate, rounded half-even to the cent", total="sum"),
    col("guarantee_remaining", "Garanzie residue", "Remaining pledges", "money",
        "impegni dei garanti ancora in essere", "guarantors' pledges still standing",
        total="sum"),
    col("written_off", "Passato a perdita", "Written off", "money", total="sum"),
    col("written_off_on", "Data passaggio a perdita", "Written off on", "date"),
)

_SUMMARY_COLUMNS = (
    col("figure", "Indicatore", "Figure", "text"),
    col("amount", "Importo", "Amount", "money"),
    col("ratio", "Rapporto", "Ratio", "percent", "vuoto se il denominatore è zero (n/d)",
        "empty when the denominator is zero (n/a)"),
    col("count", "Numero", "Count", "int"),
    col("note", "Nota", "Note", "text", "n/d: non calcolabile (denominatore zero o dato "
        "mancante)", "n/a: cannot be computed (zero denominator or missing input)"),
)

_AGING_COLUMNS = (
    col("bucket", "Fascia di ritardo", "Aging bucket", "text"),
    col("loans", "Prestiti", "Loans", "int", total="sum"),
    col("outstanding", "Capitale residuo", "Outstanding principal", "money", total="sum"),
    col("share", "Quota del portafoglio", "Share of portfolio", "percent"),
    col("provisioning", "Aliquota accantonamento", "Provisioning rate", "percent"),
    col("allowance", "Accantonamento", "Allowance", "money", total="sum"),
)


def _concentration_columns(what_it: str, what_en: str, with_key: bool,
                           codes: CodeDomain | None = None) -> tuple[ColumnSpec, ...]:
    key = (col("key", "Codice", "Key", "text"),) if with_key else ()
    return (
        *key,
        col("name", what_it, what_en, "text", codes=codes),
        col("loans", "Prestiti", "Loans", "int", total="sum"),
        col("outstanding", "Capitale residuo", "Outstanding principal", "money", total="sum"),
        col("share", "Quota del portafoglio", "Share of portfolio", "percent",
            "capitale residuo / portafoglio lordo", "outstanding / gross portfolio"),
        col("par30", "di cui a rischio (PAR30)", "of which at risk (PAR30)", "money",
            total="sum"),
    )


PORTFOLIO_FORMULAS = (
    FormulaNote("Portafoglio lordo", "Gross portfolio",
                "somma del capitale residuo dei prestiti attivi (esclusi quelli passati a "
                "perdita)",
                "sum of outstanding principal of active loans (written-off loans excluded)"),
    FormulaNote("PAR30", "PAR30",
                "capitale residuo dei prestiti attivi con una rata scaduta da più di 30 giorni "
                "+ capitale residuo dei prestiti ristrutturati, / portafoglio lordo",
                "outstanding principal of active loans with an installment more than 30 days "
                "past due + of every restructured loan, / gross portfolio"),
    FormulaNote("PAR90", "PAR90",
                "come PAR30 con più di 90 giorni di ritardo",
                "as PAR30 with more than 90 days past due"),
    FormulaNote("Tasso di perdita", "Write-off ratio",
                "capitale passato a perdita nel periodo / portafoglio lordo medio del periodo "
                "(dato, o media tra inizio e fine periodo)",
                "principal written off in the period / average gross portfolio of the period "
                "(given, or mean of opening and closing)"),
    FormulaNote("Accantonamento per perdite", "Loan-loss allowance",
                "somma su ogni prestito attivo di capitale residuo × aliquota della sua fascia "
                "di ritardo, arrotondata al centesimo (metà al pari)",
                "sum over active loans of outstanding principal × the rate of its aging "
                "bucket, rounded half-even to the cent"),
    FormulaNote("Copertura del rischio", "Risk coverage",
                "accantonamento / importo PAR30", "allowance / PAR30 amount"),
    FormulaNote("Copertura garanzie del PAR30", "Guarantee cover of PAR30",
                "(garanzie residue sui prestiti PAR30 + fondi disponibili) / importo PAR30; "
                "riportata accanto alla copertura del rischio, non al suo posto",
                "(remaining pledges on PAR30 loans + fund money available) / PAR30 amount; "
                "reported beside risk coverage, not instead of it"),
    FormulaNote("Rapporti", "Ratios",
                "frazioni arrotondate a 4 decimali (metà al pari); vuote (n/d) se il "
                "denominatore è zero",
                "fractions rounded half-even to 4 places; empty (n/a) when the denominator "
                "is zero"),
)


_Figure = tuple[str, str, int | None, Decimal | None, int | None, bool]
_NA = {"it": "n/d", "en": "n/a"}


def _summary_frame(m: PortfolioMetrics, lang: Lang) -> pl.DataFrame:
    avg = m.average_gross_portfolio_cents
    # (label it, label en, amount, ratio, count, whether the figure is a ratio)
    figures: list[_Figure] = [
        ("Prestiti attivi", "Active loans", None, None, m.active_loans, False),
        ("Portafoglio lordo", "Gross portfolio", m.gross_portfolio_cents, None, None, False),
        ("Rate scadute non pagate", "Overdue installments", m.overdue_cents, None, None, False),
        ("Prestiti ristrutturati", "Restructured loans", m.restructured_cents, None, None,
         False),
        ("PAR30", "PAR30", m.par30_cents, m.par30, None, True),
        ("PAR90", "PAR90", m.par90_cents, m.par90, None, True),
        ("Passato a perdita nel periodo", "Written off in the period",
         m.written_off_in_period_cents, None, None, False),
        # The mean may hold half a cent; the cell shows it rounded half-even.
        ("Portafoglio lordo medio del periodo", "Average gross portfolio of the period",
         round(Fraction(avg)) if avg is not None else None, None, None, False),
        ("Tasso di perdita", "Write-off ratio", None, m.write_off_ratio, None, True),
        ("Accantonamento per perdite", "Loan-loss allowance", m.allowance_cents, None, None,
         False),
        ("Copertura del rischio (accantonamento / PAR30)",
         "Risk coverage (allowance / PAR30)", None, m.risk_coverage, None, True),
        ("Garanzie residue sui prestiti PAR30", "Remaining pledges on PAR30 loans",
         m.par30_pledges_cents, None, None, False),
        ("Fondi disponibili", "Fund money available", m.fund_available_cents, None, None,
         False),
        ("Copertura garanzie del PAR30", "Guarantee cover of PAR30", None,
         m.guarantee_cover_par30, None, True),
        ("Primo beneficiario, quota", "Largest borrower, share", None,
         m.largest_borrower_share, None, True),
        ("Primi 5 beneficiari, quota", "Top 5 borrowers, share", None,
         m.top5_borrowers_share, None, True),
    ]

    def note(r: _Figure) -> str | None:
        missing = (r[5] and r[3] is None) or (r[2] is None and r[3] is None and r[4] is None)
        return _NA[lang] if missing else None

    getters: dict[str, Callable[[_Figure], object]] = {
        "figure": lambda r: r[0] if lang == "it" else r[1],
        "amount": lambda r: r[2], "ratio": lambda r: r[3], "count": lambda r: r[4],
        "note": note,
    }
    return frame_of(figures, _SUMMARY_COLUMNS, getters)


def _loans_frame(positions: Sequence[LoanPosition], rates: Mapping[AgingBucket, Decimal],
                 lang: Lang) -> pl.DataFrame:
    def bucket(p: LoanPosition) -> AgingBucket | None:
        return aging_bucket(p.days_past_due) if p.status == "active" else None

    def rate(p: LoanPosition) -> Decimal | None:
        b = bucket(p)
        return percent_to_fraction(rates[b]) if b is not None else None

    def allowance(p: LoanPosition) -> int | None:
        b = bucket(p)
        return loan_allowance_cents(p.outstanding_principal_cents, rates[b]) if b else None

    def active_only(p: LoanPosition, value: int) -> int | None:
        return value if p.status == "active" else None

    getters = {
        "loan_id": lambda p: p.loan_id,
        "borrower_name": lambda p: p.borrower_name,
        "province": lambda p: p.province,
        "category": lambda p: p.category,
        "status": lambda p: p.status,  # a code: the writer puts it in Italian
        "disbursed": lambda p: p.disbursed_cents,
        "outstanding": lambda p: active_only(p, p.outstanding_principal_cents),
        "overdue": lambda p: active_only(p, p.overdue_cents),
        "days_past_due": lambda p: active_only(p, p.days_past_due),
        "bucket": lambda p: BUCKET_LABELS[lang][b] if (b := bucket(p)) else None,
        "restructured": lambda p: yes_no(p.restructured, lang),
        "par30": lambda p: yes_no(p.status == "active" and _at_risk(p, 30), lang),
        "provisioning": rate,
        "allowance": allowance,
        "guarantee_remaining": lambda p: p.guarantee_remaining_cents,
        "written_off": lambda p: p.written_off_cents or None,
        "written_off_on": lambda p: p.written_off_on,
    }
    return frame_of(positions, _LOAN_COLUMNS, getters)


def portfolio_report(positions: Iterable[LoanPosition], as_of: date,
                     params: PortfolioParams | None = None,
                     generated_at: datetime | None = None, lang: Lang = "it") -> Report:
    """The portfolio workbook: summary, aging (with chart), concentration, loans.

    ``lang`` picks the language of the cell texts (figure names, buckets, statuses);
    headers follow the language ``write_xlsx`` is called with.
    """
    params = params or PortfolioParams()
    positions = sorted(positions, key=lambda p: (p.borrower_name, p.loan_id))
    m = portfolio_metrics(positions, as_of, params)
    rates = {**DEFAULT_PROVISIONING_PERCENT, **params.provisioning_percent}

    aging = frame_of(m.buckets, _AGING_COLUMNS, {
        "bucket": lambda b: BUCKET_LABELS[lang][b.bucket],
        "loans": lambda b: b.loans,
        "outstanding": lambda b: b.outstanding_cents,
        "share": lambda b: b.share,
        "provisioning": lambda b: percent_to_fraction(b.provisioning_percent),
        "allowance": lambda b: b.allowance_cents,
    })
    conc_getters = {
        "key": lambda r: r.key, "name": lambda r: r.name, "loans": lambda r: r.loans,
        "outstanding": lambda r: r.outstanding_cents, "share": lambda r: r.share,
        "par30": lambda r: r.par30_cents,
    }
    borrower_cols = _concentration_columns("Beneficiario", "Borrower", True)
    category_cols = _concentration_columns("Categoria", "Category", False, "loan_category")
    chart = BarChartSpec("Portafoglio per fascia di ritardo", "Portfolio by aging bucket",
                         "bucket", ("outstanding",), "€", "€")
    sheets = (
        ReportSheet("Sintesi", _SUMMARY_COLUMNS, _summary_frame(m, lang), "Summary"),
        ReportSheet("Anzianità scaduto", _AGING_COLUMNS, aging, "Aging", chart=chart),
        ReportSheet("Per beneficiario", borrower_cols,
                    frame_of(m.by_borrower, borrower_cols, conc_getters),
                    "By borrower"),
        ReportSheet("Per categoria", category_cols,
                    frame_of(m.by_category, category_cols, conc_getters),
                    "By category"),
        ReportSheet("Prestiti", _LOAN_COLUMNS, _loans_frame(positions, rates, lang), "Loans"),
    )
    parameters = {
        "as_of": as_of.isoformat(),
        "from": m.period_from.isoformat(),
        "to": m.period_to.isoformat(),
        "provisioning_percent": ", ".join(f"{b}: {rates[b]}%" for b in AGING_BUCKETS),
        **params.filters,
    }
    return Report(
        name="portfolio", title_it="Qualità del portafoglio prestiti",
        title_en="Loan portfolio quality", sheets=sheets, parameters=parameters, as_of=as_of,
        generated_at=generated_at, formulas=PORTFOLIO_FORMULAS,
        description_it="Indicatori SEEP/CGAP: PAR30, PAR90, tasso di perdita, accantonamenti, "
        "copertura del rischio e concentrazione.",
        description_en="SEEP/CGAP figures: PAR30, PAR90, write-off ratio, allowance, risk "
        "coverage and concentration.",
    )
