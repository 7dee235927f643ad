"""Text fields: every refused code point, exhaustively, against the contract's list
written out here; what free text also accepts; CRLF and NFC; hypothesis invariants."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.text import TextError, check_free_text, check_text, forbidden_in, without_refused

# API.md, "Hardening (second wave)", as inclusive ranges; plus lone surrogates.
REFUSED = [(0x00, 0x1F), (0x7F, 0x7F), (0x80, 0x9F), (0x061C, 0x061C), (0x200E, 0x200F),
           (0x202A, 0x202E), (0x2066, 0x2069), (0x200B, 0x200D), (0x2060, 0x2060),
           (0xFEFF, 0xFEFF), (0xD800, 0xDFFF)]
FREE_ALSO = {0x09, 0x0A, 0x0D, 0x200D}
REFUSED_SET = {c for lo, hi in REFUSED for c in range(lo, hi + 1)}


def test_every_code_point_of_the_refused_ranges_is_refused_in_labels() -> None:
    for code in sorted(REFUSED_SET):
        char = chr(code)
        for text, at in ((char, 0), (f"Cascina{char}", 7), (f"a{char}b{char}", 1)):
            with pytest.raises(TextError) as caught:
                check_text(text, "name")
            assert (caught.value.field, caught.value.char, caught.value.position) == \
                ("name", char, at)
            assert f"U+{code:04X}" in str(caught.value)


def test_free_text_accepts_tab_lf_cr_and_the_joiner_and_nothing_else_refused() -> None:
    for code in sorted(REFUSED_SET):
        text = f"nota {chr(code)} fine"
        if code in FREE_ALSO:
            assert check_free_text(text, "note") == text
        else:
            with pytest.raises(TextError):
                check_free_text(text, "note")


def test_whole_code_space_refused_exactly_as_listed() -> None:
    # Every code point, alone: refused iff listed (free text: unless also accepted).
    refused_free = REFUSED_SET - FREE_ALSO
    label = [c for c in range(0x110000) if forbidden_in(chr(c)) is not None]
    free = [c for c in range(0x110000) if forbidden_in(chr(c), free=True) is not None]
    assert label == sorted(REFUSED_SET)
    assert free == sorted(refused_free)


def test_neighbours_of_the_ranges_pass() -> None:
    for code in (0x20, 0x7E, 0xA0, 0x061B, 0x061D, 0x200A, 0x2010, 0x2029, 0x202F, 0x205F,
                 0x2061, 0x2065, 0x206A, 0xFEFE, 0xFF00, 0xD7FF, 0xE000, 0x1F600):
        assert check_text(f"x{chr(code)}y", "name") == unicodedata.normalize(
            "NFC", f"x{chr(code)}y")


def test_worked_examples() -> None:
    assert check_text("Caseificio Rossi", "name") == "Caseificio Rossi"
    # "e" + combining acute becomes one "é" (NFC), the same as typed precomposed.
    assert check_text("Cafe\u0301", "name") == "Caf\u00e9"
    assert check_text("Caf\u00e9", "name") == "Caf\u00e9"
    # Angstrom sign and Kelvin sign are canonical singletons: NFC maps them.
    assert check_text("\u212b \u212a", "name") == "\u00c5 K"
    assert check_free_text("riga 1\r\nriga 2\rriga 3\n\tfine", "note") == \
        "riga 1\nriga 2\rriga 3\n\tfine"
    assert check_free_text("a\r\r\nb\r", "note") == "a\nb\r"
    # A family emoji: people joined by U+200D.
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
    assert check_free_text(f"grazie {family}", "note") == f"grazie {family}"
    with pytest.raises(TextError, match="zero-width"):
        check_text(family, "name")
    with pytest.raises(TextError, match="bidirectional"):
        check_text("invoice\u202egnp.exe", "code")
    with pytest.raises(TextError, match=r"a control character \(U\+0000\) at position 3"):
        check_text("abc\x00", "code")
    with pytest.raises(TextError, match="C1"):
        check_free_text("\x85", "note")
    with pytest.raises(TextError, match="surrogate"):
        check_free_text("\ud83d", "note")
    assert isinstance(TextError("f", "\x00", 0), ValueError)
    assert check_text("", "name") == "" and check_free_text("", "note") == ""


_ALLOWED = st.characters(codec="utf-8", exclude_characters="".join(
    chr(c) for c in REFUSED_SET if c < 0xD800 or c > 0xDFFF))
_FREE_CHARS = st.one_of(_ALLOWED, st.sampled_from(["\t", "\n", "\r", "\u200d", "\r\n"]))


@settings(max_examples=300, deadline=None)
@given(st.text(_ALLOWED))
def test_allowed_text_comes_back_in_nfc_unchanged_otherwise(text: str) -> None:
    got = check_text(text, "name")
    assert got == unicodedata.normalize("NFC", text)
    assert unicodedata.is_normalized("NFC", got)
    assert check_text(got, "name") == got  # idempotent


@settings(max_examples=300, deadline=None)
@given(st.lists(_FREE_CHARS).map("".join))
def test_free_text_has_no_crlf_and_is_nfc(text: str) -> None:
    got = check_free_text(text, "note")
    assert "\r\n" not in got
    # Independently: drop every CR that only CRs separate from an LF.
    kept = "".join(ch for k, ch in enumerate(text)
                   if ch != "\r" or text[k:].lstrip("\r")[:1] != "\n")
    assert got == unicodedata.normalize("NFC", kept)
    assert check_free_text(got, "note") == got


@settings(max_examples=300, deadline=None)
@given(st.text(_ALLOWED), st.sampled_from(sorted(REFUSED_SET)), st.text(_ALLOWED))
def test_one_refused_character_anywhere_is_found(before: str, code: int, after: str) -> None:
    text = before + chr(code) + after
    with pytest.raises(TextError) as caught:
        check_text(text, "name")
    assert caught.value.char == chr(code) and caught.value.position == len(before)
    if code not in FREE_ALSO:
        with pytest.raises(TextError):
            check_free_text(text, "note")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2100)
               | st.sampled_from(["\ufeff", "\u200d", "\ud800", "\u0301"])),
       st.booleans())
def test_without_refused_keeps_every_other_character(value: str, free: bool) -> None:
    # The stand-in of a refused text: what check accepts, the kept characters in order.
    cleaned = without_refused(value, free=free)
    allowed_also = FREE_ALSO if free else set()
    kept = "".join(c for c in value
                   if ord(c) not in REFUSED_SET or ord(c) in allowed_also)
    assert cleaned == unicodedata.normalize("NFC", kept)
    assert forbidden_in(cleaned, free=free) is None
