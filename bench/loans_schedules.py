"""Schedules per second for 120-installment loans, beside baselines run in the same process.

Rows:
* ledger.schedules.build_schedule (validation, 30/360 rules, rounding, last absorbs);
* a plain Decimal annuity loop (the least a correct cent-rounded French schedule costs);
* numpy-financial pmt/ipmt/ppmt in float, vectorized over the 120 periods (not exact,
  no per-period rounding: a speed reference only);
* APR (Decimal Newton) of a built schedule, beside numpy-financial's float irr.

Run: .venv/bin/python bench/loans_schedules.py
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path

import numpy as np
import numpy_financial as npf

# The project before bench/ (whose ledger.py would shadow the ledger package).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.apr import apr_for_schedule
from ledger.schedules import LoanTerms, build_schedule

PERIODS = 120
CENT = Decimal("0.01")


def make_terms(rng: random.Random) -> LoanTerms:
    return LoanTerms(
        principal=Decimal(rng.randint(200_000, 7_500_000)) / 100,
        annual_rate=Decimal(rng.randint(50, 900)) / 100,
        term_months=PERIODS,
        method="french",
        frequency="monthly",
        grace_periods=0,
        disbursement_date=date(2024, 1, 15),
    )


def plain_decimal(principal: Decimal, annual_rate: Decimal) -> list[tuple[Decimal, Decimal]]:
    with localcontext() as ctx:
        ctx.prec = 50
        r = annual_rate / 1200
        pay = (principal * r / (1 - (1 + r) ** -PERIODS)).quantize(CENT, ROUND_HALF_EVEN)
        balance = principal
        rows = []
        for k in range(PERIODS):
            interest = (balance * r).quantize(CENT, ROUND_HALF_EVEN)
            part = balance if k == PERIODS - 1 else pay - interest
            balance -= part
            rows.append((part, interest))
        return rows


def numpy_schedule(principal: float, annual_rate: float) -> tuple[np.ndarray, np.ndarray]:
    r = annual_rate / 1200
    per = np.arange(1, PERIODS + 1)
    return npf.ipmt(r, per, PERIODS, principal), npf.ppmt(r, per, PERIODS, principal)


def rate(fn: Callable[[int], object], count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        fn(i)
    return count / (time.perf_counter() - start)


def best_rates(cases: list[tuple[str, Callable[[int], object], int]],
               rounds: int = 5) -> list[tuple[str, float]]:
    """Each case's best rate over ``rounds`` rounds, the cases interleaved in every round
    so that a noisy moment on the machine does not fall on one row only."""
    best = [0.0] * len(cases)
    for _ in range(rounds):
        for k, (_, fn, count) in enumerate(cases):
            best[k] = max(best[k], rate(fn, count))
    return [(name, per_second) for (name, _, _), per_second in zip(cases, best, strict=True)]


def main() -> None:
    rng = random.Random(42)
    loans = [make_terms(rng) for _ in range(200)]
    floats = [(float(t.principal), float(t.annual_rate)) for t in loans]
    schedules = [build_schedule(t) for t in loans]
    flows = [
        [float(t.principal)] + [-float(i.payment) for i in s]
        for t, s in zip(loans, schedules, strict=True)
    ]
    n = len(loans)
    count = 600

    rows = best_rates([
        ("build_schedule (filiera)", lambda i: build_schedule(loans[i % n]), count),
        ("plain Decimal annuity loop",
         lambda i: plain_decimal(loans[i % n].principal, loans[i % n].annual_rate), count),
        ("numpy-financial ipmt/ppmt (float)", lambda i: numpy_schedule(*floats[i % n]), count),
        ("apr_for_schedule (filiera)",
         lambda i: apr_for_schedule(loans[i % n], schedules[i % n]), count // 2),
        ("numpy-financial irr (float)", lambda i: npf.irr(flows[i % n]), count // 2),
    ])
    baseline = rows[1][1]
    print(f"{PERIODS}-installment French monthly loans, best of 5 rounds of {count} runs per row")
    print(f"{'what':<36} {'per second':>12} {'vs plain Decimal':>18}")
    print("-" * 68)
    for name, per_second in rows:
        print(f"{name:<36} {per_second:>12,.0f} {per_second / baseline:>17.2f}x")


if __name__ == "__main__":
    main()
