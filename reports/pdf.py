"""A report as a printable PDF: A4, a title block, each sheet as a table, page numbers.

The PDF is made from the same ``Report`` the workbook is written from, with fpdf2 (pure
Python): a title block with the report's title, the lender, the as-of date (or the
period) and when it was made; the summary figures (a sheet whose first column is
``figure``) as a two-column list, the formulas of the figures, then every other sheet as
a table whose header row is repeated on each page it runs over, with a bold totals row
where the workbook has one and the sheet's bar chart below it. Each table's page is A4
portrait, or landscape when its columns are wider than a portrait page (a sheet so wide
that landscape does not hold it either is set in a smaller type). Every page but the
first has a header with the title and the lender; every page a footer with the as-of
date and "Pagina N di M".

Values are written as an Italian reader expects them with ``lang="it"``: money
``1.234,56 €``, dates ``dd/mm/yyyy``, percentages ``12,34%``, times in Rome, every code
through the Italian catalogue (``reports.italian``). The ids (UUIDs) of rows that also
carry a reference or a name are left out of the tables: they do not help a reader and do
not fit a page; the workbook keeps them.

Fonts: DejaVu Sans (and Bold) embedded when the files are installed (Debian's
``fonts-dejavu-core``): it has every glyph the reports use (``€``, ``—``, ``−``,
accented capitals). Without it the PDF falls back to the core Helvetica, whose PDF
encoding here is Latin-1: ``€`` is then written ``EUR`` and dashes as hyphens.

Text is drawn with fpdf2's low-level ``text`` and measured from the font's own glyph
widths: a cell through ``FPDF.cell`` costs ten times as much, which a portfolio of
thousands of loans would feel.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path
from typing import IO, Literal
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.fonts import CoreFont, TTFFont

from reports.italian import text as code_text
from reports.workbook import (
    BarChartSpec,
    ColumnKind,
    ColumnSpec,
    Lang,
    Report,
    ReportSheet,
    StreamSheet,
    is_id_column,
    names_its_rows,
)

__all__ = [
    "CORE_FONTS",
    "DEJAVU_SANS",
    "DEJAVU_SANS_BOLD",
    "PDF_MEDIA_TYPE",
    "PdfFonts",
    "default_fonts",
    "pdf_bytes",
    "write_pdf",
]

# fontTools (fpdf2 subsets the embedded fonts with it) logs every subset at INFO: a
# line per glyph table for each PDF served. Its warnings still come through.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

PDF_MEDIA_TYPE = "application/pdf"
DEJAVU_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEJAVU_SANS_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
ROME = ZoneInfo("Europe/Rome")

Output = IO[bytes] | str | os.PathLike[str]
Orientation = Literal["P", "L"]


@dataclass(frozen=True)
class PdfFonts:
    """The TrueType files to embed; both None: the core Helvetica (Latin-1 only)."""

    regular: Path | None = None
    bold: Path | None = None

    @property
    def embedded(self) -> bool:
        return self.regular is not None and self.bold is not None


CORE_FONTS = PdfFonts()


def default_fonts() -> PdfFonts:
    """DejaVu Sans when both its files are installed, else the core Helvetica."""
    if DEJAVU_SANS.is_file() and DEJAVU_SANS_BOLD.is_file():
        return PdfFonts(DEJAVU_SANS, DEJAVU_SANS_BOLD)
    return CORE_FONTS


# ---------------------------------------------------------------- page geometry (mm)

A4_MM = (210.0, 297.0)
MARGIN = 12.0
BODY_TOP = 17.0  # below the page header
BODY_BOTTOM = 16.0  # room for the footer
HEADER_Y = 9.0
FOOTER_Y = 8.0  # baseline, from the bottom edge
PT_MM = 25.4 / 72

TABLE_SIZE = 7.5  # points
HEADER_RATIO = 0.87  # header labels: bold, a little smaller than the values
TOTAL_SHRINK = 0.8  # a total may be set this much smaller than the values to fit
SMALL_TABLE_SIZE = 6.25  # a wide table shrinks to this before its texts wrap more
MIN_TABLE_SIZE = 5.0
CELL_PAD_X = 1.2
CELL_PAD_Y = 0.8
LINE_FACTOR = 1.22  # line height / type size
CAP_HEIGHT = 0.73  # DejaVu and Helvetica capitals, a fraction of the type size
TEXT_CAP_MM = 55.0  # a text column wider than this wraps
MIN_TEXT_MM = 10.0
_EPSILON = 0.01  # mm: a width computed at a scaled size may round a hair under the text
SHEET_GAP = 6.0
CHART_HEIGHT = 62.0
MIN_CHART_HEIGHT = 42.0

GREEN = (46, 94, 78)  # the workbook's header fill
ZEBRA = (243, 246, 245)
TOTAL_FILL = (226, 235, 231)
RULE = (190, 200, 196)
GREY = (90, 90, 90)
SERIES = ((46, 94, 78), (143, 184, 168), (201, 145, 56))

_WORDS: Mapping[str, Mapping[str, str]] = {
    "it": {
        "as_of": "Situazione al {}",
        "period": "Periodo: dal {} al {}",
        "period_figures": "Indicatori di periodo: dal {} al {}",
        "generated": "Generato il {} alle {} (ora italiana)",
        "page": "Pagina {} di {}",
        "total": "Totale",
        "continued": "{} (segue)",
        "formulas": "Formule degli indicatori",
        "empty": "Nessuna riga.",
        "parameters": "Parametri",
    },
    "en": {
        "as_of": "As of {}",
        "period": "Period: {} to {}",
        "period_figures": "Period figures: {} to {}",
        "generated": "Generated on {} at {} UTC",
        "page": "Page {} of {}",
        "total": "Total",
        "continued": "{} (continued)",
        "formulas": "Formulas of the figures",
        "empty": "No rows.",
        "parameters": "Parameters",
    },
}
# Parameters the title block already says (as-of date, period) or the tables show.
_SAID = {"as_of", "from", "to", "loan_id", "reference", "borrower", "provisioning_percent"}

# Core fonts are Latin-1 here: what has no Latin-1 glyph is spelled out.
_LATIN1 = str.maketrans({"€": "EUR", "—": "-", "–": "-", "−": "-", "…": "...", "’": "'",
                         "‘": "'", "“": '"', "”": '"', "≤": "<=", "≥": ">=", "→": "->",
                         "\u202f": " ", "\u00a0": " "})


# ---------------------------------------------------------------- values as text


def _group(digits: str, lang: Lang) -> str:
    """``1,234,567.89`` (Python's grouping) as the language writes it."""
    if lang != "it":
        return digits
    return digits.replace(",", "\0").replace(".", ",").replace("\0", ".")


def money_text(value: int | Decimal, lang: Lang = "it", sign: str = "€") -> str:
    """Integer cents or a Decimal of euros: ``1.234,56 €`` (it), ``1,234.56 €`` (en).

    Exact: cents are scaled, never divided as floats; a Decimal with more places is
    rounded half-even to the cent, as the workbook's format shows it."""
    amount = Decimal(value).scaleb(-2) if isinstance(value, int) else value
    return f"{_group(f'{amount:,.2f}', lang)} {sign}"


def percent_text(fraction: Decimal, lang: Lang = "it") -> str:
    """A fraction (0.1234) as ``12,34%``."""
    return _group(f"{fraction * 100:,.2f}", lang) + "%"


def date_text(day: date, lang: Lang = "it") -> str:
    return day.strftime("%d/%m/%Y") if lang == "it" else day.isoformat()


def _datetime_text(moment: datetime, lang: Lang) -> str:
    if lang == "it":
        local = moment.astimezone(ROME) if moment.tzinfo is not None else moment
        return local.strftime("%d/%m/%Y %H:%M")
    utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    return utc.strftime("%Y-%m-%d %H:%M UTC")


def _formatter(spec: ColumnSpec, lang: Lang, sign: str) -> Callable[[object], str]:
    kind = spec.kind

    def fmt(value: object) -> str:
        if value is None:
            return ""
        if kind == "money" and isinstance(value, int | Decimal) and not isinstance(value, bool):
            return money_text(value, lang, sign)
        if kind == "percent" and isinstance(value, Decimal):
            return percent_text(value, lang)
        if kind in ("int", "decimal") and isinstance(value, int | Decimal) \
                and not isinstance(value, bool):
            return _group(f"{value:,}", lang)
        if kind == "datetime" and isinstance(value, datetime):
            return _datetime_text(value, lang)
        if kind in ("date", "datetime") and isinstance(value, date):
            return date_text(value.date() if isinstance(value, datetime) else value, lang)
        if spec.codes is not None and lang == "it":
            return code_text(spec.codes, str(value), "it")
        return str(value)

    return fmt


_RIGHT: frozenset[ColumnKind] = frozenset({"money", "int", "percent", "decimal"})


# ---------------------------------------------------------------- the document


class _Widths:
    """A font's glyph widths (thousandths of the type size), looked up by character."""

    def __init__(self, font: CoreFont | TTFFont | None) -> None:
        assert font is not None
        self._font = font
        self._table: dict[str, float] = {}

    def _glyph(self, char: str) -> float:
        font = self._font
        if isinstance(font, TTFFont):
            return float(font.cw[ord(char)])
        return float(font.cw.get(char, 556))  # a core font: by character

    def of(self, value: str) -> float:
        table = self._table
        try:
            return sum(table[c] for c in value)
        except KeyError:
            for c in value:
                if c not in table:
                    table[c] = self._glyph(c)
            return sum(table[c] for c in value)


class _Document(FPDF):
    """fpdf2 with our page header and footer (fpdf2 calls them at each page)."""

    def __init__(self, writer: _Writer) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._writer = writer

    def header(self) -> None:
        self._writer.page_header()

    def footer(self) -> None:
        self._writer.page_footer()


@dataclass(frozen=True)
class _Column:
    spec: ColumnSpec
    index: int  # in the sheet's columns
    right: bool
    fmt: Callable[[object], str]


class _Writer:
    def __init__(self, report: Report, lang: Lang, fonts: PdfFonts,
                 generated_at: datetime) -> None:
        self.report = report
        self.lang = lang
        self.words = _WORDS[lang]
        self.generated_at = generated_at
        self.pdf = _Document(self)
        pdf = self.pdf
        pdf.set_auto_page_break(False)
        pdf.set_margins(MARGIN, BODY_TOP, MARGIN)
        if fonts.embedded:
            assert fonts.regular is not None and fonts.bold is not None
            pdf.add_font("DejaVu", "", str(fonts.regular))
            pdf.add_font("DejaVu", "B", str(fonts.bold))
            self.family = "DejaVu"
            self.sign = "€"
        else:
            self.family = "helvetica"
            self.sign = "EUR"
        self.unicode = fonts.embedded
        # Glyph widths (thousandths of the type size), for measuring without fpdf2's cells.
        pdf.set_font(self.family, "", 10)
        self._regular = _Widths(pdf.current_font)
        pdf.set_font(self.family, "B", 10)
        self._bold = _Widths(pdf.current_font)
        self.y = BODY_TOP
        self.orientation: Orientation | None = None
        self.started = False
        title = report.title(lang)
        pdf.set_title(self.clean(title))
        pdf.set_lang(lang)
        pdf.set_creator("Filiera")
        if report.lender_names:
            pdf.set_author(self.clean(", ".join(report.lender_names)))
        pdf.set_creation_date(generated_at)

    # -- text ---------------------------------------------------------------------------

    def clean(self, value: str) -> str:
        if self.unicode:
            return value
        return value.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")

    def width(self, value: str, size: float, bold: bool = False) -> float:
        """Width in mm of ``value`` (already cleaned) at ``size`` points."""
        widths = self._bold if bold else self._regular
        return widths.of(value) * size / 1000 * PT_MM

    def font(self, size: float, bold: bool = False,
             color: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)
        self.pdf.set_text_color(*color)

    def put(self, x: float, baseline: float, value: str) -> None:
        self.pdf.text(x, baseline, value)

    def wrap(self, value: str, width: float, size: float, bold: bool = False,
             first: float | None = None) -> list[str]:
        """``value`` (cleaned) in lines no wider than ``width`` (the first ``first``):
        greedy by words, a word longer than a line cut by characters."""
        lines: list[str] = []
        for paragraph in value.split("\n"):
            line = ""
            for word in paragraph.split(" "):
                room = first if first is not None and not lines else width
                candidate = f"{line} {word}" if line else word
                if self.width(candidate, size, bold) <= room + _EPSILON:
                    line = candidate
                    continue
                if line:
                    lines.append(line)
                    room = width
                line = word
                while self.width(line, size, bold) > room + _EPSILON and len(line) > 1:
                    cut = len(line)
                    while cut > 1 and self.width(line[:cut], size, bold) > room + _EPSILON:
                        cut -= 1
                    lines.append(line[:cut])
                    line = line[cut:]
                    room = width
            lines.append(line)
        return lines

    # -- pages --------------------------------------------------------------------------

    @property
    def page_width(self) -> float:
        return A4_MM[1] if self.orientation == "L" else A4_MM[0]

    @property
    def page_height(self) -> float:
        return A4_MM[0] if self.orientation == "L" else A4_MM[1]

    @property
    def body_width(self) -> float:
        return self.page_width - 2 * MARGIN

    @property
    def bottom(self) -> float:
        return self.page_height - BODY_BOTTOM

    def new_page(self, orientation: Orientation) -> None:
        self.orientation = orientation
        self.pdf.add_page(orientation=orientation)
        self.y = BODY_TOP if self.pdf.page_no() > 1 else MARGIN
        self.started = True

    def room(self, height: float, orientation: Orientation) -> None:
        """Continue on this page when it has the orientation and ``height`` mm left,
        else start a new page."""
        if not self.started or self.orientation != orientation or self.y + height > self.bottom:
            self.new_page(orientation)

    def when(self) -> str:
        r = self.report
        if r.period_from is not None and r.period_to is not None:
            return self.words["period"].format(date_text(r.period_from, self.lang),
                                               date_text(r.period_to, self.lang))
        if r.as_of is not None:
            return self.words["as_of"].format(date_text(r.as_of, self.lang))
        return ""

    # fpdf2 calls the footer of a page when the next one is added: both read the size
    # of the page they are on from fpdf2 (``w``, ``h``), not from ``orientation``.

    def page_header(self) -> None:
        if self.pdf.page_no() == 1:
            return
        right = self.pdf.w - MARGIN
        self.font(7, color=GREY)
        self.put(MARGIN, HEADER_Y, self.clean(self.report.title(self.lang)))
        lenders = self.clean(", ".join(self.report.lender_names))
        self.put(right - self.width(lenders, 7), HEADER_Y, lenders)
        self.pdf.set_draw_color(*RULE)
        self.pdf.set_line_width(0.2)
        self.pdf.line(MARGIN, HEADER_Y + 2, right, HEADER_Y + 2)

    def page_footer(self) -> None:
        baseline = self.pdf.h - FOOTER_Y
        right = self.pdf.w - MARGIN
        self.pdf.set_draw_color(*RULE)
        self.pdf.set_line_width(0.2)
        self.pdf.line(MARGIN, baseline - 3.5, right, baseline - 3.5)
        self.font(7, color=GREY)
        self.put(MARGIN, baseline, self.clean(self.when()))
        # fpdf2 puts the page count in for "{nb}" when the document is written (in a
        # cell only: ``text`` leaves the alias as it is).
        page = self.words["page"].format(self.pdf.page_no(), "{nb}")
        self.pdf.set_xy(MARGIN, baseline - 2.4)
        self.pdf.cell(right - MARGIN, 3.2, page, align="R")

    # -- title block --------------------------------------------------------------------

    def title_block(self, orientation: Orientation) -> None:
        self.new_page(orientation)
        r, words, lang = self.report, self.words, self.lang
        width = self.body_width
        for line in self.wrap(self.clean(r.title(lang)), width, 15, True):
            self.font(15, True, GREEN)
            self.y += 15 * PT_MM * 1.15
            self.put(MARGIN, self.y, line)
        if r.lender_names:
            self.font(10.5, True)
            for line in self.wrap(self.clean(", ".join(r.lender_names)), width, 10.5, True):
                self.y += 10.5 * PT_MM * 1.35
                self.put(MARGIN, self.y, line)
        self.font(9)
        lines = [self.when()]
        start, end = r.parameters.get("from"), r.parameters.get("to")
        if r.period_from is None and start and end:
            lines.append(words["period_figures"].format(
                date_text(date.fromisoformat(start), lang), date_text(date.fromisoformat(end),
                                                                      lang)))
        for line in lines:
            if line:
                self.y += 9 * PT_MM * 1.45
                self.put(MARGIN, self.y, self.clean(line))
        description = r.description_it if lang == "it" else r.description_en
        others = [f"{key}: {value}" for key, value in r.parameters.items()
                  if key not in _SAID and value]
        self.font(8, color=GREY)
        for paragraph in ([description] if description else []) + (
                [f"{words['parameters']}: " + "; ".join(others)] if others else []):
            for line in self.wrap(self.clean(paragraph), width, 8):
                self.y += 8 * PT_MM * 1.35
                self.put(MARGIN, self.y, line)
        moment = self.generated_at
        if lang == "it":
            local = moment.astimezone(ROME)
            stamp = words["generated"].format(local.strftime("%d/%m/%Y"),
                                              local.strftime("%H:%M"))
        else:
            utc = moment.astimezone(UTC)
            stamp = words["generated"].format(utc.date().isoformat(), utc.strftime("%H:%M"))
        self.font(7, color=GREY)
        self.y += 7 * PT_MM * 1.6
        self.put(MARGIN, self.y, self.clean(stamp))
        self.y += 2.5
        self.pdf.set_draw_color(*GREEN)
        self.pdf.set_line_width(0.4)
        self.pdf.line(MARGIN, self.y, MARGIN + width, self.y)
        self.y += 4

    # -- sheets -------------------------------------------------------------------------

    def sheet_title(self, title: str) -> None:
        self.font(10.5, True, GREEN)
        self.y += 10.5 * PT_MM
        self.put(MARGIN, self.y, self.clean(title))
        self.y += 2.2

    def figures(self, sheet: ReportSheet | StreamSheet) -> None:
        """A summary sheet (first column ``figure``) as label and value(s), one a line."""
        columns = [_Column(spec, i, spec.kind in _RIGHT, _formatter(spec, self.lang, self.sign))
                   for i, spec in enumerate(sheet.columns)]
        pairs: list[tuple[str, str]] = []
        for row in _rows(sheet):
            values = [c.fmt(row[c.index]) for c in columns[1:]]
            pairs.append((self.clean(str(row[0] or "")),
                          self.clean("   ".join(v for v in values if v))))
        size = 8.5
        line = size * PT_MM * LINE_FACTOR
        label_w = min(max((self.width(a, size) for a, _ in pairs), default=0.0) + 2 * CELL_PAD_X,
                      95.0)
        value_w = min(max((self.width(b, size, True) for _, b in pairs), default=0.0)
                      + 2 * CELL_PAD_X, self.body_width - label_w)
        value_w = max(value_w, 40.0)
        self.room(2 * line + 14, self.orientation or "P")
        self.sheet_title(sheet.title(self.lang))
        for k, (label, value) in enumerate(pairs):
            left = self.wrap(label, label_w - 2 * CELL_PAD_X, size)
            right = self.wrap(value, value_w - 2 * CELL_PAD_X, size, True)
            height = max(len(left), len(right)) * line + 2 * CELL_PAD_Y
            if self.y + height > self.bottom:
                self.new_page(self.orientation or "P")
            if k % 2 == 0:
                self.pdf.set_fill_color(*ZEBRA)
                self.pdf.rect(MARGIN, self.y, label_w + value_w, height, style="F")
            self.font(size)
            self.lines(left, MARGIN + CELL_PAD_X, self.y, line, size)
            self.font(size, True)
            self.lines(right, MARGIN + label_w + CELL_PAD_X, self.y, line, size)
            self.y += height
        self.y += SHEET_GAP

    def lines(self, lines: Sequence[str], x: float, top: float, line: float, size: float,
              right: float | None = None, bold: bool = False) -> None:
        offset = (line + CAP_HEIGHT * size * PT_MM) / 2
        for k, text in enumerate(lines):
            at = x if right is None else right - self.width(text, size, bold)
            self.put(at, top + CELL_PAD_Y + k * line + offset, text)

    def formulas(self) -> None:
        notes = self.report.formulas
        if not notes:
            return
        size = 7.5
        line = size * PT_MM * 1.3
        width = self.body_width
        self.room(line * 4 + 8, self.orientation or "P")
        self.font(9, True, GREEN)
        self.y += 9 * PT_MM
        self.put(MARGIN, self.y, self.clean(self.words["formulas"]))
        self.y += 1.5
        for note in notes:
            label = self.clean((note.label_it if self.lang == "it" else note.label_en) + ": ")
            formula = self.clean(note.formula_it if self.lang == "it" else note.formula_en)
            label_w = self.width(label, size, True)
            body = self.wrap(formula, width, size, first=width - label_w)
            if self.y + len(body) * line + 1 > self.bottom:
                self.new_page(self.orientation or "P")
            self.font(size, True)
            self.y += line
            self.put(MARGIN, self.y, label)
            self.font(size)
            for k, text in enumerate(body):
                if k:
                    self.y += line
                self.put(MARGIN + (label_w if k == 0 else 0), self.y, text)
            self.y += 0.8
        self.y += SHEET_GAP

    def table(self, sheet: ReportSheet | StreamSheet) -> None:
        lang = self.lang
        shown = _printed(sheet.columns)
        columns = [_Column(sheet.columns[i], i, sheet.columns[i].kind in _RIGHT,
                           _formatter(sheet.columns[i], lang, self.sign)) for i in shown]
        raw = _rows(sheet)
        sample = list(islice(raw, 2000))
        complete = len(sample) < 2000
        totals = _totals(sheet, sample if complete else None)

        def formatted(rows: Iterable[Sequence[object]]) -> Iterator[list[str]]:
            for row in rows:
                yield [self.clean(c.fmt(row[c.index])) for c in columns]

        first = list(formatted(sample))
        total_cells: list[str] | None = None
        if totals is not None:
            label_at = next((k for k, c in enumerate(columns) if c.spec.total is None), None)
            total_cells = [self.clean(c.fmt(totals[c.index])) if c.spec.total == "sum"
                           else (self.words["total"] if k == label_at else "")
                           for k, c in enumerate(columns)]
        size, widths, orientation = self.fit(columns, first, total_cells)
        line = size * PT_MM * LINE_FACTOR
        head = size * HEADER_RATIO
        labels = [self.wrap(self.clean(c.spec.label(lang)), w - 2 * CELL_PAD_X, head, True)
                  for c, w in zip(columns, widths, strict=True)]
        header_h = max(len(x) for x in labels) * head * PT_MM * LINE_FACTOR + 2 * CELL_PAD_Y
        title = sheet.title(lang)
        self.room(10.5 * PT_MM + 2.2 + header_h + 3 * (line + 2 * CELL_PAD_Y), orientation)
        self.sheet_title(title)
        self.header_row(columns, widths, labels, header_h, size, line)
        count = 0
        for cells in chain(first, formatted(raw)):
            self.body_row(columns, widths, cells, size, line, count, title, labels, header_h)
            count += 1
        if count == 0:
            self.font(size, color=GREY)
            self.y += line
            self.put(MARGIN + CELL_PAD_X, self.y, self.clean(self.words["empty"]))
            self.y += CELL_PAD_Y
        if total_cells is not None:
            self.body_row(columns, widths, total_cells, size, line, -1, title, labels, header_h)
        self.y += SHEET_GAP
        chart = sheet.chart if isinstance(sheet, ReportSheet) and count else None
        if chart is not None:
            assert isinstance(sheet, ReportSheet)
            self.bar_chart(chart, sheet)

    def fit(self, columns: Sequence[_Column], rows: Sequence[Sequence[str]],
            totals: Sequence[str] | None) -> tuple[float, list[float], Orientation]:
        """Type size, column widths and orientation. Portrait when the natural widths
        (every value on one line, a long text wrapped, a header on two lines) fit, else
        landscape. A table wider than landscape first wraps its text columns (down to
        their longest word); if that is not enough its grand totals are set a little
        smaller, then the whole table, down to ``SMALL_TABLE_SIZE``, where the text
        columns wrap again, and only a table wider even so goes smaller still (to
        ``MIN_TABLE_SIZE``)."""
        size = TABLE_SIZE
        natural: list[float] = []  # text widths (without padding) at TABLE_SIZE
        least: list[float] = []
        sums: list[float] = []  # the width of each grand total
        wrapping: list[int] = []  # rows of the sample a least width would wrap
        for k, c in enumerate(columns):
            cells = [row[k] for row in rows]
            widest = max((self.width(v, size) for v in cells), default=0.0)
            # The "Totale" label runs into the empty cell to its right, if there is one.
            label_only = totals is not None and c.spec.total != "sum" and k + 1 < len(columns) \
                and columns[k + 1].spec.total is None
            sums.append(self.width(totals[k], size, True)
                        if totals is not None and not label_only else 0.0)
            label = self.clean(c.spec.label(self.lang))
            head = _two_lines(label, lambda s: self.width(s, size * HEADER_RATIO, True))
            word = max((self.width(w, size * HEADER_RATIO, True) for w in label.split()),
                       default=0.0)
            if c.spec.kind == "text":
                longest_word = max((self.width(w, size) for v in cells[:500]
                                    for w in v.split()), default=0.0)
                want = max(min(widest, TEXT_CAP_MM), head, min(MIN_TEXT_MM, widest))
                natural.append(want)
                least.append(min(max(min(longest_word, 30.0), word), want))
                wrapping.append(sum(1 for v in cells if self.width(v, size) > least[-1]))
            else:
                natural.append(max(widest, head))
                least.append(max(widest, word))
                wrapping.append(0)
        pad = 2 * CELL_PAD_X * len(columns)

        def at(widths: Sequence[float], small: float) -> list[float]:
            return [w * small / size + 2 * CELL_PAD_X for w in widths]

        def with_sums(widths: Sequence[float], shrink: float) -> list[float]:
            return [max(w, t * shrink) for w, t in zip(widths, sums, strict=True)]

        portrait, landscape = A4_MM[0] - 2 * MARGIN, A4_MM[1] - 2 * MARGIN
        whole = with_sums(natural, 1.0)
        if sum(whole) + pad <= portrait:
            return size, at(whole, size), "P"
        if sum(whole) + pad <= landscape:
            return size, at(whole, size), "L"
        narrow = with_sums(least, 1.0)
        if sum(narrow) + pad <= landscape:  # long texts wrap, in the full type size
            budget = landscape - pad - sum(narrow)
            return size, at(_squeeze(whole, narrow, budget, wrapping), size), "L"
        natural, least = with_sums(natural, TOTAL_SHRINK), with_sums(least, TOTAL_SHRINK)
        if sum(natural) + pad <= landscape:
            return size, at(natural, size), "L"
        small = size * (landscape - pad) / sum(natural)
        if small >= SMALL_TABLE_SIZE:
            return small, at(natural, small), "L"
        small = SMALL_TABLE_SIZE
        if sum(least) * small / size + pad <= landscape:
            budget = (landscape - pad) * size / small - sum(least)
            return small, at(_squeeze(natural, least, budget, wrapping), small), "L"
        small = max(size * (landscape - pad) / sum(least), MIN_TABLE_SIZE)
        return small, at(least, small), "L"

    def header_row(self, columns: Sequence[_Column], widths: Sequence[float],
                   labels: Sequence[Sequence[str]], height: float, size: float,
                   line: float) -> None:
        del line
        size *= HEADER_RATIO
        line = size * PT_MM * LINE_FACTOR
        self.pdf.set_fill_color(*GREEN)
        self.pdf.rect(MARGIN, self.y, sum(widths), height, style="F")
        self.font(size, True, (255, 255, 255))
        x = MARGIN
        for c, w, label in zip(columns, widths, labels, strict=True):
            self.lines(label, x + CELL_PAD_X, self.y, line, size,
                       right=x + w - CELL_PAD_X if c.right else None, bold=True)
            x += w
        self.y += height

    def body_row(self, columns: Sequence[_Column], widths: Sequence[float],
                 cells: Sequence[str], size: float, line: float, index: int, title: str,
                 labels: Sequence[Sequence[str]], header_h: float) -> None:
        total = index < 0
        wrapped = [self.wrap(v, w - 2 * CELL_PAD_X, size, total)
                   if c.spec.kind == "text" and not total and self.width(v, size)
                   > w - 2 * CELL_PAD_X + _EPSILON else [v]
                   for c, w, v in zip(columns, widths, cells, strict=True)]
        height = max(len(x) for x in wrapped) * line + 2 * CELL_PAD_Y
        if self.y + height > self.bottom:
            assert self.orientation is not None
            self.new_page(self.orientation)
            self.font(8, True, GREY)
            self.y += 8 * PT_MM
            self.put(MARGIN, self.y, self.clean(self.words["continued"].format(title)))
            self.y += 1.5
            self.header_row(columns, widths, labels, header_h, size, line)
        full = sum(widths)
        if total:
            self.pdf.set_fill_color(*TOTAL_FILL)
            self.pdf.rect(MARGIN, self.y, full, height, style="F")
            self.pdf.set_draw_color(*GREEN)
            self.pdf.set_line_width(0.3)
            self.pdf.line(MARGIN, self.y, MARGIN + full, self.y)
        elif index % 2 == 1:
            self.pdf.set_fill_color(*ZEBRA)
            self.pdf.rect(MARGIN, self.y, full, height, style="F")
        self.font(size, total)
        x = MARGIN
        for c, w, value in zip(columns, widths, wrapped, strict=True):
            cell_size, right = size, c.right
            if total and c.spec.total == "sum":
                # A grand total may be set smaller to fit (``fit`` allows for it).
                room = w - 2 * CELL_PAD_X
                cell_size = min(size, size * room / max(self.width(value[0], size, True),
                                                        _EPSILON))
                self.font(cell_size, True)
            elif total:
                right = False  # the label, from the left, over the empty cells after it
            self.lines(value, x + CELL_PAD_X, self.y, line, cell_size,
                       right=x + w - CELL_PAD_X if right else None, bold=total)
            x += w
        self.y += height

    def bar_chart(self, spec: BarChartSpec, sheet: ReportSheet) -> None:
        """Clustered bars of the value columns against the category column, below the
        table, on the same page when it fits (never cut by a page break)."""
        specs = {c.key: c for c in sheet.columns}
        frame = sheet.frame
        fmt = _formatter(specs[spec.category_key], self.lang, self.sign)
        categories = [self.clean(fmt(v)) for v in frame[spec.category_key].to_list()]
        series = [[_number(v) for v in frame[key].to_list()] for key in spec.value_keys]
        title = spec.title_it if self.lang == "it" else spec.title_en
        assert self.orientation is not None
        # Under its table when at least a smaller chart fits there, else on a new page.
        height = min(CHART_HEIGHT, self.bottom - self.y - 12)
        if height < MIN_CHART_HEIGHT:
            self.new_page(self.orientation)
            height = CHART_HEIGHT
        self.font(9, True, GREEN)
        self.y += 9 * PT_MM
        self.put(MARGIN, self.y, self.clean(title))
        top = self.y + 4
        width = min(self.body_width, 170.0)
        axis_w = 24.0
        plot_h = height - 18
        base = top + plot_h
        highest = max((v for s in series for v in s), default=Decimal(0))
        step = _nice_step(highest)
        ticks = int(highest / step) + 1 if step else 1
        scale = float(plot_h) / float(step * ticks) if step else 0.0
        pdf = self.pdf
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.15)
        value_spec = specs[spec.value_keys[0]]
        tick_fmt = _formatter(value_spec, self.lang, self.sign)
        self.font(6, color=GREY)
        for k in range(ticks + 1):
            y = base - float(step * k) * scale
            pdf.line(MARGIN + axis_w, y, MARGIN + width, y)
            label = self.clean(tick_fmt(_as_cents(step * k, value_spec)))
            self.put(MARGIN + axis_w - 1 - self.width(label, 6), y + 0.8, label)
        slot = (width - axis_w) / max(len(categories), 1)
        bar = min(slot * 0.7 / max(len(series), 1), 14.0)
        for i, name in enumerate(categories):
            left = MARGIN + axis_w + slot * i + (slot - bar * len(series)) / 2
            for j, values in enumerate(series):
                height = float(values[i]) * scale
                pdf.set_fill_color(*SERIES[j % len(SERIES)])
                if height > 0:
                    pdf.rect(left + bar * j, base - height, bar, height, style="F")
            self.font(6.5)
            label = name if self.width(name, 6.5) <= slot - 1 else self.wrap(
                name, slot - 1, 6.5)[0]
            self.put(MARGIN + axis_w + slot * i + (slot - self.width(label, 6.5)) / 2,
                     base + 3.5, label)
        pdf.set_draw_color(*GREY)
        pdf.line(MARGIN + axis_w, base, MARGIN + width, base)
        x = MARGIN + axis_w
        for j, key in enumerate(spec.value_keys):
            pdf.set_fill_color(*SERIES[j % len(SERIES)])
            pdf.rect(x, base + 6.5, 3, 3, style="F")
            self.font(6.5)
            label = self.clean(specs[key].label(self.lang))
            self.put(x + 4, base + 9, label)
            x += 8 + self.width(label, 6.5)
        self.y = base + 12 + SHEET_GAP


