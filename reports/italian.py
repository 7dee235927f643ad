"""The Italian catalogue: every code Filiera shows a person, with its Italian text.

One table per domain (statuses, kinds, methods, frequencies, categories, account
groups ...), shared by the printed workbooks and the web pages, so a status reads the
same everywhere. ``text(domain, code, lang)`` is the one lookup: ``lang="en"`` keeps
the code itself (codes are the API's English), ``lang="it"`` gives the Italian text.
A code the catalogue does not know (a product category a lender added, an account
created by hand) is shown as it is rather than hidden or refused.

``REFUSALS`` gives one Italian sentence per 409 ``code`` of the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Literal, get_args

__all__ = [
    "CATALOGUE",
    "DOMAINS",
    "REFUSALS",
    "TRANSFER_FLAGS",
    "CodeDomain",
    "refusal",
    "text",
]

CodeDomain = Literal[
    "loan_status",
    "installment_status",
    "request_status",
    "guarantee_status",
    "prepayment_status",
    "instrument",
    "opportunity_kind",
    "method",
    "frequency",
    "early_repayment",
    "on_expiry",
    "payout_kind",
    "fund_entry",
    "party_kind",
    "loan_category",
    "product_category",
    "account_group",
    "account",
    "transfer_code",
    "transfer_flags",
    "assessment",
    "loan_movement",
]
DOMAINS: tuple[CodeDomain, ...] = get_args(CodeDomain)

# The flags of a ledger transfer (TigerBeetle's): the journal lists a transfer's flags
# sorted and joined by ", ", so each such list is a code of its own.
TRANSFER_FLAGS: Mapping[str, str] = {
    "linked": "collegato",
    "pending": "in sospeso",
    "post_pending": "conferma del sospeso",
    "void_pending": "annullamento del sospeso",
}


def _flag_lists() -> dict[str, str]:
    flags = sorted(TRANSFER_FLAGS)
    return {", ".join(chosen): ", ".join(TRANSFER_FLAGS[f] for f in chosen)
            for size in range(1, len(flags) + 1) for chosen in combinations(flags, size)}

CATALOGUE: Mapping[CodeDomain, Mapping[str, str]] = {
    "loan_status": {
        "approved": "approvato",
        "active": "attivo",
        "repaid": "rimborsato",
        "written_off": "passato a perdita",
    },
    "installment_status": {
        "open": "da pagare",
        "paid": "pagata",
        "overdue": "scaduta",
    },
    "request_status": {
        "submitted": "inviata",
        "under_review": "in esame",
        "needs_info": "informazioni richieste",
        "approved": "approvata",
        "rejected": "respinta",
        "withdrawn": "ritirata",
        "funded": "finanziata",
        "closed": "chiusa",
    },
    "guarantee_status": {
        "active": "attiva",
        "called": "escussa",
        "released": "liberata",
    },
    "prepayment_status": {
        "open": "aperto",
        "closed": "chiuso",
    },
    # What a funding request asks for.
    "instrument": {
        "loan": "prestito",
        "prepayment": "prefinanziamento dai GAS",
        "mixed": "misto",
    },
    # Where a matching opportunity would come from.
    "opportunity_kind": {
        "prepayment": "prefinanziamento di un GAS",
        "loan": "prestito",
        "guarantee": "garanzia",
        "solidarity": "fondo di solidarietà",
    },
    "method": {
        "french": "rata costante (francese)",
        "italian": "quota capitale costante (italiano)",
        "bullet": "rimborso unico a scadenza",
    },
    "frequency": {
        "monthly": "mensile",
        "quarterly": "trimestrale",
        "semiannual": "semestrale",
        "annual": "annuale",
    },
    "early_repayment": {
        "term": "stessa durata, rate più basse",
        "shorten_term": "stessa rata, durata più breve",
    },
    "on_expiry": {
        "refund": "rimborso",
        "rollover": "rinnovo",
        "solidarity": "fondo di solidarietà",
    },
    "payout_kind": {
        "grant": "contributo a fondo perduto",
        "loss_cover": "copertura di perdite",
    },
    # An entry of a solidarity fund: money in (contributions, a prepayment's remainder
    # given to the fund) or out (payouts).
    "fund_entry": {
        "contribution": "contributo",
        "prepayment": "residuo di prefinanziamento",
        "grant": "contributo a fondo perduto",
        "loss_cover": "copertura di perdite",
    },
    "party_kind": {
        "gas": "GAS",
        "person": "persona",
        "producer": "produttore",
        "lender": "finanziatore",
        "des": "DES",
        "member": "socio",
    },
    "loan_category": {
        "microcredit": "microcredito",
    },
    # The product categories of the demo catalogue (service/demo.py).
    "product_category": {
        "bread": "pane",
        "cheese": "formaggi",
        "dairy": "latticini",
        "eggs": "uova",
        "flour": "farine",
        "fruit": "frutta",
        "honey": "miele",
        "meat": "carne e salumi",
        "oil": "olio",
        "rice": "riso",
        "vegetables": "ortaggi",
        "wine": "vino",
    },
    "account_group": {
        "pools": "Disponibilità per prestiti",
        "loans": "Prestiti",
        "income": "Proventi",
        "losses": "Perdite",
        "funds": "Fondi di solidarietà",
        "pledges": "Garanzie",
        "prepayments": "Prefinanziamenti",
        "shares": "Capitale sociale",
        "other": "Altri conti",
    },
    # The purpose (first part of the code) of each account the ledger's chart uses.
    "account": {
        "pool": "Pool: disponibilità da prestare",
        "pool-funding": "Pool: versamenti ricevuti",
        "loan": "Prestito: capitale da rimborsare",
        "loan-payments": "Prestito: pagamenti del beneficiario",
        "loan-covered": "Prestito: capitale coperto da garanti o fondi",
        "interest": "Interessi attivi",
        "penalty": "Interessi di mora",
        "recovery": "Recuperi dopo il passaggio a perdita",
        "loss": "Capitale passato a perdita",
        "fund": "Fondo: disponibilità non vincolata",
        "earmark": "Fondo: somme vincolate a un produttore",
        "producer-grants": "Contributi ricevuti dal produttore",
        "gas-external": "Versamenti del GAS",
        "member-external": "Quote sottoscritte dal socio",
        "pledge": "Garante: capacità non impegnata",
        "pledge-limit": "Garante: capacità concessa",
        "guarantee": "Garanzia: somme escusse da imputare",
        "prepayment": "Prefinanziamento: merce ancora dovuta",
        "producer-goods": "Produttore: merce consegnata",
    },
    # The code (causale) of a ledger transfer, as the journal lists it.
    "transfer_code": {
        "deposit": "versamento nel pool",
        "share": "quota sociale sottoscritta",
        "disbursement": "erogazione del prestito",
        "principal": "rimborso di capitale",
        "interest": "interessi",
        "penalty": "interessi di mora",
        "recovery": "recupero dopo la perdita",
        "write_off": "passaggio a perdita",
        "pledge": "impegno di garanzia",
        "pledge_capacity": "capacità di garanzia concessa",
        "pledge_reduction": "riduzione della capacità di garanzia",
        "call": "escussione della garanzia",
        "release": "liberazione della garanzia",
        "prepayment": "prefinanziamento versato",
        "delivery": "consegna di merce",
        "refund": "rimborso del residuo al GAS",
        "rollover": "rinnovo del residuo",
        "solidarity": "residuo al fondo di solidarietà",
        "contribution": "contributo al fondo",
        "grant": "contributo a fondo perduto erogato",
        "loss_cover": "copertura di perdite erogata",
    },
    # A transfer's flags as the journal lists them ("linked, pending").
    "transfer_flags": _flag_lists(),
    "assessment": {
        "economic": "valutazione economica",
        "social": "valutazione sociale e ambientale",
    },
    # An operation on a loan, as the loan statement lists it.
    "loan_movement": {
        "disbursement": "erogazione",
        "repayment": "rimborso",
        "guarantee_call": "pagamento del garante (escussione)",
        "loss_cover": "copertura dal fondo di solidarietà",
        "restructuring": "rinegoziazione del piano",
        "write_off": "passaggio a perdita",
        "recovery": "recupero dopo la perdita",
    },
}

# One sentence per 409 code of the API, said to the person who asked.
REFUSALS: Mapping[str, str] = {
    "idempotency_conflict": "Questa richiesta ha lo stesso identificativo di una precedente "
    "ma un contenuto diverso: non è stata eseguita.",
    "invalid_transition": "Lo stato attuale non permette questo passaggio.",
    "insufficient_funds": "Il saldo disponibile non basta per questa operazione.",
    "exceeds_capacity": "L'importo supera la capacità di garanzia ancora libera del garante.",
    "exceeds_prepayment": "La consegna vale più di quanto resta del prefinanziamento.",
    "closed": "Il prefinanziamento è già chiuso: non accetta altre operazioni.",
    "usury_threshold_exceeded": "Il TAEG supera la soglia d'usura fissata per questa "
    "categoria di prestito.",
    "loan_limit_exceeded": "Le condizioni superano i limiti della categoria di prestito o "
    "del pool (importo, durata o periodicità).",
    "coverage_below_minimum": "Le garanzie non raggiungono la copertura minima richiesta "
    "per erogare il prestito.",
    "loan_not_active": "Il prestito non è attivo (non ancora erogato, già rimborsato o "
    "passato a perdita): non può ricevere pagamenti.",
    "already_disbursed": "Il prestito è già stato erogato.",
    "already_released": "La garanzia è già stata liberata o interamente escussa.",
    "already_reversed": "L'operazione è già stata stornata.",
    "period_closed": "Il periodo contabile è chiuso: la data è compresa nei conti già chiusi.",
}


def text(domain: CodeDomain, code: str, lang: Literal["it", "en"] = "it") -> str:
    """The text of ``code`` in ``domain``: Italian for ``it``, the code itself for ``en``.

    A code the catalogue lacks stays as it is (a category a lender added by hand).
    """
    if lang != "it":
        return code
    return CATALOGUE[domain].get(code, code)


def refusal(code: str) -> str:
    """The Italian sentence for a 409 ``code`` (the code itself if unknown)."""
    return REFUSALS.get(code, code)
