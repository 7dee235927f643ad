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
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from itertools import chain, islice
from typing import IO, Any, Literal
from zoneinfo import ZoneInfo

import polars as pl
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from ledger.money import minor_to_decimal
from reports.italian import CATALOGUE, CodeDomain, text
from reports.printing import CHART_HEIGHT_CM, PageLayout, plan_page, set_page_setup
from reports.xlsx_rows import RowSplicer

__all__ = [
    "DATETIME_FORMATS",
    "DATE_FORMATS",
    "DECIMAL_FORMATS",
    "EURO_FORMAT",
    "EURO_FORMATS",
    "LOCALE_CODES",
    "PERCENT_FORMAT",
    "PERCENT_FORMATS",
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
    "is_id_column",
    "names_its_rows",
    "people_first",
    "write_csv",
    "write_parquet",
    "write_xlsx",
    "write_xlsx_streaming",
]

ColumnKind = Literal["money", "date", "datetime", "percent", "int", "text", "decimal"]
Lang = Literal["it", "en"]
Output = IO[bytes] | str | os.PathLike[str]

# Literal text in a number format is quoted (ECMA-376 18.8.31). Each number format starts
# with the workbook's language as a locale code, [$-410] (Italian) or [$-409] (English
# US): LibreOffice then shows the separators of that language whatever the machine's
# locale ("1.234,56 €", "12,34%" in an Italian workbook, printed or on screen); Excel
# reads the code as the language of day and month names and takes the separators from
# the system settings, as it does for every workbook (an Italian Excel shows 1.234,56 €).
LOCALE_CODES: Mapping[str, str] = {"it": "[$-410]", "en": "[$-409]"}
EURO_FORMATS: Mapping[str, str] = {
    lang: f'{code}#,##0.00 "€"' for lang, code in LOCALE_CODES.items()}
PERCENT_FORMATS: Mapping[str, str] = {
    lang: f"{code}0.00%" for lang, code in LOCALE_CODES.items()}
DECIMAL_FORMATS: Mapping[str, str] = {
    lang: f"{code}#,##0.00##" for lang, code in LOCALE_CODES.items()}
# The Italian ones, as the workbooks are written by default (lang=it).
EURO_FORMAT = EURO_FORMATS["it"]
PERCENT_FORMAT = PERCENT_FORMATS["it"]
DECIMAL_FORMAT = DECIMAL_FORMATS["it"]
INT_FORMAT = "0"
DATE_FORMATS: Mapping[str, str] = {"it": "DD/MM/YYYY", "en": "YYYY-MM-DD"}
DATETIME_FORMATS: Mapping[str, str] = {"it": "DD/MM/YYYY HH:MM:SS", "en": "YYYY-MM-DD HH:MM:SS"}

# A double holds 15 significant digits exactly: cents below 10^15.
_MAX_EXACT_CENTS = 10**15

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill(fill_type="solid", start_color="FF2E5E4E", end_color="FF2E5E4E")
HEADER_ALIGNMENT = Alignment(vertical="center", wrap_text=True)
TOTAL_FONT = Font(bold=True)
HEADER_TWO_LINES_PT = 32
LABEL_FONT = Font(bold=True)

_WIDTH_SAMPLE_ROWS = 1000
_MIN_WIDTH = 8
_MAX_WIDTH = 60
_BOLD = 1.15
# Digits, separators and "€" in a font wider than Calibri (DejaVu Sans, what
# LibreOffice prints with where Calibri and Carlito are missing) take up to this much
# more room than the Calibri digit widths the column width counts.
_NUMBER_FACTOR = 1.3