def _squeeze(natural: Sequence[float], least: Sequence[float], budget: float,
             wrapping: Sequence[int]) -> list[float]:
    """Widths between ``least`` and ``natural`` using ``budget`` more than ``least``.
    Whole first the columns that save the most lines for the room they take (``wrapping``:
    the rows whose cell would wrap at its least width; a header wraps once a page), what
    is left shared among the others in proportion to what they lack."""
    out = list(least)
    order = sorted(range(len(out)),
                   key=lambda k: (natural[k] - least[k]) / (1 + wrapping[k]))
    for position, k in enumerate(order):
        need = natural[k] - least[k]
        if need <= budget:
            out[k] = natural[k]
            budget -= need
            continue
        rest = order[position:]
        lacking = sum(natural[j] - least[j] for j in rest)
        for j in rest:
            out[j] = least[j] + (natural[j] - least[j]) * budget / lacking
        break
    return out


def _two_lines(label: str, measure: Callable[[str], float]) -> float:
    """The width a header label needs on at most two lines (split at the best space)."""
    words = label.split()
    best = measure(label)
    for cut in range(1, len(words)):
        best = min(best, max(measure(" ".join(words[:cut])), measure(" ".join(words[cut:]))))
    return best


def _printed(columns: Sequence[ColumnSpec]) -> list[int]:
    """Indexes of the columns a printed table shows: ids go when a reference or a name
    says which row it is."""
    named = names_its_rows(columns)
    out = [i for i, c in enumerate(columns) if not (named and is_id_column(c))]
    return out or list(range(len(columns)))


