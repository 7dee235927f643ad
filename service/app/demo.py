"""A realistic, deterministic demo network: a MAG in Milan, Lombard GAS and producers.

Ids are derived from names (uuid5), fiscal codes and IBANs carry valid check digits
but belong to nobody. The users and passwords below are for local use only.
"""

from __future__ import annotations

import sys
import uuid
from calendar import monthrange
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, func, select
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.it import codicefiscale

from ledger.schedules import LoanTerms, Method
from service.app import lending
from service.app.auth import Principal, create_user
from service.app.clock import today
from service.app.common import MoneyIn, now_utc
from service.app.context import AppContext
from service.app.errors import refuse_bad_body
from service.app.funds import contribute, gas_fund_id, get_fund
from service.app.guarantees import create_guarantee, set_capacity
from service.app.lending import record_payment
from service.app.loans import RescheduleIn, create_loan_row, disburse_loan, reschedule_loan
from service.app.parties import insert_party
from service.app.prepayments import create_prepayment, record_delivery
from service.app.requests import (
    AssessmentIn,
    GuaranteePartIn,
    InterestIn,
    LoanPartIn,
    RequestIn,
    RequestTermsIn,
    TransitionIn,
    assess_request,
    declare_interest,
    insert_request,
    move_request,
    set_terms,
    validate_request,
)
from service.app.shares import ShareIn, subscribe_share
from service.db.engine import write_tx
from service.db.records import Record
from service.db.tables import parties, pools, relationships, users

NAMESPACE = uuid.UUID("6d0c43a1-56f5-4b8e-9a0c-2b1f0f6a2c11")

DEMO_USERS = [
    # username, password, role, party name (None: not bound)
    ("admin", "admin-demo-2026", "admin", None),
    ("officer", "officer-demo-2026", "officer", "Mag2 Finance Milano"),
    ("caseificio", "producer-demo-2026", "producer", "Caseificio Val Taleggio"),
    ("gas.gasabile", "gas-demo-2026", "gas", "GAS Gasabile Milano Isola"),
]


class DemoError(RuntimeError):
    pass


T = TypeVar("T")


@dataclass
class InTransaction(AppContext):
    """``ctx`` for use cases run inside the demo's one write transaction: the demo
    records shares, reschedules and moves requests through the very operations the API
    calls (their checks included), and still loads all or nothing."""

    conn: Any = None  # the demo's write connection, always set by ``of``

    @classmethod
    def of(cls, ctx: AppContext, conn: Connection) -> InTransaction:
        return cls(**{f.name: getattr(ctx, f.name) for f in fields(AppContext)}, conn=conn)

    def write(self, fn: Callable[[Connection], T], retries: int = 3) -> T:
        refuse_bad_body()
        return fn(self.conn)

    def read(self, fn: Callable[[Connection], T]) -> T:
        return fn(self.conn)


def demo_officer(ids: dict[str, str]) -> Principal:
    """The demo's officer, bound to Mag2 (``DEMO_USERS``): what it reviews is Mag2's."""
    return Principal("officer", "officer", ids[LENDER[0]])


@dataclass(frozen=True)
class Place:
    municipality: str
    province: str
    lat: float
    lon: float
    office: str  # revenue office code for the partita IVA