_WORDS: Mapping[str, Mapping[str, str]] = {
    "it": {
        "total": "Totale",
        "report": "Rapporto",
        "code": "Codice",
        "description": "Descrizione",
        "as_of": "Data di riferimento",
        "generated_at": "Generato il (ora italiana, Europe/Rome)",
        "lenders": "Finanziatore",
        "period": "Periodo: dal {} al {}",
        "as_of_footer": "Situazione al {}",
        "page": "Pagina &P di &N",
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
        "datetime": "data e ora (ora italiana, Europe/Rome)",
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
        "lenders": "Lender",
        "period": "Period: {} to {}",
        "as_of_footer": "As of {}",
        "page": "Page &P of &N",
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
    # Values are codes of this catalogue domain: written in Italian with lang="it".
    codes: CodeDomain | None = None
    # Ids and codes for machines: hidden columns in an outline group (there to read once
    # shown again) and not printed, so a page keeps what people read at a legible size.
    technical: bool = False

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
    # Printed in every page header: the lender's name, or every lender's in a report
    # over several.
    lender_names: tuple[str, ...] = ()
    # A period report prints its from-to in the footer instead of the as-of date.
    period_from: date | None = None
    period_to: date | None = None

    def title(self, lang: Lang) -> str:
        return self.title_it if lang == "it" else self.title_en


# ---------------------------------------------------------------- people first

# Columns that say which row it is, for a person: references, then names.
REFERENCE_KEYS = ("reference", "loan_reference")


def is_id_column(spec: ColumnSpec) -> bool:
    """A column of ids (UUIDs): ``id``, ``key`` or ``*_id``."""
    return spec.kind == "text" and (spec.key in ("id", "key") or spec.key.endswith("_id"))


def names_its_rows(columns: Sequence[ColumnSpec]) -> bool:
    """Whether a person can tell the rows apart without their ids: a reference or a
    name column."""
    return any(c.key in REFERENCE_KEYS or c.key == "name" or c.key.endswith("_name")
               for c in columns if c.kind == "text")


def people_first(report: Report) -> Report:
    """The report as a person reads it (workbook, PDF): in each sheet of items known by
    their ids whose rows also carry a reference or a name, the references first and the
    ids last, the other columns in their order. A sheet without ids (a list of
    movements, dated first) stays as it is; CSV and Parquet, read by programs, keep the
    columns where they were."""
    sheets: list[ReportSheet | StreamSheet] = []
    for sheet in report.sheets:
        columns = sheet.columns
        if not isinstance(sheet, ReportSheet) or not names_its_rows(columns) \
                or not any(is_id_column(c) for c in columns):
            sheets.append(sheet)
            continue
        first = [c for key in REFERENCE_KEYS for c in columns if c.key == key]
        last = [c for c in columns if is_id_column(c)]
        middle = [c for c in columns if c not in first and c not in last]
        sheets.append(replace(sheet, columns=(*first, *middle, *last)))
    return replace(report, sheets=tuple(sheets))


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


ROME = ZoneInfo("Europe/Rome")


def _datetime_cell(value: object, zone: tzinfo | None = None) -> object:
    """A naive datetime in ``zone`` (default UTC): spreadsheets have no time zones, so
    the Info sheet states which one the cells are in."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(zone or UTC).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise TypeError(f"expected a datetime, not {type(value).__name__}")


def _rome_datetime_cell(value: object) -> object:
    return _datetime_cell(value, ROME)


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
        return EURO_FORMATS[lang]
    if kind == "date":
        return DATE_FORMATS[lang]
    if kind == "datetime":
        return DATETIME_FORMATS[lang]
    if kind == "percent":
        return PERCENT_FORMATS[lang]
    if kind == "int":
        return INT_FORMAT
    if kind == "decimal":
        return DECIMAL_FORMATS[lang]
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
    columns: Sequence[ColumnSpec], sample: Sequence[Sequence[object]], lang: Lang,
    totals: Sequence[object] | None = None,
) -> list[float]:
    """Column widths (in digit widths) that hold every sampled cell, the header and the
    totals row. Numbers and dates that do not fit print as ``###``, so they get a
    margin for fonts wider than Calibri (a printer without it substitutes one);
    text is capped at ``_MAX_WIDTH`` and may be cut, never turned into ``###``."""
    widths: list[float] = []
    for index, spec in enumerate(columns):
        longest: float = max((_display_width(spec.kind, row[index]) for row in sample),
                             default=0)
        if totals is not None:
            longest = max(longest, _display_width(spec.kind, totals[index]) * _BOLD)
        factor = 1.0 if spec.kind == "text" else _NUMBER_FACTOR
        header = _header_width(spec.label(lang))
        widths.append(min(_MAX_WIDTH, max(_MIN_WIDTH, longest * factor + 2, header + 2)))
    return widths


def _header_width(label: str) -> float:
    """Room for a header label on at most two lines (the header row wraps): a long
    label must not widen its column, and so shrink the printed page, on its own."""
    words = label.split()
    best = float(len(label))
    for cut in range(1, len(words)):
        first, second = " ".join(words[:cut]), " ".join(words[cut:])
        best = min(best, float(max(len(first), len(second))))
    return best * _BOLD + 1


def _totals_values(sheet: ReportSheet | StreamSheet, sample: Sequence[Sequence[object]],
                   complete: bool, lang: Lang) -> list[object] | None:
    """What the totals row will show, for its width: exact sums of a frame or of a
    stream that ended within the sample; else the largest total a cell holds exactly."""
    columns = sheet.columns
    if not any(spec.total == "sum" for spec in columns):
        return None
    label_at = next((i for i, spec in enumerate(columns) if spec.total is None), None)
    values: list[object] = []
    for index, spec in enumerate(columns):
        if spec.total != "sum":
            values.append(_WORDS[lang]["total"] if index == label_at else None)
        elif isinstance(sheet, ReportSheet):
            values.append(_frame_sum(sheet.frame, spec))
        elif complete:
            values.append(sum((v for row in sample if isinstance(v := row[index],
                                                                  int | Decimal)), Decimal(0)))
        else:
            values.append(Decimal(_MAX_EXACT_CENTS - 1).scaleb(-2))
    return values


def _frame_sum(frame: pl.DataFrame, spec: ColumnSpec) -> object:
    total = frame[spec.key].sum() if frame.height else 0
    if spec.kind == "money":
        return _money_cell(total if isinstance(total, int | Decimal) else 0)
    return total


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


def _code_converter(domain: CodeDomain) -> Callable[[object], object]:
    def convert(value: object) -> object:
        return None if value is None else text(domain, str(value), "it")
    return convert


def _converters(columns: Sequence[ColumnSpec], lang: Lang) -> list[Callable[[object], object]]:
    """Per column: the cell converter, Italian texts for codes and Rome time with "it"."""
    out: list[Callable[[object], object]] = []
    for spec in columns:
        if lang == "it" and spec.codes is not None:
            out.append(_code_converter(spec.codes))
        elif lang == "it" and spec.kind == "datetime":
            out.append(_rome_datetime_cell)
        else:
            out.append(_CONVERTERS[spec.kind])
    return out


def _converted_rows(
    rows: Iterable[Sequence[object]], columns: Sequence[ColumnSpec], lang: Lang = "en"
) -> Iterator[list[object]]:
    converters = _converters(columns, lang)
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


def _people_first(sheet: ReportSheet | StreamSheet) -> ReportSheet | StreamSheet:
    """The sheet with its technical columns (ids, codes) moved after the ones people
    read, in their order: a workbook starts with references and names. CSV and Parquet
    keep the stream's own order, which their readers rely on."""
    order = ([i for i, spec in enumerate(sheet.columns) if not spec.technical]
             + [i for i, spec in enumerate(sheet.columns) if spec.technical])
    if order == list(range(len(order))):
        return sheet
    columns = tuple(sheet.columns[i] for i in order)
    if isinstance(sheet, ReportSheet):
        return replace(sheet, columns=columns)  # the frame is read by key
    rows = (tuple(row[i] for i in order) for row in sheet.rows)
    return replace(sheet, columns=columns, rows=rows)


def _write_data_sheet(
    ws: Any, sheet: ReportSheet | StreamSheet, lang: Lang, write_only: bool,
    report: Report | None = None, splicer: RowSplicer | None = None,
) -> None:
    sheet = _people_first(sheet)
    columns = sheet.columns
    if not columns:
        raise ValueError(f"sheet {sheet.name!r} has no columns")
    raw: Iterator[Sequence[object]] = iter(
        _frame_rows(sheet.frame, columns) if isinstance(sheet, ReportSheet) else sheet.rows
    )
    # Widths must be set before the first row in write-only mode: fit them on a sample.
    # The splicer converts the rows as it writes them (keeping the cells of values that
    # repeat): it takes them as they come; openpyxl's cells take converted values.
    raw_sample = list(islice(raw, _WIDTH_SAMPLE_ROWS)) if splicer is not None else []
    rows = _converted_rows(raw_sample if splicer is not None else raw, columns, lang)
    sample = list(islice(rows, _WIDTH_SAMPLE_ROWS))
    totals = _totals_values(sheet, sample, len(sample) < _WIDTH_SAMPLE_ROWS, lang)
    widths = _fit_widths(columns, sample, lang, totals)
    for index, (spec, width) in enumerate(zip(columns, widths, strict=True), start=1):
        dimension = ws.column_dimensions[get_column_letter(index)]
        dimension.width = width
        if spec.technical:
            dimension.hidden = True
            dimension.outlineLevel = 1
    if any(spec.technical for spec in columns):
        # openpyxl's writer copies this into sheetFormatPr's outlineLevelCol before it
        # writes the columns (setting ws.sheet_format itself is overwritten): without it
        # spreadsheet programs draw no button to unfold the hidden columns.
        ws.column_dimensions.max_outline = 1
    ws.freeze_panes = "A2"
    if any(_header_width(spec.label(lang)) < len(spec.label(lang)) * _BOLD
           for spec in columns):
        # Some label wraps: room for two lines (set before the row, for write-only mode).
        ws.row_dimensions[1].height = HEADER_TWO_LINES_PT
    # Written at the top of the sheet: before the first row in write-only mode.
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)

    factory = _CellFactory(ws, write_only)
    ws.append([
        factory.cell(spec.label(lang), font=HEADER_FONT, fill=HEADER_FILL,
                     alignment=HEADER_ALIGNMENT)
        for spec in columns
    ])
    formats = [_number_format(spec.kind, lang) for spec in columns]
    if splicer is not None:
        # The data rows as XML text, put in place when the workbook is saved: the same
        # cells at a fraction of openpyxl's per-cell cost (reports/xlsx_rows.py).
        count = splicer.write(ws, formats, chain(raw_sample, raw),
                              _converters(columns, lang))
    else:
        makers = factory.column_cells(formats)
        count = 0
        for row in chain(sample, rows):
            ws.append([make(value) for make, value in zip(makers, row, strict=True)])
            count += 1

    last_col = get_column_letter(len(columns))
    ws.auto_filter.ref = f"A1:{last_col}{count + 1}"
    table_rows = count + 1
    if totals is not None:
        ws.append(_totals_row(factory, columns, formats, count, lang))
        table_rows += 1
    chart = sheet.chart if count > 0 else None
    # The technical columns come last (``_people_first``): the print area ends before them.
    printed = [w for spec, w in zip(columns, widths, strict=True) if not spec.technical]
    layout = plan_page(printed, table_rows, chart=chart is not None)
    if chart is not None:
        _add_bar_chart(ws, chart, columns, count, lang,
                       anchor=chart.anchor or f"A{layout.chart_row}",
                       width_cm=layout.chart_width_cm)
    if report is not None:
        _print_setup(ws, report, sheet.title(lang), layout, lang)


def _print_setup(ws: Any, report: Report, sheet_title: str, layout: PageLayout,
                 lang: Lang, title_rows: str | None = "1:1") -> None:
    words = _WORDS[lang]
    if report.period_from is not None and report.period_to is not None:
        when = words["period"].format(_day(report.period_from, lang),
                                      _day(report.period_to, lang))
    elif report.as_of is not None:
        when = words["as_of_footer"].format(_day(report.as_of, lang))
    else:
        when = ""
    set_page_setup(ws, layout, last_column=get_column_letter(layout.print_columns),
                   header_left=f"{report.title(lang)} — {sheet_title}",
                   header_right=", ".join(report.lender_names),
                   footer_left=when, footer_right=words["page"], title_rows=title_rows)


def _day(day: date, lang: Lang) -> str:
    return day.strftime("%d/%m/%Y") if lang == "it" else day.isoformat()


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
    ws: Any, spec: BarChartSpec, columns: Sequence[ColumnSpec], count: int, lang: Lang,
    anchor: str | None = None, width_cm: float = 16.0,
) -> None:
    keys = [column.key for column in columns]
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "clustered"
    chart.title = spec.title_it if lang == "it" else spec.title_en
    chart.y_axis.title = spec.y_title_it if lang == "it" else spec.y_title_en
    chart.height = CHART_HEIGHT_CM
    chart.width = width_cm
    for key in spec.value_keys:
        col = keys.index(key) + 1
        data = Reference(ws, min_col=col, min_row=1, max_row=count + 1)
        chart.add_data(data, titles_from_data=True)
    cat_col = keys.index(spec.category_key) + 1
    chart.set_categories(Reference(ws, min_col=cat_col, min_row=2, max_row=count + 1))
    anchor = anchor or spec.anchor or f"{get_column_letter(len(columns) + 2)}2"
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
    if report.lender_names:
        yield [label(words["lenders"]), factory.cell(", ".join(report.lender_names))]
    description = report.description_it if lang == "it" else report.description_en
    if description:
        yield [label(words["description"]), factory.cell(description)]
    if report.as_of is not None:
        yield [label(words["as_of"]),
               factory.cell(report.as_of, number_format=DATE_FORMATS[lang])]
    # Italian: the time in Rome, as a reader there expects it (the label says so).
    zone = ROME if lang == "it" else UTC
    yield [label(words["generated_at"]), factory.cell(
        _datetime_cell(generated_at, zone), number_format=DATETIME_FORMATS[lang])]
    yield []
    yield header(words["parameters"], "")
    for key, value in report.parameters.items():
        yield [factory.cell(key), factory.cell(value)]
    yield []
    yield header(words["sheet"], words["column"], words["kind"], words["description"])
    for sheet in report.sheets:
        for spec in sheet.columns:
            yield [factory.cell(sheet.title(lang)), factory.cell(spec.label(lang)),
                   factory.cell(words[spec.kind]),
                   factory.cell(spec.description(lang), alignment=_WRAP)]
    if report.formulas:
        yield []
        yield header(words["figure"], words["formula"])
        for note in report.formulas:
            # The formula spans columns B to D: merged cells cannot be streamed, so the
            # text wraps inside B and the row grows.
            if lang == "it":
                yield [factory.cell(note.label_it, alignment=_WRAP),
                       factory.cell(note.formula_it, alignment=_WRAP)]
            else:
                yield [factory.cell(note.label_en, alignment=_WRAP),
                       factory.cell(note.formula_en, alignment=_WRAP)]
    yield []
    yield [factory.cell(words["totals_note"])]


