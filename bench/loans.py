"""Loan benchmarks: schedules (beside a plain Decimal loop and numpy-financial) and the
arrears of a 10,000-loan portfolio computed from the database as of a date.

Run: .venv/bin/python bench/loans.py [--loans 10000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select

from ledger.repayments import arrears
from ledger.schedules import LoanTerms, build_schedule
from service.app import lending
from service.db.engine import make_engine, read_tx, write_tx
from service.db.migrate import upgrade
from service.db.tables import loan_events, loans, parties, pools

AS_OF = date(2027, 3, 1)


def seed(engine: Any, count: int, mix: str = "prepaying") -> None:
    """``count`` active 24-month loans, each with 0 to 12 repayments recorded (none with
    a value date after ``AS_OF``, the day the figures are asked for).

    ``prepaying``: every payment is principal / 20, a little more than the installment,
    so each one ends in an early repayment that recomputes the rest of the schedule (the
    costly path). ``typical``: payments of the installment, most on the due date, some up
    to 40 days late, one in ten partial (half the installment).
    """
    rng = random.Random(7)
    now = datetime.now(UTC)
    lender, producer, pool = (str(uuid.uuid4()) for _ in range(3))
    with write_tx(engine) as conn:
        conn.execute(insert(parties), [
            {"id": lender, "kind": "lender", "name": "MAG", "created_at": now},
            {"id": producer, "kind": "producer", "name": "Cascina", "created_at": now}])
        conn.execute(insert(pools).values(id=pool, lender_id=lender, name="generale",
                                          is_general=True, created_at=now))
        loan_rows: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for _ in range(count):
            loan_id = str(uuid.uuid4())
            principal = rng.randrange(200_000, 7_500_000)
            start = date(2026, rng.randrange(1, 13), rng.randrange(1, 28))
            loan_rows.append({
                "id": loan_id, "borrower_id": producer, "lender_id": lender, "pool_id": pool,
                "category": "microcredit", "principal_minor": principal,
                "annual_rate": str(rng.choice(["2.50", "3.00", "4.50", "6.00"])),
                "term_months": 24, "method": "french", "frequency": "monthly",
                "grace_periods": 0, "disbursement_date": start, "fees_minor": 0,
                "status": "active", "disbursed_on": start, "restructured": False,
                "created_at": now})
            monthly = principal // 20
            if mix == "typical":
                row = loan_rows[-1]
                first = build_schedule(LoanTerms(
                    principal=Decimal(principal) / 100, annual_rate=Decimal(row["annual_rate"]),
                    term_months=24, method="french", frequency="monthly", grace_periods=0,
                    disbursement_date=start))[0]
                monthly = int(first.payment * 100)
            for k in range(rng.randrange(0, 13)):
                due = date(start.year + (start.month + k) // 12, (start.month + k) % 12 + 1,
                           start.day)
                amount = monthly
                if mix == "typical":
                    due += timedelta(days=rng.choice([0] * 8 + [rng.randrange(1, 41)] * 2))
                    amount = monthly // 2 if rng.random() < 0.1 else monthly
                if due > AS_OF:  # the report runs today: no payment has a later value date
                    break
                events.append({
                    "id": str(uuid.uuid4()), "loan_id": loan_id, "kind": "repayment",
                    "value_date": due, "amount_minor": amount, "payer_kind": "borrower",
                    "recorded_at": now})
        conn.execute(insert(loans), loan_rows)
        conn.execute(insert(loan_events), events)


def arrears_from_db(engine: Any) -> tuple[float, int, int, dict[str, float]]:
    """Load every active loan and its operations, replay them, compute arrears.

    Returns the total seconds, the loans, the overdue loans and the seconds per phase:
    ``load`` (query, group events by loan), ``loan_state`` (terms, schedule and replay,
    as the service does) and ``arrears``; ``schedule`` times build_schedule alone over
    the same loans afterwards (a part of ``loan_state``, not added to the total).
    """
    phases: dict[str, float] = {}
    started = time.perf_counter()
    overdue_loans = 0
    with read_tx(engine) as conn:
        rows = conn.execute(select(loans).where(loans.c.status == "active")).all()
        by_loan: dict[str, list[Any]] = {}
        for e in conn.execute(select(loan_events).order_by(loan_events.c.seq)):
            by_loan.setdefault(e.loan_id, []).append(e)
    phases["load"] = time.perf_counter() - started
    phases["loan_state"] = phases["arrears"] = 0.0
    for row in rows:  # one loan at a time, as before: nothing piles up for the GC
        mark = time.perf_counter()
        state = lending.loan_state(row, by_loan.get(row.id, []), AS_OF)
        computed = time.perf_counter()
        if arrears(state.schedule, AS_OF).days_past_due > 0:
            overdue_loans += 1
        phases["loan_state"] += computed - mark
        phases["arrears"] += time.perf_counter() - computed
    total = time.perf_counter() - started
    mark = time.perf_counter()
    for row in rows:
        build_schedule(lending.terms_of(row))
    phases["schedule"] = time.perf_counter() - mark
    return total, len(rows), overdue_loans, phases


def keep_schedules(engine: Any) -> None:
    """What the service does at each loan operation, done once for the seeded loans."""
    with write_tx(engine) as conn:
        by_loan: dict[str, list[Any]] = {}
        for e in conn.execute(select(loan_events).order_by(loan_events.c.seq)):
            by_loan.setdefault(e.loan_id, []).append(e)
        for row in conn.execute(select(loans)).all():
            events = by_loan.get(row.id, [])
            lending.save_installments(conn, row, lending.loan_state(row, events), events)


def arrears_from_kept(engine: Any) -> tuple[float, dict[str, tuple[int, int]]]:
    """The service's portfolio path: one aggregate query over the kept schedules."""
    started = time.perf_counter()
    with read_tx(engine) as conn:
        result = lending.portfolio_arrears(conn, AS_OF)
    return time.perf_counter() - started, result