PLACES = {
    "Milano": Place("Milano", "MI", 45.4642, 9.1900, "015"),
    "Monza": Place("Monza", "MB", 45.5845, 9.2744, "015"),
    "Bergamo": Place("Bergamo", "BG", 45.6983, 9.6773, "016"),
    "Brescia": Place("Brescia", "BS", 45.5416, 10.2118, "017"),
    "Como": Place("Como", "CO", 45.8081, 9.0852, "013"),
    "Lecco": Place("Lecco", "LC", 45.8566, 9.3977, "097"),
    "Pavia": Place("Pavia", "PV", 45.1847, 9.1582, "018"),
    "Lodi": Place("Lodi", "LO", 45.3097, 9.5037, "098"),
    "Cremona": Place("Cremona", "CR", 45.1332, 10.0227, "019"),
    "Varese": Place("Varese", "VA", 45.8206, 8.8251, "012"),
    "Sesto San Giovanni": Place("Sesto San Giovanni", "MI", 45.5350, 9.2346, "015"),
    "Abbiategrasso": Place("Abbiategrasso", "MI", 45.3987, 8.9183, "015"),
    "Taleggio": Place("Taleggio", "BG", 45.8936, 9.5645, "016"),
    "Valtorta": Place("Valtorta", "BG", 45.9771, 9.5340, "016"),
    "Mortara": Place("Mortara", "PV", 45.2509, 8.7379, "018"),
    "Robbio": Place("Robbio", "PV", 45.2903, 8.5937, "018"),
    "Franciacorta": Place("Erbusco", "BS", 45.5987, 9.9735, "017"),
    "Oltrepo": Place("Santa Maria della Versa", "PV", 44.9869, 9.2996, "018"),
    "Valtellina": Place("Sondrio", "SO", 46.1699, 9.8715, "014"),
    "Lomellina": Place("Vigevano", "PV", 45.3177, 8.8547, "018"),
    "Casalasco": Place("Casalmaggiore", "CR", 44.9903, 10.4168, "019"),
    "Brianza": Place("Carate Brianza", "MB", 45.6755, 9.2390, "015"),
    "Lodigiano": Place("Codogno", "LO", 45.1601, 9.7056, "098"),
    "Valcamonica": Place("Breno", "BS", 45.9566, 10.3044, "017"),
    "Parco Sud": Place("Rozzano", "MI", 45.3806, 9.1563, "015"),
}

LENDER = ("Mag2 Finance Milano", "Milano")

GAS = [  # name, place, households
    ("GAS Gasabile Milano Isola", "Milano", 28),
    ("GAS Navigli", "Milano", 24),
    ("GAS Lambrate Solidale", "Milano", 31),
    ("GAS Monza Centro", "Monza", 22),
    ("GAS Bergamo Alta", "Bergamo", 26),
    ("GAS Brescia Leonessa", "Brescia", 30),
    ("GAS Como Lago", "Como", 19),
    ("GAS Lecco Resegone", "Lecco", 21),
    ("GAS Pavia Ticino", "Pavia", 25),
    ("GAS Lodi Adda", "Lodi", 18),
    ("GAS Sesto Solidale", "Sesto San Giovanni", 27),
    ("GAS Abbiategrasso Naviglio Grande", "Abbiategrasso", 20),
]

PRODUCERS = [  # name, place, categories
    ("Caseificio Val Taleggio", "Taleggio", ["cheese"]),
    ("Latteria Sociale Valtorta", "Valtorta", ["cheese", "dairy"]),
    ("Cascina Caremma", "Parco Sud", ["vegetables", "rice", "meat"]),
    ("Riseria Lomellina Bio", "Lomellina", ["rice"]),
    ("Cascina Oschiena", "Robbio", ["rice"]),
    ("Azienda Agricola Mortara Verde", "Mortara", ["vegetables"]),
    ("Forno del Parco Sud", "Parco Sud", ["bread", "flour"]),
    ("Mulino Marino Lombardo", "Lodigiano", ["flour"]),
    ("Apicoltura Valcamonica", "Valcamonica", ["honey"]),
    ("Miele della Brianza", "Brianza", ["honey"]),
    ("Cantina Franciacorta Solidale", "Franciacorta", ["wine"]),
    ("Vini Oltrepo Naturali", "Oltrepo", ["wine"]),
    ("Cantina Valtellina Terrazzata", "Valtellina", ["wine"]),
    ("Allevamento Casalasco", "Casalasco", ["meat"]),
    ("Salumificio Lodigiano Bio", "Lodigiano", ["meat"]),
    ("Orti di Brianza", "Brianza", ["vegetables"]),
    ("Ortofrutta Lodigiana", "Lodi", ["vegetables", "fruit"]),
    ("Frutteti del Comasco", "Como", ["fruit"]),
    ("Cascina Pavese Bio", "Pavia", ["vegetables", "eggs"]),
    ("Panificio Bergamasco", "Bergamo", ["bread"]),
    ("Capre di Valtorta", "Valtorta", ["cheese"]),
    ("Caseificio Cremonese", "Cremona", ["cheese", "dairy"]),
    ("Olio del Garda Bresciano", "Brescia", ["oil"]),
    ("Farine Antiche Lecchesi", "Lecco", ["flour"]),
    ("Orto Varesino", "Varese", ["vegetables"]),
]

