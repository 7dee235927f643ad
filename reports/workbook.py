"""Generic report writer: polars frames (or row iterables) to XLSX, CSV and Parquet.

A ``Report`` is a list of sheets plus what the ``Info`` sheet states about it (name,
parameters, as-of date, the columns and the formulas of its figures). Each sheet's
columns carry a kind that decides how a value is stored: money as an exact number with
a euro format, dates as dates, percentages as fractions with a percent format. Totals
are ``SUBTOTAL(9, ...)`` formulas, so they recompute in any spreadsheet program and
follow the autofilter.

Money in frames is either integer cents (``Int64``) or ``pl.Decimal(scale=2)``; it
reaches the cell as a ``Decimal`` converted by ``ledger.money`` and never passes through
float arithmetic here. (openpyxl prints numbers with 16 significant digits, exact for
every amount below 10^13 €, which ``_money_cell`` enforces: a spreadsheet cell is a
double and could not hold more digits exactly anyway.)
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import chain, islice
from typing import IO, Any, Literal

import polars as pl
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ledger.money import minor_to_decimal

__all__ = [
    "DATETIME_FORMATS",
    "DATE_FORMATS",
    "EURO_FORMAT",
    "PERCENT_FORMAT",
    "BarChartSpec",
    "ColumnKind",
    "ColumnSpec",
    "FormulaNote",
    "Lang",
    "Report",
    "ReportSheet",
    "StreamSheet",
    "add_bar_chart",
    "csv_options",
    "export_frame",
    "write_csv",
    "write_parquet",
    "write_xlsx",
    "write_xlsx_streaming",
]

ColumnKind = Literal["money", "date", "datetime", "percent", "int", "text", "decimal"]
Lang = Literal["it", "en"]
Output = IO[bytes] | str | os.PathLike[str]

# Literal text in a number format is quoted (ECMA-376 18.8.31); Excel and LibreOffice
# show it as "1.234,56 €" under an Italian locale and "1,234.56 €" under an English one.
EURO_FORMAT = '#,##0.00 "€"'
PERCENT_FORMAT = "0.00%"
INT_FORMAT = "0"
DECIMAL_FORMAT = "#,##0.00##"
DATE_FORMATS: Mapping[str, str] = {"it": "DD/MM/YYYY", "en": "YYYY-MM-DD"}
DATETIME_FORMATS: Mapping[str, str] = {"it": "DD/MM/YYYY HH:MM:SS", "en": "YYYY-MM-DD HH:MM:SS"}

# A double holds 15 significant digits exactly: cents below 10^15.
_MAX_EXACT_CENTS = 10**15

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill(fill_type="solid", start_color="FF2E5E4E", end_color="FF2E5E4E")
HEADER_ALIGNMENT = Alignment(vertical="center", wrap_text=True)
TOTAL_FONT = Font(bold=True)
LABEL_FONT = Font(bold=True)

_WIDTH_SAMPLE_ROWS = 1000
_MIN_WIDTH = 8
_MAX_WIDTH = 60

_WORDS: Mapping[str, Mapping[str, str]] = {
    "it": {
        "total": "Totale",
        "report": "Rapporto",
        "code": "Codice",
        "description": "Descrizione",
        "as_of": "Data di riferimento",
        "generated_at": "Generato il (UTC)",
        "parameters": "Parametri",
        "sheet": "Foglio",
        "column": "Colonna",
        "kind": "Tipo",
        "figure": "Indicatore",
        "formula": "Formula",
        "columns": "Colonne",
        "formulas": "Formule degli indicatori",
        "totals_note": "Le righe Totale sono formule SUBTOTALE(9; ...): si ricalcolano e "
        "seguono i filtri.",
        "money": "importo in euro",
        "date": "data",
        "datetime": "data e ora (UTC)",
        "percent": "percentuale",
        "int": "numero intero",
        "text": "testo",
        "decimal": "numero decimale",
    },
    "en": {
        "total": "Total",
        "report": "Report",
        "code": "Code",
        "description": "Description",
        "as_of": "As of",
        "generated_at": "Generated at (UTC)",
        "parameters": "Parameters",
        "sheet": "Sheet",
        "column": "Column",
        "kind": "Kind",
        "figure": "Figure",
        "formula": "Formula",
        "columns": "Columns",
        "formulas": "Formulas of the figures",
        "totals_note": "Total rows are SUBTOTAL(9, ...) formulas: they recompute and follow "
        "the filters.",
        "money": "amount in euro",
        "date": "date",
        "datetime": "date and time (UTC)",
        "percent": "percentage",
        "int": "integer",
        "text": "text",
        "decimal": "decimal number",
    },
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its key in the frame, labels, kind, description and total."""

    key: str
    label_it: str
    label_en: str
    kind: ColumnKind
    description_it: str = ""
    description_en: str = ""
    total: Literal["sum"] | None = None

    def label(self, lang: Lang) -> str:
        return self.label_it if lang == "it" else self.label_en

    def description(self, lang: Lang) -> str:
        text = self.description_it if lang == "it" else self.description_en
        return text or self.description_it or self.description_en


