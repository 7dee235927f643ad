"""APR (TAEG) against numpy-financial's IRR and independent float checks.

numpy's irr is a float root (error ~1e-12 on the periodic rate); rounding its annualized
rate to 2 decimals can only differ from the exact Decimal result when the exact value is
within ~1e-9 of a half-hundredth. The tests detect that case and then allow 0.01.
"""

import random
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import numpy_financial as npf
import pytest

from ledger.apr import apr, apr_dated, apr_for_schedule, periodic_irr, yearly_irr_dated
from ledger.daycount import days_30e_360
from ledger.schedules import LoanTerms, build_schedule

PPY = {"monthly": 12, "quarterly": 4, "semiannual": 2, "annual": 1}


def numpy_apr(flows: list[Decimal], m: int) -> tuple[Decimal, bool]:
    """Numpy's APR rounded like the contract, and whether it sits near a rounding tie."""
    i = float(npf.irr([float(f) for f in flows]))
    exact = ((1 + i) ** m - 1) * 100
    near_tie = abs((exact * 100) % 1 - 0.5) < 1e-6
    return Decimal(repr(exact)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), near_tie


def loan(**kw: object) -> LoanTerms:
    base: dict[str, object] = {
        "principal": Decimal("10000.00"),
        "annual_rate": Decimal("3.00"),
        "term_months": 12,
        "method": "french",
        "frequency": "monthly",
        "grace_periods": 0,
        "disbursement_date": date(2024, 1, 15),
    }
    base.update(kw)
    return LoanTerms(**base)  # type: ignore[arg-type]


def flows_of(t: LoanTerms) -> list[Decimal]:
    return [t.principal - t.fees] + [-i.payment for i in build_schedule(t)]


def test_worked_example_apr() -> None:
    t = loan()
    assert apr_for_schedule(t, build_schedule(t)) == Decimal("3.04")
    expected, _ = numpy_apr(flows_of(t), 12)
    assert expected == Decimal("3.04")


def test_fees_raise_the_apr() -> None:
    t = loan(fees=Decimal("100.00"))
    result = apr_for_schedule(t, build_schedule(t))
    expected, near_tie = numpy_apr(flows_of(t), 12)
    assert not near_tie
    assert result == expected
    assert result > Decimal("4.5")  # 1% of fees on a 1-year loan adds ~1.8 points


def test_zero_rate() -> None:
    t = loan(annual_rate=Decimal("0"))
    assert apr_for_schedule(t, build_schedule(t)) == Decimal("0.00")
    assert periodic_irr([Decimal(100), Decimal(-50), Decimal(-50)]) == 0
    with_fees = loan(annual_rate=Decimal("0"), fees=Decimal("50.00"))
    expected, _ = numpy_apr(flows_of(with_fees), 12)
    assert apr_for_schedule(with_fees, build_schedule(with_fees)) == expected


@pytest.mark.parametrize("seed", range(25))
def test_random_schedules_against_numpy_irr(seed: int) -> None:
    rng = random.Random(500 + seed)
    frequency = rng.choice(list(PPY))
    months = 12 // PPY[frequency]
    method = rng.choice(["french", "italian", "bullet"])
    periods = rng.randint(2, 84 // months if months < 12 else 7)
    principal = Decimal(rng.randint(200_000, 7_500_000)) / 100
    t = loan(
        principal=principal,
        annual_rate=Decimal(rng.randint(0, 1400)) / 100,
        method=method,
        frequency=frequency,
        term_months=periods * months,
        grace_periods=0 if method == "bullet" else rng.randint(0, periods - 1),
        fees=(principal * Decimal(rng.randint(0, 300)) / 10_000).quantize(Decimal("0.01")),
    )
    result = apr_for_schedule(t, build_schedule(t))
    expected, near_tie = numpy_apr(flows_of(t), PPY[frequency])
    assert abs(result - expected) <= (Decimal("0.01") if near_tie else 0)


def test_quarterly_periodic_rate_is_annualized_with_m_4() -> None:
    # 1000 now, 4 quarterly payments at exactly 2% a quarter
    pay = Decimal(1000) * Decimal("0.02") / (1 - Decimal("1.02") ** -4)
    flows = [Decimal(1000)] + [-pay] * 4
    assert abs(periodic_irr(flows) - Decimal("0.02")) < Decimal("1e-20")  # inputs are at 28 digits
    assert apr(flows, 4) == Decimal("8.24")  # 1.02^4 - 1 = 8.243216%


def test_irregular_first_period_dated_flows() -> None:
    t = loan(first_due_date=date(2024, 3, 1), fees=Decimal("75.00"))
    sched = build_schedule(t)
    result = apr_for_schedule(t, sched)
    years = [0.0] + [days_30e_360(t.disbursement_date, i.due_date) / 360 for i in sched]
    flows = [float(t.principal - t.fees)] + [-float(i.payment) for i in sched]

    def npv(rate_percent: float) -> float:
        y = rate_percent / 100
        return sum(f * (1 + y) ** -tk for f, tk in zip(flows, years, strict=True))

    # the true yearly rate lies within half a hundredth of the reported one
    assert npv(float(result) - 0.005) < 0 < npv(float(result) + 0.005)


def test_dated_irr_equals_periodic_on_a_regular_grid() -> None:
    flows = [Decimal(1000), Decimal(-300), Decimal(-300), Decimal(-300), Decimal(-200)]
    years = [Decimal(k) / 12 for k in range(5)]
    i = periodic_irr(flows)
    y = yearly_irr_dated(flows, years)
    assert abs((1 + i) ** 12 - 1 - y) < Decimal("1e-20")  # inputs are at 28 digits
    assert apr_dated(flows, years) == apr(flows, 12)


@pytest.mark.parametrize(
    "flows",
    [
        [Decimal(100)],
        [Decimal(0), Decimal(-100)],
        [Decimal(100), Decimal(50)],
        [Decimal(100), Decimal(-40), Decimal(-40)],  # repays less than received
        [Decimal(100), Decimal(0)],
    ],
)
def test_bad_flows_are_refused(flows: list[Decimal]) -> None:
    with pytest.raises(ValueError):
        periodic_irr(flows)
