"""A worksheet's data rows written as XML text, spliced into openpyxl's workbook on save.

openpyxl (without lxml) builds an element and runs ElementTree's serializer for every
cell: about 0.1 ms a cell, which made a 30,000-transfer journal (14 columns) take
seconds. Here each row becomes the same XML by string formatting, into a spooled file
beside the workbook; openpyxl writes everything else (header and totals rows, styles,
widths, filters, print setup, the Info sheet) as before, with a marker row where the data
rows go. On save the workbook is copied entry by entry and the marker row is replaced by
the rows, the rows after it (the totals) renumbered. The cells are those openpyxl writes
for the same values (``tests/reports/test_xlsx_rows.py`` compares the two XMLs).

Only the values the report writer's converters produce are accepted: text, bool, int,
Decimal or float, date, naive datetime.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import IllegalCharacterError

__all__ = ["RowSplicer"]

# Spooled in memory up to this size, then on disk: memory stays flat in the rows.
_SPOOL_BYTES = 4 * 1024 * 1024
_ROWS_PER_WRITE = 500
# zlib's level for a sheet with spliced rows: 1 deflates a 30,000-transfer journal
# (30 MB of XML) in a third of the default's time, into 4.3 MB instead of 3.6.
_SHEET_LEVEL = 1
_MAX_TEXT = 32767  # what openpyxl keeps of a longer text
_KEPT_VALUES = 8192  # per column
_ERRORS = frozenset(ERROR_CODES)
_ROW = re.compile(rb'<row r="(\d+)"(.*?)</row>', re.S)
_CELL_REF = re.compile(rb' r="([A-Z]+)\d+"')



def _escaped(text: str) -> str:
    """``text`` with ``&``, ``<`` and ``>`` escaped (as ElementTree escapes cell text);
    most texts have none, and three searches cost less than ``str.translate``."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _text_tail(value: str, style: str) -> str:
    """A text cell's XML after its reference. As openpyxl's Cell.check_string and
    etree_write_cell: cut to 32,767 characters, control characters refused, "#N/A" and
    the like are error cells, xml:space only for text with outer blanks around
    something."""
    text = value[:_MAX_TEXT]
    if ILLEGAL_CHARACTERS_RE.search(text):
        raise IllegalCharacterError(f"{text} cannot be used in worksheets.")
    if text in _ERRORS:
        return f'{style} t="e"><v>{text}</v></c>'
    if not text:
        return f'{style} t="inlineStr" />'
    stripped = text.strip()
    space = ' xml:space="preserve"' if stripped and stripped != text else ""
    return f'{style} t="inlineStr"><is><t{space}>{_escaped(text)}</t></is></c>'


def _number_tail(value: Any, style: str) -> str:
    if not (value.is_finite() if isinstance(value, Decimal)
            else isinstance(value, int) or math.isfinite(value)):
        return f'{style} t="n"><v /></c>'  # openpyxl's empty value
    # "%" as openpyxl's safe_string: a Decimal goes through float (16 digits, exact for
    # every amount the writer lets through); format() would keep Decimal's own digits.
    return f'{style} t="n"><v>{"%.16g" % value}</v></c>'  # noqa: UP031


_EPOCH = datetime(1899, 12, 30)


def excel_serial(value: date) -> float:
    """openpyxl's ``to_excel`` of a naive datetime or a date, the same float operations
    without its checks for times, timedeltas and pandas' missing dates."""
    if type(value) is date:
        days = value.toordinal() - _EPOCH.toordinal()
        return (days - 1 if 0 < days <= 60 else days) + 0.0
    assert isinstance(value, datetime)
    days = (value - _EPOCH).days
    if 0 < days <= 60:
        days -= 1
    return days + (value.hour * 3600 + value.minute * 60 + value.second
                   + value.microsecond / 10**6) / 86400


def _tail(value: object, style: str) -> str:
    """A converted value's cell XML after its reference (``<c r="B7"``)."""
    kind = type(value)
    if kind is str:
        return _text_tail(value, style)  # type: ignore[arg-type]
    if kind is bool:
        return f'{style} t="b"><v>{1 if value else 0}</v></c>'
    if kind is int or kind is Decimal or kind is float:
        return _number_tail(value, style)
    if kind is datetime or kind is date:
        if not style:
            raise TypeError("a date needs a column with a date format")
        if isinstance(value, datetime) and value.tzinfo is not None:
            raise TypeError("Excel does not support timezones in datetimes")
        return f'{style} t="n"><v>{"%.16g" % excel_serial(value)}</v></c>'  # type: ignore[arg-type]  # noqa: UP031
    raise TypeError(f"{kind.__name__} is not a cell value")


# Values whose cell a column keeps, by exact type: texts (names, codes), days, amounts
# repeat down a column. A datetime rarely does; bool and float are not kept (True == 1).
_KEPT_KINDS = frozenset((str, date, int))