@dataclass(frozen=True)
class BarChartSpec:
    """A clustered bar chart of some columns against a category column of the sheet."""

    title_it: str
    title_en: str
    category_key: str
    value_keys: tuple[str, ...]
    y_title_it: str = ""
    y_title_en: str = ""
    anchor: str | None = None  # top-left cell; default: two columns right of the table


@dataclass(frozen=True)
class ReportSheet:
    """A sheet from a polars frame; ``columns`` pick and order the frame's columns."""

    name: str
    columns: tuple[ColumnSpec, ...]
    frame: pl.DataFrame
    name_en: str = ""
    chart: BarChartSpec | None = None

    def title(self, lang: Lang) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name


@dataclass(frozen=True)
class StreamSheet:
    """A sheet from an iterable of rows (values in ``columns`` order), read once."""

    name: str
    columns: tuple[ColumnSpec, ...]
    rows: Iterable[Sequence[object]]
    name_en: str = ""
    chart: BarChartSpec | None = None

    def title(self, lang: Lang) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name


@dataclass(frozen=True)
class FormulaNote:
    """How a figure is computed, stated on the Info sheet."""

    label_it: str
    label_en: str
    formula_it: str
    formula_en: str


@dataclass(frozen=True)
class Report:
    name: str
    title_it: str
    title_en: str
    sheets: tuple[ReportSheet | StreamSheet, ...]
    parameters: Mapping[str, str] = field(default_factory=dict)
    as_of: date | None = None
    generated_at: datetime | None = None  # default: when written
    formulas: tuple[FormulaNote, ...] = ()
    description_it: str = ""
    description_en: str = ""

    def title(self, lang: Lang) -> str:
        return self.title_it if lang == "it" else self.title_en


# ---------------------------------------------------------------- cell values


