"""Impact of the network (per producer and category) and the funding requests received."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from reports._frames import col, frame_of, ratio
from reports.workbook import BarChartSpec, FormulaNote, Report, ReportSheet

__all__ = ["FundingRequestRow", "ImpactRow", "impact_report", "requests_report"]


@dataclass(frozen=True)
class ImpactRow:
    producer_id: str
    producer_name: str
    category: str
    province: str
    loans: int
    disbursed_cents: int  # in the period
    outstanding_cents: int
    prepaid_cents: int  # GAS advances received in the period
    guaranteed_cents: int  # pledges standing on its loans
    solidarity_cents: int  # grants and loss cover received in the period
    gas_served: int
    households_served: int


@dataclass(frozen=True)
class FundingRequestRow:
    request_id: str
    producer_name: str
    category: str
    province: str
    kind: str  # loan, prepayment, mix
    status: str
    submitted_on: date
    decided_on: date | None
    requested_cents: int
    granted_cents: int
    economic_score: Decimal | None = None
    social_score: Decimal | None = None


def _params(period_from: date | None, period_to: date | None,
            filters: Mapping[str, str] | None) -> dict[str, str]:
    out = {k: v.isoformat() for k, v in (("from", period_from), ("to", period_to))
           if v is not None}
    return out | dict(filters or {})


def impact_report(rows: Sequence[ImpactRow], *, period_from: date | None = None,
                  period_to: date | None = None, generated_at: datetime | None = None,
                  filters: Mapping[str, str] | None = None) -> Report:
    rows = sorted(rows, key=lambda r: (r.category, r.producer_name, r.producer_id))
    money = (
        col("disbursed", "Credito erogato", "Credit disbursed", "money", total="sum"),
        col("outstanding", "Capitale residuo", "Outstanding principal", "money", total="sum"),
        col("prepaid", "Prefinanziamenti ricevuti", "Prepayments received", "money",
            total="sum"),
        col("guaranteed", "Garanzie in essere", "Pledges standing", "money", total="sum"),
        col("solidarity", "Solidarietà ricevuta", "Solidarity received", "money",
            total="sum"),
        col("gas_served", "GAS serviti", "GAS served", "int", total="sum"),
        col("households_served", "Famiglie servite", "Households served", "int",
            total="sum"),
    )
    columns = (
        col("producer_name", "Produttore", "Producer", "text"),
        col("category", "Categoria", "Category", "text", codes="product_category"),
        col("province", "Provincia", "Province", "text"),
        col("loans", "Prestiti", "Loans", "int", total="sum"),
        *money,
    )
    frame = frame_of(rows, columns, {
        "producer_name": lambda r: r.producer_name, "category": lambda r: r.category,
        "province": lambda r: r.province, "loans": lambda r: r.loans,
        "disbursed": lambda r: r.disbursed_cents, "outstanding": lambda r: r.outstanding_cents,
        "prepaid": lambda r: r.prepaid_cents, "guaranteed": lambda r: r.guaranteed_cents,
        "solidarity": lambda r: r.solidarity_cents, "gas_served": lambda r: r.gas_served,
        "households_served": lambda r: r.households_served,
    })
    keys = ("producers", "loans", "disbursed", "outstanding", "prepaid", "guaranteed",
            "solidarity", "gas_served", "households_served")
    by_cat: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(keys, 0))
    for r in rows:
        entry = by_cat[r.category]
        entry["producers"] += 1
        entry["loans"] += r.loans
        entry["disbursed"] += r.disbursed_cents
        entry["outstanding"] += r.outstanding_cents
        entry["prepaid"] += r.prepaid_cents
        entry["guaranteed"] += r.guaranteed_cents
        entry["solidarity"] += r.solidarity_cents
        entry["gas_served"] += r.gas_served
        entry["households_served"] += r.households_served
    category_columns = (
        col("category", "Categoria", "Category", "text", codes="product_category"),
        col("producers", "Produttori", "Producers", "int", total="sum"),
        col("loans", "Prestiti", "Loans", "int", total="sum"),
        *money,
    )
    categories = sorted(by_cat)
    getters = {k: (lambda c, k=k: by_cat[c][k]) for k in keys}
    category_frame = frame_of(categories, category_columns,
                              {"category": lambda c: c, **getters})
    chart = BarChartSpec("Impatto per categoria", "Impact by category", "category",
                         ("disbursed", "prepaid", "solidarity"), "€", "€")
    return Report(
        name="impact", title_it="Impatto", title_en="Impact",
        sheets=(ReportSheet("Per categoria", category_columns, category_frame,
                            "By category", chart=chart),
                ReportSheet("Per produttore", columns, frame, "By producer")),
        parameters=_params(period_from, period_to, filters), as_of=period_to,
        period_from=period_from, period_to=period_to, generated_at=generated_at,
        formulas=(FormulaNote("Famiglie servite", "Households served",
                              "somma delle famiglie dei GAS che acquistano dal produttore "
                              "(una famiglia può essere contata per più produttori)",
                              "sum of the households of the GAS buying from the producer "
                              "(a household may count for several producers)"),),
    )


def requests_report(rows: Sequence[FundingRequestRow], *, period_from: date | None = None,
                    period_to: date | None = None, generated_at: datetime | None = None,
                    filters: Mapping[str, str] | None = None) -> Report:
    rows = sorted(rows, key=lambda r: (r.submitted_on, r.request_id))
    columns = (
        col("request_id", "Richiesta", "Request", "text"),
        col("submitted_on", "Presentata il", "Submitted on", "date"),
        col("producer_name", "Produttore", "Producer", "text"),
        col("category", "Categoria", "Category", "text", codes="product_category"),
        col("province", "Provincia", "Province", "text"),
        col("kind", "Forma", "Kind", "text", "prestito, prefinanziamento o misto",
            "loan, prepayment or a mix", codes="instrument"),
        col("status", "Stato", "Status", "text", codes="request_status"),
        col("decided_on", "Decisa il", "Decided on", "date"),
        col("requested", "Richiesto", "Requested", "money", total="sum"),
        col("granted", "Concesso", "Granted", "money", total="sum"),
        col("granted_share", "Concesso %", "Granted %", "percent", "concesso / richiesto",
            "granted / requested"),
        col("economic_score", "Valutazione economica", "Economic review", "decimal"),
        col("social_score", "Valutazione socio-ambientale", "Social/environmental review",
            "decimal"),
    )
    frame = frame_of(rows, columns, {
        "request_id": lambda r: r.request_id, "submitted_on": lambda r: r.submitted_on,
        "producer_name": lambda r: r.producer_name, "category": lambda r: r.category,
        "province": lambda r: r.province, "kind": lambda r: r.kind,
        "status": lambda r: r.status, "decided_on": lambda r: r.decided_on,
        "requested": lambda r: r.requested_cents, "granted": lambda r: r.granted_cents,
        "granted_share": lambda r: ratio(r.granted_cents, r.requested_cents),
        "economic_score": lambda r: r.economic_score,
        "social_score": lambda r: r.social_score,
    })
    return Report(
        name="requests", title_it="Richieste di finanziamento", title_en="Funding requests",
        sheets=(ReportSheet("Richieste", columns, frame, "Requests"),),
        parameters=_params(period_from, period_to, filters), as_of=period_to,
        period_from=period_from, period_to=period_to, generated_at=generated_at,
    )
