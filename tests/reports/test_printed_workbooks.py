"""Workbooks a board can print: page setup read back, cell widths measured, and every
report turned into PDF by LibreOffice and looked at page by page.

The PDF checks read what LibreOffice printed (page sizes, the text on each page):
the page setup is judged by the program that prints it, not by the code that wrote it.
The width check renders each number and date as the spreadsheet shows it with the
font LibreOffice prints with here (DejaVu, where Calibri is missing) and compares it with
the column's width in pixels (Excel's definition: 7 pixels a character plus 5).
"""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pypdfium2 as pdfium
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import ImageFont

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
from reports.journal import JournalRow, TrialBalanceRow, journal_report, trial_balance_report
from reports.portfolio import LoanPosition, portfolio_report
from reports.printing import plan_page
from reports.workbook import ColumnSpec, Report, ReportSheet, write_xlsx, write_xlsx_streaming

AS_OF = date(2026, 6, 30)
START = date(2026, 1, 1)
LENDER = "Mag2 Finance Milano"
# A4 in PDF points (1/72 inch): 210 x 297 mm.
A4_PT = (210 / 25.4 * 72, 297 / 25.4 * 72)
PRODUCERS = ["Caseificio Val Taleggio", "Cascina Caremma", "Forno del Parco Sud",
             "Apicoltura Valcamonica", "Riseria Lomellina Bio", "Orti di Brianza"]
CATEGORIES = ["cheese", "vegetables", "bread", "honey", "rice"]


# -- the reports, from hand-made rows ------------------------------------------------------

def positions(count: int, seed: int = 7) -> list[LoanPosition]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        status = rng.choice(["active"] * 8 + ["repaid", "written_off"])
        disbursed = rng.randrange(200_000, 7_500_000)
        outstanding = disbursed * rng.randrange(10, 100) // 100 if status == "active" else 0
        out.append(LoanPosition(
            loan_id=f"PRE-2026-{i + 1:04d}", borrower_id=f"b{i}",
            borrower_name=f"{PRODUCERS[i % len(PRODUCERS)]} {i // len(PRODUCERS) or ''}".strip(),
            province=rng.choice(["MI", "BG", "PV", "LO"]), category="microcredit",
            status=status,  # type: ignore[arg-type]
            disbursed_cents=disbursed, outstanding_principal_cents=outstanding,
            overdue_cents=rng.randrange(0, 300_000) if status == "active" else 0,
            days_past_due=rng.choice([0, 0, 0, 12, 45, 75, 130]) if status == "active" else 0,
            restructured=rng.random() < 0.05, guarantee_remaining_cents=rng.randrange(0, 10**6),
            written_off_cents=disbursed // 2 if status == "written_off" else 0,
            written_off_on=date(2026, 3, 31) if status == "written_off" else None))
    return out


def with_lender(report: Report) -> Report:
    return replace(report, lender_names=(LENDER,))