def _money_cell(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a boolean is not an amount")
    if isinstance(value, int):
        if not -_MAX_EXACT_CENTS < value < _MAX_EXACT_CENTS:
            raise ValueError(f"{value} cents cannot be stored exactly in a spreadsheet cell")
        return minor_to_decimal(value, "EUR")
    if isinstance(value, Decimal):
        if not value.is_finite() or abs(value) * 100 >= _MAX_EXACT_CENTS:
            raise ValueError(f"{value} cannot be stored exactly in a spreadsheet cell")
        return value
    raise TypeError(f"money must be int cents or Decimal, not {type(value).__name__}")


def _number_cell(value: object) -> object:
    if value is None or isinstance(value, int | Decimal):
        return value
    raise TypeError(f"expected an int or Decimal, not {type(value).__name__}")


def _date_cell(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date, not {type(value).__name__}")


def _datetime_cell(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, datetime):
        # Spreadsheets have no time zones: state UTC in the header description.
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise TypeError(f"expected a datetime, not {type(value).__name__}")


def _text_cell(value: object) -> object:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    # Control characters are not allowed in XLSX; drop them rather than fail the export.
    return ILLEGAL_CHARACTERS_RE.sub("", text)


_CONVERTERS: Mapping[str, Callable[[object], object]] = {
    "money": _money_cell,
    "date": _date_cell,
    "datetime": _datetime_cell,
    "percent": _number_cell,
    "int": _number_cell,
    "decimal": _number_cell,
    "text": _text_cell,
}


def _number_format(kind: ColumnKind, lang: Lang) -> str | None:
    if kind == "money":
        return EURO_FORMAT
    if kind == "date":
        return DATE_FORMATS[lang]
    if kind == "datetime":
        return DATETIME_FORMATS[lang]
    if kind == "percent":
        return PERCENT_FORMAT
    if kind == "int":
        return INT_FORMAT
    if kind == "decimal":
        return DECIMAL_FORMAT
    return None


def _display_width(kind: ColumnKind, value: object) -> int:
    if value is None:
        return 0
    if kind == "money" and isinstance(value, Decimal):
        return len(f"{value:,.2f}") + 2
    if kind == "date":
        return 10
    if kind == "datetime":
        return 19
    if kind == "percent" and isinstance(value, Decimal):
        return len(f"{value * 100:.2f}") + 1
    return len(str(value))


def _fit_widths(
    columns: Sequence[ColumnSpec], sample: Sequence[Sequence[object]], lang: Lang
) -> list[float]:
    widths: list[float] = []
    for index, spec in enumerate(columns):
        longest = max((_display_width(spec.kind, row[index]) for row in sample), default=0)
        header = len(spec.label(lang)) * 1.15  # bold
        widths.append(min(_MAX_WIDTH, max(_MIN_WIDTH, longest + 2, header + 2)))
    return widths


def _frame_rows(
    frame: pl.DataFrame, columns: Sequence[ColumnSpec]
) -> Iterator[tuple[object, ...]]:
    missing = [spec.key for spec in columns if spec.key not in frame.columns]
    if missing:
        raise KeyError(f"frame lacks columns {missing}")
    # Chunked, so a large frame is never turned into Python objects all at once.
    selected = frame.select([spec.key for spec in columns])
    for offset in range(0, selected.height, 50_000):
        yield from selected.slice(offset, 50_000).iter_rows()


def _converted_rows(
    rows: Iterable[Sequence[object]], columns: Sequence[ColumnSpec]
) -> Iterator[list[object]]:
    converters = [_CONVERTERS[spec.kind] for spec in columns]
    width = len(converters)
    for row in rows:
        if len(row) != width:
            raise ValueError(f"row has {len(row)} values, the sheet {width} columns")
        yield [convert(value) for convert, value in zip(converters, row, strict=True)]


# ---------------------------------------------------------------- xlsx


class _CellFactory:
    """Styled cells for one worksheet.

    In write-only mode one template cell per column is reused: openpyxl writes a row as
    soon as it is appended, so the template is free again for the next row. In normal
    mode every cell is a new object kept by the worksheet.
    """

    def __init__(self, ws: Any, write_only: bool) -> None:
        self._ws = ws
        self._write_only = write_only

    def cell(self, value: object, *, number_format: str | None = None,
             font: Font | None = None, fill: PatternFill | None = None,
             alignment: Alignment | None = None, formula: bool = False) -> Any:
        cell = Cell(self._ws, row=1, column=1)
        cell.value = value
        if cell.data_type == "f" and not formula:
            cell.data_type = "s"  # a text starting with "=" stays text
        if number_format is not None:
            cell.number_format = number_format
        if font is not None:
            cell.font = font
        if fill is not None:
            cell.fill = fill
        if alignment is not None:
            cell.alignment = alignment
        return cell

    def column_cells(self, formats: Sequence[str | None]) -> list[Callable[[object], object]]:
        makers: list[Callable[[object], object]] = []
        for fmt in formats:
            if fmt is None:
                makers.append(_TextMaker(self._ws))
            elif self._write_only:
                makers.append(_TemplateCell(self._ws, fmt))
            else:
                makers.append(_FreshCell(self._ws, fmt))
        return makers


class _TextMaker:
    """Text goes in as is, except a leading "=", which openpyxl would make a formula."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws

    def __call__(self, value: object) -> object:
        if isinstance(value, str) and value.startswith("="):
            cell = Cell(self._ws, row=1, column=1)
            cell.value = value
            cell.data_type = "s"
            return cell
        return value


class _TemplateCell:
    def __init__(self, ws: Any, number_format: str) -> None:
        self._cell = Cell(ws, row=1, column=1)
        self._cell.number_format = number_format

    def __call__(self, value: object) -> object:
        if value is None:
            return None
        self._cell.value = value
        return self._cell


class _FreshCell:
    def __init__(self, ws: Any, number_format: str) -> None:
        self._ws = ws
        self._format = number_format

    def __call__(self, value: object) -> object:
        if value is None:
            return None
        cell = Cell(self._ws, row=1, column=1, value=value)
        cell.number_format = self._format
        return cell


def _write_data_sheet(
    ws: Any, sheet: ReportSheet | StreamSheet, lang: Lang, write_only: bool
) -> None:
    columns = sheet.columns
    if not columns:
        raise ValueError(f"sheet {sheet.name!r} has no columns")
    raw: Iterable[Sequence[object]] = (
        _frame_rows(sheet.frame, columns) if isinstance(sheet, ReportSheet) else sheet.rows
    )
    rows = _converted_rows(raw, columns)
    # Widths must be set before the first row in write-only mode: fit them on a sample.
    sample = list(islice(rows, _WIDTH_SAMPLE_ROWS))
    for index, width in enumerate(_fit_widths(columns, sample, lang), start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"

    factory = _CellFactory(ws, write_only)
    ws.append([
        factory.cell(spec.label(lang), font=HEADER_FONT, fill=HEADER_FILL,
                     alignment=HEADER_ALIGNMENT)
        for spec in columns
    ])
    formats = [_number_format(spec.kind, lang) for spec in columns]
    makers = factory.column_cells(formats)
    count = 0
    for row in chain(sample, rows):
        ws.append([make(value) for make, value in zip(makers, row, strict=True)])
        count += 1

    last_col = get_column_letter(len(columns))
    ws.auto_filter.ref = f"A1:{last_col}{count + 1}"
    if any(spec.total == "sum" for spec in columns):
        ws.append(_totals_row(factory, columns, formats, count, lang))
    if sheet.chart is not None and count > 0:
        _add_bar_chart(ws, sheet.chart, columns, count, lang)


def _totals_row(
    factory: _CellFactory, columns: Sequence[ColumnSpec], formats: Sequence[str | None],
    count: int, lang: Lang,
) -> list[object]:
    label_at = next((i for i, spec in enumerate(columns) if spec.total is None), None)
    cells: list[object] = []
    for index, spec in enumerate(columns):
        letter = get_column_letter(index + 1)
        if spec.total == "sum":
            # SUBTOTAL(9, ...) = SUM of the rows the autofilter leaves visible.
            value: object = f"=SUBTOTAL(9,{letter}2:{letter}{count + 1})" if count else 0
            cells.append(factory.cell(value, number_format=formats[index], font=TOTAL_FONT,
                                      formula=True))
        elif index == label_at:
            cells.append(factory.cell(_WORDS[lang]["total"], font=TOTAL_FONT))
        else:
            cells.append(None)
    return cells


def _add_bar_chart(
    ws: Any, spec: BarChartSpec, columns: Sequence[ColumnSpec], count: int, lang: Lang
) -> None:
    keys = [column.key for column in columns]
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "clustered"
    chart.title = spec.title_it if lang == "it" else spec.title_en
    chart.y_axis.title = spec.y_title_it if lang == "it" else spec.y_title_en
    chart.height = 8
    chart.width = 16
    for key in spec.value_keys:
        col = keys.index(key) + 1
        data = Reference(ws, min_col=col, min_row=1, max_row=count + 1)
        chart.add_data(data, titles_from_data=True)
    cat_col = keys.index(spec.category_key) + 1
    chart.set_categories(Reference(ws, min_col=cat_col, min_row=2, max_row=count + 1))
    anchor = spec.anchor or f"{get_column_letter(len(columns) + 2)}2"
    ws.add_chart(chart, anchor)


def add_bar_chart(ws: Any, spec: BarChartSpec, columns: Sequence[ColumnSpec],
                  data_rows: int, lang: Lang = "it") -> None:
    """Add a bar chart to a worksheet laid out as header + ``data_rows`` rows."""
    _add_bar_chart(ws, spec, columns, data_rows, lang)


def _info_rows(report: Report, factory: _CellFactory, lang: Lang,
               generated_at: datetime) -> Iterator[list[object]]:
    words = _WORDS[lang]

    def label(text: str) -> object:
        return factory.cell(text, font=LABEL_FONT)

    def header(*texts: str) -> list[object]:
        return [factory.cell(t, font=HEADER_FONT, fill=HEADER_FILL) for t in texts]

    yield [label(words["report"]), factory.cell(report.title(lang))]
    yield [label(words["code"]), factory.cell(report.name)]
    description = report.description_it if lang == "it" else report.description_en
    if description:
        yield [label(words["description"]), factory.cell(description)]
    if report.as_of is not None:
        yield [label(words["as_of"]),
               factory.cell(report.as_of, number_format=DATE_FORMATS[lang])]
    yield [label(words["generated_at"]),
           factory.cell(_datetime_cell(generated_at), number_format=DATETIME_FORMATS[lang])]
    yield []
    yield header(words["parameters"], "")
    for key, value in report.parameters.items():
        yield [factory.cell(key), factory.cell(value)]
    yield []
    yield header(words["sheet"], words["column"], words["kind"], words["description"])
    for sheet in report.sheets:
        for spec in sheet.columns:
            yield [factory.cell(sheet.title(lang)), factory.cell(spec.label(lang)),
                   factory.cell(words[spec.kind]), factory.cell(spec.description(lang))]
    if report.formulas:
        yield []
        yield header(words["figure"], words["formula"])
        for note in report.formulas:
            if lang == "it":
                yield [factory.cell(note.label_it), factory.cell(note.formula_it)]
            else:
                yield [factory.cell(note.label_en), factory.cell(note.formula_en)]
    yield []
    yield [factory.cell(words["totals_note"])]


def _write_info_sheet(ws: Any, report: Report, lang: Lang, write_only: bool,
                      generated_at: datetime) -> None:
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 40
    ws.column_dimensions["C"].width = 18
    ws.column_dimensions["D"].width = 80
    factory = _CellFactory(ws, write_only)
    for row in _info_rows(report, factory, lang, generated_at):
        ws.append(row)


INFO_SHEET = "Info"


def _check_names(report: Report, lang: Lang) -> None:
    names = [sheet.title(lang) for sheet in report.sheets] + [INFO_SHEET]
    if len(set(names)) != len(names):
        raise ValueError(f"sheet names repeat: {names}")
    for name in names:
        if len(name) > 31 or any(c in name for c in "[]:*?/\\"):
            raise ValueError(f"{name!r} is not a valid sheet name")


def _generated_at(report: Report) -> datetime:
    return report.generated_at or datetime.now(UTC)


def write_xlsx(report: Report, out: Output, lang: Lang = "it") -> None:
    """Write ``report`` as an XLSX workbook (in memory; see ``write_xlsx_streaming``)."""
    _check_names(report, lang)
    wb = Workbook()
    wb.remove(wb.active)
    for sheet in report.sheets:
        _write_data_sheet(wb.create_sheet(sheet.title(lang)), sheet, lang, write_only=False)
    info = wb.create_sheet(INFO_SHEET)
    _write_info_sheet(info, report, lang, write_only=False, generated_at=_generated_at(report))
    wb.save(out)


def write_xlsx_streaming(report: Report, out: Output, lang: Lang = "it") -> None:
    """Write ``report`` with openpyxl's write-only mode: rows go to disk as they come.

    Memory stays flat in the number of rows (a ``StreamSheet`` is read once, a frame in
    chunks); the workbook is never held whole.
    """
    _check_names(report, lang)
    wb = Workbook(write_only=True)
    for sheet in report.sheets:
        _write_data_sheet(wb.create_sheet(sheet.title(lang)), sheet, lang, write_only=True)
    info = wb.create_sheet(INFO_SHEET)
    _write_info_sheet(info, report, lang, write_only=True, generated_at=_generated_at(report))
    wb.save(out)


# ---------------------------------------------------------------- csv, parquet


def export_frame(
    frame: pl.DataFrame, columns: Sequence[ColumnSpec] | None = None,
    lang: Lang | None = None,
) -> pl.DataFrame:
    """The frame as exported: money in euros as ``Decimal(38, 2)``, datetimes in UTC.

    With ``columns`` the frame is narrowed and ordered to them; with ``lang`` the
    headers become the labels in that language (else the keys stay).
    """
    if columns is None:
        return frame
    exprs: list[pl.Expr] = []
    for spec in columns:
        col = pl.col(spec.key)
        dtype = frame.schema[spec.key]
        if spec.kind == "money" and dtype.is_integer():
            # cents -> euros exactly: an integral decimal divided by 100 fits scale 2.
            col = (col.cast(pl.Decimal(38, 2)) / 100).cast(pl.Decimal(38, 2))
        elif spec.kind == "money" and isinstance(dtype, pl.Decimal):
            col = col.cast(pl.Decimal(38, 2))
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone not in (None, "UTC"):
            col = col.dt.convert_time_zone("UTC")
        name = spec.label(lang) if lang is not None else spec.key
        exprs.append(col.alias(name))
    return frame.select(exprs)


def csv_options(italian: bool) -> dict[str, Any]:
    """polars ``write_csv`` options: Italian convention (``;``, decimal comma,
    DD/MM/YYYY) or plain (``,``, ISO dates, RFC 3339 timestamps in UTC)."""
    options: dict[str, Any] = {
        "date_format": "%d/%m/%Y" if italian else "%Y-%m-%d",
        # Datetimes are exported in UTC (export_frame), hence the literal Z.
        "datetime_format": "%d/%m/%Y %H:%M:%S" if italian else "%Y-%m-%dT%H:%M:%S%.6fZ",
    }
    if italian:
        options.update(separator=";", decimal_comma=True)
    return options


def write_csv(
    frame: pl.DataFrame, out: Output, italian: bool = False, *,
    columns: Sequence[ColumnSpec] | None = None, include_bom: bool = False,
) -> None:
    """CSV: Italian convention (``;``, decimal comma, DD/MM/YYYY) or plain (``,``, ISO).

    With ``columns``, money cents become euros and headers the labels of the language.
    """
    lang: Lang = "it" if italian else "en"
    data = export_frame(frame, columns, lang if columns is not None else None)
    options = {"include_bom": include_bom, **csv_options(italian)}
    if isinstance(out, str | os.PathLike):
        data.write_csv(os.fspath(out), **options)
    else:
        buffer = io.BytesIO()
        data.write_csv(buffer, **options)
        out.write(buffer.getvalue())


def write_parquet(
    frame: pl.DataFrame, out: Output, *, columns: Sequence[ColumnSpec] | None = None
) -> None:
    """Parquet with the keys as column names and money as ``Decimal(38, 2)`` euros."""
    target = os.fspath(out) if isinstance(out, str | os.PathLike) else out
    export_frame(frame, columns).write_parquet(target)
