"""Reports as PDF, read back with pdfium: page sizes, the text on each page, where it is.

Figures are checked against sums this test makes of the rows it built, written the
Italian way by its own small formatter (not the one under test). The pages were also
rendered to images and looked at while the layout was made (see ``render_pages``).
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.instruments import InstallmentRow, LoanSummary, loan_statement_report
from reports.pdf import CORE_FONTS, default_fonts, money_text, pdf_bytes, write_pdf
from reports.portfolio import LoanPosition, portfolio_report
from reports.workbook import Lang, Report
from tests.reports.test_printed_workbooks import AS_OF, LENDER, positions, with_lender

# A4 in points: 210 x 297 mm.
A4 = (210 / 25.4 * 72, 297 / 25.4 * 72)


def it_money(cents: int, sign: str = "€") -> str:
    """1.234,56 € from integer cents, by integer arithmetic."""
    euros, rest = divmod(abs(cents), 100)
    digits = f"{euros:,}".replace(",", ".")
    return f"{'-' if cents < 0 else ''}{digits},{rest:02d} {sign}"


def it_date(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def pages(data: bytes) -> list[tuple[tuple[float, float], str]]:
    """(size in points, text) of every page."""
    doc = pdfium.PdfDocument(data)
    out = []
    for page in doc:
        text = page.get_textpage().get_text_range()
        out.append((page.get_size(), text))
    return out


def is_a4(size: tuple[float, float]) -> bool:
    w, h = sorted(size)
    return abs(w - A4[0]) < 0.5 and abs(h - A4[1]) < 0.5


def inside_the_page(data: bytes) -> None:
    """No character is drawn outside the page's margins of 5 mm."""
    margin = 5 / 25.4 * 72
    doc = pdfium.PdfDocument(data)
    for number, page in enumerate(doc, start=1):
        width, height = page.get_size()
        textpage = page.get_textpage()
        for i in range(textpage.count_chars()):
            left, bottom, right, top = textpage.get_charbox(i)
            if right == left:  # a space or an invisible character
                continue
            assert margin <= left and right <= width - margin, (number, i)
            assert margin <= bottom and top <= height - margin, (number, i)


