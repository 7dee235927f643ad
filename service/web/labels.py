"""The words the pages use where UI.md fixes them (statuses, choices), and the Italian
for the application's field errors. Everything else comes from ``reports.italian``."""

from __future__ import annotations

import re

from reports.italian import text

REQUEST_STATUS = {
    "submitted": "Inviata",
    "under_review": "In esame",
    "needs_info": "Informazioni richieste",
    "approved": "Approvata",
    "rejected": "Respinta",
    "withdrawn": "Ritirata",
    "funded": "Finanziata",
    "closed": "Chiusa",
}
LOAN_STATUS = {"approved": "Approvato", "active": "Attivo", "repaid": "Rimborsato",
               "written_off": "Passato a perdita"}
GUARANTEE_STATUS = {"active": "Attiva", "called": "Escussa", "released": "Liberata"}
PREPAYMENT_STATUS = {"open": "Aperto", "closed": "Chiuso"}
INSTRUMENTS = {"loan": "Prestito", "prepayment": "Prefinanziamento dai GAS",
               "mixed": "Misto"}
FREQUENCIES = {"monthly": "Mensile", "quarterly": "Trimestrale",
               "semiannual": "Semestrale", "annual": "Annuale"}
METHODS = {"french": "Rata costante (francese)",
           "italian": "Quota capitale costante (italiano)",
           "bullet": "Rimborso unico a scadenza"}
ON_EXPIRY = {"refund": "Rimborso", "rollover": "Rinnovo", "solidarity": "Fondo di solidarietà"}
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
