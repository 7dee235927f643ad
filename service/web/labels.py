"""The words of the pages: statuses and choices from the one Italian catalogue
(``reports.italian``, which the workbooks use too), the few form choices UI.md words as
actions, and the Italian for the application's field errors."""

from __future__ import annotations

import re

from reports.italian import CATALOGUE, CodeDomain, text


def _capitalised(domain: CodeDomain) -> dict[str, str]:
    """A domain of the one Italian catalogue as choices and statuses are written on the
    pages: the same words as the workbooks, with a capital letter."""
    return {code: word[:1].upper() + word[1:] for code, word in CATALOGUE[domain].items()}


REQUEST_STATUS = _capitalised("request_status")
LOAN_STATUS = _capitalised("loan_status")
GUARANTEE_STATUS = _capitalised("guarantee_status")
PREPAYMENT_STATUS = _capitalised("prepayment_status")
INSTRUMENTS = _capitalised("instrument")
FREQUENCIES = _capitalised("frequency")
METHODS = _capitalised("method")
ON_EXPIRY = _capitalised("on_expiry")
# Choices of a form whose words UI.md fixes as actions, not as the codes' names.
EARLY_REPAYMENT = {"term": "Riduci la rata", "shorten_term": "Riduci la durata"}
INTEREST_KINDS = {"prepayment": "Prefinanziamento", "guarantee": "Garanzia"}
ROLES = {"admin": "amministratore", "officer": "istruttore MAG", "producer": "produttore",
         "gas": "GAS"}


def label(table: dict[str, str], code: str | None) -> str:
    if code is None:
        return "—"
    return table.get(code, code)


def catalogue(domain: str, code: str | None) -> str:
    if code is None:
        return "—"
    return text(domain, code)  # type: ignore[arg-type]


_MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^required"), "Campo obbligatorio."),
    (re.compile(r"must be positive|greater than (0|zero)"), "Deve essere maggiore di zero."),
    (re.compile(r"must not be negative"), "Non può essere negativo."),
    (re.compile(r"after today"), "La data non può essere successiva a oggi."),
    (re.compile(r"a date from"), "La data è fuori dall'intervallo ammesso."),
    (re.compile(r"is not a date"), "Scrivi la data come gg/mm/aaaa."),
    (re.compile(r"at most (\d+) decimals"), "Al massimo \\1 decimali."),
    (re.compile(r"at most (\d+) characters"), "Al massimo \\1 caratteri."),
    (re.compile(r"1 to (\d+) characters"), "Da 1 a \\1 caratteri."),
    (re.compile(r"before the prepayment's date"),
     "La data è precedente al pagamento del prefinanziamento."),
    (re.compile(r"is worth more than"), "La quantità vale più di quanto resta da consegnare."),
    (re.compile(r"the basis gives"),
     "L'importo non corrisponde a quantità per contributo per unità."),
    (re.compile(r"is not the user's password"), "La password attuale non è corretta."),
    (re.compile(r"at least (\d+) characters"), "Almeno \\1 caratteri."),
    (re.compile(r"say why"), "Scrivi il motivo."),
    (re.compile(r"no (GAS|producer) with this id"), "Scegli un valore dall'elenco."),
    (re.compile(r"not a UUID"), "Scegli un valore dall'elenco."),
    (re.compile(r"^one of"), "Scegli un valore dall'elenco."),
]


def field_message(message: str) -> str:
    """The Italian of an application error message (a generic sentence if unknown)."""
    for pattern, italian in _MESSAGES:
        found = pattern.search(message)
        if found:
            return found.expand(italian)
    return "Valore non valido."
