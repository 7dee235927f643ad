"""Allocation plans for people: the plan of chosen requests with each remainder's limits
in Italian, the plan workbook, and a request's share of a plan written into its terms.

The plan itself is ``service.app.matching``'s (the one ``POST /api/matching/plan``
answers); this module only shows it and turns one request's allocations into the
package ``PUT /api/requests/{id}/terms`` takes (``requests.set_terms``, with its checks).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import IO, cast

import polars as pl
from sqlalchemy import Connection, select

from ledger.money import minor_to_decimal
from matching.model import Limit
from reports.italian import text
from reports.workbook import ColumnSpec, FormulaNote, Lang, Report, ReportSheet, write_xlsx
from service.app.auth import Principal
from service.app.clock import today
from service.app.common import MoneyIn, path_uuid
from service.app.context import AppContext
from service.app.errors import Errors, invalid
from service.app.lender_scope import lender_scope
from service.app.matching import (
    PlanChoice,
    PlanResult,
    make_plan,
    merged_allocations,
    plan_rows,
)
from service.app.requests import (
    GuaranteePartIn,
    LoanPartIn,
    LoanValues,
    PrepaymentPartIn,
    PrepaymentValues,
    RequestTermsIn,
    TermsOut,
    latest_terms,
    set_terms,
)
from service.db.records import Record
from service.db.tables import funding_requests, loans, parties, pools, prepayments

# -- the limits in Italian ---------------------------------------------------------------------

# ``matching``'s limit sentences, in Italian, taking the same arguments (int args are
# cents; ids are shown as the names or references they stand for).
LIMITS_IT: Mapping[str, str] = {
    "request_amount": "l'importo richiesto",
    "guarantee_coverage": "i prestiti alla richiesta {} richiedono garanzie fino al {}% "
    "(il minimo dei finanziatori) e i garanti legati al produttore non hanno più "
    "capacità libera",
    "source_cap": "{} può plausibilmente prefinanziare questo produttore per {}",
    "fairness": "nessun GAS prefinanzia più del {}% della richiesta {} ({})",
    "gas_budget": "{} può ancora prefinanziare {} in tutto ({} famiglie × {}, meno i "
    "prefinanziamenti aperti)",
    "rollover": "{} ha {} di prefinanziamenti da rinnovare",
    "pool_max_loan": "{} presta al massimo {} per prestito",
    "match_cap": "il cofinanziamento di {} integra al massimo {} qui",
    "match_threshold": "i prefinanziamenti dei GAS restano sotto il {}% della richiesta {} "
    "({}), la soglia del cofinanziamento",
    "match_budget": "il cofinanziamento di {} ha un budget di {}",
    "pool_free": "{} ha {} disponibili da prestare",
    "borrower_cap": "limite per beneficiario: restano {} per {} con il finanziatore {} "
    "({} meno {} in essere)",
    "share_cap": "i prestiti a {} dal finanziatore {} non superano {} volte i {} di quote "
    "sociali del produttore e dei suoi GAS (restano {})",
    "guarantor_capacity": "{} ha {} di capacità di garanzia libera",
    "fund_balance": "{} dispone di {}",
    "fund_earmark": "{} dispone di {} destinati a {}",
    "fund_general": "{} dispone di {} non destinati",
    "arrears": "{} è in ritardo di {} giorni: nessun nuovo prestito",
    "no_source": "nessuna fonte ammissibile per questa richiesta",
}
OBJECTIVE_IT = ("Il piano finanzia il più possibile le richieste, ciascuna pesata con la "
                "sua valutazione (prefinanziamenti, prestiti, cofinanziamenti e fondi di "
                "solidarietà; le garanzie coprono il rischio e non contano come "
                "finanziamento), entro ogni limite; a parità preferisce il denaro fermo e "
                "le fonti più vicine, impegnando solo le garanzie necessarie.")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def euro_it(cents: int) -> str:
    """``1.234,56 €`` without Babel (the application layer writes plain text)."""
    amount = f"{minor_to_decimal(cents, 'EUR'):,.2f}"
    return amount.replace(",", "\u0001").replace(".", ",").replace("\u0001", ".") + " €"


def _number_it(value: str) -> str:
    number = Decimal(value).normalize()
    shown = f"{number:f}"
    return shown.replace(".", ",")


def limit_text(lim: Limit, names: Mapping[str, str], lang: Lang = "it") -> str:
    """The sentence of a limit: Italian (ids by their names or references), or
    ``matching``'s own English."""
    template = LIMITS_IT.get(lim.code)
    if lang != "it" or template is None:
        return lim.text

    def shown(arg: object) -> str:
        if isinstance(arg, bool):
            return str(arg)
        if isinstance(arg, int):
            return euro_it(arg)
        value = str(arg)
        if value in names:
            return names[value]
        if value.startswith("match:") and value[6:] in names:
            return names[value[6:]]
        if _NUMBER.fullmatch(value):
            return _number_it(value)
        return value

    try:
        return template.format(*(shown(a) for a in lim.args))
    except (IndexError, KeyError):  # a limit whose arguments changed: its own words
        return lim.text


