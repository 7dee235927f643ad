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
from openpyxl.utils.datetime import to_excel
from openpyxl.utils.exceptions import IllegalCharacterError

__all__ = ["RowSplicer"]

# Spooled in memory up to this size, then on disk: memory stays flat in the rows.
_SPOOL_BYTES = 4 * 1024 * 1024
_ROWS_PER_WRITE = 500
_MAX_TEXT = 32767  # what openpyxl keeps of a longer text
_KEPT_TEXTS = 4096  # per column
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ERRORS = frozenset(ERROR_CODES)
_ROW = re.compile(rb'<row r="(\d+)"(.*?)</row>', re.S)
_CELL_REF = re.compile(rb' r="([A-Z]+)\d+"')

CellXml = Callable[[object, int], str]


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
    return f'{style} t="inlineStr"><is><t{space}>{text.translate(_ESCAPES)}</t></is></c>'


def _number_xml(value: Any, ref: str, style: str) -> str:
    if not (value.is_finite() if isinstance(value, Decimal)
            else isinstance(value, int) or math.isfinite(value)):
        return f'<c r="{ref}"{style} t="n"><v /></c>'  # openpyxl's empty value
    # "%" as openpyxl's safe_string: a Decimal goes through float (16 digits, exact for
    # every amount the writer lets through); format() would keep Decimal's own digits.
    return f'<c r="{ref}"{style} t="n"><v>{"%.16g" % value}</v></c>'  # noqa: UP031


def _column_writer(letter: str, style_of: Callable[[], str | None]) -> CellXml:
    """The XML of one column's cell in a row; ``style_of`` gives the column's style id
    the first time a value needs it (openpyxl numbers styles in the order cells first
    use them, which keeps styles.xml as it was)."""
    style: str | None = None
    # Names, groups, codes repeat down a column: their XML is made once.
    tails: dict[str, str] = {}

    def xml(value: object, row: int) -> str:
        nonlocal style
        ref = f"{letter}{row}"
        if style is None:
            found = style_of()
            style = f' s="{found}"' if found is not None else ""
        kind = type(value)
        if kind is str:
            tail = tails.get(value)  # type: ignore[call-overload]
            if tail is None:
                tail = _text_tail(value, style)  # type: ignore[arg-type]
                if len(tails) < _KEPT_TEXTS:
                    tails[value] = tail  # type: ignore[index]
            return f'<c r="{ref}"{tail}'
        if kind is bool:
            return f'<c r="{ref}"{style} t="b"><v>{1 if value else 0}</v></c>'
        if kind is int or kind is Decimal or kind is float:
            return _number_xml(value, ref, style)
        if kind is datetime or kind is date:
            if not style:
                raise TypeError("a date needs a column with a date format")
            if isinstance(value, datetime) and value.tzinfo is not None:
                raise TypeError("Excel does not support timezones in datetimes")
            serial = to_excel(value)
            return f'<c r="{ref}"{style} t="n"><v>{"%.16g" % serial}</v></c>'  # noqa: UP031
        raise TypeError(f"{kind.__name__} is not a cell value")
    return xml


class RowSplicer:
    """Data rows of a write-only workbook's sheets, kept as XML until the workbook is
    saved through ``save``."""

    def __init__(self) -> None:
        self._parts: dict[bytes, tuple[IO[bytes], int]] = {}

    def write(self, ws: Any, formats: Sequence[str | None],
              rows: Iterable[Sequence[object]]) -> int:
        """Write ``rows`` (converted values, ``None`` for an empty cell) as the sheet's
        rows from row 2 (after the header), with each column's number format; then a
        marker row stands for them in ``ws``. Returns how many rows there were."""
        writers = [_column_writer(get_column_letter(i), self._style(ws, fmt))
                   for i, fmt in enumerate(formats, start=1)]
        width = len(writers)
        handle: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed in save
            max_size=_SPOOL_BYTES, prefix="filiera-rows-")
        chunk: list[str] = []
        number = 1
        for row in rows:
            if len(row) != width:
                handle.close()
                raise ValueError(f"row has {len(row)} values, the sheet {width} columns")
            number += 1
            chunk.append(f'<row r="{number}">')
            chunk.extend(write(value, number) for write, value in zip(writers, row, strict=True)
                         if value is not None)
            chunk.append("</row>")
            if len(chunk) >= _ROWS_PER_WRITE * width:
                handle.write("".join(chunk).encode())
                chunk = []
        handle.write("".join(chunk).encode())
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
                        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zout:
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
        with zout.open(info, "w", force_zip64=True) as dest:
            dest.write(data[:start])
            handle.seek(0)
            shutil.copyfileobj(handle, dest, 1024 * 1024)
            dest.write(shifted + sheet_data_end + after)


def _moved(row: re.Match[bytes], by: int) -> bytes:
    number = int(row.group(1)) + by
    cells = _CELL_REF.sub(lambda c: b' r="%s%d"' % (c.group(1), number), row.group(2))
    return b'<row r="%d"%s</row>' % (number, cells)
