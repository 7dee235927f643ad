"""The notes the service writes itself into a request's history ("funded on ...",
"closed automatically: ..."), said in Italian on the pages, with dates as dd/mm/yyyy and
instruments by their references. People's own notes are shown as they wrote them."""

from __future__ import annotations

import re
from collections.abc import Mapping

from service.web.formatting import day

_FUNDED = re.compile(r"funded on (\d{4}-\d{2}-\d{2})")
_LOAN_REPAID = re.compile(r"closed automatically: loan (\S+) repaid(?: \(recorded by (.+)\))?")
_PREPAYMENT_CLOSED = re.compile(r"closed automatically: prepayment (\S+) closed")
_REOPENED = re.compile(r"reopened: loan (\S+) owes again after the correction \S+")


def history_note(note: str | None, references: Mapping[str, str]) -> str | None:
    """``note`` in Italian when the service wrote it; ``references``: instrument id ->
    its reference (an id without one is shown as it is)."""
    if not note:
        return note
    if m := _FUNDED.fullmatch(note):
        return f"finanziata il {day(m[1])}"
    if m := _LOAN_REPAID.fullmatch(note):
        by = f" (registrato da {m[2]})" if m[2] else ""
        return f"chiusa automaticamente: prestito {references.get(m[1], m[1])} " \
               f"rimborsato{by}"
    if m := _PREPAYMENT_CLOSED.fullmatch(note):
        return f"chiusa automaticamente: prefinanziamento {references.get(m[1], m[1])} chiuso"
    if m := _REOPENED.fullmatch(note):
        return f"riaperta: il prestito {references.get(m[1], m[1])} torna a dovere dopo " \
               "una correzione"
    return note
