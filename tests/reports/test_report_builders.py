"""Catalog and the instrument report builders (arrears, guarantees, prepayments, ...)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl

from reports.catalog import CATALOG, report_info, reports_for_role
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
from reports.workbook import Report, write_xlsx

AS_OF = date(2024, 6, 30)


def workbook(report: Report) -> openpyxl.Workbook:
    out = io.BytesIO()
    write_xlsx(report, out)
    return openpyxl.load_workbook(io.BytesIO(out.getvalue()))


def cents(value: object) -> int:
    assert isinstance(value, int | float)
    return round(Decimal(repr(value)) * 100)


def test_catalog_names_and_roles() -> None:
    assert [r.name for r in CATALOG] == [
        "portfolio", "loan-statement", "arrears", "guarantees", "prepayments", "solidarity",
        "journal", "trial-balance", "impact", "requests"]
    assert len(reports_for_role("officer")) == len(reports_for_role("admin")) == 10
    assert [r.name for r in reports_for_role("producer")] == ["loan-statement", "prepayments"]
    assert [r.name for r in reports_for_role("gas")] == ["prepayments", "solidarity"]
    statement = report_info("loan-statement")
    assert statement is not None
    assert [(p.name, p.required) for p in statement.parameters] == [
        ("loan_id", True), ("as_of", False)]
    assert statement.scope_parameter == {"producer": "producer_id"}
    portfolio = report_info("portfolio")
    assert portfolio is not None and {"as_of", "from", "to"} <= set(portfolio.parameter_names())
    assert report_info("nope") is None


def test_loan_statement() -> None:
    loan = LoanSummary("L1", "Rossi", date(2024, 1, 1), 1_200_000, Decimal("3.50"),
                       Decimal("3.62"), 800_000, 0, 0, "active")
    installments = [
        InstallmentRow(1, date(2024, 4, 1), 400_000, 10_500, 0, 410_500, date(2024, 4, 1),
                       800_000),
        InstallmentRow(2, date(2024, 7, 1), 400_000, 7_000, 150, 0, None, 400_000),
    ]
    wb = workbook(loan_statement_report(loan, installments, AS_OF))
    ws = wb["Piano e pagamenti"]
    assert [cents(ws.cell(r, 8).value) for r in (2, 3)] == [0, 407_150]  # unpaid
    assert ws["H4"].value == "=SUBTOTAL(9,H2:H3)"
    summary = {r[0]: r[1:] for r in wb["Prestito"].iter_rows(min_row=2, values_only=True)}
    assert summary["Tasso annuo nominale"][1] == 0.035


def test_loan_statement_movements() -> None:
    loan = LoanSummary("L1", "Rossi", date(2024, 1, 1), 1_200_000, Decimal("3.50"),
                       Decimal("3.62"), 0, 0, 0, "written_off", reference="PRE-2024-0001")
    moves = [
        MovementRow("disbursement", date(2024, 1, 1), date(2024, 1, 2), "PRE-2024-0001",
                    amount_cents=1_200_000),
        MovementRow("repayment", date(2024, 4, 1), date(2024, 4, 1), "RIM-2024-0001",
                    amount_cents=410_600, interest_cents=10_500, principal_cents=400_000,
                    excess_cents=100),
        # Reversed: listed, marked, moves nothing.
        MovementRow("repayment", date(2024, 5, 1), date(2024, 5, 1), "RIM-2024-0002",
                    amount_cents=50_000, principal_cents=50_000, reversed=True),
        MovementRow("restructuring", date(2024, 5, 2), description="grandinata"),
        MovementRow("guarantee_call", date(2024, 6, 1), None, "GAR-2024-0001", "GAS Bovisa",
                    amount_cents=100_000, penalty_cents=150, interest_cents=7_000,
                    principal_cents=92_850),
        MovementRow("write_off", date(2024, 6, 10), written_off_cents=707_150),
        MovementRow("recovery", date(2024, 6, 20), amount_cents=20_000, recovery_cents=19_000,
                    excess_cents=1_000),
    ]
    report = loan_statement_report(loan, [], AS_OF, movements=moves)
    assert report.title_it == "Estratto conto del prestito PRE-2024-0001"
    ws = workbook(report)["Movimenti"]
    rows = list(ws.iter_rows(min_row=2, max_row=len(moves) + 1, values_only=True))
    header = [c.value for c in ws[1]]
    at = {name: header.index(name) for name in header}
    assert [r[at["Operazione"]] for r in rows] == [
        "erogazione", "rimborso", "rimborso", "rinegoziazione del piano",
        "pagamento del garante (escussione)", "passaggio a perdita", "recupero dopo la perdita"]
    balances = [cents(r[at["Capitale residuo"]]) for r in rows]
    assert balances == [1_200_000, 800_000, 800_000, 800_000, 707_150, 0, 0]
    reversed_row = rows[2]
    assert reversed_row[at["Descrizione"]] == "STORNATO"
    assert reversed_row[at["Ricevuto"]] is None and reversed_row[at["Capitale"]] is None
    assert rows[4][at["Registrato il"]] is None
    total = [c.value for c in ws[len(moves) + 2]]
    assert total[at["Capitale"]].startswith("=SUBTOTAL(9,")


def test_arrears_buckets() -> None:
    rows = [
        ArrearsRow("L1", "B1", "Rossi", "MI", "cheese", date(2024, 6, 1), 29, 10_000, 500, 0,
                   300_000, 50_000),
        ArrearsRow("L2", "B2", "Bianchi", "BG", "farm", date(2024, 3, 1), 121, 40_000, 2_000,
                   1_000, 200_000),
        ArrearsRow("L3", "B3", "Verdi", "BG", "farm", date(2024, 5, 1), 60, 5_000, 0, 0,
                   90_000),
    ]
    wb = workbook(arrears_report(rows, AS_OF))
    ws = wb["Ritardi"]
    assert [ws.cell(r, 1).value for r in (2, 3, 4)] == ["L2", "L3", "L1"]  # worst first
    assert cents(ws["K2"].value) == 43_000
    buckets = {r[0]: r[1:] for r in wb["Per fascia"].iter_rows(min_row=2, max_row=5,
                                                              values_only=True)}
    assert buckets["1–30 giorni"][0] == 1
    assert cents(buckets["oltre 90 giorni"][1]) == 43_000
    assert cents(buckets["31–60 giorni"][2]) == 90_000
    assert len(wb["Per fascia"]._charts) == 1


def test_guarantees_cover() -> None:
    rows = [
        GuaranteeRow("G1", "L1", "Rossi", "P1", "GAS Bovisa", "gas", "pledged",
                     date(2024, 1, 10), 300_000, 0, 0, 400_000),
        GuaranteeRow("G2", "L1", "Rossi", "P2", "Anna", "member", "partially_called",
                     date(2024, 1, 11), 200_000, 50_000, 0, 400_000),
        GuaranteeRow("G3", "L2", "Verdi", "P1", "GAS Bovisa", "gas", "released",
                     date(2024, 2, 1), 100_000, 0, 100_000, 0),
    ]
    wb = workbook(guarantees_report(rows, AS_OF))
    cover = {r[0]: r for r in wb["Copertura per prestito"].iter_rows(min_row=2, max_row=3,
                                                                       values_only=True)}
    # L1: (300,000 + 150,000) / 400,000 = 1.125; L2: outstanding zero -> n/a.
    assert cents(cover["L1"][3]) == 450_000
    assert cover["L1"][5] == 1.125
    assert cover["L2"][5] is None


def test_prepayments_owed() -> None:
    rows = [
        PrepaymentRow("P1", "G1", "GAS Bovisa", "R1", "Caseificio", date(2023, 9, 1),
                      date(2026, 9, 1), "open", 11_000_000, 3_666_667, 0),
        PrepaymentRow("P2", "G2", "GAS Isola", "R1", "Caseificio", date(2023, 10, 1),
                      date(2024, 9, 1), "closed", 500_000, 450_000, 50_000),
    ]
    wb = workbook(prepayments_report(rows, AS_OF))
    ws = wb["Prefinanziamenti"]
    assert [cents(ws.cell(r, 10).value) for r in (2, 3)] == [11_000_000 - 3_666_667, 0]
    assert ws["K2"].value == 0.3333
    by_producer = wb["Per produttore"]
    assert cents(by_producer["E2"].value) == 7_333_333


def test_solidarity_funds() -> None:
    rows = [
        SolidarityRow("S1", "F1", "Fondo Bovisa", date(2024, 2, 1), "contribution", "in",
                      12_345, gas_name="GAS Bovisa"),
        SolidarityRow("S2", "F1", "Fondo Bovisa", date(2024, 3, 1), "grant", "out", 10_000,
                      counterparty="Forno"),
        SolidarityRow("S3", "F2", "Fondo Isola", date(2024, 3, 2), "contribution", "in", 50),
    ]
    wb = workbook(solidarity_report(rows, AS_OF))
    funds = {r[0]: r[1:] for r in wb["Per fondo"].iter_rows(min_row=2, max_row=3,
                                                          values_only=True)}
    assert [cents(v) for v in funds["Fondo Bovisa"]] == [12_345, 10_000, 2_345]
    assert funds["Fondo Isola"][1] == 0


def test_impact_and_requests() -> None:
    rows = [
        ImpactRow("R1", "Caseificio", "cheese", "MI", 1, 2_000_000, 1_500_000, 11_000_000,
                  3_000_000, 0, 85, 2_100),
        ImpactRow("R2", "Forno", "bakery", "MI", 2, 500_000, 300_000, 0, 0, 10_000, 3, 70),
        ImpactRow("R3", "Latteria", "cheese", "BG", 0, 0, 0, 200_000, 0, 0, 2, 50),
    ]
    wb = workbook(impact_report(rows, period_from=date(2024, 1, 1), period_to=AS_OF))
    cats = {r[0]: r[1:] for r in wb["Per categoria"].iter_rows(min_row=2, max_row=3,
                                                             values_only=True)}
    # Categories of the demo catalogue print in Italian; one it lacks stays as it is.
    assert set(cats) == {"formaggi", "bakery"}
    assert cats["formaggi"][0] == 2
    assert cents(cats["formaggi"][4]) == 11_200_000
    assert cats["formaggi"][8] == 2_150
    assert len(wb["Per categoria"]._charts) == 1
    requests = [FundingRequestRow("Q1", "Forno", "bakery", "MI", "loan", "approved",
                                  date(2024, 1, 5), date(2024, 2, 1), 1_000_000, 800_000,
                                  Decimal("7.5"), Decimal("8"))]
    ws = workbook(requests_report(requests))["Richieste"]
    assert ws["K2"].value == 0.8
    assert ws["L2"].value == 7.5


def test_people_first_moves_references_forward_and_ids_back() -> None:
    import polars as pl

    from reports.workbook import ColumnSpec, ReportSheet, people_first

    def spec(key: str, kind: str = "text") -> ColumnSpec:
        return ColumnSpec(key, key, key, kind)  # type: ignore[arg-type]

    def sheet(*keys: str) -> ReportSheet:
        columns = tuple(spec(k) for k in keys)
        return ReportSheet(keys[0], columns, pl.DataFrame({k: ["x"] for k in keys}))

    items = sheet("loan_id", "borrower_name", "amount", "guarantee_id", "reference",
                  "loan_reference")
    dated = sheet("on", "kind", "reference")  # movements: no ids, the date first
    anonymous = sheet("loan_id", "amount")  # nothing else names the rows
    report = Report("r", "R", "R", (items, dated, anonymous))
    out = people_first(report)
    assert [c.key for c in out.sheets[0].columns] == [
        "reference", "loan_reference", "borrower_name", "amount", "loan_id", "guarantee_id"]
    assert out.sheets[1] == dated and out.sheets[2] == anonymous
