"""Workbooks written by reports.workbook, read back with openpyxl."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import polars as pl
import pytest

from reports.workbook import (
    DATE_FORMATS,
    EURO_FORMAT,
    PERCENT_FORMAT,
    BarChartSpec,
    ColumnSpec,
    FormulaNote,
    Report,
    ReportSheet,
    write_xlsx,
    write_xlsx_streaming,
)

COLUMNS = (
    ColumnSpec("name", "Nome", "Name", "text", "nome del produttore", "producer name"),
    ColumnSpec("amount", "Importo", "Amount", "money", "importo erogato", "amount lent",
               total="sum"),
    ColumnSpec("exact", "Importo esatto", "Exact amount", "money", total="sum"),
    ColumnSpec("on", "Data", "Date", "date"),
    ColumnSpec("share", "Quota", "Share", "percent"),
    ColumnSpec("count", "Numero", "Count", "int", total="sum"),
)
CENTS = [123_456, 5, 99_999_999, 1, 250_050, 0, 17]
NAMES = ["Caseificio\x07 Rossi", "=HYPERLINK(\"http://x\")", "Forno", "Orto", "Apicoltura",
         "Mulino", "Vigna di collina con un nome molto lungo"]


def make_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "name": NAMES,
            "amount": CENTS,
            # The same amounts as exact decimals (pl.Decimal(scale=2)).
            "exact": [Decimal(c).scaleb(-2) for c in CENTS],
            "on": [date(2024, 1, d + 1) for d in range(len(CENTS))],
            "share": [Decimal("0.1234"), None, Decimal("1"), Decimal("0.0001"),
                      Decimal("0.5"), Decimal("0"), Decimal("0.25")],
            "count": list(range(len(CENTS))),
        },
        schema={"name": pl.String, "amount": pl.Int64, "exact": pl.Decimal(38, 2),
                "on": pl.Date, "share": pl.Decimal(38, 4), "count": pl.Int64},
    )


def make_report() -> Report:
    chart = BarChartSpec("Importi", "Amounts", "name", ("amount",))
    return Report(
        name="demo", title_it="Prova", title_en="Demo",
        sheets=(ReportSheet("Dati", COLUMNS, make_frame(), "Data", chart=chart),),
        parameters={"as_of": "2024-06-30", "gas_id": "g-1"}, as_of=date(2024, 6, 30),
        generated_at=datetime(2024, 7, 1, 8, 30, tzinfo=UTC),
        formulas=(FormulaNote("Totale", "Total", "somma degli importi", "sum of amounts"),),
    )


Writer = Callable[[Report, io.BytesIO, str], None]
WRITERS = [pytest.param(write_xlsx, id="normal"),
           pytest.param(write_xlsx_streaming, id="write-only")]


def written(writer: Writer, lang: str = "it") -> openpyxl.Workbook:
    out = io.BytesIO()
    writer(make_report(), out, lang)
    return openpyxl.load_workbook(io.BytesIO(out.getvalue()))


@pytest.mark.parametrize("writer", WRITERS)
def test_layout_header_and_formats(writer: Writer) -> None:
    wb = written(writer)
    assert wb.sheetnames == ["Dati", "Info"]
    ws = wb["Dati"]
    n = len(CENTS)
    assert [c.value for c in ws[1]] == [spec.label_it for spec in COLUMNS]
    for cell in ws[1]:
        assert cell.font.b is True
        assert cell.fill.fill_type == "solid"
        assert cell.fill.start_color.rgb == "FF2E5E4E"
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:F{n + 1}"
    assert ws.column_dimensions["A"].width > ws.column_dimensions["F"].width
    for row in range(2, n + 2):
        assert ws.cell(row, 2).number_format == EURO_FORMAT
        assert ws.cell(row, 3).number_format == EURO_FORMAT
        assert ws.cell(row, 4).is_date
        assert isinstance(ws.cell(row, 4).value, datetime)
        assert ws.cell(row, 4).number_format == DATE_FORMATS["it"]
    assert ws["D2"].value == datetime(2024, 1, 1)
    assert ws["E2"].number_format == PERCENT_FORMAT
    assert ws["E2"].value == pytest.approx(0.1234)
    assert ws["E3"].value is None  # n/a stays empty, not zero
    assert ws["B2"].data_type == "n"
    # Text that looks like a formula stays text.
    assert ws["A3"].data_type == "s"
    assert ws["A3"].value == NAMES[1]
    assert ws["A2"].value == "Caseificio Rossi"  # control character dropped
    assert len(ws._charts) == 1


@pytest.mark.parametrize("writer", WRITERS)
def test_totals_are_formulas_equal_to_the_frame_total(writer: Writer) -> None:
    ws = written(writer)["Dati"]
    n = len(CENTS)
    total_row = n + 2
    assert ws.cell(total_row, 1).value == "Totale"
    assert ws.cell(total_row, 2).value == f"=SUBTOTAL(9,B2:B{n + 1})"
    assert ws.cell(total_row, 3).value == f"=SUBTOTAL(9,C2:C{n + 1})"
    assert ws.cell(total_row, 6).value == f"=SUBTOTAL(9,F2:F{n + 1})"
    assert ws.cell(total_row, 2).number_format == EURO_FORMAT
    assert ws.cell(total_row, 2).font.b is True
    assert ws.cell(total_row, 4).value is None
    frame_total = make_frame()["exact"].sum()
    assert frame_total == Decimal(sum(CENTS)).scaleb(-2)
    for column in (2, 3):
        # Recompute what the formula computes: the sum of the cells, read as written.
        recomputed = sum((Decimal(repr(ws.cell(r, column).value)) for r in range(2, n + 2)),
                         Decimal(0))
        assert recomputed == frame_total
        assert [round(Decimal(repr(ws.cell(r, column).value)) * 100)
                for r in range(2, n + 2)] == CENTS


@pytest.mark.parametrize("writer", WRITERS)
def test_info_sheet(writer: Writer) -> None:
    rows = [r for r in written(writer)["Info"].iter_rows(values_only=True)]
    first = {r[0]: r[1] for r in rows if r and r[0]}
    assert first["Rapporto"] == "Prova"
    assert first["Codice"] == "demo"
    assert first["Data di riferimento"] == datetime(2024, 6, 30)
    # 08:30 UTC on 1 July is 10:30 in Rome (CEST, UTC+2).
    assert first["Generato il (ora italiana, Europe/Rome)"] == datetime(2024, 7, 1, 10, 30)
    assert first["gas_id"] == "g-1"
    assert ("Dati", "Importo", "importo in euro", "importo erogato") in [r[:4] for r in rows]
    assert first["Totale"] == "somma degli importi"
    assert any(r[0] and "SUBTOTALE" in r[0] for r in rows)


@pytest.mark.parametrize("writer", WRITERS)
def test_english(writer: Writer) -> None:
    wb = written(writer, "en")
    ws = wb["Data"]
    assert ws["B1"].value == "Amount"
    assert ws["D2"].number_format == DATE_FORMATS["en"] == "YYYY-MM-DD"
    # Numbers name their language: English separators in LibreOffice on any machine.
    assert ws["B2"].number_format == '[$-409]#,##0.00 "€"'
    assert ws["E2"].number_format == "[$-409]0.00%"
    assert ws.cell(len(CENTS) + 2, 1).value == "Total"
    info = {r[0]: r[1] for r in wb["Info"].iter_rows(values_only=True) if r[0]}
    assert info["Report"] == "Demo"


def test_datetime_cells_are_rome_time_in_italian_and_utc_in_english() -> None:
    columns = (ColumnSpec("ts", "Ora", "Time", "datetime"),)
    frame = pl.DataFrame({"ts": [datetime(2024, 3, 1, 23, 30, tzinfo=UTC),
                                 datetime(2024, 7, 1, 23, 30, tzinfo=UTC)]},
                         schema={"ts": pl.Datetime("us", "Europe/Rome")})
    report = Report("t", "t", "t", (ReportSheet("S", columns, frame),))
    for lang, expected in (("it", [datetime(2024, 3, 2, 0, 30), datetime(2024, 7, 2, 1, 30)]),
                           ("en", [datetime(2024, 3, 1, 23, 30),
                                   datetime(2024, 7, 1, 23, 30)])):
        out = io.BytesIO()
        write_xlsx(report, out, lang)  # type: ignore[arg-type]
        ws = openpyxl.load_workbook(io.BytesIO(out.getvalue()))["S"]
        # CET is UTC+1 in March, CEST UTC+2 in July.
        assert [ws["A2"].value, ws["A3"].value] == expected


def test_refuses_float_money_and_bad_sheet_names() -> None:
    columns = (ColumnSpec("x", "X", "X", "money"),)
    floats = pl.DataFrame({"x": [1.5]})
    with pytest.raises(TypeError):
        write_xlsx(Report("t", "t", "t", (ReportSheet("S", columns, floats),)), io.BytesIO())
    cents = pl.DataFrame({"x": [1]})
    with pytest.raises(ValueError):
        write_xlsx(Report("t", "t", "t", (ReportSheet("a/b", columns, cents),)), io.BytesIO())
    with pytest.raises(ValueError):  # beyond what a double holds exactly
        write_xlsx(Report("t", "t", "t", (ReportSheet("S", columns,
                                                      pl.DataFrame({"x": [10**15]})),)),
                   io.BytesIO())


def test_empty_sheet_has_header_and_zero_total() -> None:
    frame = make_frame().clear()
    report = Report("t", "t", "t", (ReportSheet("S", COLUMNS, frame),))
    out = io.BytesIO()
    write_xlsx_streaming(report, out)
    ws = openpyxl.load_workbook(io.BytesIO(out.getvalue()))["S"]
    assert ws["A1"].value == "Nome"
    assert ws["B2"].value == 0
    assert ws.auto_filter.ref == "A1:F1"
