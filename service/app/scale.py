"""A MAG-scale network on top of the demo data, for benchmarks and trying the pages at
size: many GAS and producers, who buys from whom, loans in every state with repayments,
guarantees and prepayments. Deterministic for a seed; names are plainly synthetic."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from ledger.schedules import LoanTerms
from service.app import lending
from service.app.common import now_utc
from service.app.context import AppContext
from service.app.demo import NAMESPACE
from service.app.guarantees import create_guarantee, set_capacity
from service.app.lending import record_payment
from service.app.loans import create_loan_row, disburse_loan
from service.app.parties import insert_party
from service.app.prepayments import create_prepayment
from service.db.engine import write_tx
from service.db.tables import parties, pools, relationships

PROVINCES = [("Milano", "MI", 45.46, 9.19), ("Bergamo", "BG", 45.69, 9.67),
             ("Brescia", "BS", 45.54, 10.22), ("Pavia", "PV", 45.19, 9.16),
             ("Cremona", "CR", 45.13, 10.02), ("Como", "CO", 45.81, 9.09),
             ("Lodi", "LO", 45.31, 9.50), ("Monza", "MB", 45.58, 9.27)]
CATEGORIES = ["vegetables", "cheese", "bread", "honey", "wine", "rice", "fruit", "meat"]


def _id(seed: int, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"scale:{seed}:{name}"))


def load_scale_network(ctx: AppContext, *, gas: int = 500, producers: int = 2000,
                       loans: int = 3000, seed: int = 1, today: date | None = None) -> str:
    """Add ``gas`` GAS, ``producers`` producers (each bought from by two or three GAS)
    and ``loans`` disbursed loans to a database holding the demo data's lender."""
    rng = random.Random(seed)
    today = today or date.today()
    with write_tx(ctx.engine) as conn:
        lender = conn.execute(select(parties.c.id).where(parties.c.kind == "lender")
                              ).scalars().first()
        if lender is None:
            raise ValueError("load the demo data first: the scale network lends from its MAG")
        pool = conn.execute(select(pools).where(pools.c.lender_id == lender)).first()
        assert pool is not None
        lending.deposit(conn, ctx.store, op_id=_id(seed, "deposit"), pool_row=pool,
                        amount=loans * 2_000_000, on=date(2024, 1, 10), note="scala",
                        username="scale")
        gas_ids: list[str] = []
        for i in range(gas):
            town, prov, lat, lon = PROVINCES[i % len(PROVINCES)]
            gid = _id(seed, f"gas:{i}")
            insert_party(conn, ctx.events, {
                "id": gid, "kind": "gas", "name": f"GAS {town} {i + 1:04d}",
                "tax_code": None, "vat_number": None, "iban": None, "municipality": town,
                "province": prov, "latitude": Decimal(str(lat)), "longitude": Decimal(str(lon)),
                "households": 20 + rng.randrange(80), "categories": None}, "scale")
            gas_ids.append(gid)
        producer_ids: list[str] = []
        for i in range(producers):
            town, prov, lat, lon = PROVINCES[(i * 3) % len(PROVINCES)]
            pid = _id(seed, f"producer:{i}")
            insert_party(conn, ctx.events, {
                "id": pid, "kind": "producer", "name": f"Azienda agricola {town} {i + 1:04d}",
                "tax_code": None, "vat_number": None, "iban": None, "municipality": town,
                "province": prov, "latitude": Decimal(str(lat)), "longitude": Decimal(str(lon)),
                "households": None, "categories": [CATEGORIES[i % len(CATEGORIES)]]}, "scale")
            producer_ids.append(pid)
            for g in rng.sample(gas_ids, k=min(len(gas_ids), 2 + i % 2)):
                conn.execute(relationships.insert().values(
                    id=_id(seed, f"rel:{g}:{pid}"), gas_id=g, producer_id=pid,
                    since=date(2018 + rng.randrange(7), 3, 1),
                    annual_purchases_minor=100_000 * (5 + rng.randrange(60)), currency="EUR",
                    households_buying=5 + rng.randrange(40), created_at=now_utc(),
                    created_by="scale"))
        for g in gas_ids:
            set_capacity(conn, g, 5_000_000, "scale", _id(seed, f"capacity:{g}"))
        for k in range(loans):
            borrower = producer_ids[k % len(producer_ids)]
            start = today - timedelta(days=30 + rng.randrange(700))
            terms = LoanTerms(principal=Decimal(2000 + 500 * rng.randrange(30)),
                              annual_rate=Decimal("3.50"), term_months=24, method="french",
                              frequency="monthly", grace_periods=0, disbursement_date=start)
            row = create_loan_row(conn, ctx, loan_id=_id(seed, f"loan:{k}"),
                                  borrower_id=borrower, lender_id=lender, pool_id=None,
                                  category_name="microcredit", request_id=None, terms=terms,
                                  username="scale")
            disburse_loan(conn, ctx, row, _id(seed, f"disburse:{k}"), start, "scale")
            row = lending.get_loan(conn, row.id)
            schedule = lending.loan_state(row, lending.events_of(conn, row.id)).schedule
            # Most borrowers pay what is due (the first installments one by one, the
            # rest in one payment on the last due date); one in six stops paying halfway.
            due = [inst for inst in schedule if inst.due_date <= today]
            paid = due if k % 6 else due[: len(due) // 2]
            lumps = [[inst] for inst in paid[:3]]
            if paid[3:]:
                lumps.append(paid[3:])
            for n, lump in enumerate(lumps):
                record_payment(conn, ctx, row, _id(seed, f"pay:{k}:{n}"),
                               sum(lending.cents(i.principal + i.interest) for i in lump),
                               lump[-1].due_date, "scale", kind="repayment")
                row = lending.get_loan(conn, row.id)
            if k % 4 == 0:
                create_guarantee(conn, ctx, guarantee_id=_id(seed, f"g:{k}"), loan_id=row.id,
                                 guarantor_id=gas_ids[k % len(gas_ids)], amount=100_000,
                                 username="scale", on=start)
            if k % 5 == 0:
                create_prepayment(
                    conn, ctx, prepayment_id=_id(seed, f"pre:{k}"), producer_id=borrower,
                    gas_id=gas_ids[(k * 7) % len(gas_ids)], amount=50_000,
                    product="Cassetta di verdura", unit="pz", unit_price=2_500,
                    expires_on=today + timedelta(days=10 + rng.randrange(120)),
                    on_expiry="refund", username="scale", on=today - timedelta(days=20))
    return f"scale network loaded: {gas} GAS, {producers} producers, {loans} loans"
