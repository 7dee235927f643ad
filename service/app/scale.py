"""A MAG-scale network on top of the demo data, for benchmarks and trying the pages at
size: many GAS and producers, who buys from whom, two years of loans with their
repayments (some late, some rescheduled, some written off after a call on their
guarantees), guarantees, prepayments with deliveries and their closes, solidarity
contributions, and funding requests in every state of the workflow. Deterministic for a
seed; names are plainly synthetic.

Everything goes through the application layer's own functions (the ones the use cases
run inside their transaction), so the books verify and every rule (pool, category,
capacity, workflow) is checked as it would be for an officer; it all runs in one write
transaction, which is what keeps 3,000 loans to about a minute."""

from __future__ import annotations

import random
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal

import msgspec
from sqlalchemy import Connection, insert, select

from ledger.repayments import InstallmentState
from ledger.requests import check_funding, check_terms_edit, check_transition
from ledger.schedules import LoanTerms
from service.app import lending
from service.app.common import MoneyIn, now_utc
from service.app.context import AppContext
from service.app.demo import NAMESPACE
from service.app.funds import contribute, gas_fund_id, get_fund
from service.app.guarantees import book_call, create_guarantee, set_capacity
from service.app.lending import record_payment
from service.app.loans import book_reschedule, book_write_off, create_loan_row, disburse_loan
from service.app.parties import insert_party
from service.app.prepayments import create_prepayment, record_delivery, settle_prepayment
from service.app.requests import (
    RequestIn,
    RequestTermsIn,
    change_status,
    check_term_parties,
    fund_package,
    get_request,
    has_assessment,
    insert_request,
    latest_terms,
    validate_request,
    validate_terms,
)
from service.db.engine import write_tx
from service.db.records import Record
from service.db.tables import loans as loan_rows
from service.db.tables import (
    parties,
    pools,
    prepayments,
    relationships,
    request_assessments,
    request_interests,
    request_terms,
)

PROVINCES = [("Milano", "MI", 45.46, 9.19), ("Bergamo", "BG", 45.69, 9.67),
             ("Brescia", "BS", 45.54, 10.22), ("Pavia", "PV", 45.19, 9.16),
             ("Cremona", "CR", 45.13, 10.02), ("Como", "CO", 45.81, 9.09),
             ("Lodi", "LO", 45.31, 9.50), ("Monza", "MB", 45.58, 9.27)]
CATEGORIES = ["vegetables", "cheese", "bread", "honey", "wine", "rice", "fruit", "meat"]
PRODUCTS = {"vegetables": ("Cassetta di verdura", "pz", 2_500),
            "cheese": ("Formaggio stagionato", "kg", 1_800),
            "bread": ("Pane di grani antichi", "kg", 600),
            "honey": ("Miele millefiori", "kg", 1_400),
            "wine": ("Vino rosso", "bottiglia", 900),
            "rice": ("Riso Carnaroli", "kg", 450),
            "fruit": ("Cassetta di frutta", "pz", 2_000),
            "meat": ("Carne bovina", "kg", 1_600)}
PURPOSES = ["Nuova serra per le verdure invernali", "Cella frigorifera per la stagionatura",
            "Trattore usato e impianto di irrigazione a goccia",
            "Laboratorio di trasformazione", "Rinnovo delle arnie dopo un inverno duro",
            "Forno a legna e impastatrice", "Reimpianto del vigneto", "Essiccatoio per il riso"]
# The states of the funding workflow (API.md, "Funding requests"), in the order the
# requests take them: the first eight are one of each, so any count from 8 has them all;
# 300 requests are 45 submitted, 45 under review, 30 needing information, 45 approved,
# 30 rejected, 15 withdrawn, 60 funded and 30 closed.
REQUEST_STATES = ["submitted", "under_review", "needs_info", "approved", "rejected",
                  "withdrawn", "funded", "closed", "submitted", "under_review", "approved",
                  "funded", "needs_info", "submitted", "under_review", "approved", "funded",
                  "rejected", "funded", "closed"]
OFFICER = "scale"


def _id(seed: int, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"scale:{seed}:{name}"))


def _money(cents: int) -> MoneyIn:
    return MoneyIn(str(lending.dec(cents)), "EUR")