def _column_writer(style_of: Callable[[], str | None], convert: Callable[[object], object]
                   ) -> tuple[dict[object, str], Callable[[object], str | None]]:
    """A column's kept cells and the maker of a cell's XML after the reference, for a
    value as the rows give it (``convert`` makes it the cell's value; None: no cell).
    The maker keeps what it makes for a value of the kinds kept (``_KEPT_KINDS``,
    looked up by exact type only: 1, True and 1.0 are equal keys). ``style_of`` gives
    the column's style id the first time a value needs it (openpyxl numbers styles in
    the order cells first use them, which keeps styles.xml as it was)."""
    style: str | None = None
    tails: dict[object, str] = {}

    def make(raw: object) -> str | None:
        nonlocal style
        value = convert(raw)
        if value is None:
            return None
        if style is None:
            made = style_of()
            style = f' s="{made}"' if made is not None else ""
        tail = _tail(value, style)
        if type(raw) in _KEPT_KINDS and len(tails) < _KEPT_VALUES:
            tails[raw] = tail
        return tail
    return tails, make


def _same(value: object) -> object:
    return value


class RowSplicer:
    """Data rows of a write-only workbook's sheets, kept as XML until the workbook is
    saved through ``save``."""

    def __init__(self) -> None:
        self._parts: dict[bytes, tuple[IO[bytes], int]] = {}

    def write(self, ws: Any, formats: Sequence[str | None],
              rows: Iterable[Sequence[object]],
              converters: Sequence[Callable[[object], object]] | None = None) -> int:
        """Write ``rows`` (``None`` for an empty cell) as the sheet's rows from row 2
        (after the header), with each column's number format and converter (the cell's
        value from a row's, as the report writer converts them; none: the rows hold
        cell values); then a marker row stands for them in ``ws``. Returns how many rows
        there were."""
        if converters is None:
            converters = [_same] * len(formats)
        columns = [(get_column_letter(i), *_column_writer(self._style(ws, fmt), convert))
                   for i, (fmt, convert) in enumerate(zip(formats, converters, strict=True),
                                                      start=1)]
        width = len(columns)
        kept_kinds = _KEPT_KINDS
        handle: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed in save
            max_size=_SPOOL_BYTES, prefix="filiera-rows-")
        chunk: list[str] = []
        append = chunk.append
        number = 1
        try:
            for row in rows:
                if len(row) != width:
                    raise ValueError(f"row has {len(row)} values, the sheet {width} columns")
                number += 1
                append(f'<row r="{number}">')
                for (letter, tails, make), raw in zip(columns, row, strict=True):
                    if raw is None:
                        continue
                    # The cell of a value seen before, else made (in the loop: a call
                    # less for most cells).
                    tail = tails.get(raw) if type(raw) in kept_kinds else None
                    if tail is None:
                        tail = make(raw)
                        if tail is None:
                            continue
                    append(f'<c r="{letter}{number}"{tail}')
                append("</row>")
                if len(chunk) >= _ROWS_PER_WRITE * width:
                    handle.write("".join(chunk).encode())
                    chunk.clear()
            handle.write("".join(chunk).encode())
        except BaseException:
            handle.close()
            raise
        count = number - 1
        if count == 0:
            handle.close()
            return 0
        marker = f"filiera-rows-{uuid.uuid4().hex}"
        ws.append([marker])
        self._parts[marker.encode()] = (handle, count)
        return count

    @staticmethod
    def _style(ws: Any, number_format: str | None) -> Callable[[], str | None]:
        if number_format is None:
            return lambda: None
        # The format is registered now, in column order, as openpyxl's template cells
        # register theirs; the style when a value first uses it.
        cell = Cell(ws, row=1, column=1)
        cell.number_format = number_format
        return lambda: str(cell.style_id)

    def save(self, wb: Any, out: Any) -> None:
        """Save ``wb`` to ``out`` (a path or a binary file) with the rows in place."""
        if not self._parts:
            wb.save(out)
            return
        try:
            with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as built:
                wb.save(built)
                built.seek(0)
                with zipfile.ZipFile(built) as zin, \
                        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True,
                                        compresslevel=_SHEET_LEVEL) as zout:
                    for info in zin.infolist():
                        self._copy(zin, zout, info)
        finally:
            for handle, _ in self._parts.values():
                handle.close()
            self._parts.clear()

    def _copy(self, zin: zipfile.ZipFile, zout: zipfile.ZipFile, info: zipfile.ZipInfo
              ) -> None:
        data = zin.read(info)
        found = next((m for m in self._parts if m in data), None) \
            if info.filename.startswith("xl/worksheets/") else None
        if found is None:
            zout.writestr(info, data)
            return
        handle, count = self._parts[found]
        at = data.index(found)
        start = data.rindex(b"<row ", 0, at)
        end = data.index(b"</row>", at) + len(b"</row>")
        # The rows after the marker (the totals) move down by the rows put in its place.
        rest, sheet_data_end, after = data[end:].partition(b"</sheetData>")
        shifted = _ROW.sub(lambda m: _moved(m, count - 1), rest)
        # Opened by name: deflated at the archive's level (a copied entry keeps zlib's
        # default, 6: three times slower on 30 MB of rows for a file a fifth smaller).
        with zout.open(info.filename, "w", force_zip64=True) as dest:
            dest.write(data[:start])
            handle.seek(0)
            shutil.copyfileobj(handle, dest, 1024 * 1024)
            dest.write(shifted + sheet_data_end + after)


def _moved(row: re.Match[bytes], by: int) -> bytes:
    number = int(row.group(1)) + by
    cells = _CELL_REF.sub(lambda c: b' r="%s%d"' % (c.group(1), number), row.group(2))
    return b'<row r="%d"%s</row>' % (number, cells)