def _rows(sheet: ReportSheet | StreamSheet) -> Iterator[Sequence[object]]:
    if isinstance(sheet, StreamSheet):
        yield from sheet.rows
        return
    missing = [c.key for c in sheet.columns if c.key not in sheet.frame.columns]
    if missing:
        raise KeyError(f"frame lacks columns {missing}")
    selected = sheet.frame.select([c.key for c in sheet.columns])
    for offset in range(0, selected.height, 50_000):
        yield from selected.slice(offset, 50_000).iter_rows()


def _totals(sheet: ReportSheet | StreamSheet, sample: Sequence[Sequence[object]] | None
            ) -> list[object] | None:
    """The exact sums of the columns the workbook totals (a streamed sheet only when it
    ended within the sample: the PDF is for the short reports)."""
    if not any(c.total == "sum" for c in sheet.columns):
        return None
    out: list[object] = []
    for k, c in enumerate(sheet.columns):
        if c.total != "sum":
            out.append(None)
        elif isinstance(sheet, ReportSheet):
            total = sheet.frame[c.key].sum() if sheet.frame.height else 0
            out.append(total if isinstance(total, int | Decimal) else 0)
        elif sample is not None:
            out.append(sum((v for row in sample if isinstance(v := row[k], int | Decimal)), 0))
        else:
            return None
    return out