_WRAP = Alignment(wrap_text=True, vertical="top")
_INFO_WIDTHS = (44.0, 40.0, 22.0, 70.0)


def _write_info_sheet(ws: Any, report: Report, lang: Lang, write_only: bool,
                      generated_at: datetime) -> None:
    for index, width in enumerate(_INFO_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    factory = _CellFactory(ws, write_only)
    count = 0
    for row in _info_rows(report, factory, lang, generated_at):
        ws.append(row)
        count += 1
    _print_setup(ws, report, INFO_SHEET, plan_page(_INFO_WIDTHS, count), lang,
                 title_rows=None)


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
        _write_data_sheet(wb.create_sheet(sheet.title(lang)), sheet, lang, write_only=False,
                          report=report)
    info = wb.create_sheet(INFO_SHEET)
    _write_info_sheet(info, report, lang, write_only=False, generated_at=_generated_at(report))
    wb.save(out)


def write_xlsx_streaming(report: Report, out: Output, lang: Lang = "it", *,
                         spliced_rows: bool = True) -> None:
    """Write ``report`` with openpyxl's write-only mode: rows go to disk as they come.

    Memory stays flat in the number of rows (a ``StreamSheet`` is read once, a frame in
    chunks); the workbook is never held whole. The data rows are written as XML text and
    spliced in on save (``reports.xlsx_rows``); ``spliced_rows=False`` has openpyxl
    write every cell (the same workbook, several times slower: what the splice is
    checked against).
    """
    _check_names(report, lang)
    wb = Workbook(write_only=True)
    splicer = RowSplicer() if spliced_rows else None
    for sheet in report.sheets:
        _write_data_sheet(wb.create_sheet(sheet.title(lang)), sheet, lang, write_only=True,
                          report=report, splicer=splicer)
    info = wb.create_sheet(INFO_SHEET)
    _write_info_sheet(info, report, lang, write_only=True, generated_at=_generated_at(report))
    if splicer is not None:
        splicer.save(wb, out)
    else:
        wb.save(out)


# ---------------------------------------------------------------- csv, parquet


def export_frame(
    frame: pl.DataFrame, columns: Sequence[ColumnSpec] | None = None,
    lang: Lang | None = None, *, italian_values: bool = False,
) -> pl.DataFrame:
    """The frame as exported: money in euros as ``Decimal(38, 2)``, datetimes in UTC.

    With ``columns`` the frame is narrowed and ordered to them; with ``lang`` the
    headers become the labels in that language (else the keys stay), a datetime's
    saying its zone. ``italian_values`` (CSV and Parquet asked for with ``lang=it``
    explicitly) writes codes in Italian and datetimes in Rome time, as the workbooks do.
    """
    if columns is None:
        return frame
    exprs: list[pl.Expr] = []
    for spec in columns:
        col = pl.col(spec.key)
        dtype = frame.schema[spec.key]
        name = spec.label(lang) if lang is not None else spec.key
        if spec.kind == "money" and dtype.is_integer():
            # cents -> euros exactly: an integral decimal divided by 100 fits scale 2.
            col = (col.cast(pl.Decimal(38, 2)) / 100).cast(pl.Decimal(38, 2))
        elif spec.kind == "money" and isinstance(dtype, pl.Decimal):
            col = col.cast(pl.Decimal(38, 2))
        elif isinstance(dtype, pl.Datetime):
            zone = "Europe/Rome" if italian_values else "UTC"
            if dtype.time_zone is not None and dtype.time_zone != zone:
                col = col.dt.convert_time_zone(zone)
            if italian_values:
                # Wall-clock time in Rome: the zone is said in the header, not the value.
                col = col.dt.replace_time_zone(None)
            if lang is not None and "UTC" not in name:
                name += " (ora italiana)" if italian_values else " (UTC)"
        elif italian_values and spec.codes is not None:
            col = col.replace(dict(CATALOGUE[spec.codes]))
        exprs.append(col.alias(name))
    return frame.select(exprs)


def csv_options(italian: bool, rome_time: bool = False) -> dict[str, Any]:
    """polars ``write_csv`` options: Italian convention (``;``, decimal comma,
    DD/MM/YYYY) or plain (``,``, ISO dates, RFC 3339 timestamps in UTC; with
    ``rome_time`` local times in Rome, without the Z)."""
    plain_time = "%Y-%m-%dT%H:%M:%S%.6f" if rome_time else "%Y-%m-%dT%H:%M:%S%.6fZ"
    options: dict[str, Any] = {
        "date_format": "%d/%m/%Y" if italian else "%Y-%m-%d",
        # Datetimes are exported in UTC (export_frame), hence the literal Z.
        "datetime_format": "%d/%m/%Y %H:%M:%S" if italian else plain_time,
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
    frame: pl.DataFrame, out: Output, *, columns: Sequence[ColumnSpec] | None = None,
    italian_values: bool = False,
) -> None:
    """Parquet with the keys as column names and money as ``Decimal(38, 2)`` euros
    (codes in Italian and Rome time with ``italian_values``)."""
    target = os.fspath(out) if isinstance(out, str | os.PathLike) else out
    export_frame(frame, columns, italian_values=italian_values).write_parquet(target)