def loan_statement() -> Report:
    installments = []
    balance = 4_500_000
    for n in range(1, 61):
        principal = 75_000
        balance -= principal
        installments.append(InstallmentRow(
            n, date(2024 + n // 12, n % 12 + 1, 28), principal, balance * 35 // 12_000, 0,
            principal + balance * 35 // 12_000 if n < 30 else 0,
            date(2024 + n // 12, n % 12 + 1, 27) if n < 30 else None, balance))
    summary = LoanSummary("PRE-2024-0007", "Caseificio Val Taleggio", date(2024, 1, 28),
                          4_500_000, Decimal("3.50"), Decimal("3.56"), 2_250_000, 0, 0,
                          "active", lender_name=LENDER)
    moves = [MovementRow("disbursement", date(2024, 1, 28), date(2024, 1, 28),
                         "PRE-2024-0007", amount_cents=4_500_000)]
    for row in installments:
        if row.paid_on is not None:
            moves.append(MovementRow(
                "repayment", row.paid_on, row.paid_on, f"RIM-{row.paid_on.year}-{row.number:04d}",
                amount_cents=row.paid_cents, interest_cents=row.interest_cents,
                principal_cents=row.principal_cents))
    moves.append(MovementRow("guarantee_call", date(2026, 6, 20), date(2026, 6, 21),
                             "GAR-2024-0003", "GAS Bergamo Alta, chiamata dopo tre solleciti",
                             amount_cents=0))
    return loan_statement_report(summary, installments, AS_OF, movements=moves)


def reports() -> dict[str, Report]:
    small = positions(4)
    big = positions(3000)
    arrears = [ArrearsRow(p.loan_id, p.borrower_id, p.borrower_name, p.province, p.category,
                          AS_OF - timedelta(days=p.days_past_due), p.days_past_due, 123_456,
                          7_890, 0, p.outstanding_principal_cents, 500_000)
               for p in big[:40] if p.status == "active" and p.days_past_due > 0]
    guarantees = [GuaranteeRow(f"GAR-2026-{i:04d}", p.loan_id, p.borrower_name, f"g{i}",
                               f"GAS {PRODUCERS[i % 6].split()[-1]}",
                               ["gas", "person", "producer"][i % 3],
                               ["active", "called", "released"][i % 3], date(2026, 2, 1),
                               1_000_000, 250_000 if i % 3 == 1 else 0,
                               750_000 if i % 3 == 2 else 0, p.outstanding_principal_cents)
                  for i, p in enumerate(big[:30])]
    prepayments = [PrepaymentRow(f"PRF-2026-{i:04d}", f"gas{i}", f"GAS Milano {i}",
                                 f"p{i % 6}", PRODUCERS[i % 6], date(2026, 1, 15),
                                 date(2026, 12, 31), ["open", "closed"][i % 2],
                                 1_100_000, 400_000, 700_000 if i % 2 else 0)
                   for i in range(25)]
    # 70 funds: the chart under the "Per fondo" table cannot share its last page.
    solidarity = [SolidarityRow(f"c{i}", f"f{i % 70}", f"Fondo GAS {i % 70:02d}",
                                date(2026, 1 + i % 6, 10),
                                ["contribution", "prepayment", "grant", "loss_cover"][i % 4],
                                "in" if i % 4 < 2 else "out", 12_345 + i,
                                gas_name=f"GAS {i % 70:02d}")
                  for i in range(280)]
    journal = [JournalRow(f"t{i:05d}", datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i),
                          f"loan:{i:032x}", f"pool:{i:032x}", 100_000 + i, "EUR", "disburse")
               for i in range(300)]
    # Double entry: each transfer debits one account and credits another.
    transfers = [("pool-funding", "pool", 25_000_000), ("member-external", "pool", 1_750_000),
                 ("pool", "loan", 4_500_000), ("loan", "pool", 1_250_000),
                 ("loan-payments", "interest", 300_000),
                 ("loan-payments", "penalty", 10_000)]
    owners = {"pool": LENDER, "pool-funding": LENDER, "loan": "Cascina Caremma",
              "loan-payments": "Cascina Caremma", "interest": LENDER, "penalty": LENDER,
              "member-external": "Anna Rossi"}
    accounts = [TrialBalanceRow(f"{purpose}:{i:032x}", "", "EUR",
                                sum(a for d, _, a in transfers if d == purpose),
                                sum(a for _, c, a in transfers if c == purpose),
                                owner_name=owner)
                for i, (purpose, owner) in enumerate(owners.items())]
    impact = [ImpactRow(f"p{i}", PRODUCERS[i % 6], CATEGORIES[i % 5], "MI", 1, 2_000_000,
                        1_500_000, 1_100_000, 3_000_000, 0, 12, 240) for i in range(12)]
    requests = [FundingRequestRow(f"RIC-2026-{i:04d}", PRODUCERS[i % 6], CATEGORIES[i % 5],
                                  "MI", ["loan", "prepayment", "mixed"][i % 3],
                                  ["submitted", "under_review", "approved", "funded"][i % 4],
                                  date(2026, 2, 1), None, 2_000_000, 1_500_000,
                                  Decimal("7.5"), Decimal("8"))
                  for i in range(20)]
    return {
        "portfolio-4": with_lender(portfolio_report(small, AS_OF)),
        "portfolio-3000": with_lender(portfolio_report(big, AS_OF)),
        "loan-statement": loan_statement(),
        "arrears": with_lender(arrears_report(arrears, AS_OF)),
        "guarantees": with_lender(guarantees_report(guarantees, AS_OF)),
        "prepayments": with_lender(prepayments_report(prepayments, AS_OF)),
        "solidarity": with_lender(solidarity_report(solidarity, AS_OF, period_from=START,
                                                    period_to=AS_OF)),
        "journal": with_lender(journal_report(journal, period_from=START, period_to=AS_OF)),
        "trial-balance": with_lender(trial_balance_report(accounts, AS_OF)),
        "impact": with_lender(impact_report(impact, period_from=START, period_to=AS_OF)),
        "requests": with_lender(requests_report(requests, period_from=START, period_to=AS_OF)),
    }


PERIOD_REPORTS = {"solidarity", "journal", "impact", "requests"}


@pytest.fixture(scope="module")
def workbooks() -> dict[str, bytes]:
    files = {}
    for name, report in reports().items():
        out = io.BytesIO()
        # The service writes in write-only mode; the in-memory writer must print alike.
        (write_xlsx if name == "guarantees" else write_xlsx_streaming)(report, out)
        files[name] = out.getvalue()
    return files


@dataclass(frozen=True)
class Page:
    number: int
    width: float
    height: float
    text: str


@pytest.fixture(scope="module")
def pdfs(workbooks: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory
         ) -> dict[str, list[Page]]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is needed: apt-get install libreoffice-calc-nogui"
    tmp = tmp_path_factory.mktemp("printed")
    src, out = tmp / "src", tmp / "out"
    src.mkdir()
    for name, content in workbooks.items():
        (src / f"{name}.xlsx").write_bytes(content)
    subprocess.run(
        [soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp}/profile",
         "--convert-to", "pdf", "--outdir", str(out), *sorted(str(p) for p in src.iterdir())],
        check=True, capture_output=True, timeout=300)
    return {name: list(read_pages(out / f"{name}.pdf")) for name in workbooks}


def read_pages(path: Path) -> Iterator[Page]:
    pdf = pdfium.PdfDocument(str(path))
    try:
        for index, page in enumerate(pdf, start=1):
            width, height = page.get_size()
            # Words as read: a wrapped header or axis label joined on one line.
            text = " ".join(page.get_textpage().get_text_range().split())
            yield Page(index, width, height, text)
    finally:
        pdf.close()


def sheet_pages(pages: list[Page], report: Report, sheet: str) -> list[Page]:
    """The pages of one sheet, found by the header every page carries."""
    return [p for p in pages if f"{report.title_it} — {sheet}" in p.text]


# -- what LibreOffice printed ---------------------------------------------------------------

def test_every_page_is_a4_and_says_what_when_whose_and_which(
        pdfs: dict[str, list[Page]]) -> None:
    built = reports()
    for name, pages in pdfs.items():
        report = built[name]
        assert pages, name
        for page in pages:
            size = sorted((page.width, page.height))
            # A4 portrait or landscape: never wider than A4 landscape.
            assert abs(size[0] - A4_PT[0]) < 1 and abs(size[1] - A4_PT[1]) < 1, (name, size)
            assert "###" not in page.text, (name, page.number)
            # Amounts and percentages with Italian separators, whatever this machine's
            # locale: the number formats name the language.
            assert not re.search(r"\d\.\d{2} ?(€|%)", page.text), (name, page.number)
            assert report.title_it in page.text, (name, page.number)
            assert LENDER in page.text, (name, page.number)
            assert f"Pagina {page.number} di {len(pages)}" in page.text, (name, page.number)
            if name in PERIOD_REPORTS:
                assert "Periodo: dal 01/01/2026 al 30/06/2026" in page.text, name
            else:
                assert "Situazione al 30/06/2026" in page.text, name


def test_a_portfolio_of_four_loans_prints_its_summary_on_one_page(
        pdfs: dict[str, list[Page]]) -> None:
    report = reports()["portfolio-4"]
    pages = pdfs["portfolio-4"]
    (summary,) = sheet_pages(pages, report, "Sintesi")
    assert summary.width < summary.height  # five columns: portrait
    for figure in ("Portafoglio lordo", "PAR30", "PAR90", "Primi 5 beneficiari, quota"):
        assert figure in summary.text
    # Each sheet of four loans fits one page (the loans sheet landscape, one page wide).
    for sheet in ("Anzianità scaduto", "Per beneficiario", "Per categoria", "Prestiti"):
        assert len(sheet_pages(pages, report, sheet)) == 1, sheet
    (loans,) = sheet_pages(pages, report, "Prestiti")
    assert loans.width > loans.height
    # Codes in Italian: the loan category and statuses of the demo catalogue.
    assert "microcredito" in loans.text and "microcredit " not in loans.text
    assert "attivo" in loans.text
    # 1.234,56 €: the first loan's amount disbursed as printed.
    first = positions(4)[0].disbursed_cents
    assert f"{first // 100:,}".replace(",", ".") + f",{first % 100:02d} €" in loans.text


def test_three_thousand_loans_repeat_the_header_row_on_every_page(
        pdfs: dict[str, list[Page]]) -> None:
    report = reports()["portfolio-3000"]
    loans = sheet_pages(pdfs["portfolio-3000"], report, "Prestiti")
    # One page wide: every page holds the first and the last column (no page of
    # leftover columns), landscape, and the header row.
    assert len(loans) < 3000 / 40
    for page in loans:
        assert page.width > page.height
        for label in ("Prestito", "Beneficiario", "Capitale residuo",
                      "Data passaggio a perdita"):
            assert label in page.text, page.number
    # Every loan printed once.
    printed = re.findall(r"PRE-2026-\d{4}", " ".join(p.text for p in loans))
    assert sorted(set(printed)) == sorted(p.loan_id for p in positions(3000))
    assert len(printed) == 3000


def test_the_aging_chart_is_printed_whole_on_one_page(pdfs: dict[str, list[Page]]) -> None:
    for name in ("portfolio-4", "portfolio-3000"):
        pages = pdfs[name]
        titled = [p for p in pages if "Portafoglio per fascia di ritardo" in p.text]
        assert len(titled) == 1, name
        (aging,) = sheet_pages(pages, reports()[name], "Anzianità scaduto")
        assert titled[0] == aging
        # The category axis is the chart's bottom: its labels print on the same page.
        for label in ("In regola", "1–30", "31–60", "61–90", "oltre 90"):
            assert aging.text.count(label) >= 2, (name, label)  # table and axis


def test_a_chart_under_a_long_table_starts_its_own_page(
        pdfs: dict[str, list[Page]], workbooks: dict[str, bytes]) -> None:
    report = reports()["solidarity"]
    pages = sheet_pages(pdfs["solidarity"], report, "Per fondo")
    assert len(pages) >= 2
    titled = [p for p in pdfs["solidarity"] if "Entrate e uscite per fondo" in p.text]
    assert titled == [pages[-1]]
    # The chart's page holds no table row: the table ends (with its totals) before.
    assert "Totale" not in titled[0].text and "Totale" in pages[-2].text
    ws = openpyxl.load_workbook(io.BytesIO(workbooks["solidarity"]))["Per fondo"]
    (chart,) = ws._charts
    anchor_row = chart.anchor._from.row + 1  # 0-based in the drawing
    assert [b.id for b in ws.row_breaks.brk] == [anchor_row - 2]  # before the blank row
    assert anchor_row == 70 + 3 + 1  # header, 70 funds, totals, one blank row


def test_italian_values_and_the_chart_of_accounts_print(pdfs: dict[str, list[Page]]) -> None:
    text = " ".join(p.text for p in pdfs["trial-balance"])
    for words in ("Disponibilità per prestiti", "Prestiti", "Proventi", "Capitale sociale",
                  "Pool: disponibilità da prestare · Mag2 Finance Milano",
                  "Interessi di mora", "quadra"):
        assert words in text, words
    guarantees = " ".join(p.text for p in pdfs["guarantees"])
    assert all(w in guarantees for w in ("escussa", "liberata", "persona", "produttore"))
    requests = " ".join(p.text for p in pdfs["requests"])
    assert all(w in requests for w in ("in esame", "finanziata", "formaggi", "misto"))


# -- page setup read back --------------------------------------------------------------------

def test_page_setup_of_every_sheet(workbooks: dict[str, bytes]) -> None:
    built = reports()
    for name, content in workbooks.items():
        report = built[name]
        wb = openpyxl.load_workbook(io.BytesIO(content))
        for ws in wb.worksheets:
            assert ws.page_setup.paperSize == 9, (name, ws.title)  # A4
            assert ws.sheet_properties.pageSetUpPr.fitToPage is True
            assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
            widths = [ws.column_dimensions[openpyxl.utils.get_column_letter(i)].width
                      for i in range(1, ws.max_column + 1)]
            table_px = sum(w * 7 + 5 for w in widths)
            # Landscape exactly when the columns are wider than a portrait page's print
            # width: 210 mm less two 0.5 in margins, at 96 pixels an inch.
            portrait_px = (210 / 25.4 - 1.0) * 96
            if not ws._charts:
                assert ws.page_setup.orientation == (
                    "landscape" if table_px > portrait_px else "portrait"), (name, ws.title)
            assert ws.oddHeader.left.text.replace("&&", "&") == (
                f"{report.title_it} — {ws.title}")
            assert ws.oddHeader.right.text == LENDER
            assert ws.oddFooter.right.text == "Pagina &P di &N"
            last = openpyxl.utils.get_column_letter(ws.max_column)
            if ws.title == "Info":
                assert ws.print_title_rows is None
                assert ws.print_area == f"'Info'!$A$1:$D${ws.max_row}"
                continue
            assert ws.print_title_rows == "$1:$1"
            if not ws._charts:
                assert ws.print_area == f"'{ws.title}'!$A$1:${last}${ws.max_row}"


def test_info_sheet_says_the_time_in_rome() -> None:
    report = replace(reports()["portfolio-4"],
                     generated_at=datetime(2026, 1, 15, 23, 30, tzinfo=UTC))
    out = io.BytesIO()
    write_xlsx_streaming(report, out)
    info = openpyxl.load_workbook(io.BytesIO(out.getvalue()))["Info"]
    rows = {r[0]: r[1] for r in info.iter_rows(values_only=True) if r and r[0]}
    # 23:30 UTC on 15 January is 00:30 the next day in Rome (CET, UTC+1).
    assert rows["Generato il (ora italiana, Europe/Rome)"] == datetime(2026, 1, 16, 0, 30)
    assert rows["Finanziatore"] == LENDER


# -- no cell turns into ### -------------------------------------------------------------------

FONTS = Path("/usr/share/fonts/truetype/dejavu")


def italian(text: str, number_format: str) -> str:
    """English separators swapped for Italian ones where the format names Italian."""
    if not number_format.startswith("[$-410]"):
        return text
    return text.translate(str.maketrans({",": ".", ".": ","}))


def shown(value: Any, number_format: str) -> str:
    """The text a spreadsheet shows for a cell (the formats the writer uses)."""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M:%S" if "HH" in number_format else "%d/%m/%Y")
    if isinstance(value, int | float) and "€" in number_format:
        return italian(f"{Decimal(repr(value)):,.2f} €", number_format)
    if isinstance(value, int | float) and "%" in number_format:
        return italian(f"{Decimal(repr(value)) * 100:.2f}%", number_format)
    if isinstance(value, int | float) and number_format.endswith("#,##0.00##"):
        return italian(f"{Decimal(repr(value)):,.4f}".rstrip("0"), number_format)
    return str(value)


def text_px(text: str, bold: bool) -> float:
    # LibreOffice prints the header and totals bold with DejaVu Serif here, the rest
    # with DejaVu Sans; 11 pt at 96 dpi.
    names = ["DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf"] if bold else ["DejaVuSans.ttf"]
    return max(ImageFont.truetype(str(FONTS / n), 11 * 96 / 72).getlength(text)
               for n in names)


def overflowing(content: bytes) -> list[tuple[str, str, str]]:
    """Every number or date cell whose text is wider than its column."""
    wb = openpyxl.load_workbook(io.BytesIO(content))
    values = openpyxl.load_workbook(io.BytesIO(content), data_only=True)
    found = []
    for ws in wb.worksheets:
        if ws.title == "Info":
            continue
        data = list(values[ws.title].iter_rows())
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                value = cell.value
                if isinstance(value, str) and value.startswith("=SUBTOTAL"):
                    # The total: the sum of the cells above, as the formula computes it.
                    column = cell.column - 1
                    value = sum((Decimal(repr(r[column].value)) for r in data[1:cell.row - 1]
                                 if isinstance(r[column].value, int | float)), Decimal(0))
                    value = float(value)
                if not isinstance(value, int | float | datetime) or isinstance(value, bool):
                    continue
                width = ws.column_dimensions[cell.column_letter].width
                text = shown(value, cell.number_format)
                # 2 pixels of cell padding on each side.
                if text_px(text, bool(cell.font.b)) > width * 7 + 5 - 4:
                    found.append((ws.title, cell.coordinate, text))
    return found


def test_no_number_or_date_is_wider_than_its_column(workbooks: dict[str, bytes]) -> None:
    for name, content in workbooks.items():
        if name == "portfolio-3000":
            continue  # the same columns as portfolio-4, 3,000 times; PDF checks it
        assert overflowing(content) == [], name


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=-10**12, max_value=10**12), min_size=1, max_size=30),
       st.booleans())