# -- the workbook ------------------------------------------------------------------------------

def _money(key: str, it: str, en: str, total: bool = True) -> ColumnSpec:
    return ColumnSpec(key, it, en, "money", total="sum" if total else None)


def _text(key: str, it: str, en: str) -> ColumnSpec:
    return ColumnSpec(key, it, en, "text")


ALLOCATION_COLUMNS = (
    _text("request_id", "Richiesta", "Request"),
    _text("producer", "Produttore", "Producer"),
    ColumnSpec("kind", "Strumento", "Kind", "text", codes="opportunity_kind"),
    _text("source_id", "Fonte", "Source"),
    _text("source_name", "Nome fonte", "Source name"),
    _money("amount", "Importo", "Amount"),
    _money("idle", "Di cui denaro fermo", "Of which idle money"),
)
REQUEST_COLUMNS = (
    _text("request_id", "Richiesta", "Request"),
    _text("producer", "Produttore", "Producer"),
    ColumnSpec("status", "Stato", "Status", "text", codes="request_status"),
    ColumnSpec("weight", "Peso", "Weight", "decimal"),
    _money("amount", "Richiesto", "Requested"),
    _money("funded", "Finanziato", "Funded"),
    _money("unfunded", "Scoperto", "Unfunded"),
    _money("guaranteed", "Garantito", "Guaranteed"),
    _text("binding", "Limiti che fermano il resto", "Limits stopping the rest"),
)


def plan_report(result: PlanResult, statuses: Mapping[str, str], lang: Lang = "it",
                references: Mapping[str, str] | None = None) -> Report:
    """The plan as a workbook: one sheet of allocations, one of requests."""
    snap, plan = result.snapshot, result.plan
    names = {**snap.names, **(references or {})}
    reqs = snap.requests
    allocations = merged_allocations(plan)
    alloc_frame = pl.DataFrame({
        "request_id": [a[0] for a in allocations],
        "producer": [names.get(reqs[a[0]].producer_id, "") for a in allocations],
        "kind": [a[2] for a in allocations],
        "source_id": [a[1] for a in allocations],
        "source_name": [snap.names.get(a[1], "") for a in allocations],
        "amount": [a[3] for a in allocations],
        "idle": [a[4] for a in allocations],
    }, schema={"request_id": pl.String, "producer": pl.String, "kind": pl.String,
               "source_id": pl.String, "source_name": pl.String, "amount": pl.Int64,
               "idle": pl.Int64})
    guaranteed: dict[str, int] = {}
    for a in allocations:
        if a[2] == "guarantee":
            guaranteed[a[0]] = guaranteed.get(a[0], 0) + a[3]
    ids = list(reqs)
    req_frame = pl.DataFrame({
        "request_id": ids,
        "producer": [names.get(reqs[r].producer_id, "") for r in ids],
        "status": [statuses.get(r, "") for r in ids],
        "weight": [reqs[r].weight for r in ids],
        "amount": [reqs[r].amount_cents for r in ids],
        "funded": [plan.funded_cents.get(r, 0) for r in ids],
        "unfunded": [plan.unfunded_cents.get(r, 0) for r in ids],
        "guaranteed": [guaranteed.get(r, 0) for r in ids],
        "binding": ["; ".join(limit_text(lim, names, lang) for lim in plan.binding.get(r, ()))
                    for r in ids],
    }, schema={"request_id": pl.String, "producer": pl.String, "status": pl.String,
               "weight": pl.Decimal(scale=4), "amount": pl.Int64, "funded": pl.Int64,
               "unfunded": pl.Int64, "guaranteed": pl.Int64, "binding": pl.String})
    objective = OBJECTIVE_IT if lang == "it" else plan.objective
    return Report(
        name="matching-plan", title_it="Piano di allocazione", title_en="Allocation plan",
        sheets=(ReportSheet("Allocazioni", ALLOCATION_COLUMNS, alloc_frame,
                            name_en="Allocations"),
                ReportSheet("Richieste", REQUEST_COLUMNS, req_frame, name_en="Requests")),
        parameters={"request_ids": ", ".join(ids)}, as_of=result.as_of,
        formulas=(FormulaNote("Obiettivo", "Objective", objective, plan.objective),
                  FormulaNote("Peso", "Weight",
                              "(punteggio economico + sociale) / 20; 0,5 se non valutata",
                              "(economic + social score) / 20; 0.5 when not assessed")),
    )


