"""The reports Filiera offers: names, titles, parameters and who may see each.

The service lists this at ``GET /api/reports`` and serves
``GET /api/reports/{name}.{xlsx|csv|parquet}``, and ``.pdf`` for the reports made to be
printed (``printable``: the loan statement and the portfolio). Officers and admins see every report;
a producer its own ``loan-statement`` and ``prepayments``; a GAS treasurer its own
``prepayments`` and ``solidarity``. "Own" is the service's job: it forces the
``scope_parameter`` of the report to the user's party.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CATALOG",
    "FORMATS",
    "PDF",
    "ReportInfo",
    "ReportParameter",
    "Role",
    "report_info",
    "reports_for_role",
]

Role = Literal["admin", "officer", "producer", "gas"]
# "percentages": comma-separated percents, e.g. "0,10,25,50,100".
ParameterKind = Literal["date", "uuid", "percentages"]
FORMATS: tuple[str, ...] = ("xlsx", "csv", "parquet")  # every report
PDF = "pdf"  # the printable ones too


@dataclass(frozen=True)
class ReportParameter:
    name: str
    kind: ParameterKind
    required: bool
    description_it: str
    description_en: str


@dataclass(frozen=True)
class ReportInfo:
    name: str
    title_it: str
    title_en: str
    description_it: str
    description_en: str
    parameters: tuple[ReportParameter, ...]
    roles: tuple[Role, ...]
    # For producer and gas users: the parameter the service fixes to their own party.
    scope_parameter: Mapping[Role, str] = field(default_factory=dict, hash=False)
    streaming: bool = False  # large: write with write_xlsx_streaming
    printable: bool = False  # also comes as an A4 PDF

    def parameter_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    def formats(self) -> tuple[str, ...]:
        return (*FORMATS, PDF) if self.printable else FORMATS


AS_OF = ReportParameter("as_of", "date", False, "data di riferimento (predefinita: oggi)",
                        "as-of date (default: today)")
FROM = ReportParameter("from", "date", False, "inizio del periodo (predefinito: 1 gennaio)",
                       "start of the period (default: 1 January)")
TO = ReportParameter("to", "date", False, "fine del periodo (predefinita: as_of)",
                     "end of the period (default: as_of)")
LOAN_ID = ReportParameter("loan_id", "uuid", True, "prestito", "loan")
GAS_ID = ReportParameter("gas_id", "uuid", False, "filtra per GAS", "filter by GAS")
PRODUCER_ID = ReportParameter("producer_id", "uuid", False, "filtra per produttore",
                              "filter by producer")
PROVISIONING = ReportParameter(
    "provisioning", "percentages", False,
    "aliquote di accantonamento in percentuale (0-100, al più 2 decimali) per le fasce in "
    "regola, 1-30, 31-60, 61-90 e oltre 90 giorni, in quest'ordine (predefinite: "
    "0,10,25,50,100)",
    "provisioning rates in percent (0-100, at most 2 decimals) for the buckets current, "
    "1-30, 31-60, 61-90 and over 90 days, in that order (default: 0,10,25,50,100)")

_OFFICERS: tuple[Role, ...] = ("admin", "officer")

CATALOG: tuple[ReportInfo, ...] = (
    ReportInfo(
        "portfolio", "Qualità del portafoglio prestiti", "Loan portfolio quality",
        "PAR30, PAR90, tasso di perdita, accantonamenti, copertura del rischio e delle "
        "garanzie, anzianità dello scaduto e concentrazione.",
        "PAR30, PAR90, write-off ratio, loan-loss allowance, risk and guarantee cover, "
        "aging and concentration.",
        (AS_OF, FROM, TO, PRODUCER_ID, PROVISIONING), _OFFICERS, printable=True),
    ReportInfo(
        "loan-statement", "Estratto conto del prestito", "Loan statement",
        "Piano di ammortamento, pagamenti e saldo di un prestito.",
        "Schedule, payments and balance of one loan.",
        (LOAN_ID, AS_OF), (*_OFFICERS, "producer"), {"producer": "producer_id"},
        printable=True),
    ReportInfo(
        "arrears", "Prestiti in ritardo", "Arrears",
        "Prestiti con rate scadute non pagate, per giorni di ritardo.",
        "Loans with unpaid installments due, by days past due.",
        (AS_OF, PRODUCER_ID), _OFFICERS),
    ReportInfo(
        "guarantees", "Garanzie", "Guarantees",
        "Garanzie prestate, escusse e liberate, e copertura di ogni prestito.",
        "Guarantees pledged, called and released, and the cover of each loan.",
        (AS_OF, GAS_ID, PRODUCER_ID), _OFFICERS),
    ReportInfo(
        "prepayments", "Prefinanziamenti", "Prepayments",
        "Anticipi dei GAS ai produttori, consegne e merce ancora dovuta.",
        "GAS advances to producers, deliveries and goods still owed.",
        (AS_OF, FROM, TO, GAS_ID, PRODUCER_ID), (*_OFFICERS, "producer", "gas"),
        {"producer": "producer_id", "gas": "gas_id"}),
    ReportInfo(
        "solidarity", "Fondi di solidarietà", "Solidarity funds",
        "Contributi, contributi a fondo perduto e coperture di perdite per fondo.",
        "Contributions, grants and loss cover per fund.",
        (AS_OF, FROM, TO, GAS_ID), (*_OFFICERS, "gas"), {"gas": "gas_id"}),
    ReportInfo(
        "journal", "Libro giornale", "Journal",
        "Tutti i movimenti del registro nel periodo (esportazione in streaming).",
        "Every ledger transfer in the period (streamed export).",
        (AS_OF, FROM, TO), _OFFICERS, streaming=True),
    ReportInfo(
        "trial-balance", "Bilancio di verifica", "Trial balance",
        "Dare, avere e saldo di ogni conto, con la quadratura dare = avere.",
        "Debits, credits and balance of every account, with the check debits = credits.",
        (AS_OF,), _OFFICERS),
    ReportInfo(
        "impact", "Impatto", "Impact",
        "Credito, prefinanziamenti e solidarietà per produttore e categoria.",
        "Credit, prepayments and solidarity per producer and category.",
        (AS_OF, FROM, TO, PRODUCER_ID), _OFFICERS),
    ReportInfo(
        "requests", "Richieste di finanziamento", "Funding requests",
        "Richieste ricevute, valutazioni e decisioni.",
        "Requests received, reviews and decisions.",
        (AS_OF, FROM, TO, PRODUCER_ID), _OFFICERS),
)

_BY_NAME = {info.name: info for info in CATALOG}


def report_info(name: str) -> ReportInfo | None:
    return _BY_NAME.get(name)


def reports_for_role(role: Role) -> tuple[ReportInfo, ...]:
    """The reports a role may ask for (producer and gas: scoped to their own party)."""
    return tuple(info for info in CATALOG if role in info.roles)