def arrears_by_replay(engine: Any) -> dict[str, tuple[int, int]]:
    with read_tx(engine) as conn:
        rows = conn.execute(select(loans).where(loans.c.status == "active")).all()
        by_loan: dict[str, list[Any]] = {}
        for e in conn.execute(select(loan_events).order_by(loan_events.c.seq)):
            by_loan.setdefault(e.loan_id, []).append(e)
    out = {}
    for row in rows:
        a = arrears(lending.loan_state(row, by_loan.get(row.id, []), AS_OF).schedule, AS_OF)
        out[row.id] = (lending.cents(a.overdue_amount), a.days_past_due)
    return out


def baseline_query(engine: Any) -> float:
    """The same rows read with no computation: the database part of the figure."""
    started = time.perf_counter()
    with read_tx(engine) as conn:
        conn.execute(select(loans).where(loans.c.status == "active")).all()
        conn.execute(select(loan_events).order_by(loan_events.c.seq)).all()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loans", type=int, default=10_000)
    args = parser.parse_args()
    import loans_schedules

    loans_schedules.main()
    for mix in ("prepaying", "typical"):
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            upgrade(engine)
            seed(engine, args.loans, mix)
            base = baseline_query(engine)
            seconds, count, overdue, phases = arrears_from_db(engine)
            keep_schedules(engine)
            kept_seconds, kept = arrears_from_kept(engine)
            # The fast path must agree with the replay to the cent, loan by loan.
            assert kept == arrears_by_replay(engine)
            engine.dispose()
        print()
        print(f"| arrears as of {AS_OF} (SQLite, {mix} payments) | loans | seconds "
              "| loans/s |")
        print("|---|---|---|---|")
        print(f"| read rows only (baseline) | {count:,} | {base:.3f} | {count / base:,.0f} |")
        for name, label in [("load", "load rows + group by loan"),
                            ("loan_state", "loan_state (terms, schedule, replay)"),
                            ("schedule", "  build_schedule alone (part of it)"),
                            ("arrears", "arrears")]:
            print(f"| {label} | {count:,} | {phases[name]:.3f} | "
                  f"{count / phases[name]:,.0f} |")
        print(f"| load + replay + arrears | {count:,} | {seconds:.3f} | "
              f"{count / seconds:,.0f} |")
        print(f"| kept schedules: one aggregate query (the service's portfolio path) | "
              f"{count:,} | {kept_seconds:.3f} | {count / kept_seconds:,.0f} |")
        print(f"\n{overdue:,} of {count:,} loans have something overdue.")

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
