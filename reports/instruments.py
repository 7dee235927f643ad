"""Reports on the instruments: loan statement, arrears, guarantees, prepayments, solidarity.

Each builder takes plain rows (the service loads them from the database) and returns a
``Report``; amounts are integer cents in EUR.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import polars as pl

from reports._frames import col, frame_of, percent_to_fraction, ratio
from reports.italian import text
from reports.portfolio import AGING_BUCKETS, BUCKET_LABELS, AgingBucket, aging_bucket
from reports.workbook import BarChartSpec, FormulaNote, Lang, Report, ReportSheet

__all__ = [
    "ArrearsRow",
    "GuaranteeRow",
    "InstallmentRow",
    "LoanSummary",
    "MovementRow",
    "PrepaymentRow",
    "SolidarityRow",
    "arrears_report",
    "guarantees_report",
    "loan_statement_report",
    "prepayments_report",
    "solidarity_report",
]


def _params(as_of: date | None, filters: Mapping[str, str] | None,
            **dates: date | None) -> dict[str, str]:
    out = {"as_of": as_of.isoformat()} if as_of is not None else {}
    out.update({k: v.isoformat() for k, v in dates.items() if v is not None})
    out.update(filters or {})
    return out


# ---------------------------------------------------------------- loan statement


@dataclass(frozen=True)
class LoanSummary:
    loan_id: str
    borrower_name: str
    disbursed_on: date | None
    disbursed_cents: int
    annual_rate_percent: Decimal  # "3.50" = 3.5% a year
    apr_percent: Decimal | None  # TAEG
    outstanding_principal_cents: int
    overdue_cents: int
    days_past_due: int
    status: str  # approved, active, repaid, written_off
    lender_name: str = ""
    reference: str = ""  # PRE-2026-0001: how people name the loan

    @property
    def name(self) -> str:
        return self.reference or self.loan_id


@dataclass(frozen=True)
class InstallmentRow:
    number: int
    due_on: date
    principal_cents: int
    interest_cents: int
    penalties_cents: int
    paid_cents: int
    paid_on: date | None  # date of the last payment towards it
    principal_balance_cents: int  # principal still owed after this installment


@dataclass(frozen=True)
class MovementRow:
    """One operation on a loan, as the statement lists it, in value-date order.

    ``kind``: disbursement, repayment, guarantee_call, loss_cover (money from a
    solidarity fund), restructuring, write_off, recovery (money received after the
    write-off). A payment's ``amount_cents`` splits into penalties (late interest),
    interest, principal and excess, or after a write-off into recovery and excess. A
    ``reversed`` operation is listed, marked, and moves nothing.
    """

    kind: str
    value_date: date
    recorded_on: date | None = None  # the day it was recorded (Italian time)
    reference: str = ""  # RIM-2026-0001 for a repayment; the guarantee's or payout's
    description: str = ""  # who paid, or why (the operation's note)
    amount_cents: int = 0  # disbursed, or received
    penalty_cents: int = 0
    interest_cents: int = 0
    principal_cents: int = 0
    excess_cents: int = 0
    recovery_cents: int = 0
    written_off_cents: int = 0
    reversed: bool = False


_MOVEMENT_COLUMNS = (
    col("value_date", "Data valuta", "Value date", "date"),
    col("recorded_on", "Registrato il", "Recorded on", "date",
        "giorno della registrazione (ora italiana)", "day it was recorded (Italian time)"),
    col("kind", "Operazione", "Operation", "text", codes="loan_movement"),
    col("reference", "Riferimento", "Reference", "text"),
    col("description", "Descrizione", "Description", "text"),
    col("disbursed", "Erogato", "Disbursed", "money", total="sum"),
    col("received", "Ricevuto", "Received", "money",
        "pagato dal beneficiario, da un garante o da un fondo",
        "paid by the borrower, a guarantor or a fund", "sum"),
    col("penalties", "Penali", "Penalties", "money", "interessi di mora pagati",
        "late interest paid", "sum"),
    col("interest", "Interessi", "Interest", "money", total="sum"),
    col("principal", "Capitale", "Principal", "money", "capitale rimborsato",
        "principal repaid", "sum"),
    col("excess", "Eccedenza", "Excess", "money", "parte del pagamento oltre il dovuto",
        "part of the payment beyond what was owed", "sum"),
    col("recovery", "Recupero", "Recovery", "money", "recuperato dopo il passaggio a perdita",
        "recovered after the write-off", "sum"),
    col("written_off", "Passato a perdita", "Written off", "money", total="sum"),
    col("balance", "Capitale residuo", "Principal balance", "money",
        "erogato − capitale rimborsato − passato a perdita, dopo l'operazione",
        "disbursed − principal repaid − written off, after the operation"),
)


def _movement_frame(movements: Sequence[MovementRow], lang: Lang) -> pl.DataFrame:
    """The movements with the running principal balance; a reversed one moves nothing."""
    balances: list[int] = []
    balance = 0
    for m in movements:
        if not m.reversed:
            if m.kind == "disbursement":
                balance += m.amount_cents
            balance -= m.principal_cents + m.written_off_cents
        balances.append(balance)
    reversed_word = "STORNATO" if lang == "it" else "REVERSED"

    def live(m: MovementRow, cents: int) -> int | None:
        return None if m.reversed or not cents else cents

    def description(m: MovementRow) -> str | None:
        if m.reversed:
            return f"{reversed_word}: {m.description}" if m.description else reversed_word
        return m.description or None

    rows = list(zip(movements, balances, strict=True))
    return frame_of(rows, _MOVEMENT_COLUMNS, {
        "value_date": lambda r: r[0].value_date, "recorded_on": lambda r: r[0].recorded_on,
        "kind": lambda r: r[0].kind, "reference": lambda r: r[0].reference or None,
        "description": lambda r: description(r[0]),
        "disbursed": lambda r: live(r[0], r[0].amount_cents)
        if r[0].kind == "disbursement" else None,
        "received": lambda r: live(r[0], r[0].amount_cents)
        if r[0].kind != "disbursement" else None,
        "penalties": lambda r: live(r[0], r[0].penalty_cents),
        "interest": lambda r: live(r[0], r[0].interest_cents),
        "principal": lambda r: live(r[0], r[0].principal_cents),
        "excess": lambda r: live(r[0], r[0].excess_cents),
        "recovery": lambda r: live(r[0], r[0].recovery_cents),
        "written_off": lambda r: live(r[0], r[0].written_off_cents),
        "balance": lambda r: r[1],
    })


def loan_statement_report(loan: LoanSummary, installments: Sequence[InstallmentRow],
                          as_of: date, *, generated_at: datetime | None = None,
                          filters: Mapping[str, str] | None = None,
                          lang: Lang = "it",
                          movements: Sequence[MovementRow] | None = None) -> Report:
    """The loan's figures, its schedule against what was paid, and (given
    ``movements``, in value-date order) every operation with its allocation and the
    principal balance after it."""
    # One column per kind of value, so dates are dates and counts numbers in the sheet.
    summary_columns = (
        col("figure", "Voce", "Item", "text"),
        col("amount", "Importo", "Amount", "money"),
        col("rate", "Tasso", "Rate", "percent"),
        col("date", "Data", "Date", "date"),
        col("count", "Numero", "Number", "int"),
        col("value", "Valore", "Value", "text"),
    )
    SummaryRow = tuple[str, int | None, Decimal | None, date | None, int | None, str | None]
    rows: list[SummaryRow] = [
        ("Prestito", None, None, None, None, loan.name),
        ("Beneficiario", None, None, None, None, loan.borrower_name),
        ("Stato", None, None, None, None, text("loan_status", loan.status, lang)),
        ("Erogato il", None, None, loan.disbursed_on, None, None),
        ("Capitale erogato", loan.disbursed_cents, None, None, None, None),
        ("Tasso annuo nominale", None, percent_to_fraction(loan.annual_rate_percent), None,
         None, None),
        ("TAEG", None,
         percent_to_fraction(loan.apr_percent) if loan.apr_percent is not None else None,
         None, None, None),
        ("Capitale residuo", loan.outstanding_principal_cents, None, None, None, None),
        ("Scaduto non pagato", loan.overdue_cents, None, None, None, None),
        ("Giorni di ritardo", None, None, None, loan.days_past_due, None),
    ]
    summary = frame_of(rows, summary_columns, {
        "figure": lambda r: r[0], "amount": lambda r: r[1], "rate": lambda r: r[2],
        "date": lambda r: r[3], "count": lambda r: r[4], "value": lambda r: r[5]})
    columns = (
        col("number", "Rata", "Installment", "int"),
        col("due_on", "Scadenza", "Due on", "date"),
        col("principal", "Quota capitale", "Principal", "money", total="sum"),
        col("interest", "Quota interessi", "Interest", "money", total="sum"),
        col("penalties", "Penali", "Penalties", "money", total="sum"),
        col("installment", "Rata totale", "Installment total", "money",
            "capitale + interessi + penali", "principal + interest + penalties", "sum"),
        col("paid", "Pagato", "Paid", "money", total="sum"),
        col("unpaid", "Da pagare", "Unpaid", "money", "rata totale − pagato",
            "installment total − paid", "sum"),
        col("paid_on", "Ultimo pagamento", "Last payment", "date"),
        col("balance", "Capitale residuo", "Principal balance", "money"),
    )
    frame = frame_of(installments, columns, {
        "number": lambda i: i.number, "due_on": lambda i: i.due_on,
        "principal": lambda i: i.principal_cents, "interest": lambda i: i.interest_cents,
        "penalties": lambda i: i.penalties_cents,
        "installment": lambda i: i.principal_cents + i.interest_cents + i.penalties_cents,
        "paid": lambda i: i.paid_cents,
        "unpaid": lambda i: i.principal_cents + i.interest_cents + i.penalties_cents
        - i.paid_cents,
        "paid_on": lambda i: i.paid_on, "balance": lambda i: i.principal_balance_cents,
    })
    sheets = [ReportSheet("Prestito", summary_columns, summary, "Loan"),
              ReportSheet("Piano e pagamenti", columns, frame, "Schedule")]
    formulas = [FormulaNote("Da pagare", "Unpaid", "capitale + interessi + penali − pagato",
                            "principal + interest + penalties − paid")]
    if movements is not None:
        sheets.append(ReportSheet("Movimenti", _MOVEMENT_COLUMNS,
                                  _movement_frame(movements, lang), "Movements"))
        formulas.append(FormulaNote(
            "Capitale residuo (movimenti)", "Principal balance (movements)",
            "erogato − capitale rimborsato − passato a perdita, operazione per operazione "
            "in ordine di data valuta; ogni pagamento va prima alle penali, poi agli "
            "interessi, poi al capitale, l'eccedenza resta a parte; dopo il passaggio a "
            "perdita i pagamenti sono recuperi",
            "disbursed − principal repaid − written off, operation by operation in value-"
            "date order; each payment goes to penalties, then interest, then principal, "
            "with the excess apart; after a write-off payments are recoveries"))
    return Report(
        name="loan-statement", title_it=f"Estratto conto del prestito {loan.name}",
        title_en=f"Statement of loan {loan.name}",
        sheets=tuple(sheets),
        parameters=_params(as_of, filters, loan_id=None) | {"loan_id": loan.loan_id},
        as_of=as_of, generated_at=generated_at,
        lender_names=(loan.lender_name,) if loan.lender_name else (),
        formulas=tuple(formulas),
    )


# ---------------------------------------------------------------- arrears


@dataclass(frozen=True)
class ArrearsRow:
    loan_id: str
    borrower_id: str
    borrower_name: str
    province: str
    category: str
    oldest_due_on: date
    days_past_due: int
    overdue_principal_cents: int
    overdue_interest_cents: int
    penalties_cents: int
    outstanding_principal_cents: int
    guarantee_remaining_cents: int = 0


def arrears_report(rows: Sequence[ArrearsRow], as_of: date, *,
                   generated_at: datetime | None = None, lang: Lang = "it",
                   filters: Mapping[str, str] | None = None) -> Report:
    rows = sorted(rows, key=lambda r: (-r.days_past_due, r.borrower_name, r.loan_id))
    columns = (
        col("loan_id", "Prestito", "Loan", "text"),
        col("borrower_name", "Beneficiario", "Borrower", "text"),
        col("province", "Provincia", "Province", "text"),
        col("category", "Categoria", "Category", "text", codes="loan_category"),
        col("oldest_due_on", "Rata più vecchia", "Oldest due", "date"),
        col("days_past_due", "Giorni di ritardo", "Days past due", "int"),
        col("bucket", "Fascia di ritardo", "Aging bucket", "text"),
        col("overdue_principal", "Capitale scaduto", "Overdue principal", "money", total="sum"),
        col("overdue_interest", "Interessi scaduti", "Overdue interest", "money", total="sum"),
        col("penalties", "Penali", "Penalties", "money", total="sum"),
        col("overdue_total", "Totale scaduto", "Total overdue", "money",
            "capitale + interessi + penali scaduti", "overdue principal + interest + penalties",
            "sum"),
        col("outstanding", "Capitale residuo", "Outstanding principal", "money", total="sum"),
        col("guarantee_remaining", "Garanzie residue", "Remaining pledges", "money",
            total="sum"),
    )
    frame = frame_of(rows, columns, {
        "loan_id": lambda r: r.loan_id, "borrower_name": lambda r: r.borrower_name,
        "province": lambda r: r.province, "category": lambda r: r.category,
        "oldest_due_on": lambda r: r.oldest_due_on,
        "days_past_due": lambda r: r.days_past_due,
        "bucket": lambda r: BUCKET_LABELS[lang][aging_bucket(r.days_past_due)],
        "overdue_principal": lambda r: r.overdue_principal_cents,
        "overdue_interest": lambda r: r.overdue_interest_cents,
        "penalties": lambda r: r.penalties_cents,
        "overdue_total": lambda r: r.overdue_principal_cents + r.overdue_interest_cents
        + r.penalties_cents,
        "outstanding": lambda r: r.outstanding_principal_cents,
        "guarantee_remaining": lambda r: r.guarantee_remaining_cents,
    })
    counts: dict[AgingBucket, list[int]] = {b: [0, 0, 0] for b in AGING_BUCKETS}
    for r in rows:
        entry = counts[aging_bucket(r.days_past_due)]
        entry[0] += 1
        entry[1] += r.overdue_principal_cents + r.overdue_interest_cents + r.penalties_cents
        entry[2] += r.outstanding_principal_cents
    bucket_columns = (
        col("bucket", "Fascia di ritardo", "Aging bucket", "text"),
        col("loans", "Prestiti", "Loans", "int", total="sum"),
        col("overdue", "Totale scaduto", "Total overdue", "money", total="sum"),
        col("outstanding", "Capitale residuo", "Outstanding principal", "money", total="sum"),
    )
    buckets = [b for b in AGING_BUCKETS if b != "current"]
    bucket_frame = frame_of(buckets, bucket_columns, {
        "bucket": lambda b: BUCKET_LABELS[lang][b], "loans": lambda b: counts[b][0],
        "overdue": lambda b: counts[b][1], "outstanding": lambda b: counts[b][2]})
    chart = BarChartSpec("Scaduto per fascia di ritardo", "Overdue by aging bucket", "bucket",
                         ("overdue", "outstanding"), "€", "€")
    return Report(
        name="arrears", title_it="Prestiti in ritardo", title_en="Arrears",
        sheets=(ReportSheet("Ritardi", columns, frame, "Arrears"),
                ReportSheet("Per fascia", bucket_columns, bucket_frame, "By bucket",
                            chart=chart)),
        parameters=_params(as_of, filters), as_of=as_of, generated_at=generated_at,
        formulas=(FormulaNote("Giorni di ritardo", "Days past due",
                              "giorni dalla scadenza della rata non pagata più vecchia",
                              "days since the oldest unpaid installment fell due"),),
    )


# ---------------------------------------------------------------- guarantees


@dataclass(frozen=True)
class GuaranteeRow:
    guarantee_id: str
    loan_id: str
    borrower_name: str
    guarantor_id: str
    guarantor_name: str
    guarantor_kind: str  # gas, member, producer, ...
    status: str  # pledged, partially_called, called, released
    pledged_on: date
    pledged_cents: int
    called_cents: int
    released_cents: int
    loan_outstanding_cents: int

    @property
    def remaining_cents(self) -> int:
        return self.pledged_cents - self.called_cents - self.released_cents


def guarantees_report(rows: Sequence[GuaranteeRow], as_of: date, *,
                      generated_at: datetime | None = None,
                      filters: Mapping[str, str] | None = None) -> Report:
    rows = sorted(rows, key=lambda r: (r.loan_id, r.pledged_on, r.guarantee_id))
    columns = (
        col("guarantee_id", "Garanzia", "Guarantee", "text"),
        col("loan_id", "Prestito", "Loan", "text"),
        col("borrower_name", "Beneficiario", "Borrower", "text"),
        col("guarantor_name", "Garante", "Guarantor", "text"),
        col("guarantor_kind", "Tipo garante", "Guarantor kind", "text", codes="party_kind"),
        col("status", "Stato", "Status", "text", codes="guarantee_status"),
        col("pledged_on", "Data", "Pledged on", "date"),
        col("pledged", "Impegno", "Pledged", "money", "importo massimo garantito",
            "most the guarantor is liable for", "sum"),
        col("called", "Escusso", "Called", "money", total="sum"),
        col("released", "Liberato", "Released", "money", total="sum"),
        col("remaining", "Residuo", "Remaining", "money", "impegno − escusso − liberato",
            "pledged − called − released", "sum"),
    )
    frame = frame_of(rows, columns, {
        "guarantee_id": lambda r: r.guarantee_id, "loan_id": lambda r: r.loan_id,
        "borrower_name": lambda r: r.borrower_name,
        "guarantor_name": lambda r: r.guarantor_name,
        "guarantor_kind": lambda r: r.guarantor_kind, "status": lambda r: r.status,
        "pledged_on": lambda r: r.pledged_on, "pledged": lambda r: r.pledged_cents,
        "called": lambda r: r.called_cents, "released": lambda r: r.released_cents,
        "remaining": lambda r: r.remaining_cents,
    })
    per_loan: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    for r in rows:
        entry = per_loan.setdefault(r.loan_id, [0, 0, r.loan_outstanding_cents])
        entry[0] += 1
        entry[1] += r.remaining_cents
        names[r.loan_id] = r.borrower_name
    loan_columns = (
        col("loan_id", "Prestito", "Loan", "text"),
        col("borrower_name", "Beneficiario", "Borrower", "text"),
        col("guarantors", "Garanzie", "Guarantees", "int", total="sum"),
        col("remaining", "Garanzie residue", "Remaining pledges", "money", total="sum"),
        col("outstanding", "Capitale residuo", "Outstanding principal", "money", total="sum"),
        col("coverage", "Copertura", "Coverage", "percent",
            "garanzie residue / capitale residuo", "remaining pledges / outstanding principal"),
    )
    loans = sorted(per_loan)
    loan_frame = frame_of(loans, loan_columns, {
        "loan_id": lambda k: k, "borrower_name": lambda k: names[k],
        "guarantors": lambda k: per_loan[k][0], "remaining": lambda k: per_loan[k][1],
        "outstanding": lambda k: per_loan[k][2],
        "coverage": lambda k: ratio(per_loan[k][1], per_loan[k][2]),
    })
    return Report(
        name="guarantees", title_it="Garanzie", title_en="Guarantees",
        sheets=(ReportSheet("Garanzie", columns, frame, "Guarantees"),
                ReportSheet("Copertura per prestito", loan_columns, loan_frame,
                            "Cover by loan")),
        parameters=_params(as_of, filters), as_of=as_of, generated_at=generated_at,
        formulas=(
            FormulaNote("Residuo", "Remaining", "impegno − escusso − liberato",
                        "pledged − called − released"),
            FormulaNote("Copertura", "Coverage",
                        "somma delle garanzie residue del prestito / capitale residuo; ogni "
                        "garante risponde solo fino al proprio impegno",
                        "sum of the loan's remaining pledges / outstanding principal; each "
                        "guarantor is liable only up to its own pledge"),
        ),
    )


# ---------------------------------------------------------------- prepayments


@dataclass(frozen=True)
class PrepaymentRow:
    prepayment_id: str
    gas_id: str
    gas_name: str
    producer_id: str
    producer_name: str
    agreed_on: date
    season_end: date | None
    status: str  # open, closed
    advance_cents: int
    delivered_cents: int  # goods delivered, valued at the agreed price
    settled_cents: int = 0  # refunded, rolled over or given to the fund at season close

    @property
    def owed_cents(self) -> int:
        """Goods still owed: advance − delivered − settled."""
        return self.advance_cents - self.delivered_cents - self.settled_cents


def prepayments_report(rows: Sequence[PrepaymentRow], as_of: date, *,
                       period_from: date | None = None, period_to: date | None = None,
                       generated_at: datetime | None = None,
                       filters: Mapping[str, str] | None = None) -> Report:
    rows = sorted(rows, key=lambda r: (r.producer_name, r.gas_name, r.agreed_on))
    columns = (
        col("prepayment_id", "Prefinanziamento", "Prepayment", "text"),
        col("gas_name", "GAS", "GAS", "text"),
        col("producer_name", "Produttore", "Producer", "text"),
        col("agreed_on", "Data accordo", "Agreed on", "date"),
        col("season_end", "Fine stagione", "Season end", "date"),
        col("status", "Stato", "Status", "text", codes="prepayment_status"),
        col("advance", "Anticipo", "Advance", "money", total="sum"),
        col("delivered", "Consegnato", "Delivered", "money",
            "merce consegnata al prezzo concordato", "goods delivered at the agreed price",
            "sum"),
        col("settled", "Regolato a fine stagione", "Settled at season close", "money",
            "rimborsato, riportato o donato al fondo", "refunded, rolled over or given to "
            "the fund", "sum"),
        col("owed", "Merce ancora dovuta", "Goods still owed", "money",
            "anticipo − consegnato − regolato", "advance − delivered − settled", "sum"),
        col("delivered_share", "Consegnato %", "Delivered %", "percent",
            "consegnato / anticipo", "delivered / advance"),
    )
    frame = frame_of(rows, columns, {
        "prepayment_id": lambda r: r.prepayment_id, "gas_name": lambda r: r.gas_name,
        "producer_name": lambda r: r.producer_name, "agreed_on": lambda r: r.agreed_on,
        "season_end": lambda r: r.season_end, "status": lambda r: r.status,
        "advance": lambda r: r.advance_cents, "delivered": lambda r: r.delivered_cents,
        "settled": lambda r: r.settled_cents, "owed": lambda r: r.owed_cents,
        "delivered_share": lambda r: ratio(r.delivered_cents, r.advance_cents),
    })
    by_producer: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in rows:
        entry = by_producer[r.producer_name]
        entry[0] += 1
        entry[1] += r.advance_cents
        entry[2] += r.delivered_cents
        entry[3] += r.owed_cents
    producer_columns = (
        col("producer_name", "Produttore", "Producer", "text"),
        col("count", "Prefinanziamenti", "Prepayments", "int", total="sum"),
        col("advance", "Anticipo", "Advance", "money", total="sum"),
        col("delivered", "Consegnato", "Delivered", "money", total="sum"),
        col("owed", "Merce ancora dovuta", "Goods still owed", "money", total="sum"),
    )
    producers = sorted(by_producer)
    producer_frame = frame_of(producers, producer_columns, {
        "producer_name": lambda p: p, "count": lambda p: by_producer[p][0],
        "advance": lambda p: by_producer[p][1], "delivered": lambda p: by_producer[p][2],
        "owed": lambda p: by_producer[p][3]})
    return Report(
        name="prepayments", title_it="Prefinanziamenti", title_en="Prepayments",
        sheets=(ReportSheet("Prefinanziamenti", columns, frame, "Prepayments"),
                ReportSheet("Per produttore", producer_columns, producer_frame,
                            "By producer")),
        parameters=_params(as_of, filters, **{"from": period_from, "to": period_to}),
        as_of=as_of, generated_at=generated_at,
        formulas=(FormulaNote("Merce ancora dovuta", "Goods still owed",
                              "anticipo − consegnato (al prezzo concordato) − regolato a fine "
                              "stagione", "advance − delivered (at the agreed price) − settled "
                              "at season close"),),
    )


# ---------------------------------------------------------------- solidarity


@dataclass(frozen=True)
class SolidarityRow:
    entry_id: str
    fund_id: str
    fund_name: str
    on: date
    kind: str  # contribution, grant, loss_cover, ...
    direction: Literal["in", "out"]
    amount_cents: int
    gas_name: str = ""
    counterparty: str = ""  # producer or household the grant or cover went to
    earmark: str = ""
    description: str = ""


def solidarity_report(rows: Sequence[SolidarityRow], as_of: date, *,
                      period_from: date | None = None, period_to: date | None = None,
                      generated_at: datetime | None = None,
                      filters: Mapping[str, str] | None = None) -> Report:
    rows = sorted(rows, key=lambda r: (r.fund_name, r.on, r.entry_id))
    columns = (
        col("on", "Data", "Date", "date"),
        col("fund_name", "Fondo", "Fund", "text"),
        col("kind", "Tipo", "Kind", "text", codes="fund_entry"),
        col("gas_name", "GAS", "GAS", "text"),
        col("counterparty", "Destinatario", "Recipient", "text"),
        col("earmark", "Destinazione vincolata", "Earmark", "text"),
        col("amount_in", "Entrate", "In", "money", total="sum"),
        col("amount_out", "Uscite", "Out", "money", total="sum"),
        col("description", "Descrizione", "Description", "text"),
    )
    frame = frame_of(rows, columns, {
        "on": lambda r: r.on, "fund_name": lambda r: r.fund_name, "kind": lambda r: r.kind,
        "gas_name": lambda r: r.gas_name or None,
        "counterparty": lambda r: r.counterparty or None,
        "earmark": lambda r: r.earmark or None,
        "amount_in": lambda r: r.amount_cents if r.direction == "in" else None,
        "amount_out": lambda r: r.amount_cents if r.direction == "out" else None,
        "description": lambda r: r.description or None,
    })
    funds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        funds[r.fund_name][0 if r.direction == "in" else 1] += r.amount_cents
    fund_columns = (
        col("fund_name", "Fondo", "Fund", "text"),
        col("amount_in", "Entrate", "In", "money", total="sum"),
        col("amount_out", "Uscite", "Out", "money", total="sum"),
        col("net", "Saldo del periodo", "Net for the period", "money", "entrate − uscite",
            "in − out", "sum"),
    )
    names = sorted(funds)
    fund_frame = frame_of(names, fund_columns, {
        "fund_name": lambda f: f, "amount_in": lambda f: funds[f][0],
        "amount_out": lambda f: funds[f][1], "net": lambda f: funds[f][0] - funds[f][1]})
    chart = BarChartSpec("Entrate e uscite per fondo", "In and out by fund", "fund_name",
                         ("amount_in", "amount_out"), "€", "€")
    return Report(
        name="solidarity", title_it="Fondi di solidarietà", title_en="Solidarity funds",
        sheets=(ReportSheet("Movimenti", columns, frame, "Entries"),
                ReportSheet("Per fondo", fund_columns, fund_frame, "By fund", chart=chart)),
        parameters=_params(as_of, filters, **{"from": period_from, "to": period_to}),
        as_of=as_of, generated_at=generated_at, period_from=period_from,
        period_to=period_to,
        formulas=(FormulaNote("Saldo del periodo", "Net for the period",
                              "entrate (contributi) − uscite (contributi a fondo perduto, "
                              "coperture di perdite)",
                              "in (contributions) − out (grants, loss cover)"),),
    )