# -- the plan for the page ---------------------------------------------------------------------

@dataclass(frozen=True)
class PlanCandidate:
    """A request a plan may take: under review or approved, not yet funded."""

    id: str
    reference: str
    producer_id: str
    producer_name: str
    status: str
    amount_cents: int


@dataclass(frozen=True)
class PlanAllocation:
    source_id: str
    source_name: str
    kind: str  # prepayment, loan, guarantee, solidarity
    amount_cents: int
    idle_cents: int


@dataclass(frozen=True)
class PlanRequest:
    candidate: PlanCandidate
    weight: Decimal
    funded_cents: int
    unfunded_cents: int
    guaranteed_cents: int
    allocations: list[PlanAllocation] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)  # what stops the unfunded remainder


@dataclass(frozen=True)
class PlanView:
    as_of: date
    requests: list[PlanRequest]
    funded_cents: int
    unfunded_cents: int
    objective: str


def _candidates(conn: Connection, rows: Sequence[Record]) -> list[PlanCandidate]:
    ids = sorted({r.producer_id for r in rows})
    names = {p.id: p.name for p in conn.execute(
        select(parties.c.id, parties.c.name).where(parties.c.id.in_(ids or [""])))}
    return [PlanCandidate(r.id, r.reference, r.producer_id, names.get(r.producer_id, ""),
                          r.status, int(r.amount_minor)) for r in rows]


def plan_candidates(ctx: AppContext, principal: Principal) -> list[PlanCandidate]:
    """Every request a plan may take (under review or approved, not yet funded; for an
    officer bound to a lender, those its lender may fund), oldest first; officers only."""
    principal.require("officer")
    return ctx.read(lambda conn: _candidates(
        conn, plan_rows(conn, None, lender_scope(principal))))


@dataclass(frozen=True, kw_only=True)
class ChosenPlan(PlanChoice):
    """The requests chosen on the plan page (None: every one a plan may take) and the
    day; a list given must name one at least."""

    def check(self, errors: Errors) -> None:
        if self.request_ids == []:
            errors.add("request_ids", "choose at least one request")


def _chosen(request_ids: Sequence[str] | None, as_of: str | None) -> ChosenPlan:
    return ChosenPlan.read({"request_ids": request_ids, "as_of": as_of})