class _Progress:
    """A progress bar on standard error (a terminal only), one tick a unit of work."""

    def __init__(self, total: int, show: bool) -> None:
        self.total, self.done = max(1, total), 0
        self.show = show and sys.stderr.isatty()

    def tick(self, label: str, n: int = 1) -> None:
        self.done += n
        if self.show:
            width = 30
            filled = width * min(self.done, self.total) // self.total
            sys.stderr.write(f"\rscale network [{'#' * filled}{'.' * (width - filled)}] "
                             f"{self.done}/{self.total} {label:<13}")
            sys.stderr.flush()

    def end(self) -> None:
        if self.show:
            sys.stderr.write("\n")


def _pay_due(conn: Connection, ctx: AppContext, row: Record, key: str, through: date,
             today: date, *, late_days: int = 0, stop_after: int | None = None) -> Record:
    """Pay what the loan's schedule asks on its due dates up to ``through`` (``late_days``
    after each, never after ``today``): the first three installments one by one, the
    middle ones in one payment, the last two one by one again; ``stop_after`` pays only
    that many of them. The loan row after."""
    state = lending.loan_state(row, lending.events_of(conn, row.id))
    due = [i for i in state.schedule if i.due_date <= through and i.unpaid > 0]
    if stop_after is not None:
        due = due[:stop_after]
    if not due:
        return row
    lumps: list[Sequence[InstallmentState]] = [[i] for i in due[:3]]
    middle, tail = due[3:-2], due[3:][-2:]
    if middle:
        lumps.append(middle)
    lumps += [[i] for i in tail]
    for n, lump in enumerate(lumps):
        on = min(today, lump[-1].due_date + timedelta(days=late_days))
        amount = sum(lending.cents(i.unpaid) for i in lump)
        _allocation, row = record_payment(conn, ctx, row, _id(0, f"{key}:pay:{n}"), amount,
                                          on, OFFICER, kind="repayment")
    return row


def _owed(conn: Connection, row: Record) -> int:
    state = lending.loan_state(row, lending.events_of(conn, row.id))
    return sum(lending.cents(i.unpaid) for i in state.schedule)