# GAS index -> producer indexes it buys from, with (since year, EUR a year, households)
RELATIONSHIPS = [
    (0, 0, 2014, "4800.00", 18), (0, 2, 2012, "6200.00", 22), (0, 6, 2016, "2900.00", 15),
    (0, 10, 2018, "1500.00", 9), (1, 0, 2017, "3600.00", 14), (1, 3, 2015, "2100.00", 16),
    (1, 8, 2019, "900.00", 11), (2, 2, 2011, "7100.00", 25), (2, 5, 2020, "2400.00", 12),
    (2, 11, 2016, "1800.00", 10), (3, 9, 2018, "1100.00", 12), (3, 15, 2013, "5200.00", 18),
    (3, 0, 2021, "2200.00", 10), (4, 1, 2010, "5600.00", 20), (4, 19, 2014, "3900.00", 19),
    (4, 20, 2019, "1700.00", 9), (5, 10, 2012, "3300.00", 17), (5, 22, 2015, "2800.00", 21),
    (5, 24, 2022, "1200.00", 8), (6, 17, 2016, "2500.00", 14), (6, 9, 2020, "800.00", 7),
    (7, 23, 2015, "2100.00", 13), (7, 12, 2017, "1900.00", 11), (8, 3, 2013, "3100.00", 19),
    (8, 4, 2016, "2700.00", 15), (8, 18, 2011, "4400.00", 20), (9, 16, 2014, "3800.00", 16),
    (9, 14, 2018, "2600.00", 10), (10, 0, 2015, "3400.00", 17), (10, 7, 2019, "1600.00", 12),
    (10, 13, 2017, "3000.00", 13), (11, 6, 2013, "4100.00", 16), (11, 4, 2019, "1900.00", 11),
    (11, 21, 2020, "2300.00", 12),
]