def _number(value: object) -> Decimal:
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Decimal(value)
    return Decimal(0)


def _as_cents(value: Decimal, spec: ColumnSpec) -> object:
    """A tick value as the column's formatter takes it (cents stay integers)."""
    if spec.kind == "money" or spec.kind == "int":
        return int(value)
    return value


def _nice_step(highest: Decimal) -> Decimal:
    """A step of 1, 2 or 5 times a power of ten giving at most five ticks."""
    if highest <= 0:
        return Decimal(0)
    raw = highest / 5
    power = Decimal(10) ** (raw.adjusted())
    for factor in (1, 2, 5, 10):
        if power * factor >= raw:
            return power * factor
    return power * 10


def _is_figures(sheet: ReportSheet | StreamSheet) -> bool:
    return bool(sheet.columns) and sheet.columns[0].key == "figure" \
        and sheet.columns[0].kind == "text"


def write_pdf(report: Report, out: Output, lang: Lang = "it", *,
              fonts: PdfFonts | None = None) -> None:
    """Write ``report`` as an A4 PDF (see the module's docstring)."""
    fonts = fonts if fonts is not None else default_fonts()
    generated = report.generated_at or datetime.now(UTC)
    if generated.tzinfo is None:
        generated = generated.replace(tzinfo=UTC)
    writer = _Writer(report, lang, fonts, generated)
    sheets = list(report.sheets)
    writer.title_block("P")
    if sheets and _is_figures(sheets[0]):
        writer.figures(sheets.pop(0))
    writer.formulas()
    for sheet in sheets:
        if _is_figures(sheet):
            writer.figures(sheet)
        else:
            writer.table(sheet)
    data = bytes(writer.pdf.output())
    if isinstance(out, str | os.PathLike):
        with open(out, "wb") as handle:
            handle.write(data)
    else:
        out.write(data)


def pdf_bytes(report: Report, lang: Lang = "it", *, fonts: PdfFonts | None = None) -> bytes:
    """``write_pdf`` into memory."""
    buffer = io.BytesIO()
    write_pdf(report, buffer, lang, fonts=fonts)
    return buffer.getvalue()
