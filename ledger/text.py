"""Text as the API takes it: no control or invisible formatting characters, in NFC.

Refused everywhere (API.md, "Hardening"): C0 controls U+0000-U+001F, U+007F, C1
controls U+0080-U+009F, bidirectional marks and overrides (U+061C, U+200E, U+200F,
U+202A-U+202E, U+2066-U+2069: they make a name read otherwise than it is stored) and
zero-width characters (U+200B-U+200D, U+2060, U+FEFF: two names that look alike would
differ). Free-text fields (notes, reasons, descriptions, addresses) also accept tab,
line feed, carriage return and U+200D (the zero-width joiner of emoji sequences); CRLF
is stored as LF. Lone surrogates (U+D800-U+DFFF, which JSON's ``\\ud800`` escapes can
carry) are refused too: no UTF-8 database can store them, and PostgreSQL would fail on
them where SQLite stores them, as it did with NUL. The result is in Unicode NFC, so
text that looks the same is stored the same.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["TextError", "check_free_text", "check_text", "forbidden_in", "without_refused"]

_ALWAYS = (
    "\x00-\x08\x0b\x0c\x0e-\x1f"  # C0 controls but tab, LF, CR
    "\x7f-\x9f"  # DEL and C1 controls
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, isolates
    "\u200b\u200c\u2060\ufeff"  # zero-width space, non-joiner, word joiner, BOM
    "\ud800-\udfff"  # lone surrogates
)
_LABEL = re.compile(f"[{_ALWAYS}\t\n\r\u200d]")
_FREE = re.compile(f"[{_ALWAYS}]")
_CRS_LF = re.compile("\r+\n")


class TextError(ValueError):
    """Text with a character its field refuses (a 422 naming ``field``)."""

    def __init__(self, field: str, char: str, position: int) -> None:
        self.field = field
        self.char = char
        self.position = position
        super().__init__(f"contains {_describe(char)} (U+{ord(char):04X}) at position "
                         f"{position}; it is not allowed here")


def _describe(char: str) -> str:
    code = ord(char)
    if code <= 0x1F or code == 0x7F:
        return "a control character"
    if code <= 0x9F:
        return "a C1 control character"
    if 0xD800 <= code <= 0xDFFF:
        return "a lone surrogate"
    if char in "\u200b\u200c\u200d\u2060\ufeff":
        return "a zero-width character"
    return "a bidirectional formatting character"


def forbidden_in(value: str, *, free: bool = False) -> tuple[str, int] | None:
    """The first refused character and its position, or ``None``."""
    found = (_FREE if free else _LABEL).search(value)
    return None if found is None else (found.group(), found.start())


def check_text(value: str, field: str) -> str:
    """A label or name (party name, account code, transfer code...): refused
    characters raise ``TextError``; the text is returned in NFC."""
    bad = forbidden_in(value)
    if bad is not None:
        raise TextError(field, *bad)
    return unicodedata.normalize("NFC", value)


def check_free_text(value: str, field: str) -> str:
    """A free-text field (note, reason, description, address): as ``check_text`` but
    tab, LF, CR and U+200D are allowed; CRLF becomes LF (CR CR LF too; a lone CR stays)."""
    bad = forbidden_in(value, free=True)
    if bad is not None:
        raise TextError(field, *bad)
    # Until no CRLF is left: one pass of replace would turn CR CR LF into CRLF.
    return unicodedata.normalize("NFC", _CRS_LF.sub("\n", value))


def without_refused(value: str, *, free: bool = False) -> str:
    """``value`` with every refused character taken out, in NFC: what a refused text
    stands in as while the other fields of its body are checked (so that their refusals
    are named in the same 422, and no refused character reaches a later check)."""
    return unicodedata.normalize("NFC", (_FREE if free else _LABEL).sub("", value))