def demo_id(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


def _vat(seed: int, office: str) -> str:
    body = f"{(1_000_000 + seed * 7919) % 10_000_000:07d}{office}"
    return body + luhn.calc_check_digit(body)


def _iban(seed: int) -> str:

    bban = "X" + "05034" + f"{(10000 + seed * 37) % 100000:05d}" + \
        f"{seed * 104729 % 10**12:012d}"
    check = stdnum_iban.calc_check_digits("IT00" + bban)
    return "IT" + check + bban


def _association_code(seed: int, office: str) -> str:
    """Associations (a GAS) have a numeric codice fiscale starting with 9."""
    body = f"9{(300_000 + seed * 4099) % 1_000_000:06d}{office}"
    return body + luhn.calc_check_digit(body)


def person_code(seed: int) -> str:
    surnames = ["RSS", "BNC", "VRD", "FRR", "CLM", "MRN", "GLL", "CNT"]
    names = ["MRA", "LCU", "GPP", "FNC", "LSN", "PLA", "CRL", "SLV"]
    body = f"{surnames[seed % 8]}{names[seed // 8 % 8]}{60 + seed % 30:02d}" \
        f"{'ABCDEHLMPRST'[seed % 12]}{10 + seed % 18:02d}F205"
    return body + codicefiscale.calc_check_digit(body)


# The story below is told as of December 2026; loaded in another month, every date moves
# by the same whole number of months (API.md: demo data reads the one clock), so it stays
# true whenever it is loaded: one loan some 40-60 days late, prepayments half delivered.
STORY_MONTH = date(2026, 12, 1)


def story_shift(today: date) -> int:
    """Whole months from the story's month to ``today``'s."""
    return (today.year - STORY_MONTH.year) * 12 + today.month - STORY_MONTH.month


def shifted(day: date, months: int) -> date:
    """``day`` moved by ``months`` whole months; a day the month lacks (31 April) becomes
    the month's last."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month0 + 1, min(day.day, monthrange(year, month0 + 1)[1]))


def _day(text: str, months: int) -> date:
    return shifted(date.fromisoformat(text), months)


def pay_installments(conn: Connection, ctx: AppContext, row: Record, numbers: Iterable[int]
                     ) -> None:
    """Pay installments ``numbers`` (0-based) of the loan's current schedule in full, each
    on its due date."""
    for k in numbers:
        row = lending.get_loan(conn, row.id)
        schedule = lending.loan_state(row, lending.events_of(conn, row.id)).schedule
        inst = schedule[k]
        record_payment(conn, ctx, row, demo_id(f"pay:{row.id}:{k}"),
                       lending.cents(inst.principal + inst.interest), inst.due_date,
                       "demo", kind="repayment")


def restructure_milk(conn: Connection, ctx: AppContext, loan_id: str, officer: Principal,
                     months: int) -> None:
    """The Latteria paid its first seven installments; a dry spring left the alpine
    pastures short and the milk with them, so in late April the officer rescheduled the
    loan (``POST /api/loans/{id}/reschedule``'s use case): four more months of interest
    only. Every installment of the new schedule due by today is paid on time since."""
    reschedule_loan(ctx, officer, loan_id, RescheduleIn(
        id=demo_id("reschedule:latte"), date=_day("2026-04-28", months).isoformat(),
        added_grace_periods=4,
        note="Siccità di primavera: pascoli d'alpeggio scarsi e meno latte conferito. "
             "Quattro mesi di soli interessi, delibera del comitato crediti del 27 aprile."))
    row = lending.get_loan(conn, loan_id)
    schedule = lending.loan_state(row, lending.events_of(conn, loan_id)).schedule
    due = [k for k, inst in enumerate(schedule) if k >= 7 and inst.due_date <= today()]
    pay_installments(conn, ctx, row, due)


def load_instruments(conn: Connection, ctx: AppContext, ids: dict[str, str],
                     months: int = 0) -> None:
    """Money on the network: shares, a funded pool, loans in several states, guarantees,
    prepayments with deliveries, solidarity contributions."""
    lender = ids[LENDER[0]]
    pool = conn.execute(select(pools).where(pools.c.lender_id == lender)).one()
    store = ctx.store
    ctx = InTransaction.of(ctx, conn)
    lending.deposit(conn, store, op_id=demo_id("deposit:soci"), pool_row=pool,
                    amount=12_000_000, on=_day("2025-01-10", months),
                    note="capitale sociale",
                    username="demo")
    officer = demo_officer(ids)
    for i, (gas_name, _, _) in enumerate(GAS[:6]):
        amount = 51_64 * (10 + i * 5)
        subscribe_share(ctx, officer, ShareIn(
            id=demo_id(f"share:{gas_name}"), member_id=ids[gas_name], lender_id=lender,
            amount=MoneyIn(str(lending.dec(amount)), "EUR"),
            date=_day("2025-02-01", months).isoformat()))

    def loan(name: str, producer: str, principal: str, rate: str, term: int, start: str,
             payments: int, method: Method = "french") -> tuple[Record, int]:
        terms = LoanTerms(principal=Decimal(principal), annual_rate=Decimal(rate),
                          term_months=term, method=method,
                          frequency="monthly", grace_periods=0,
                          disbursement_date=_day(start, months))
        row = create_loan_row(conn, ctx, loan_id=demo_id(f"loan:{name}"),
                              borrower_id=ids[producer], lender_id=lender, pool_id=None,
                              category_name="microcredit", request_id=None, terms=terms,
                              username="demo")
        return row, payments

    # Disbursed on the 27th: its 19th installment, due 27 October, is unpaid on the 6th
    # of December (about 40 days late, in the 31-60 bucket), the 20th too.
    cheese = loan("taleggio", "Caseificio Val Taleggio", "18000.00", "4.50", 36,
                  "2025-03-27", 18)
    rice = loan("riso", "Riseria Lomellina Bio", "25000.00", "3.50", 48, "2025-06-15", 3)
    honey = loan("miele", "Apicoltura Valcamonica", "6000.00", "3.00", 24, "2025-04-01", 0)
    loan("vino", "Vini Oltrepo Naturali", "12000.00", "4.00", 36, "2026-12-01", 0)
    milk = loan("latte", "Latteria Sociale Valtorta", "20000.00", "3.75", 48,
                "2025-09-20", 7)
    for (row, payments) in (cheese, rice, honey, milk):
        disburse_loan(conn, ctx, row, demo_id(f"disburse:{row.id}"),
                      row.disbursement_date, "demo")
        pay_installments(conn, ctx, row, range(payments))
    restructure_milk(conn, ctx, milk[0].id, officer, months)
    cheese_row = cheese[0]
    for gas_name, amount in (("GAS Gasabile Milano Isola", 1_200_000),
                             ("GAS Navigli", 900_000), ("GAS Sesto Solidale", 600_000)):
        set_capacity(conn, ids[gas_name], amount + 300_000, "demo",
                     demo_id(f"capacity:{gas_name}"))
        create_guarantee(conn, ctx, guarantee_id=demo_id(f"g:{gas_name}"),
                         loan_id=cheese_row.id, guarantor_id=ids[gas_name],
                         amount=amount, username="demo", on=_day("2025-03-01", months))
    for gas_name, amount, kg in (("GAS Gasabile Milano Isola", 240_000, "60"),
                                 ("GAS Navigli", 180_000, "42.5")):
        p = create_prepayment(
            conn, ctx, prepayment_id=demo_id(f"pre:{gas_name}"),
            producer_id=ids["Caseificio Val Taleggio"], gas_id=ids[gas_name], amount=amount,
            product="Taleggio DOP", unit="kg", unit_price=1_600,
            expires_on=_day("2027-03-31", months),
            on_expiry="rollover", username="demo", on=_day("2026-03-01", months))
        record_delivery(conn, p, demo_id(f"del:{gas_name}"), _day("2026-05-05", months),
                        Decimal(kg), "demo")
    fund = get_fund(conn, gas_fund_id(ids["GAS Gasabile Milano Isola"]))
    contribute(conn, contribution_id=demo_id("contrib:1"), fund=fund,
               gas_id=ids["GAS Gasabile Milano Isola"], amount=15_000,
               on=_day("2026-04-01", months),
               earmark_producer_id=ids["Caseificio Val Taleggio"],
               note="0,50 EUR/kg su 300 kg di taleggio",
               basis={"rate": {"amount": "0.50", "currency": "EUR"},
                      "quantity": "300", "unit": "kg"}, username="demo")
    contribute(conn, contribution_id=demo_id("contrib:2"), fund=fund,
               gas_id=ids["GAS Gasabile Milano Isola"], amount=40_000,
               on=_day("2026-06-01", months), earmark_producer_id=None,
               note="cena sociale", basis=None, username="demo")


@dataclass(frozen=True)
class Ask:
    """A demo funding request and how far the demo officer has taken it."""

    key: str
    producer: str
    amount: str
    instrument: str
    months: int
    purpose: str
    gas: tuple[str, ...]
    status: str  # submitted, under_review, needs_info or approved
    scores: tuple[int, int] | None = None


ASKS = (
    Ask("req:caremma", "Cascina Caremma", "15000.00", "mixed", 36,
        "Nuova cella frigorifera e serra per le verdure invernali",
        ("GAS Gasabile Milano Isola", "GAS Lambrate Solidale"), "submitted"),
    Ask("req:orti", "Orti di Brianza", "8000.00", "loan", 48,
        "Trattore usato e impianto di irrigazione a goccia", ("GAS Monza Centro",),
        "under_review", (7, 8)),
    Ask("req:cremonese", "Caseificio Cremonese", "12000.00", "prepayment", 24,
        "Locale di stagionatura per il grana: prefinanziamento delle forme",
        ("GAS Abbiategrasso Naviglio Grande",), "approved", (8, 9)),
    Ask("req:brianza", "Miele della Brianza", "5000.00", "loan", 36,
        "Laboratorio di smielatura e smielatore radiale in acciaio inox",
        ("GAS Monza Centro",), "needs_info"),
    Ask("req:franciacorta", "Cantina Franciacorta Solidale", "10000.00", "loan", 48,
        "Pressa pneumatica soffice e due vasche in acciaio per la vendemmia",
        ("GAS Brescia Leonessa", "GAS Gasabile Milano Isola"), "approved", (8, 8)),
)


def load_requests(conn: Connection, ctx: AppContext, ids: dict[str, str],
                  months: int = 0) -> None:
    """A funding request waiting at each step (submitted, under review, needs
    information, approved without terms, approved with terms ready to fund), taken
    there by the demo officer through the requests' own use cases: the requests it
    reviews are Mag2's (API.md, "Several lenders on one service")."""
    ctx = InTransaction.of(ctx, conn)
    officer = demo_officer(ids)
    for ask in ASKS:
        values = validate_request(RequestIn(
            id=demo_id(ask.key), producer_id=ids[ask.producer],
            amount=MoneyIn(ask.amount, "EUR"), purpose=ask.purpose,
            instrument=ask.instrument, term_months=ask.months,
            gas_ids=[ids[g] for g in ask.gas],
            social_notes="Filiera corta, lavoro stabile per due persone."))
        insert_request(conn, values, "demo")
        rid = values["id"]

        def move(to: str, note: str, rid: str = rid) -> None:
            move_request(ctx, officer, rid, TransitionIn(to=to, note=note))

        if ask.status == "submitted":
            continue
        move("under_review", "visita in azienda fissata")
        if ask.status == "needs_info":
            move("needs_info", "Mandateci il preventivo del laboratorio e il bilancio "
                 "2025 approvato dall'assemblea.")
            continue
        assert ask.scores is not None
        assess_request(ctx, officer, rid, AssessmentIn(
            economic_score=ask.scores[0], social_score=ask.scores[1],
            notes="Conti in ordine, forte legame con i GAS",
            site_visit_date=_day("2026-11-12", months).isoformat()))
        if ask.status == "under_review":
            continue
        move("approved", "delibera del consiglio n. 14")
        if ask.key == "req:cremonese":
            declare_interest(ctx, officer, rid, InterestIn(
                id=demo_id(f"{ask.key}:interest"), kind="prepayment",
                amount=MoneyIn("3000.00", "EUR"), note="Possiamo anticipare 3.000 EUR",
                gas_id=ids[ask.gas[0]]))
        else:
            set_capacity(conn, ids["GAS Brescia Leonessa"], 500_000, "demo",
                         demo_id("capacity:GAS Brescia Leonessa"))
            set_terms(ctx, officer, rid, franciacorta_terms(ids, months))


def franciacorta_terms(ids: dict[str, str], months: int) -> RequestTermsIn:
    """Mag2 lends 10,000 EUR over 48 months at 3.90%, from the start of the story's
    month, and GAS Brescia Leonessa guarantees 3,000 of it: ready to fund."""
    return RequestTermsIn(
        loan=LoanPartIn(principal=MoneyIn("10000.00", "EUR"), annual_rate="3.90",
                        term_months=48, method="french", frequency="monthly",
                        disbursement_date=_day("2026-12-01", months).isoformat(),
                        lender_id=ids[LENDER[0]]),
        guarantees=[GuaranteePartIn(guarantor_id=ids["GAS Brescia Leonessa"],
                                    amount=MoneyIn("3000.00", "EUR"))])


def load_demo_data(ctx: AppContext, *, if_empty: bool = False, progress: bool = True) -> str:
    with write_tx(ctx.engine) as conn:
        count = conn.execute(select(func.count()).select_from(parties)).scalar_one()
        if count:
            if if_empty:
                return f"the database already has {count} parties; demo data not loaded"
            raise DemoError(f"the database already has {count} parties; the demo data "
                            "loads only into an empty database")
        steps = 1 + len(GAS) + len(PRODUCERS) + len(RELATIONSHIPS) + len(DEMO_USERS)
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            if progress and sys.stderr.isatty():
                width = 30
                filled = width * done // steps
                sys.stderr.write(f"\rdemo data [{'#' * filled}{'.' * (width - filled)}] "
                                 f"{done}/{steps}")
                sys.stderr.flush()

        months = story_shift(today())
        ids: dict[str, str] = {}
        lender_name, lender_place = LENDER
        place = PLACES[lender_place]
        ids[lender_name] = demo_id(lender_name)
        insert_party(conn, ctx.events, {
            "id": ids[lender_name], "kind": "lender", "name": lender_name,
            "tax_code": None, "vat_number": _vat(1, place.office), "iban": _iban(1),
            "municipality": place.municipality, "province": place.province,
            "latitude": place.lat, "longitude": place.lon, "households": None,
            "categories": None}, "demo")
        tick()
        for i, (name, where, households) in enumerate(GAS):
            place = PLACES[where]
            ids[name] = demo_id(name)
            insert_party(conn, ctx.events, {
                "id": ids[name], "kind": "gas", "name": name,
                "tax_code": _association_code(i, place.office),
                "vat_number": None, "iban": _iban(100 + i), "municipality": place.municipality,
                "province": place.province, "latitude": place.lat, "longitude": place.lon,
                "households": households, "categories": None}, "demo")
            tick()
        for i, (name, where, categories) in enumerate(PRODUCERS):
            place = PLACES[where]
            ids[name] = demo_id(name)
            insert_party(conn, ctx.events, {
                "id": ids[name], "kind": "producer", "name": name, "tax_code": None,
                "vat_number": _vat(200 + i, place.office), "iban": _iban(200 + i),
                "municipality": place.municipality, "province": place.province,
                "latitude": place.lat, "longitude": place.lon, "households": None,
                "categories": categories}, "demo")
            tick()
        for gas_i, prod_i, year, amount, households in RELATIONSHIPS:
            gas_name, producer_name = GAS[gas_i][0], PRODUCERS[prod_i][0]
            conn.execute(relationships.insert().values(
                id=demo_id(f"rel:{gas_name}:{producer_name}"), gas_id=ids[gas_name],
                producer_id=ids[producer_name], since=shifted(date(year, 3, 1), months),
                annual_purchases_minor=int(amount.replace(".", "")), currency="EUR",
                households_buying=households, created_at=now_utc(), created_by="demo"))
            tick()
        for username, password, role, party in DEMO_USERS:
            create_user(conn, username, password, role, ids[party] if party else None)
            tick()
        load_instruments(conn, ctx, ids, months)
        load_requests(conn, ctx, ids, months)
        if progress and sys.stderr.isatty():
            sys.stderr.write("\n")
    lines = [f"demo data loaded: 1 lender, {len(GAS)} GAS, {len(PRODUCERS)} producers, "
             f"{len(RELATIONSHIPS)} relationships", "demo users (local use only):"]
    lines += [f"  {u:14} {p:20} {r}" for u, p, r, _ in DEMO_USERS]
    return "\n".join(lines)


def demo_users_present(ctx: AppContext) -> list[tuple[str, str, str]]:
    """The demo users (username, password, role) when the demo network is loaded, for
    the login page to list; nothing on a real MAG's database."""
    names = [name for name, *_ in DEMO_USERS]
    found = ctx.read(lambda conn: set(conn.execute(
        select(users.c.username).where(users.c.username.in_(names),
                                       users.c.disabled_at.is_(None))).scalars()))
    if len(found) != len(names):
        return []
    return [(name, password, role) for name, password, role, _ in DEMO_USERS]