def statement(lang: Lang = "it") -> tuple[Report, list[InstallmentRow], LoanSummary]:
    installments = []
    balance = 4_500_000
    for n in range(1, 61):
        principal = 75_000
        balance -= principal
        interest = (balance + principal) * 35 // 12_000
        paid = principal + interest if n < 30 else 0
        installments.append(InstallmentRow(
            n, date(2024 + (n - 1) // 12, (n - 1) % 12 + 1, 28), principal, interest,
            0, paid, date(2024 + (n - 1) // 12, (n - 1) % 12 + 1, 27) if paid else None,
            balance))
    summary = LoanSummary("PRE-2024-0007", "Caseificio Val Taleggio", date(2024, 1, 28),
                          4_500_000, Decimal("3.50"), Decimal("3.56"), 2_250_000, 0, 0,
                          "active", lender_name=LENDER)
    return (loan_statement_report(summary, installments, AS_OF, lang=lang), installments,
            summary)


def test_loan_statement_pages_hold_every_installment_and_the_totals() -> None:
    report, installments, summary = statement()
    data = pdf_bytes(report)
    got = pages(data)
    assert 2 <= len(got) <= 3
    assert all(is_a4(size) for size, _ in got)
    assert got[0][0][0] < got[0][0][1]  # the first page is portrait
    everything = "\n".join(text for _, text in got)
    first = got[0][1]
    assert "Estratto conto del prestito PRE-2024-0007" in first
    assert LENDER in first and "Situazione al 30/06/2026" in first
    assert it_money(summary.outstanding_principal_cents) in first  # 22.500,00 €
    assert "3,56%" in first and "3,50%" in first  # TAEG and the nominal rate
    assert "attivo" in first  # the status through the Italian catalogue
    for row in installments:
        assert it_date(row.due_on) in everything, row.number
        assert it_money(row.interest_cents) in everything, row.number
    # The totals row: sums made here.
    assert it_money(sum(r.principal_cents for r in installments)) in everything  # 45.000,00
    assert it_money(sum(r.paid_cents for r in installments)) in everything
    unpaid = sum(r.principal_cents + r.interest_cents - r.paid_cents for r in installments)
    assert it_money(unpaid) in everything
    for number, (_, text) in enumerate(got, start=1):
        assert f"Pagina {number} di {len(got)}" in text
        if number > 1:
            assert LENDER in text  # the page header
        # The header row is repeated on every page the schedule runs over.
        if any(it_date(r.due_on) in text for r in installments):
            assert "Scadenza" in text and "Pagato" in text, number
    inside_the_page(data)


def test_portfolio_summary_on_the_first_page_and_the_loans_on_landscape_pages() -> None:
    small = positions(4)
    report = with_lender(portfolio_report(small, AS_OF))
    data = pdf_bytes(report)
    got = pages(data)
    assert len(got) <= 3
    first = got[0][1]
    active = [p for p in small if p.status == "active"]
    gross = sum(p.outstanding_principal_cents for p in active)
    par30 = sum(p.outstanding_principal_cents for p in active
                if p.days_past_due > 30 or p.restructured)
    assert "Qualità del portafoglio prestiti" in first and LENDER in first
    assert it_money(gross) in first and it_money(par30) in first
    share = Decimal(par30 * 100) / Decimal(gross)
    assert f"{share.quantize(Decimal('0.01')):.2f}".replace(".", ",") + "%" in first
    assert "Formule degli indicatori" in first
    loans_page = next(text for size, text in got if size[0] > size[1])
    assert "Beneficiario" in loans_page and "Erogato" in loans_page
    for p in small:
        assert p.borrower_name.split()[0] in loans_page
    assert "passato a perdita" in "\n".join(t for _, t in got)  # a written-off loan
    written_off = sum(p.written_off_cents for p in small)
    assert it_money(written_off) in "\n".join(t for _, t in got)
    assert any(size[0] > size[1] for size, _ in got)  # the wide loans table: landscape
    inside_the_page(data)


@pytest.mark.slow
def test_a_portfolio_of_3000_loans_repeats_the_header_on_every_page() -> None:
    big = positions(3000)
    report = with_lender(portfolio_report(big, AS_OF))
    data = pdf_bytes(report)
    got = pages(data)
    assert all(is_a4(size) for size, _ in got)
    # Two tables of 3,000 rows (by borrower, and the loans): tens of rows a page.
    assert 60 <= len(got) <= 220, len(got)
    loan_pages = [text for size, text in got if size[0] > size[1]]
    assert len(loan_pages) >= 40
    for text in loan_pages[1:]:
        assert "Prestiti (segue)" in text and "Beneficiario" in text and "Erogato" in text
    total = sum(p.outstanding_principal_cents for p in big if p.status == "active")
    assert it_money(total) in got[-1][1]
    assert f"Pagina {len(got)} di {len(got)}" in got[-1][1]


def test_core_helvetica_when_dejavu_is_missing() -> None:
    report, installments, summary = statement()
    data = pdf_bytes(report, fonts=CORE_FONTS)
    got = pages(data)
    everything = "\n".join(text for _, text in got)
    assert "€" not in everything
    assert it_money(summary.outstanding_principal_cents, "EUR") in everything
    assert it_money(sum(r.principal_cents for r in installments), "EUR") in everything
    assert "Da pagare: capitale + interessi + penali - pagato" in everything.replace("\r\n", " ")
    inside_the_page(data)
    assert b"DejaVu" not in data and b"Helvetica" in data


def test_dejavu_is_embedded_when_installed() -> None:
    fonts = default_fonts()
    if not fonts.embedded:
        pytest.skip("fonts-dejavu-core is not installed")
    data = pdf_bytes(statement()[0])
    assert b"DejaVu" in data  # the font's name in the embedded subset


def test_english_keeps_iso_dates_and_codes() -> None:
    report, installments, _ = statement("en")
    got = pages(pdf_bytes(report, "en"))
    everything = "\n".join(text for _, text in got)
    assert installments[0].due_on.isoformat() in everything
    assert "Page 1 of" in got[0][1] and "As of 2026-06-30" in got[0][1]
    assert "active" in got[0][1]


def test_write_pdf_to_a_path_and_a_handle(tmp_path: Path) -> None:
    report = statement()[0]
    write_pdf(report, tmp_path / "s.pdf")
    handle = io.BytesIO()
    write_pdf(report, handle)
    assert (tmp_path / "s.pdf").read_bytes()[:5] == handle.getvalue()[:5] == b"%PDF-"


def test_an_empty_portfolio_still_prints() -> None:
    report = with_lender(portfolio_report([], AS_OF))
    got = pages(pdf_bytes(report))
    assert len(got) <= 3 and "Nessuna riga." in "\n".join(t for _, t in got)


def test_long_texts_wrap_inside_their_column() -> None:
    long_name = "Società Agricola Cooperativa " * 6 + "Fine"
    small = [replace(positions(1)[0], borrower_name=long_name)]
    data = pdf_bytes(with_lender(portfolio_report(small, AS_OF)))
    text = "\n".join(t for _, t in pages(data))
    assert "Fine" in text and "Società" in text
    inside_the_page(data)


@given(st.integers(min_value=-10**13, max_value=10**13))
def test_money_text_is_exact(cents: int) -> None:
    assert money_text(cents) == it_money(cents)
    assert money_text(Decimal(cents).scaleb(-2)) == it_money(cents)
    assert money_text(cents, "en") == it_money(cents).replace(".", "_").replace(
        ",", ".").replace("_", ",")


def render_pages(data: bytes, out: Path, scale: float = 1.4) -> list[Path]:
    """Every page as a PNG (pdfium -> PIL), for a person to look at."""
    paths = []
    for number, page in enumerate(pdfium.PdfDocument(data), start=1):
        path = out / f"page-{number}.png"
        page.render(scale=scale).to_pil().save(path)
        paths.append(path)
    return paths


def test_pages_render_to_images(tmp_path: Path) -> None:
    small: list[LoanPosition] = positions(4)
    paths = render_pages(pdf_bytes(with_lender(portfolio_report(small, AS_OF))), tmp_path)
    from PIL import Image

    for path in paths:
        with Image.open(path) as image:
            assert image.getextrema() != ((255, 255), (255, 255), (255, 255))  # not blank
