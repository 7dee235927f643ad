"""The Italian of what the request pages show from the application in English: the
reasons matching gives for each opportunity, the application's field errors about
requests and terms, and the refusals of funding said as what to change.

Matching writes its reasons as plain English sentences with amounts like
``4,800.00 EUR`` (``matching.scoring.reasons``); each known sentence has its Italian
here, amounts in the Italian format (``4.800,00 €``). A sentence matching does not
write yet is shown as it is rather than hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from reports.italian import refusal
from service.web.formatting import day, euro, number
from service.web.labels import field_message

_EUR = r"(-?[\d,]+\.\d{2}) EUR"
_PCT = r"([\d.]+)%"


def _money(text: str) -> str:
    return euro(Decimal(text.replace(",", "")))


def _pct(text: str) -> str:
    return number(Decimal(text)) + "%"


def _eur_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + pattern.replace("{EUR}", _EUR).replace("{PCT}", _PCT) + "$")


Render = Callable[[re.Match[str]], str]


def _m(i: int) -> Render:
    return lambda found: _money(found.group(i))


# (pattern, Italian builder) for each sentence of ``matching.scoring.reasons``.
_REASONS: list[tuple[re.Pattern[str], Render]] = [
    (_eur_pattern(r"{EUR} left on its prepayment expiring (\d{4}-\d{2}-\d{2}) is set to roll "
                  r"over: idle money, proposed first"),
     lambda f: f"{_money(f.group(1))} restano sul suo prefinanziamento in scadenza il "
               f"{day(f.group(2))}, che si rinnova: denaro fermo, proposto per primo"),
    (_eur_pattern(r"buys from this producer since (\d{4}) \((\d+) years\), {EUR} a year"),
     lambda f: f"compra da questo produttore dal {f.group(1)} ({f.group(2)} "
               f"{'anno' if f.group(2) == '1' else 'anni'}), {_money(f.group(3))} l'anno"),
    (_eur_pattern(r"(\d+) of its (\d+) households buy from it"),
     lambda f: f"{f.group(1)} delle sue {f.group(2)} famiglie comprano da lui"),
    (_eur_pattern(r"buys this producer's category from other producers"),
     lambda f: "compra prodotti di questa categoria da altri produttori"),
    (_eur_pattern(r"buys nothing of this category yet: demand no one serves"),
     lambda f: "non compra ancora prodotti di questa categoria: domanda che nessuno serve"),
    (_eur_pattern(r"named by the producer in the request"),
     lambda f: "indicato dal produttore nella richiesta"),
    (_eur_pattern(r"declared interest in prepaying {EUR}"),
     lambda f: f"ha dichiarato interesse a prefinanziare {_money(f.group(1))}"),
    (_eur_pattern(r"declared interest in guaranteeing {EUR}"),
     lambda f: f"ha dichiarato interesse a garantire {_money(f.group(1))}"),
    (_eur_pattern(r"(\d+) km away"), lambda f: f"a {f.group(1)} km"),
    (_eur_pattern(r"(\d+) households"), lambda f: f"{f.group(1)} famiglie"),
    (_eur_pattern(r"sized at its declared {EUR}"),
     lambda f: f"importo pari a quanto dichiarato: {_money(f.group(1))}"),
    (_eur_pattern(r"sized at {PCT} of its yearly purchases from this producer: {EUR}"),
     lambda f: f"importo pari al {_pct(f.group(1))} dei suoi acquisti annui da questo "
               f"produttore: {_money(f.group(2))}"),
    (_eur_pattern(r"sized at (\d+) households x {EUR} per household: {EUR}"),
     lambda f: f"importo pari a {f.group(1)} famiglie × {_money(f.group(2))} a famiglia: "
               f"{_money(f.group(3))}"),
    (_eur_pattern(r"sized at {PCT} of (\d+) households x {EUR}, as it does not buy from "
                  r"this producer yet: {EUR}"),
     lambda f: f"importo pari al {_pct(f.group(1))} di {f.group(2)} famiglie × "
               f"{_money(f.group(3))}, perché non compra ancora da questo produttore: "
               f"{_money(f.group(4))}"),
    (_eur_pattern(r"its GAS-wide budget leaves {EUR} of fresh money"),
     lambda f: f"il budget complessivo del GAS lascia {_money(f.group(1))} di denaro nuovo"),
    (_eur_pattern(r"capped at {PCT} of the request \({EUR}\) so no single GAS carries it"),
     lambda f: f"limitato al {_pct(f.group(1))} della richiesta ({_money(f.group(2))}) "
               "perché nessun GAS la sostenga da solo"),
    (_eur_pattern(r"match funding: when GAS prepayments reach {PCT} of the request "
                  r"\({EUR}\), this pool tops up the rest up to {EUR}"),
     lambda f: f"cofinanziamento: quando i prefinanziamenti dei GAS arrivano al "
               f"{_pct(f.group(1))} della richiesta ({_money(f.group(2))}), questo fondo "
               f"aggiunge il resto fino a {_money(f.group(3))}"),
    (_eur_pattern(r"the GAS suggested here could prepay {EUR} together"),
     lambda f: f"i GAS suggeriti qui potrebbero prefinanziare insieme {_money(f.group(1))}"),
    (_eur_pattern(r"has {EUR} free to lend"),
     lambda f: f"ha {_money(f.group(1))} disponibili da prestare"),
    (_eur_pattern(r"{EUR} of it is repaid capital sitting idle: proposed first"),
     lambda f: f"{_money(f.group(1))} sono capitale rimborsato e fermo: proposto per primo"),
    (_eur_pattern(r"lends at most {EUR} per loan"),
     lambda f: f"presta al massimo {_money(f.group(1))} per prestito"),
    (_eur_pattern(r"per-borrower cap {EUR}, {EUR} already outstanding with this lender"),
     lambda f: f"limite per beneficiario {_money(f.group(1))}, {_money(f.group(2))} già in "
               "essere con questo finanziatore"),
    (_eur_pattern(r"a top-up rests on the GAS prepayments, not on share capital"),
     lambda f: "il cofinanziamento si basa sui prefinanziamenti dei GAS, non sul capitale "
               "sociale"),
    (_eur_pattern(r"the producer and its GAS subscribed {EUR} of shares: cap ([\d.]+) x = "
                  r"{EUR}"),
     lambda f: f"il produttore e i suoi GAS hanno sottoscritto {_money(f.group(1))} di quote: "
               f"limite {number(Decimal(f.group(2)))} × = {_money(f.group(3))}"),
    (_eur_pattern(r"the producer is (\d+) days past due with {EUR} in arrears"),
     lambda f: f"il produttore è in ritardo di {f.group(1)} giorni con {_money(f.group(2))} "
               "scaduti"),
    (_eur_pattern(r"the producer repaid (\d+) earlier loans, (\d+) late installments, "
                  r"(\d+) written off"),
     lambda f: f"il produttore ha rimborsato {f.group(1)} prestiti precedenti, rate pagate in "
               f"ritardo: {f.group(2)}, passati a perdita: {f.group(3)}"),
    (_eur_pattern(r"the producer has no loan history and no arrears"),
     lambda f: "il produttore non ha prestiti precedenti né arretrati"),
    (_eur_pattern(r"has {EUR} free pledge capacity"),
     lambda f: f"ha {_money(f.group(1))} di capacità di garanzia libera"),
    (_eur_pattern(r"member of (.+), which buys from this producer"),
     lambda f: f"socio di {f.group(1)}, che compra da questo produttore"),
    (_eur_pattern(r"a producer that also sells to (.+)"),
     lambda f: f"un produttore che vende anche a {f.group(1)}"),
    (_eur_pattern(r"has a declared tie to this producer"),
     lambda f: "ha un legame dichiarato con questo produttore"),
    (_eur_pattern(r"sized at {PCT} of the request: {EUR}"),
     lambda f: f"importo pari al {_pct(f.group(1))} della richiesta: {_money(f.group(2))}"),
    (_eur_pattern(r"fund balance {EUR} sits idle: proposed first"),
     lambda f: f"il saldo del fondo, {_money(f.group(1))}, è fermo: proposto per primo"),
    (_eur_pattern(r"{EUR} is earmarked for this producer"),
     lambda f: f"{_money(f.group(1))} sono destinati a questo produttore"),
    (_eur_pattern(r"{EUR} is not earmarked and (.+) buys here"),
     lambda f: f"{_money(f.group(1))} non sono vincolati e {f.group(2)} compra qui"),
]


def reason(text: str) -> str:
    """The Italian of one reason matching gives (the text itself if unknown)."""
    for pattern, build in _REASONS:
        found = pattern.match(text)
        if found:
            return build(found)
    return text


# The application's messages about requests, terms and funding, in Italian; anything
# else goes to the shared table (``labels.field_message``).
_MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"between 1 and 600"), "Da 1 a 600 mesi."),
    (re.compile(r"an integer from 0 to 10"), "Un numero intero da 0 a 10."),
    (re.compile(r"listed twice"), "Indicato due volte."),
    (re.compile(r"fees must be less than the principal"),
     "Le spese devono essere inferiori all'importo."),
    (re.compile(r"is not a whole number of \w+ periods \((\d+) months each\)"),
     "La durata deve essere un multiplo di \\1 mesi con questa periodicità."),
    (re.compile(r"term_months must be at most (\d+)"), "Al massimo \\1 mesi."),
    (re.compile(r"must be fewer than the (\d+) periods"),
     "Devono essere meno delle \\1 rate del prestito."),
    (re.compile(r"a bullet loan has no grace periods"),
     "Il rimborso unico a scadenza non ha preammortamento: indica 0."),
    (re.compile(r"a yearly percentage of at most 100"), "Al massimo 100%."),
    (re.compile(r"is not a percentage"), "Scrivi una percentuale, per esempio 3,50."),
    (re.compile(r"the due dates fall outside the calendar"), "Durata non valida."),
    (re.compile(r"a borrower cannot guarantee its own loan"),
     "Il produttore non può garantire il proprio prestito."),
    (re.compile(r"the lender has no loan category"),
     "Il finanziatore non ha una categoria di prestito con questo nome."),
    (re.compile(r"no pool of this lender"), "Il fondo scelto non è di questo finanziatore."),
    (re.compile(r"no (lender|GAS, person or producer) with this id"),
     "Scegli un valore dall'elenco."),
    (re.compile(r"a package has a loan, prepayments or both"),
     "Le condizioni comprendono un prestito, dei prefinanziamenti o entrambi: "
     "indica almeno l'importo del prestito o un prefinanziamento."),
    (re.compile(r"guarantees back a loan"),
     "Le garanzie accompagnano un prestito: indica anche il prestito o togli le garanzie."),
    (re.compile(r"expires on .*not after the funding date"),
     "Un prefinanziamento delle condizioni scade entro questa data: scegli una data di "
     "erogazione precedente o sposta la scadenza nelle condizioni."),
]


def message(text: str) -> str:
    """The Italian of an application error about a request (a generic one if unknown)."""
    for pattern, italian in _MESSAGES:
        found = pattern.search(text)
        if found:
            return found.expand(italian)
    return field_message(text)


# What to change when funding is refused (409), one sentence each.
_FUNDING: dict[str, str] = {
    "insufficient_funds":
        "Il fondo scelto non ha abbastanza denaro disponibile per erogare il prestito: "
        "scegli un altro fondo o riduci l'importo del prestito nelle condizioni.",
    "exceeds_capacity":
        "Un garante non ha abbastanza capacità di garanzia libera: riduci l'importo della "
        "sua garanzia o scegli un altro garante nelle condizioni.",
    "coverage_below_minimum":
        "Le garanzie non raggiungono la copertura minima della categoria di prestito: "
        "aggiungi una garanzia o aumentane gli importi nelle condizioni.",
    "loan_limit_exceeded":
        "Il prestito supera i limiti della sua categoria o del fondo (importo, durata o "
        "periodicità): riduci l'importo, accorcia la durata o cambia la periodicità nelle "
        "condizioni.",
    "usury_threshold_exceeded":
        "Il TAEG del prestito supera la soglia d'usura della categoria: abbassa il tasso o "
        "le spese nelle condizioni.",
    "invalid_transition":
        "Si eroga solo una richiesta approvata con le condizioni salvate.",
}


def funding_refusal(code: str) -> str:
    return _FUNDING.get(code) or refusal(code)


def transition_refusal(code: str, detail: str) -> str:
    """A refused status change, said as what to do."""
    if code == "invalid_transition" and "assessment" in detail:
        return ("Per approvare la richiesta serve prima la valutazione: compila e salva il "
                "modulo Valutazione.")
    if code == "invalid_transition" and "note" in detail:
        return "Per ritirare la richiesta al posto del produttore scrivi il motivo nella nota."
    if code == "invalid_transition":
        return ("Lo stato della richiesta è cambiato nel frattempo e non permette più questo "
                "passaggio: ricarica la pagina.")
    return refusal(code)


def interest_refusal(code: str) -> str:
    if code == "closed":
        return ("La richiesta non è più aperta: non si possono più dichiarare o ritirare "
                "interessi.")
    return refusal(code)


# Several lenders on one service: what an officer of another lender is told on the form.
OTHER_LENDER = {
    "request": "Questa richiesta è in carico a un altro finanziatore (un suo operatore "
               "l'ha presa in esame per primo): solo i suoi operatori possono muoverla, "
               "valutarla, fissarne le condizioni ed erogarla.",
    "loan": "Il prestito deve essere del finanziatore che ha in carico la richiesta; un "
            "operatore legato a un finanziatore propone solo prestiti del proprio.",
}
