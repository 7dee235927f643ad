"""The demo network's reports, written by `filiera report` and printed to PDF by LibreOffice.

What a board member would see: A4 pages, no ``###``, the lender's name on every page,
codes in Italian (the demo catalogue's categories, statuses), the portfolio summary on
one page and far fewer pages than the 23 the portfolio took before page setup.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pypdfium2 as pdfium
import pytest
from sqlalchemy import select

from service.app.demo import PRODUCERS
from service.cli.main import main
from service.db.engine import make_engine, read_tx
from service.db.tables import loans, parties

REPORTS = ("portfolio", "arrears", "guarantees", "prepayments", "solidarity", "journal",
           "trial-balance", "impact", "requests")
A4_PT = sorted((210 / 25.4 * 72, 297 / 25.4 * 72))
# The English codes an Italian page must not show (categories of the demo catalogue,
# statuses and kinds), as whole words.
ENGLISH = sorted({c for _, _, cats in PRODUCERS for c in cats} | {
    "microcredit", "active", "repaid", "written_off", "funded", "submitted", "mixed",
    "released", "called", "open", "closed", "contribution", "grant", "loss_cover"})


def pages_of(pdf_path: Path) -> list[tuple[float, float, str]]:
    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        return [(*page.get_size(), " ".join(page.get_textpage().get_text_range().split()))
                for page in pdf]
    finally:
        pdf.close()


def test_demo_reports_print_in_italian_on_a4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is needed: apt-get install libreoffice-calc-nogui"
    monkeypatch.setenv("FILIERA_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("FILIERA_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert main(["demo-data", "--quiet"]) == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'filiera.db'}")
    with read_tx(engine) as conn:
        loan_id = conn.execute(select(loans.c.id).where(loans.c.disbursed_on.is_not(None))
                               .order_by(loans.c.id)).scalars().first()
        lenders = list(conn.execute(select(parties.c.name)
                                    .where(parties.c.kind == "lender")).scalars())
    engine.dispose()
    assert loan_id and lenders
    src = tmp_path / "xlsx"
    src.mkdir()
    for name in REPORTS:
        assert main(["report", name, "--out", str(src / f"{name}.xlsx")]) == 0
    assert main(["report", "loan-statement", "--loan-id", loan_id,
                 "--out", str(src / "loan-statement.xlsx")]) == 0
    capsys.readouterr()
    out = tmp_path / "pdf"
    subprocess.run(
        [soffice, "--headless", "--norestore",
         f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to", "pdf",
         "--outdir", str(out), *sorted(str(p) for p in src.iterdir())],
        check=True, capture_output=True, timeout=300)
    for name in (*REPORTS, "loan-statement"):
        pages = pages_of(out / f"{name}.pdf")
        assert pages, name
        for number, (width, height, text) in enumerate(pages, start=1):
            assert all(abs(a - b) < 1 for a, b in zip(sorted((width, height)), A4_PT,
                                                      strict=True)), (name, number)
            assert "###" not in text, (name, number)
            assert all(lender in text for lender in lenders), (name, number)
            assert f"Pagina {number} di {len(pages)}" in text, (name, number)
            if "— Info " in text:
                continue  # the Info sheet names parameters and report codes
            found = [w for w in ENGLISH if re.search(rf"(?<![\w:-]){w}(?![\w:-])", text)]
            assert found == [], (name, number, found)
    portfolio = pages_of(out / "portfolio.pdf")
    assert len([p for p in portfolio if "— Sintesi " in p[2]]) == 1
    # The journal prints what people read: the ids and account codes are folded away in
    # the workbook (there, one click shows them) and absent from the printed pages.
    journal = [p for p in pages_of(out / "journal.pdf") if "— Info " not in p[2]]
    assert journal and all("Descrizione conto dare" in p[2] for p in journal)
    assert not any(re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", p[2]) for p in journal)
    sheet = openpyxl.load_workbook(src / "journal.xlsx")["Giornale"]
    folded = {c.value for c in sheet[1]
              if sheet.column_dimensions[c.column_letter].hidden}
    assert folded == {"Id", "Conto dare", "Conto avere", "Operazione"}
    assert all(sheet.column_dimensions[c.column_letter].outlineLevel == 1
               for c in sheet[1] if c.value in folded)
    # People's columns first, the machines' last (CSV keeps its own order).
    labels = [c.value for c in sheet[1]]
    assert labels[:2] == ["Registrato il", "Data valuta"], labels
    assert labels[-4:] == ["Id", "Conto dare", "Conto avere", "Operazione"], labels
    ids = labels.index("Id") + 1
    assert re.fullmatch(r"[0-9a-f-]{36}", str(sheet.cell(2, ids).value))  # still there to read
    with zipfile.ZipFile(src / "journal.xlsx") as archive:
        names = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        first = archive.read(sorted(names)[0]).decode()
    # The outline's level is declared, so the folded columns get their "+" button.
    assert re.search(r'<sheetFormatPr [^>]*outlineLevelCol="1"', first), first[:600]
    assert len(portfolio) <= 8  # 5 data sheets and Info, where it took 23 pages before


def test_demo_statement_and_portfolio_as_pdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The two reports made to be printed, as `filiera report ... --out X.pdf` writes them
    (fpdf2, no LibreOffice): A4, Italian, every page numbered, few pages."""
    monkeypatch.setenv("FILIERA_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("FILIERA_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert main(["demo-data", "--quiet"]) == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'filiera.db'}")
    with read_tx(engine) as conn:
        disbursed = list(conn.execute(select(loans.c.id, loans.c.reference).where(
            loans.c.disbursed_on.is_not(None)).order_by(loans.c.seq)))
        lenders = list(conn.execute(select(parties.c.name)
                                    .where(parties.c.kind == "lender")).scalars())
    engine.dispose()
    assert disbursed
    files = {"portfolio": tmp_path / "portfolio.pdf"}
    assert main(["report", "portfolio", "--out", str(files["portfolio"])]) == 0
    for loan_id, reference in disbursed:
        files[reference] = tmp_path / f"{reference}.pdf"
        assert main(["report", "loan-statement", "--loan-id", loan_id,
                     "--out", str(files[reference])]) == 0
    capsys.readouterr()
    for name, path in files.items():
        pages = pages_of(path)
        # A demo loan's statement: figures, a schedule of a few dozen installments and
        # its movements; the portfolio: summary, aging, concentration and the loans.
        assert 1 <= len(pages) <= 4, (name, len(pages))
        for number, (width, height, text) in enumerate(pages, start=1):
            assert all(abs(a - b) < 1 for a, b in zip(sorted((width, height)), A4_PT,
                                                      strict=True)), (name, number)
            assert all(lender in text for lender in lenders), (name, number)
            assert f"Pagina {number} di {len(pages)}" in text, (name, number)
            found = [w for w in ENGLISH if re.search(rf"(?<![\w:-]){w}(?![\w:-])", text)]
            assert found == [], (name, number, found)
        if name != "portfolio":
            text = " ".join(t for _, _, t in pages)
            assert f"Estratto conto del prestito {name}" in text
            assert "Movimenti" in text and "erogazione" in text
