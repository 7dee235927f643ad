"""Every report of a 3,000-loan network, written by `filiera report` and printed: the
workbooks to PDF by LibreOffice, the portfolio and two loan statements as `.pdf`.

The network is `filiera demo-data --scale 40` (500 GAS, 2,000 producers, 3,000 disbursed
loans with repayments, guarantees and prepayments, one borrower in six late), built once
per session (tests/reports/conftest.py). What is checked is what LibreOffice and the PDF
reader see: A4 pages, none wider than A4 landscape, every page numbered and saying whose
books they are, one page wide with the header row on every page, page counts a reader
would expect for the rows printed, amounts with Italian separators, codes in Italian, and
every disbursed loan of the database printed once in the portfolio.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import openpyxl
import pypdfium2 as pdfium
import pytest
from sqlalchemy import select

from reports.printing import PageLayout, plan_page
from service.app.demo import PRODUCERS
from service.app.scale import CATEGORIES
from service.cli.main import main
from service.db.engine import make_engine, read_tx
from service.db.tables import loans, parties
from tests.reports.conftest import ScaleNetwork

pytestmark = [pytest.mark.slow, pytest.mark.scale]

REPORTS = ("portfolio", "arrears", "guarantees", "prepayments", "solidarity", "journal",
           "trial-balance", "impact", "requests")
# A4 in PDF points, short side first.
A4_PT = (210 / 25.4 * 72, 297 / 25.4 * 72)
# Codes an Italian page must not show, as whole words: the categories of the demo and the
# scale network, statuses, kinds and the ledger's transfer flags.
ENGLISH = sorted({c for _, _, cats in PRODUCERS for c in cats} | set(CATEGORIES) | {
    "microcredit", "active", "repaid", "written_off", "funded", "submitted", "mixed",
    "released", "called", "open", "closed", "contribution", "grant", "loss_cover",
    "linked", "pending", "post_pending", "void_pending"})
ENGLISH_WORD = re.compile(rf"(?<![\w:-])({'|'.join(ENGLISH)})(?![\w:-])")
# An amount or a percentage with English separators: "1,234.56 €", "550.00 €", "20.10%".
ENGLISH_NUMBER = re.compile(r"\d\.\d{2} ?(€|%)")
ITALIAN_MONEY = re.compile(r"\d{1,3}(\.\d{3})*,\d{2} €")
REFERENCE = re.compile(r"PRE-\d{4}-\d{4,}")


@dataclass(frozen=True)
class Page:
    number: int
    width: float
    height: float
    text: str


@dataclass(frozen=True)
class Sheet:
    title: str
    rows: int  # every row of the sheet: header, data, totals
    first_label: str
    last_label: str
    layout: PageLayout  # the writer's page plan, from the widths in the file


@dataclass(frozen=True)
class Printed:
    lenders: list[str]
    disbursed: list[str]  # references of the disbursed loans, from the database
    statements: list[str]  # the references whose statements were written
    sheets: dict[str, list[Sheet]]  # workbook -> its sheets
    titles: dict[str, str]  # workbook -> the report's Italian title (each page's header)
    libreoffice: dict[str, list[Page]]  # workbook -> its pages printed by LibreOffice
    pdf: dict[str, list[Page]]  # the .pdf files Filiera writes itself
    seconds: dict[str, float]


def read_pages(path: Path) -> list[Page]:
    pdf = pdfium.PdfDocument(str(path))
    try:
        pages = []
        for index, page in enumerate(pdf, start=1):
            width, height = page.get_size()
            # Words as read: a wrapped header joined on one line.
            text = " ".join(page.get_textpage().get_text_range().split())
            pages.append(Page(index, width, height, text))
        return pages
    finally:
        pdf.close()


def sheets_of(path: Path) -> tuple[str, list[Sheet]]:
    """The report's title and its data sheets, read from the file's XML (the reader of
    openpyxl takes seconds on the journal's rows)."""
    with zipfile.ZipFile(path) as archive:
        titles = re.findall(r'<sheet name="([^"]+)"', archive.read("xl/workbook.xml").decode())
        sheets = []
        for number, title in enumerate(map(html.unescape, titles), start=1):
            xml = archive.read(f"xl/worksheets/sheet{number}.xml").decode()
            header = xml[xml.index("<row "):xml.index("</row>")]
            labels = [html.unescape(t) for t in re.findall(r"<t[^>]*>([^<]*)</t>", header)]
            cols = re.findall(r"<col ([^>]*)/>", xml)
            # Folded (hidden) columns are not printed: the page is planned without them.
            shown = ['hidden="1"' not in c for c in cols]
            widths = [float(re.search(r'width="([\d.]+)"', c)[1])  # type: ignore[index]
                      for c, visible in zip(cols, shown, strict=True) if visible]
            if len(labels) == len(shown):
                labels = [t for t, visible in zip(labels, shown, strict=True) if visible]
            chart = f"xl/worksheets/_rels/sheet{number}.xml.rels" in archive.namelist()
            if title == "Info":
                continue
            assert labels and widths, (path.name, title)
            rows = xml.count("<row ")
            sheets.append(Sheet(title, rows, labels[0], labels[-1],
                                plan_page(widths, rows, chart=chart)))
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        info = {r[0]: r[1] for r in wb["Info"].iter_rows(values_only=True) if len(r) > 1}
    finally:
        wb.close()
    return str(info["Rapporto"]), sheets


@pytest.fixture(scope="module")
def printed(scale_network: ScaleNetwork, tmp_path_factory: pytest.TempPathFactory) -> Printed:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is needed: apt-get install libreoffice-calc-nogui"
    tmp = tmp_path_factory.mktemp("printed-scale")
    src, out, own = tmp / "xlsx", tmp / "libreoffice", tmp / "pdf"
    src.mkdir()
    own.mkdir()
    seconds = {"network": scale_network.seconds}
    engine = make_engine(f"sqlite:///{scale_network.var_dir / 'filiera.db'}")
    with read_tx(engine) as conn:
        disbursed = list(conn.execute(select(loans.c.reference).where(
            loans.c.disbursed_on.is_not(None)).order_by(loans.c.seq)).scalars())
        lenders = list(conn.execute(select(parties.c.name)
                                    .where(parties.c.kind == "lender")).scalars())
        # The network's first loan stopped paying halfway and has a guarantee; the
        # second pays what is due.
        chosen = list(conn.execute(select(loans.c.id, loans.c.reference).where(
            loans.c.created_by == "scale").order_by(loans.c.seq).limit(2)))
    engine.dispose()
    assert len(disbursed) >= 3000 and lenders and len(chosen) == 2
    started = time.perf_counter()
    printing: list[subprocess.Popen[bytes]] = []

    def print_with_libreoffice(names: list[str]) -> None:
        """LibreOffice turns these workbooks into PDF while the next ones are written
        (its own profile: two instances side by side)."""
        profile = tmp / f"profile-{len(printing)}"
        printing.append(subprocess.Popen(
            [soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{profile}",
             "--convert-to", "pdf", "--outdir", str(out),
             *(str(src / f"{name}.xlsx") for name in names)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE))

    with pytest.MonkeyPatch.context() as env, redirect_stdout(StringIO()):
        env.setenv("FILIERA_VAR_DIR", str(scale_network.var_dir))
        env.setenv("FILIERA_TODAY", scale_network.today.isoformat())
        env.delenv("FILIERA_DATABASE_URL", raising=False)
        # The two longest prints first.
        first = ["journal", "trial-balance"]
        for name in (*first, *(r for r in REPORTS if r not in first)):
            assert main(["report", name, "--out", str(src / f"{name}.xlsx")]) == 0, name
            if name == first[-1]:
                print_with_libreoffice(first)
        for loan_id, reference in chosen:
            for folder, suffix in ((src, "xlsx"), (own, "pdf")):
                assert main(["report", "loan-statement", "--loan-id", loan_id, "--out",
                             str(folder / f"loan-statement-{reference}.{suffix}")]) == 0
        seconds["reports"] = time.perf_counter() - started
        print_with_libreoffice(sorted({p.stem for p in src.iterdir()} - set(first)))
        assert main(["report", "portfolio", "--out", str(own / "portfolio.pdf")]) == 0
    for process in printing:
        _, errors = process.communicate(timeout=600)
        assert process.returncode == 0, errors.decode()
    seconds["reports and libreoffice"] = time.perf_counter() - started
    books = sorted(p.stem for p in src.iterdir())
    read = {name: sheets_of(src / f"{name}.xlsx") for name in books}
    return Printed(
        lenders=lenders, disbursed=disbursed, statements=[r for _, r in chosen],
        sheets={name: sheets for name, (_, sheets) in read.items()},
        titles={name: title for name, (title, _) in read.items()},
        libreoffice={name: read_pages(out / f"{name}.pdf") for name in books},
        pdf={p.stem: read_pages(p) for p in sorted(own.iterdir())},
        seconds=seconds)


def italian_page(name: str, page: Page, printed: Printed) -> Iterator[str]:
    """What is wrong with one printed page, if anything."""
    size = sorted((page.width, page.height))
    # A4 portrait or landscape: never wider than A4 landscape.
    if abs(size[0] - A4_PT[0]) >= 1 or abs(size[1] - A4_PT[1]) >= 1:
        yield f"{name} p{page.number}: {page.width:.0f} x {page.height:.0f} pt is not A4"
    if "###" in page.text:
        yield f"{name} p{page.number}: ###"
    for lender in printed.lenders:
        if lender not in page.text:
            yield f"{name} p{page.number}: no {lender}"
    if f"Pagina {page.number} di " not in page.text:
        yield f"{name} p{page.number}: no page number"
    if found := ENGLISH_NUMBER.findall(page.text):
        yield f"{name} p{page.number}: English separators {found[:3]}"
    if "— Info " in page.text:
        return  # the Info sheet names the parameters and the report's code
    if found := sorted(set(ENGLISH_WORD.findall(page.text))):
        yield f"{name} p{page.number}: English codes {found}"


def test_every_workbook_of_3000_loans_prints_on_a4_in_italian(printed: Printed) -> None:
    assert sorted(printed.libreoffice) == sorted(
        [*REPORTS, *(f"loan-statement-{r}" for r in printed.statements)])
    wrong = []
    for name, pages in printed.libreoffice.items():
        assert pages, name
        for page in pages:
            wrong.extend(italian_page(name, page, printed))
            assert f"Pagina {page.number} di {len(pages)}" in page.text, (name, page.number)
    assert wrong == []
    summary = "".join(p.text for p in printed.libreoffice["portfolio"][:1])
    assert ITALIAN_MONEY.search(summary), summary[:300]


def test_every_sheet_is_one_page_wide_and_its_pages_are_as_many_as_its_rows_need(
        printed: Printed) -> None:
    for name, sheets in printed.sheets.items():
        pages = printed.libreoffice[name]
        title = printed.titles[name]
        counted = 0
        for sheet in sheets:
            own = [p for p in pages if f"{title} — {sheet.title} " in p.text]
            counted += len(own)
            # The header row on every page, first and last column: no page of leftover
            # columns (one page wide), and the orientation the writer chose.
            for page in own:
                assert sheet.first_label in page.text, (name, sheet.title, page.number)
                assert sheet.last_label in page.text, (name, sheet.title, page.number)
                assert (page.width > page.height) == sheet.layout.landscape, (
                    name, sheet.title, page.number)
            # The writer plans the pages from the column widths (at 15-point rows, a
            # few rows spare: what keeps a chart off a page break). LibreOffice's rows
            # are a little shorter, so it needs no more pages than planned, and never
            # fewer than half: the type is not shrunk further than the plan says.
            layout = sheet.layout
            planned = layout.page_of(layout.last_row) + 1 + layout.break_before_chart
            assert planned / 2 <= len(own) <= planned, (name, sheet.title, len(own), planned)
        info = [p for p in pages if f"{title} — Info " in p.text]
        assert 1 <= len(info) <= 2, name
        assert counted + len(info) == len(pages), name


def test_the_portfolio_of_3000_loans_prints_its_summary_on_one_page_and_every_loan_once(
        printed: Printed) -> None:
    pages = printed.libreoffice["portfolio"]
    title = printed.titles["portfolio"]
    (summary,) = [p for p in pages if f"{title} — Sintesi " in p.text]
    for figure in ("Portafoglio lordo", "PAR30", "PAR90", "Accantonamento per perdite"):
        assert figure in summary.text
    loans_pages = [p for p in pages if f"{title} — Prestiti " in p.text]
    printed_refs = REFERENCE.findall(" ".join(p.text for p in loans_pages))
    assert sorted(printed_refs) == sorted(printed.disbursed)
    for page in loans_pages:
        assert page.width > page.height  # landscape: the loans sheet is wide


def test_the_portfolio_and_loan_statements_of_3000_loans_as_pdf(printed: Printed) -> None:
    assert sorted(printed.pdf) == sorted(
        ["portfolio", *(f"loan-statement-{r}" for r in printed.statements)])
    wrong = []
    for name, pages in printed.pdf.items():
        for page in pages:
            wrong.extend(italian_page(name, page, printed))
            assert f"Pagina {page.number} di {len(pages)}" in page.text, (name, page.number)
    assert wrong == []
    portfolio = printed.pdf["portfolio"]
    # Every disbursed loan in the loans table, once (the ids are left out of the PDF).
    refs = REFERENCE.findall(" ".join(p.text for p in portfolio))
    assert set(refs) == set(printed.disbursed)
    assert len(refs) == len(printed.disbursed)
    # The workbook's rows (summary, aging, concentration, loans), 20 to 80 to a page.
    rows = sum(sheet.rows for sheet in printed.sheets["portfolio"])
    assert rows / 80 <= len(portfolio) <= rows / 20, (rows, len(portfolio))
    assert "PAR30" in portfolio[0].text and ITALIAN_MONEY.search(portfolio[0].text)
    for reference in printed.statements:
        pages = printed.pdf[f"loan-statement-{reference}"]
        # 24 monthly installments and a few movements.
        assert 1 <= len(pages) <= 4, (reference, len(pages))
        text = " ".join(p.text for p in pages)
        assert f"Estratto conto del prestito {reference}" in text
        assert "Movimenti" in text and "erogazione" in text


def test_printing_3000_loans_takes_minutes_not_more(printed: Printed) -> None:
    # Reported with -s; bounded loosely so a much slower run is noticed.
    print(" ".join(f"{k} {v:.1f}s" for k, v in printed.seconds.items()))
    assert printed.seconds["reports and libreoffice"] < 300
