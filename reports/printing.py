"""How a sheet prints: A4, one page wide, the header row on every page, header and footer.

Spreadsheet column widths are in characters of the default font's widest digit
(Calibri 11: 7 pixels at 96 dpi, plus 5 pixels of padding); rows are 15 points (20
pixels). From the widths alone this module decides the orientation (landscape when the
columns are wider than a portrait page), the fit-to-width scale and so how many rows a
page holds, which is what keeps a chart off a page break.

Header and footer use the codes of ECMA-376 18.3.1.39: ``&P`` page, ``&N`` pages, ``&&``
a literal ampersand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.properties import PageSetupProperties

__all__ = [
    "A4_CM",
    "CHART_HEIGHT_CM",
    "DEFAULT_COLUMN_WIDTH",
    "MARGINS_IN",
    "PageLayout",
    "column_pixels",
    "escape",
    "plan_page",
    "set_page_setup",
]

A4_CM = (21.0, 29.7)
# left, right, top, bottom, header, footer (inches, as the file stores them)
MARGINS_IN = (0.5, 0.5, 0.8, 0.8, 0.3, 0.3)
PX_PER_IN = 96
ROW_PX = 20  # 15 pt
PAPERSIZE_A4 = "9"  # ECMA-376 paperSize code
DEFAULT_COLUMN_WIDTH = 8.43
CHART_HEIGHT_CM = 7.5
CHART_MIN_WIDTH_CM = 12.0
CHART_MAX_WIDTH_CM = 16.0
# Rows the layout keeps free on each page, for header-row wrapping and for the other
# program's own rounding of row heights and scale.
_ROW_SLACK = 4


def column_pixels(width: float) -> float:
    """Screen pixels of a column ``width`` characters wide (Calibri 11)."""
    return width * 7 + 5


def _cm_to_px(cm: float) -> float:
    return cm / 2.54 * PX_PER_IN


def _printable_px(landscape: bool) -> tuple[float, float]:
    width_cm, height_cm = A4_CM
    if landscape:
        width_cm, height_cm = height_cm, width_cm
    left, right, top, bottom, _, _ = MARGINS_IN
    return (_cm_to_px(width_cm) - (left + right) * PX_PER_IN,
            _cm_to_px(height_cm) - (top + bottom) * PX_PER_IN)


@dataclass(frozen=True)
class PageLayout:
    landscape: bool
    scale: float  # fit-to-width factor, at most 1
    rows_per_page: int  # rows of the sheet on the first page (the header row included)
    print_columns: int  # columns of the print area (a chart may need more than the table)
    last_row: int  # last row of the print area
    chart_row: int | None = None  # row the chart is anchored at (1-based)
    chart_width_cm: float = 0.0
    break_before_chart: bool = False

    def page_of(self, row: int) -> int:
        """0-based page of ``row`` with the header row repeated on every later page."""
        per_page = self.rows_per_page
        if row <= per_page:
            return 0
        return 1 + (row - per_page - 1) // (per_page - 1)


def plan_page(widths: Sequence[float], table_rows: int, chart: bool = False) -> PageLayout:
    """The layout of a sheet whose columns have ``widths`` and whose table (header,
    data, totals) takes ``table_rows`` rows; with ``chart``, a chart goes below it."""
    table_px = sum(column_pixels(w) for w in widths)
    columns = len(widths)
    chart_width_cm = 0.0
    print_px = table_px
    if chart:
        table_cm = table_px / PX_PER_IN * 2.54
        chart_width_cm = min(CHART_MAX_WIDTH_CM, max(CHART_MIN_WIDTH_CM, table_cm))
        chart_px = _cm_to_px(chart_width_cm)
        if chart_px > table_px:
            # Default-width columns right of the table, enough to hold the chart.
            extra = math.ceil((chart_px - table_px) / column_pixels(DEFAULT_COLUMN_WIDTH))
            columns += extra
            print_px = table_px + extra * column_pixels(DEFAULT_COLUMN_WIDTH)
    portrait_width, _ = _printable_px(False)
    landscape = print_px > portrait_width
    page_width, page_height = _printable_px(landscape)
    scale = min(1.0, page_width / print_px) if print_px else 1.0
    rows_per_page = max(int(page_height / (ROW_PX * scale)) - _ROW_SLACK, 8)
    if not chart:
        return PageLayout(landscape, scale, rows_per_page, columns, table_rows)
    chart_rows = math.ceil(_cm_to_px(CHART_HEIGHT_CM) / ROW_PX)
    chart_row = table_rows + 2  # one blank row between table and chart
    last_row = chart_row + chart_rows
    layout = PageLayout(landscape, scale, rows_per_page, columns, last_row, chart_row,
                        chart_width_cm)
    # A chart crossing a page break is printed in two halves: start a page instead.
    crosses = layout.page_of(chart_row) != layout.page_of(last_row)
    return PageLayout(landscape, scale, rows_per_page, columns, last_row, chart_row,
                      chart_width_cm, break_before_chart=crosses)


def escape(text: str) -> str:
    """Text as a header/footer section shows it literally."""
    return text.replace("&", "&&")


def set_page_setup(ws: Any, layout: PageLayout, *, last_column: str, header_left: str,
                   header_right: str, footer_left: str, footer_right: str,
                   title_rows: str | None = "1:1") -> None:
    """A4, fit to one page wide, print area, title rows, header and footer.

    Works on normal and write-only worksheets alike (in write-only mode call it before
    the first row: the fit-to-page flag is written at the top of the sheet).
    """
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.paperSize = PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if layout.landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages tall as needed
    left, right, top, bottom, header, footer = MARGINS_IN
    ws.page_margins.left, ws.page_margins.right = left, right
    ws.page_margins.top, ws.page_margins.bottom = top, bottom
    ws.page_margins.header, ws.page_margins.footer = header, footer
    ws.print_options.horizontalCentered = False
    ws.print_area = f"A1:{last_column}{max(layout.last_row, 1)}"
    if title_rows is not None:
        ws.print_title_rows = title_rows
    if layout.break_before_chart and layout.chart_row is not None:
        # Break after the table, so the blank row starts the new page: a chart whose
        # edge touched the break would leave a sliver of itself on the page before.
        ws.row_breaks.append(Break(id=layout.chart_row - 2))
    hf = ws.HeaderFooter
    hf.oddHeader.left.text = escape(header_left)
    hf.oddHeader.left.size = 9
    hf.oddHeader.right.text = escape(header_right)
    hf.oddHeader.right.size = 9
    hf.oddFooter.left.text = escape(footer_left)
    hf.oddFooter.left.size = 8
    hf.oddFooter.right.text = footer_right  # holds &P and &N codes
    hf.oddFooter.right.size = 8
