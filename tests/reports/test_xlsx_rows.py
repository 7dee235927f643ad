"""Data rows spliced in as XML text (reports.xlsx_rows) make the same workbook as
openpyxl writing every cell: every part of the file compared, canonical XML."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from xml.etree.ElementTree import canonicalize

import openpyxl
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import to_excel

from reports.journal import JournalRow, journal_report
from reports.workbook import (
    BarChartSpec,
    ColumnSpec,
    FormulaNote,
    Report,
    ReportSheet,
    StreamSheet,
    write_xlsx_streaming,
)
from reports.xlsx_rows import _column_writer, excel_serial

# Text a cell may hold: markup characters, outer blanks, error codes, a leading "=",
# accents, tabs and new lines, and the longest text a cell keeps.
TEXTS = ["Caseificio Rossi", "=SUM(A1:A2)", "#N/A", "", " a ", "   ", "a & b <c> \"d\" 'e'",
         "riga\nnuova\tcon tab", "\u00e8 \u20ac \U0001f9c0", "x" * 40_000, "#DIV/0!", "="]
COLUMNS = (
    ColumnSpec("name", "Nome", "Name", "text"),
    ColumnSpec("amount", "Importo", "Amount", "money", total="sum"),
    ColumnSpec("exact", "Importo esatto", "Exact amount", "money", total="sum"),
    ColumnSpec("on", "Data", "Date", "date"),
    ColumnSpec("at", "Ora", "At", "datetime"),
    ColumnSpec("share", "Quota", "Share", "percent"),
    ColumnSpec("count", "Numero", "Count", "int", total="sum"),
    ColumnSpec("rate", "Tasso", "Rate", "decimal"),
    ColumnSpec("code", "Causale", "Code", "text", codes="transfer_code"),
)


def frame(n: int) -> pl.DataFrame:
    texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
    return pl.DataFrame(
        {
            "name": texts,
            "amount": [None if i % 7 == 3 else (i * 7919) % 10**9 - 5000 for i in range(n)],
            "exact": [Decimal((i * 31) % 100_000).scaleb(-2) for i in range(n)],
            "on": [None if i == 0 else date(2024, 1, 1) + timedelta(days=i) for i in range(n)],
            "at": [datetime(2024, 3, 31, 0, 59, 59, 999_999, UTC) + timedelta(hours=7 * i)
                   for i in range(n)],
            "share": [Decimal(i % 10_000).scaleb(-4) for i in range(n)],
            "count": list(range(n)),
            "rate": [Decimal("1.23456789") * i for i in range(n)],
            "code": [["interest", "deposit", "unknown-code", None][i % 4] for i in range(n)],
        },
        schema={"name": pl.String, "amount": pl.Int64, "exact": pl.Decimal(38, 2),
                "on": pl.Date, "at": pl.Datetime("us", "UTC"), "share": pl.Decimal(38, 4),
                "count": pl.Int64, "rate": pl.Decimal(38, 8), "code": pl.String},
    )


def journal(n: int) -> Iterator[JournalRow]:
    for i in range(n):
        yield JournalRow(id=f"t{i:06d}", timestamp=datetime(2024, 1, 1, tzinfo=UTC)
                         + timedelta(minutes=37 * i), debit_account=f"D{i % 5}",
                         credit_account=TEXTS[i % len(TEXTS)][:50],
                         amount_minor=i * 101 + 1, currency="EUR",
                         code=["interest", "principal", "own-code"][i % 3],
                         flags=("linked", "pending")[: i % 3])


def report(n: int) -> Report:
    return Report(
        name="mixed", title_it="Prova", title_en="Test",
        sheets=(ReportSheet("Dati", COLUMNS, frame(n), "Data",
                            chart=BarChartSpec("Importi", "Amounts", "name", ("amount",))),
                StreamSheet("Vuoto", COLUMNS[:3], iter(()), "Empty"),
                ReportSheet("Altri", COLUMNS[3:], frame(n).reverse(), "Others")),
        parameters={"as_of": "2024-06-30"}, as_of=date(2024, 6, 30),
        generated_at=datetime(2024, 7, 1, 8, 30, tzinfo=UTC), lender_names=("MAG",),
        formulas=(FormulaNote("Totale", "Total", "somma", "sum"),))


def parts(build: Report, lang: str, spliced: bool) -> dict[str, str]:
    out = io.BytesIO()
    write_xlsx_streaming(build, out, lang, spliced_rows=spliced)  # type: ignore[arg-type]
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        found = {}
        for name in z.namelist():
            text = z.read(name).decode()
            if name == "docProps/core.xml":  # when it was written
                text = re.sub(r"<dcterms:(created|modified)[^<]*</dcterms:\1>", "", text)
            found[name] = canonicalize(text) if name.endswith((".xml", ".rels")) else text
        return found


@pytest.mark.parametrize("lang", ["it", "en"])
@pytest.mark.parametrize("n", [1, 2, 137])
def test_spliced_rows_make_the_same_workbook(lang: str, n: int) -> None:
    spliced, plain = parts(report(n), lang, True), parts(report(n), lang, False)
    assert list(spliced) == list(plain)
    for name in plain:
        assert spliced[name] == plain[name], name
    # Not two equal wrong files: the rows are there, the totals row after them.
    wb = openpyxl.load_workbook(io.BytesIO(_written(report(n), lang)))
    ws = wb["Dati" if lang == "it" else "Data"]
    assert ws.max_row == n + 2
    assert ws.cell(n + 1, 7).value == n - 1  # the last row's count
    assert ws.cell(n + 2, 7).value == f"=SUBTOTAL(9,G2:G{n + 1})"
    assert ws.cell(2, 1).value == TEXTS[0]


def _written(build: Report, lang: str) -> bytes:
    out = io.BytesIO()
    write_xlsx_streaming(build, out, lang)  # type: ignore[arg-type]
    return out.getvalue()


def test_spliced_journal_is_the_same_workbook() -> None:
    def build() -> Report:
        return journal_report(journal(2_500), period_from=date(2024, 1, 1),
                              period_to=date(2024, 12, 31),
                              generated_at=datetime(2025, 1, 2, tzinfo=UTC))
    spliced, plain = parts(build(), "it", True), parts(build(), "it", False)
    assert spliced == plain
    ws = openpyxl.load_workbook(io.BytesIO(_written(build(), "it")))["Giornale"]
    assert ws.max_row == 2_502
    assert ws["E2502"].value == "=SUBTOTAL(9,E2:E2501)"
    assert ws["E2501"].value == Decimal(2_499 * 101 + 1) / 100


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=8))
def test_any_text_is_written_as_openpyxl_writes_it(texts: list[str]) -> None:
    rows = pl.DataFrame({"name": texts}, schema={"name": pl.String})
    build = Report(name="t", title_it="T", title_en="T",
                   sheets=(ReportSheet("Dati", COLUMNS[:1], rows),),
                   generated_at=datetime(2025, 1, 2, tzinfo=UTC))
    assert parts(build, "it", True) == parts(build, "it", False)


def test_numbers_no_cell_holds_are_written_as_openpyxl_writes_them() -> None:
    def build() -> Report:
        rows = [(Decimal("NaN"),), (Decimal("-Infinity"),), (Decimal("1.5"),), (True,),
                (10**17 + 3,)]
        return Report(name="t", title_it="T", title_en="T", sheets=(StreamSheet(
            "Dati", (ColumnSpec("rate", "Tasso", "Rate", "decimal"),), iter(rows)),),
            generated_at=datetime(2025, 1, 2, tzinfo=UTC))
    assert parts(build(), "it", True) == parts(build(), "it", False)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.datetimes(min_value=datetime(1899, 12, 30), max_value=datetime(9999, 1, 1)),
                 st.dates(min_value=date(1899, 12, 30))))
def test_serials_are_openpyxl_s_to_the_bit(value: date) -> None:
    # The same float operations: the day 60 and before (Excel's 1900 leap day) too.
    assert excel_serial(value).hex() == float(to_excel(value)).hex()


def test_repeated_values_keep_their_own_cells() -> None:
    # A column keeps a value's cell by its exact type: 1, True and 1.0 are equal in
    # Python but not the same cell; a day is not a datetime of midnight.
    kept, make = _column_writer(lambda: "3", lambda value: value)

    def cell(value: object) -> str | None:  # as RowSplicer.write looks a cell up
        found = kept.get(value) if type(value) in (str, date, int) else None
        return found if found is not None else make(value)
    assert [cell(v) for v in (1, True, 1, True, 1.5, 0, False)] == [
        ' s="3" t="n"><v>1</v></c>', ' s="3" t="b"><v>1</v></c>',
        ' s="3" t="n"><v>1</v></c>', ' s="3" t="b"><v>1</v></c>',
        ' s="3" t="n"><v>1.5</v></c>', ' s="3" t="n"><v>0</v></c>',
        ' s="3" t="b"><v>0</v></c>']
    days = [(date(2024, 5, 1),), (datetime(2024, 5, 1, 12),), (date(2024, 5, 1),),
            (datetime(2024, 5, 1),), (None,), ("2024-05-01",)]

    def dated() -> Report:
        return Report(name="t", title_it="T", title_en="T", sheets=(StreamSheet(
            "Dati", (ColumnSpec("at", "At", "At", "datetime"),), iter(days[:-1])),
            StreamSheet("Testi", (ColumnSpec("on", "On", "On", "text"),), iter(days))),
            generated_at=datetime(2025, 1, 2, tzinfo=UTC))
    assert parts(dated(), "it", True) == parts(dated(), "it", False)
    wb = openpyxl.load_workbook(io.BytesIO(_written(dated(), "it")))
    assert [wb["Dati"].cell(r, 1).value for r in range(2, 7)] == [
        datetime(2024, 5, 1), datetime(2024, 5, 1, 12), datetime(2024, 5, 1),
        datetime(2024, 5, 1), None]
    assert [wb["Testi"].cell(r, 1).value for r in range(2, 8)] == [
        "2024-05-01", "2024-05-01 12:00:00", "2024-05-01", "2024-05-01 00:00:00", None,
        "2024-05-01"]