def _view(conn: Connection, result: PlanResult) -> PlanView:
    snap, plan = result.snapshot, result.plan
    rows = list(conn.execute(select(funding_requests).where(
        funding_requests.c.id.in_(list(snap.requests) or [""]))))
    by_id = {c.id: c for c in _candidates(conn, rows)}
    names = {**snap.names, **{c.id: c.reference for c in by_id.values()}}
    allocations: dict[str, list[PlanAllocation]] = {}
    for rid, sid, kind, amount, idle in merged_allocations(plan):
        allocations.setdefault(rid, []).append(
            PlanAllocation(sid, snap.names.get(sid, sid), kind, amount, idle))
    out = []
    for rid, req in snap.requests.items():
        items = allocations.get(rid, [])
        out.append(PlanRequest(
            candidate=by_id[rid], weight=req.weight,
            funded_cents=plan.funded_cents.get(rid, 0),
            unfunded_cents=plan.unfunded_cents.get(rid, 0),
            guaranteed_cents=sum(a.amount_cents for a in items if a.kind == "guarantee"),
            allocations=items,
            limits=[limit_text(lim, names) for lim in plan.binding.get(rid, ())]
            if plan.unfunded_cents.get(rid, 0) > 0 else []))
    return PlanView(result.as_of, out, sum(plan.funded_cents.values()),
                    sum(plan.unfunded_cents.values()), OBJECTIVE_IT)


def compute_plan(ctx: AppContext, principal: Principal, request_ids: Sequence[str] | None,
                 as_of: str | None = None) -> PlanView:
    """The plan of the requests named (default: every one a plan may take), as
    ``POST /api/matching/plan`` computes it; writes nothing. Officers only."""
    chosen = _chosen(request_ids, as_of)
    day = chosen.as_of or today()
    principal.require("officer")
    return ctx.read(lambda conn: _view(
        conn, make_plan(conn, chosen.request_ids, day, lender_scope(principal))))


def plan_workbook(ctx: AppContext, principal: Principal, request_ids: Sequence[str] | None,
                  as_of: str | None, out: IO[bytes], lang: Lang = "it") -> str:
    """Write the plan's workbook (as ``filiera plan`` does) to ``out``; its file name."""
    chosen = _chosen(request_ids, as_of)
    day = chosen.as_of or today()
    principal.require("officer")

    def read(conn: Connection) -> tuple[PlanResult, dict[str, str], dict[str, str]]:
        result = make_plan(conn, chosen.request_ids, day, lender_scope(principal))
        rows = list(conn.execute(select(funding_requests.c.id, funding_requests.c.status,
                                        funding_requests.c.reference).where(
            funding_requests.c.id.in_(list(result.snapshot.requests) or [""]))))
        return result, {r.id: r.status for r in rows}, {r.id: r.reference for r in rows}

    result, statuses, references = ctx.read(read)
    write_xlsx(plan_report(result, statuses, lang, references), out, lang=lang)
    return f"piano_{day.isoformat()}.xlsx"


# -- a request's allocations as its terms -----------------------------------------------------

UNIT_OF_VALUE = "euro di merce"  # a prepayment with no earlier one to copy: goods by value


def _money_in(cents: int) -> MoneyIn:
    return MoneyIn(amount=f"{minor_to_decimal(cents, 'EUR'):.2f}", currency="EUR")


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _loan_part(conn: Connection, row: Record, current: LoanValues | None,
               items: list[tuple[str, int]], day: date) -> LoanPartIn:
    """One loan from the plan's pool: the request's current loan terms where they name
    the same lender, else the lender's latest loan's rate and category, monthly French
    installments over the request's term."""
    if len(items) > 1:
        raise invalid("loan", "the plan lends from more than one pool and terms take one "
                      "loan: compose the terms on the request's page")
    pool_id, cents = items[0]
    pool = conn.execute(select(pools).where(pools.c.id == pool_id)).one()
    if current is not None and current["lender_id"] == pool.lender_id:
        return LoanPartIn(
            principal=_money_in(cents), annual_rate=current["annual_rate"],
            term_months=current["term_months"], method=current["method"],
            frequency=current["frequency"], grace_periods=current["grace_periods"],
            disbursement_date=current["disbursement_date"],
            first_due_date=current["first_due_date"],
            fees=MoneyIn(**current["fees"]) if current["fees"] else None,
            lender_id=pool.lender_id, pool_id=pool_id, category=current["category"])
    latest = conn.execute(select(loans.c.annual_rate, loans.c.category).where(
        loans.c.lender_id == pool.lender_id).order_by(loans.c.seq.desc()).limit(1)).first()
    return LoanPartIn(
        principal=_money_in(cents), annual_rate=latest.annual_rate if latest else "0",
        term_months=row.term_months, method="french", frequency="monthly",
        disbursement_date=day.isoformat(), lender_id=pool.lender_id, pool_id=pool_id,
        category=latest.category if latest else "microcredit")