def test_totals_fit_their_column(cents: list[int], streaming: bool) -> None:
    import polars as pl

    columns = (ColumnSpec("who", "Chi", "Who", "text"),
               ColumnSpec("amount", "Importo", "Amount", "money", total="sum"),
               ColumnSpec("n", "N", "N", "int", total="sum"))
    frame = pl.DataFrame({"who": ["x"] * len(cents), "amount": cents,
                          "n": [abs(c) for c in cents]})
    report = Report("t", "Prova", "Test", (ReportSheet("S", columns, frame),), as_of=AS_OF)
    out = io.BytesIO()
    (write_xlsx_streaming if streaming else write_xlsx)(report, out)
    assert overflowing(out.getvalue()) == []


def test_layout_keeps_a_chart_off_a_page_break() -> None:
    # Hand computation: portrait A4, 297 mm less two 0.8 in margins = 969.2 px tall,
    # 20 px rows at scale 1 -> 48 rows, 4 kept free -> 44 rows on the first page.
    layout = plan_page([20.0, 12.0, 12.0], table_rows=10, chart=True)
    assert not layout.landscape and layout.rows_per_page == 44
    assert layout.chart_row == 12 and not layout.break_before_chart
    # The chart (7.5 cm = 15 rows) would run from row 40 to 55: across the first break.
    layout = plan_page([20.0, 12.0, 12.0], table_rows=38, chart=True)
    assert layout.break_before_chart
    # 10 x 89 px: wider than portrait's 698 px, within landscape's 1026 px.
    wide = plan_page([12.0] * 10, table_rows=5)
    assert wide.landscape and wide.scale == 1.0
    # 10 x 145 px: landscape at 1026 / 1450.
    wider = plan_page([20.0] * 10, table_rows=5)
    assert wider.landscape and abs(wider.scale - 1026.24 / 1450) < 1e-3