def _loans(conn: Connection, ctx: AppContext, *, seed: int, rng: random.Random, lender: str,
           gas_ids: list[str], producer_ids: list[str], producer_gas: dict[str, list[str]],
           count: int, today: date, tick: Callable[[str], None]) -> None:
    """``count`` loans disbursed over the last two years and a month, and what followed.

    By index: most pay on their due dates; one in six stops paying halfway (one in four
    of those is written off six months after its first unpaid installment, once its
    guarantee has been called); one in six pays two to six weeks late; of the others, one
    in ten (one loan in fifteen) is rescheduled after a third of its term (three more
    grace periods, or twelve more installments) and pays the new schedule. A loan in
    four is guaranteed by a GAS; a producer in five is prepaid by a GAS, with monthly
    deliveries, closed when it expires (refund, rollover or solidarity fund, in turn)."""
    for k in range(count):
        borrower = producer_ids[k % len(producer_ids)]
        # Loans to be written off or rescheduled are old enough for it.
        oldest = 400 if k % 24 == 0 else 300 if k % 10 == 7 else 30
        start = today - timedelta(days=oldest + rng.randrange(790 - oldest))
        terms = LoanTerms(principal=Decimal(2000 + 500 * rng.randrange(30)),
                          annual_rate=Decimal("3.50"), term_months=24, method="french",
                          frequency="monthly", grace_periods=0, disbursement_date=start)
        row = create_loan_row(conn, ctx, loan_id=_id(seed, f"loan:{k}"),
                              borrower_id=borrower, lender_id=lender, pool_id=None,
                              category_name="microcredit", request_id=None, terms=terms,
                              username=OFFICER)
        guarantor = gas_ids[k % len(gas_ids)] if k % 4 == 0 else None
        if guarantor is not None:
            create_guarantee(conn, ctx, guarantee_id=_id(seed, f"g:{k}"), loan_id=row.id,
                             guarantor_id=guarantor, amount=100_000, username=OFFICER,
                             on=start)
        row = disburse_loan(conn, ctx, row, _id(seed, f"disburse:{k}"), start, OFFICER)
        row = lending.get_loan(conn, row.id)
        key = f"{seed}:loan:{k}"
        if k % 6 == 0:  # stops paying halfway
            due = [i for i in lending.loan_state(row, lending.events_of(conn, row.id))
                   .schedule if i.due_date <= today]
            row = _pay_due(conn, ctx, row, key, today, today, stop_after=len(due) // 2)
            unpaid = due[len(due) // 2:]
            if k % 24 == 0 and unpaid and unpaid[0].due_date + timedelta(days=180) < today:
                first = unpaid[0].due_date
                if guarantor is not None:
                    row = lending.get_loan(conn, row.id)
                    book_call(conn, ctx, row, _id(seed, f"call:{k}"),
                              min(100_000, _owed(conn, row)), first + timedelta(days=120),
                              OFFICER)
                row = lending.get_loan(conn, row.id)
                if row.status == "active":
                    book_write_off(conn, ctx, row, _id(seed, f"writeoff:{k}"),
                                   first + timedelta(days=180),
                                   "insolvenza: azienda chiusa dopo la grandinata", OFFICER)
        elif k % 6 == 3:  # pays late
            row = _pay_due(conn, ctx, row, key, today, today, late_days=14 + rng.randrange(30))
        elif k % 10 == 7:  # rescheduled after a third of its term
            third = [i for i in lending.loan_state(row, lending.events_of(conn, row.id))
                     .schedule][7]
            if third.due_date < today:
                row = _pay_due(conn, ctx, row, key, third.due_date - timedelta(days=1), today)
                grace = k % 20 == 7
                row = book_reschedule(
                    conn, ctx, row, _id(seed, f"reschedule:{k}"), third.due_date,
                    added_grace_periods=3 if grace else 0,
                    new_periods=None if grace else 16 + 12, method=None,
                    note="raccolto perso per la siccità: nuovo piano", username=OFFICER)
                row = _pay_due(conn, ctx, row, key + ":after", today, today)
            else:
                row = _pay_due(conn, ctx, row, key, today, today)
        else:
            row = _pay_due(conn, ctx, row, key, today, today)
        if k % 5 == 0:
            _prepayment(conn, ctx, seed=seed, rng=rng, key=f"pre:{k}", producer=borrower,
                        gas=(producer_gas.get(borrower) or gas_ids)[0], n=k // 5,
                        today=today)
        tick("prestiti")


def _prepayment(conn: Connection, ctx: AppContext, *, seed: int, rng: random.Random, key: str,
                producer: str, gas: str, n: int, today: date) -> None:
    """A GAS prepays a producer's goods up to a year ago; the producer delivers every
    month until the prepayment is used up or expires, when it is closed as agreed."""
    category = conn.execute(select(parties.c.categories).where(parties.c.id == producer)
                            ).scalar_one() or ["vegetables"]
    product, unit, price = PRODUCTS.get(category[0], PRODUCTS["vegetables"])
    units = 20 + rng.randrange(40)
    opened = today - timedelta(days=20 + rng.randrange(360))
    expires = opened + timedelta(days=180 + rng.randrange(180))
    on_expiry = ("refund", "rollover", "solidarity")[n % 3]
    row = create_prepayment(conn, ctx, prepayment_id=_id(seed, key), producer_id=producer,
                            gas_id=gas, amount=units * price, product=product, unit=unit,
                            unit_price=price, expires_on=expires, on_expiry=on_expiry,
                            username=OFFICER, on=opened)
    left, day, d = units, opened + timedelta(days=15), 0
    while left > 0 and day <= min(today, expires):
        quantity = min(left, 2 + rng.randrange(6))
        row = record_delivery(conn, row, _id(seed, f"{key}:del:{d}"), day, Decimal(quantity),
                              OFFICER)
        left, day, d = left - quantity, day + timedelta(days=30), d + 1
    if expires < today:
        settle_prepayment(conn, ctx, row, _id(seed, f"{key}:close"), expires, None, OFFICER)


def _contributions(conn: Connection, *, seed: int, rng: random.Random, gas_ids: list[str],
                   producer_of: dict[str, list[str]], today: date,
                   tick: Callable[[str], None]) -> int:
    """Each GAS pays two to six solidarity contributions over two years into its fund:
    half a surcharge on an order, earmarked for the producer it bought from (0.50 EUR a
    kilo on the kilos bought), half a collection not earmarked."""
    made = 0
    for i, gid in enumerate(gas_ids):
        fund = get_fund(conn, gas_fund_id(gid))
        bought_from = producer_of.get(gid, [])
        for c in range(2 + rng.randrange(5)):
            on = today - timedelta(days=5 + rng.randrange(720))
            if c % 2 == 0 and bought_from:
                kilos = 40 + rng.randrange(400)
                contribute(conn, contribution_id=_id(seed, f"contrib:{i}:{c}"), fund=fund,
                           gas_id=gid, amount=50 * kilos, on=on,
                           earmark_producer_id=bought_from[c % len(bought_from)],
                           note=f"0,50 EUR/kg su {kilos} kg",
                           basis={"rate": {"amount": "0.50", "currency": "EUR"},
                                  "quantity": str(kilos), "unit": "kg"}, username=OFFICER)
            else:
                contribute(conn, contribution_id=_id(seed, f"contrib:{i}:{c}"), fund=fund,
                           gas_id=gid, amount=5_000 * (2 + rng.randrange(30)), on=on,
                           earmark_producer_id=None, note="raccolta alla cena sociale",
                           basis=None, username=OFFICER)
            made += 1
        tick("contributi")
    return made


def _move(conn: Connection, request_id: str, to: str, note: str) -> None:
    """One transition by an officer, checked as ``POST .../transitions`` checks it."""
    row = get_request(conn, request_id, lock=True)
    check_transition(row.status, to, "officer", is_own=False, note=note,
                     has_assessment=has_assessment(conn, request_id))
    change_status(conn, row, to, OFFICER, note)


def _requests(conn: Connection, ctx: AppContext, *, seed: int, rng: random.Random,
              lender: str, producer_ids: list[str], producer_gas: dict[str, list[str]],
              count: int, today: date, tick: Callable[[str], None]) -> dict[str, int]:
    """``count`` funding requests in every state of the workflow (REQUEST_STATES), with an
    assessment from review on, terms for some under review and all approved ones, GAS
    interest while open; the funded ones funded on a day of the last year and repaid on
    time since; the closed ones funded long enough ago to be settled (a one-year loan
    repaid, or a prepayment delivered in full and closed)."""
    states: dict[str, int] = {}
    for r in range(count):
        target = REQUEST_STATES[r % len(REQUEST_STATES)]
        states[target] = states.get(target, 0) + 1
        producer = producer_ids[(r * 13 + 5) % len(producer_ids)]
        buyers = producer_gas.get(producer, [])
        instrument = ("loan", "mixed", "prepayment")[r % 3]
        if target == "closed":
            instrument = "loan" if r % 2 else "prepayment"
        amount = 100_000 * (3 + rng.randrange(28))  # 3,000 to 30,000 EUR
        rid = _id(seed, f"request:{r}")
        values = validate_request(RequestIn(
            id=rid, producer_id=producer, amount=_money(amount),
            purpose=PURPOSES[r % len(PURPOSES)], instrument=instrument,
            term_months=12 if target == "closed" else 12 * (1 + r % 5),
            needed_by=(today + timedelta(days=30 + rng.randrange(300))).isoformat()
            if r % 2 else None,
            gas_ids=buyers[:2], social_notes="Filiera corta, lavoro stabile in azienda.",
            environmental_notes="Agricoltura biologica certificata." if r % 3 else None))
        insert_request(conn, values, OFFICER)
        if buyers and r % 2 == 0:  # declared while the request was open
            conn.execute(insert(request_interests).values(
                id=_id(seed, f"request:{r}:interest"), request_id=rid, gas_id=buyers[0],
                kind="prepayment" if instrument != "loan" else "guarantee",
                amount_minor=amount // 5, currency="EUR",
                note="Ne parliamo all'assemblea del mese", created_at=now_utc(),
                created_by=OFFICER))
        if target == "withdrawn":
            _move(conn, rid, "withdrawn", "ritirata su richiesta del produttore: progetto "
                  "rinviato all'anno prossimo")
        if target in ("submitted", "withdrawn"):
            tick("richieste")
            continue
        _move(conn, rid, "under_review", "istruttoria avviata")
        if target == "needs_info":
            _move(conn, rid, "needs_info", "mancano il bilancio 2025 e il preventivo")
            tick("richieste")
            continue
        if target != "under_review" or r % 2:
            low = target == "rejected"
            conn.execute(request_assessments.insert().values(
                id=_id(seed, f"request:{r}:assessment"), request_id=rid,
                economic_score=2 + rng.randrange(3) if low else 6 + rng.randrange(5),
                social_score=3 + rng.randrange(3) if low else 6 + rng.randrange(5),
                notes="visita in azienda fatta; conti letti con il produttore",
                site_visit_date=today - timedelta(days=400), decision_date=None,
                decision_reference=None, created_at=now_utc(), created_by=OFFICER))
        if target == "rejected":
            _move(conn, rid, "rejected", "piano economico non sostenibile oggi")
            tick("richieste")
            continue
        funded_on = None
        if target == "closed":
            funded_on = today - timedelta(days=380 + rng.randrange(200))
        elif target == "funded":
            funded_on = today - timedelta(days=10 + rng.randrange(340))
        if target != "under_review" or r % 4 == 1:
            _set_terms(conn, rid, producer=producer, buyers=buyers, lender=lender,
                       amount=amount, instrument=instrument, months=values["term_months"],
                       starts=funded_on or today + timedelta(days=30), r=r, today=today,
                       settled=target == "closed")
        if target == "under_review":
            tick("richieste")
            continue
        _move(conn, rid, "approved", "delibera del consiglio di amministrazione")
        if funded_on is not None:
            row = get_request(conn, rid, lock=True)
            terms = latest_terms(conn, rid)
            check_funding(row.status, "officer", has_terms=terms is not None)
            assert terms is not None  # check_funding refuses a request without terms
            fund_package(conn, ctx, row, terms.terms, _id(seed, f"request:{r}:funding"),
                         funded_on, OFFICER)
            _follow_funding(conn, ctx, rid, key=f"{seed}:request:{r}", today=today)
        tick("richieste")
    return states


def _set_terms(conn: Connection, rid: str, *, producer: str, buyers: list[str], lender: str,
               amount: int, instrument: str, months: int, starts: date, r: int,
               today: date, settled: bool) -> None:
    """The package an officer would write: the loan part (all of a loan request, half
    of a mixed one), the GAS prepayments for the rest, a GAS guarantee on the loan."""
    category = conn.execute(select(parties.c.categories).where(parties.c.id == producer)
                            ).scalar_one() or ["vegetables"]
    product, unit, price = PRODUCTS.get(category[0], PRODUCTS["vegetables"])
    loan_part = amount if instrument == "loan" else amount // 2 if instrument == "mixed" else 0
    doc: dict[str, object] = {}
    if loan_part:
        doc["loan"] = {"lender_id": lender, "principal": _money(loan_part),
                       "annual_rate": "3.00", "term_months": months, "method": "french",
                       "frequency": "monthly", "disbursement_date": starts.isoformat()}
        if buyers and r % 3 != 2:
            doc["guarantees"] = [{"guarantor_id": buyers[-1],
                                  "amount": _money(min(loan_part // 5, 500_000))}]
    rest = amount - loan_part
    if rest:
        # whole units: a prepayment is goods at the agreed price
        units = max(1, rest // price)
        gas = buyers or [conn.execute(select(parties.c.id).where(parties.c.kind == "gas")
                                      .limit(1)).scalar_one()]
        expires = max(today, starts) + timedelta(days=90 + 30 * (r % 9))
        if settled:  # a closed request: its season is over
            expires = starts + timedelta(days=180)
        doc["prepayments"] = [{"gas_id": gas[0], "amount": _money(units * price),
                               "product": product, "unit": unit, "unit_price": _money(price),
                               "expires_on": expires.isoformat(), "on_expiry": "refund"}]
    terms = validate_terms(msgspec.convert(msgspec.to_builtins(doc), RequestTermsIn))
    row = get_request(conn, rid, lock=True)
    check_term_parties(conn, terms, row.producer_id)
    check_terms_edit(row.status, "officer")
    conn.execute(insert(request_terms).values(
        id=str(uuid.uuid5(uuid.UUID(rid), "terms")), request_id=rid, terms=terms,
        created_at=now_utc(), created_by=OFFICER))


def _follow_funding(conn: Connection, ctx: AppContext, rid: str, *, key: str,
                    today: date) -> None:
    """What happened since the funding: the loan repaid on its due dates, the prepayments
    delivered every month (in full once their season is over, then closed)."""
    for loan in conn.execute(select(loan_rows).where(loan_rows.c.request_id == rid)).all():
        _pay_due(conn, ctx, loan, f"{key}:loan", today, today)
    for p in conn.execute(select(prepayments).where(prepayments.c.request_id == rid)).all():
        units = p.amount_minor // p.unit_price_minor
        day, d, row = p.date + timedelta(days=20), 0, p
        season_over = p.expires_on < today
        while units > 0 and (day <= today or season_over):
            q = min(units, max(1, units // 3) if not season_over else units)
            on = min(day, p.expires_on, today)
            row = record_delivery(conn, row, _id(0, f"{key}:del:{p.id}:{d}"), on,
                                  Decimal(q), OFFICER)
            units, day, d = units - q, day + timedelta(days=30), d + 1
        if season_over:
            settle_prepayment(conn, ctx, row, _id(0, f"{key}:close:{p.id}"), p.expires_on,
                              None, OFFICER)


def load_scale_network(ctx: AppContext, *, gas: int = 500, producers: int = 2000,
                       loans: int = 3000, requests: int | None = None, seed: int = 1,
                       today: date | None = None, progress: bool = False) -> str:
    """Add ``gas`` GAS, ``producers`` producers (each bought from by two or three GAS),
    ``loans`` disbursed loans and ``requests`` funding requests (default: one for every
    ten loans, at least eight, one of each state) to a database holding the demo data's
    lender."""
    rng = random.Random(seed)
    today = today or date.today()
    requests = max(len(set(REQUEST_STATES)), loans // 10) if requests is None else requests
    bar = _Progress(gas + producers + loans + gas + requests, progress)
    with write_tx(ctx.engine) as conn:
        lender = conn.execute(select(parties.c.id).where(parties.c.kind == "lender")
                              ).scalars().first()
        if lender is None:
            raise ValueError("load the demo data first: the scale network lends from its MAG")
        pool = conn.execute(select(pools).where(pools.c.lender_id == lender)).first()
        assert pool is not None
        lending.deposit(conn, ctx.store, op_id=_id(seed, "deposit"), pool_row=pool,
                        amount=(loans + requests) * 2_000_000, on=today - timedelta(days=800),
                        note="scala", username=OFFICER)
        gas_ids: list[str] = []
        for i in range(gas):
            town, prov, lat, lon = PROVINCES[i % len(PROVINCES)]
            gid = _id(seed, f"gas:{i}")
            insert_party(conn, ctx.events, {
                "id": gid, "kind": "gas", "name": f"GAS {town} {i + 1:04d}",
                "tax_code": None, "vat_number": None, "iban": None, "municipality": town,
                "province": prov, "latitude": Decimal(str(lat)), "longitude": Decimal(str(lon)),
                "households": 20 + rng.randrange(80), "categories": None}, OFFICER)
            gas_ids.append(gid)
            bar.tick("GAS")
        producer_ids: list[str] = []
        producer_gas: dict[str, list[str]] = {}
        gas_producers: dict[str, list[str]] = {}
        for i in range(producers):
            town, prov, lat, lon = PROVINCES[(i * 3) % len(PROVINCES)]
            pid = _id(seed, f"producer:{i}")
            insert_party(conn, ctx.events, {
                "id": pid, "kind": "producer", "name": f"Azienda agricola {town} {i + 1:04d}",
                "tax_code": None, "vat_number": None, "iban": None, "municipality": town,
                "province": prov, "latitude": Decimal(str(lat)), "longitude": Decimal(str(lon)),
                "households": None, "categories": [CATEGORIES[i % len(CATEGORIES)]]}, OFFICER)
            producer_ids.append(pid)
            for g in rng.sample(gas_ids, k=min(len(gas_ids), 2 + i % 2)):
                conn.execute(relationships.insert().values(
                    id=_id(seed, f"rel:{g}:{pid}"), gas_id=g, producer_id=pid,
                    since=date(2018 + rng.randrange(7), 3, 1),
                    annual_purchases_minor=100_000 * (5 + rng.randrange(60)), currency="EUR",
                    households_buying=5 + rng.randrange(40), created_at=now_utc(),
                    created_by=OFFICER))
                producer_gas.setdefault(pid, []).append(g)
                gas_producers.setdefault(g, []).append(pid)
            bar.tick("produttori")
        for g in gas_ids:
            set_capacity(conn, g, 5_000_000, OFFICER, _id(seed, f"capacity:{g}"))
        _loans(conn, ctx, seed=seed, rng=rng, lender=lender, gas_ids=gas_ids,
               producer_ids=producer_ids, producer_gas=producer_gas, count=loans, today=today,
               tick=bar.tick)
        made = _contributions(conn, seed=seed, rng=rng, gas_ids=gas_ids,
                              producer_of=gas_producers, today=today, tick=bar.tick)
        states = _requests(conn, ctx, seed=seed, rng=rng, lender=lender,
                           producer_ids=producer_ids, producer_gas=producer_gas,
                           count=requests, today=today, tick=bar.tick)
    bar.end()
    by_state = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    return (f"scale network loaded: {gas} GAS, {producers} producers, {loans} loans, "
            f"{made} contributions, {requests} requests ({by_state})")
