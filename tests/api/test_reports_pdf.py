"""The loan statement and the portfolio as PDF over HTTP and the CLI, read back with pdfium.

The portfolio of ``test_reports_api.build`` (three loans: on time, late, written off;
guarantees and a call) is downloaded as A4 PDF and its text compared with the API's
own figures, written the Italian way by this test. Scoping and refusals are those of
the workbook; a report not made to be printed refuses ``.pdf`` as it refuses any format
it does not come in.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest

from tests.api.conftest import Api
from tests.api.test_reports_api import AS_OF, amt, build, loan_as_of

A4 = (210 / 25.4 * 72, 297 / 25.4 * 72)


def it_money(value: Decimal) -> str:
    """1.234,56 € from an amount in euros (two places), by integer arithmetic."""
    cents = int(value * 100)
    euros, rest = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{euros:,}".replace(",", ".") + f",{rest:02d} €"


def it_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def pdf_pages(api: Api, path: str, who: str = "officer") -> list[tuple[tuple[float, float], str]]:
    r = api.get(path, who)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].endswith('.pdf"')
    assert int(r.headers["content-length"]) == len(r.content)
    return read_pdf(r.content)


def read_pdf(data: bytes) -> list[tuple[tuple[float, float], str]]:
    assert data[:5] == b"%PDF-"
    doc = pdfium.PdfDocument(data)
    pages = [(page.get_size(), page.get_textpage().get_text_range()) for page in doc]
    for size, _ in pages:
        w, h = sorted(size)
        assert abs(w - A4[0]) < 0.5 and abs(h - A4[1]) < 0.5, size
    return pages


def joined(pages: list[tuple[tuple[float, float], str]]) -> str:
    return "\n".join(text for _, text in pages)


def test_loan_statement_pdf_matches_the_loan(api: Api) -> None:
    s = build(api)
    loan = loan_as_of(api, s["a"])
    pages = pdf_pages(api, f"/api/reports/loan-statement.pdf?loan_id={s['a']}&as_of={AS_OF}")
    assert 1 <= len(pages) <= 3
    text = joined(pages)
    first = pages[0][1]
    assert "Mag2 Finance Milano" in first and "Situazione al 30/06/2026" in first
    assert loan["reference"] in first
    assert it_money(amt(loan["outstanding_principal"])) in first
    assert it_money(amt(loan["principal"])) in first
    assert f"{Decimal(loan['apr']):.2f}".replace(".", ",") + "%" in first  # TAEG
    for inst in loan["schedule"]:
        assert it_date(inst["due_date"]) in text
        assert it_money(amt(inst["interest"])) in text
    paid = sum((amt(i["paid_principal"]) + amt(i["paid_interest"])
                + amt(i["paid_late_interest"]) for i in loan["schedule"]), Decimal(0))
    assert it_money(paid) in text  # the totals row
    assert it_money(sum((amt(i["principal"]) for i in loan["schedule"]), Decimal(0))) in text
    for number, (_, page) in enumerate(pages, start=1):
        assert f"Pagina {number} di {len(pages)}" in page


def test_portfolio_pdf_matches_the_api(api: Api) -> None:
    s = build(api)
    loans = {k: loan_as_of(api, s[k]) for k in ("a", "b", "c")}
    pages = pdf_pages(api, f"/api/reports/portfolio.pdf?as_of={AS_OF}")
    assert len(pages) <= 4  # three loans: the summary and the tables on a few pages
    text = joined(pages)
    active = [v for v in loans.values() if v["status"] == "active"]
    gross = sum((amt(v["outstanding_principal"]) for v in active), Decimal(0))
    par30 = sum((amt(v["outstanding_principal"]) for v in active
                 if v["days_past_due"] > 30 or v["restructured"]), Decimal(0))
    first = pages[0][1]
    assert "Qualità del portafoglio prestiti" in first
    assert it_money(gross) in first and it_money(par30) in first
    share = (par30 / gross * 100).quantize(Decimal("0.01"))
    assert f"{share}".replace(".", ",") + "%" in first
    for key, loan in loans.items():
        assert loan["reference"] in text, key
        assert it_money(amt(loan["principal"])) in text, key
    assert "passato a perdita" in text  # C, through the Italian catalogue
    assert it_money(amt(loans["c"]["written_off_principal"])) in text
    for _, page in pages[1:]:
        assert "Mag2 Finance Milano" in page  # the page header


def test_pdf_in_english(api: Api) -> None:
    s = build(api)
    pages = pdf_pages(api, f"/api/reports/loan-statement.pdf?loan_id={s['a']}&lang=en")
    assert "Page 1 of" in pages[0][1] and "Statement of loan" in pages[0][1]


def test_pdf_scoping_and_refusals(api: Api) -> None:
    s = build(api)
    listing = {i["name"]: i for i in api.ok(api.get("/api/reports"))["items"]}
    assert listing["portfolio"]["formats"] == ["xlsx", "csv", "parquet", "pdf"]
    assert listing["loan-statement"]["urls"]["pdf"] == "/api/reports/loan-statement.pdf"
    assert "pdf" not in listing["arrears"]["formats"]
    assert "pdf" not in listing["journal"]["urls"]
    # A producer: its own loan's statement, not another's, no portfolio.
    pdf_pages(api, f"/api/reports/loan-statement.pdf?loan_id={s['a']}", "producer")
    assert api.get(f"/api/reports/loan-statement.pdf?loan_id={s['c']}", "producer"
                   ).status_code == 404
    assert api.get("/api/reports/portfolio.pdf", "producer").status_code == 403
    assert api.get(f"/api/reports/loan-statement.pdf?loan_id={s['a']}", "gas").status_code \
        == 403
    assert api.get("/api/reports/portfolio.pdf", None).status_code == 401
    # Reports not made to be printed: .pdf is a format they do not come in, as .docx.
    for name in ("arrears", "journal", "guarantees", "trial-balance"):
        assert api.get(f"/api/reports/{name}.pdf").status_code == 404, name
        assert api.get(f"/api/reports/{name}.docx").status_code == 404, name
    for path, field in [
        ("/api/reports/loan-statement.pdf", "loan_id"),
        ("/api/reports/portfolio.pdf?sheet=loans", "sheet"),
        ("/api/reports/portfolio.pdf?as_of=2026-02-30", "as_of"),
        ("/api/reports/portfolio.pdf?gas_id=" + s["g1"], "gas_id"),
        ("/api/reports/portfolio.pdf?lang=de", "lang"),
    ]:
        r = api.get(path)
        assert r.status_code == 422, (path, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (path, r.json())


def test_cli_writes_a_pdf(api: Api, db_url: tuple[str, str | None], tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    from service.cli.main import main

    s = build(api)
    url, schema = db_url
    if schema:
        url = f"{url}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("FILIERA_DATABASE_URL", url)
    monkeypatch.setenv("FILIERA_SECRET_KEY", "cli-test-" + "x" * 40)
    out = tmp_path / "statement.pdf"
    assert main(["report", "loan-statement", "--loan-id", s["b"], "--as-of", AS_OF,
                 "--out", str(out)]) == 0
    loan: dict[str, Any] = loan_as_of(api, s["b"])
    text = joined(read_pdf(out.read_bytes()))
    assert it_money(amt(loan["overdue_amount"])) in text
    assert main(["report", "portfolio", "--as-of", AS_OF, "--out",
                 str(tmp_path / "p.pdf")]) == 0
    assert "Qualità del portafoglio prestiti" in joined(read_pdf(
        (tmp_path / "p.pdf").read_bytes()))
    assert main(["report", "arrears", "--out", str(tmp_path / "a.pdf")]) == 2
    assert not (tmp_path / "a.pdf").exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]