def _prepayment_part(conn: Connection, row: Record, current: list[PrepaymentValues],
                     gas_id: str, cents: int, day: date) -> PrepaymentPartIn:
    """A prepayment from the plan's GAS: the goods of the request's current terms with
    that GAS, else of the latest prepayment between the two, else goods by value."""
    same = next((p for p in current if p["gas_id"] == gas_id), None)
    if same is not None:
        return PrepaymentPartIn(gas_id=gas_id, amount=_money_in(cents), product=same["product"],
                                unit=same["unit"], unit_price=MoneyIn(**same["unit_price"]),
                                # stored terms were validated: the date is there
                                expires_on=cast(str, same["expires_on"]),
                                on_expiry=same["on_expiry"])
    expires = _add_months(day, max(1, int(row.term_months)))
    last = conn.execute(select(prepayments).where(
        prepayments.c.gas_id == gas_id, prepayments.c.producer_id == row.producer_id)
        .order_by(prepayments.c.seq.desc()).limit(1)).first()
    if last is not None:
        return PrepaymentPartIn(gas_id=gas_id, amount=_money_in(cents), product=last.product,
                                unit=last.unit, unit_price=_money_in(last.unit_price_minor),
                                expires_on=expires.isoformat(), on_expiry=last.on_expiry)
    producer = conn.execute(select(parties.c.categories).where(
        parties.c.id == row.producer_id)).first()
    cats = list(producer.categories or []) if producer is not None else []
    product = text("product_category", str(cats[0])).capitalize() if cats else "Prodotti"
    return PrepaymentPartIn(gas_id=gas_id, amount=_money_in(cents), product=product,
                            unit=UNIT_OF_VALUE, unit_price=_money_in(100),
                            expires_on=expires.isoformat(), on_expiry="refund")


def terms_from_plan(conn: Connection, result: PlanResult, request_id: str) -> RequestTermsIn:
    """The request's allocations as its package: the loan from the plan's pool, one
    prepayment per GAS, one guarantee per guarantor (solidarity money is paid out from
    the fund, not part of the terms)."""
    row = conn.execute(select(funding_requests).where(
        funding_requests.c.id == request_id)).one()
    current_row = latest_terms(conn, request_id)
    current = current_row.terms if current_row is not None else {}
    mine = [a for a in merged_allocations(result.plan) if a[0] == request_id]
    loan_items = [(sid, amount) for _, sid, kind, amount, _ in mine if kind == "loan"]
    gas_items = [(sid, amount) for _, sid, kind, amount, _ in mine if kind == "prepayment"]
    guarantee_items = [(sid, amount) for _, sid, kind, amount, _ in mine
                       if kind == "guarantee"]
    if not loan_items and not gas_items:
        raise invalid("plan", "the plan gives this request no loan and no prepayment")
    day = today()
    loan = (_loan_part(conn, row, current.get("loan"), loan_items, day)
            if loan_items else None)
    return RequestTermsIn(
        loan=loan,
        prepayments=[_prepayment_part(conn, row, list(current.get("prepayments") or []),
                                      gas, amount, day) for gas, amount in gas_items],
        guarantees=[GuaranteePartIn(guarantor_id=g, amount=_money_in(amount))
                    for g, amount in guarantee_items] if loan is not None else [])


def apply_plan(ctx: AppContext, principal: Principal, request_id: str,
               request_ids: Sequence[str] | None, as_of: str | None = None) -> TermsOut:
    """Write the request's allocations in the plan of ``request_ids`` (computed again,
    as of ``as_of``) into its terms, through ``set_terms`` and its checks."""
    rid = path_uuid(request_id, "request")
    chosen = _chosen(request_ids, as_of)
    day = chosen.as_of or today()
    principal.require("officer")

    def build(conn: Connection) -> RequestTermsIn:
        result = make_plan(conn, chosen.request_ids, day, lender_scope(principal))
        if rid not in result.snapshot.requests:
            raise invalid("request_id", "the request is not in the plan")
        return terms_from_plan(conn, result, rid)

    return set_terms(ctx, principal, rid, ctx.read(build))
