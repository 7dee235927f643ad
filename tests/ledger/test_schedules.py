"""Schedules against the worked example, numpy-financial and hand formulas.

numpy-financial works in float with an unrounded installment, while the contract rounds
the installment and each period's interest to the cent. So:

* the installment must equal numpy's pmt rounded half-even to the cent (float error is
  ~1e-9, far below the cent, so only an exact half-cent tie could differ: we allow one
  cent there and nowhere else);
* each period's interest is computed on the schedule's balance, which drifts from the
  exact balance by at most 1/2 cent of installment rounding plus 1/2 cent of interest
  rounding per elapsed period, grown by (1 + r)^k. The interest can then differ from
  numpy's ipmt by r × that drift plus its own 1/2-cent rounding: the tolerance below.
"""

import random
from datetime import date
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.schedules import (
    Installment,
    LoanTerms,
    TermsError,
    build_schedule,
    interest_factor,
    reschedule_remaining,
    restructure,
    summarize,
    validate_terms,
)

CENT = Decimal("0.01")
PPY = {"monthly": 12, "quarterly": 4, "semiannual": 2, "annual": 1}


def cents(x: Decimal | float) -> Decimal:
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def terms(**kw: object) -> LoanTerms:
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


def check_consistent(sched: list[Installment], principal: Decimal) -> None:
    balance = principal
    for k, inst in enumerate(sched, start=1):
        assert inst.number == k
        assert inst.payment == inst.principal + inst.interest
        assert inst.principal >= 0 and inst.interest >= 0
        balance -= inst.principal
        assert inst.balance_after == balance
        for amount in (inst.principal, inst.interest, inst.payment, inst.balance_after):
            assert amount == amount.quantize(CENT)
    assert sum(i.principal for i in sched) == principal
    assert sched[-1].balance_after == 0


def test_worked_example_french_monthly() -> None:
    sched = build_schedule(terms())
    assert len(sched) == 12
    assert sched[0].interest == Decimal("25.00")  # 10,000 × 3% / 12
    assert sched[0].payment == Decimal("846.94")
    assert sched[0].principal == Decimal("821.94")
    assert all(i.payment == Decimal("846.94") for i in sched[:-1])
    # the last installment absorbs rounding: 10,000 - 11 principal parts, plus interest
    assert sched[-1].principal == sched[-2].balance_after
    check_consistent(sched, Decimal("10000.00"))
    summary = summarize(terms(), sched)
    assert summary.total_payment == sum(i.payment for i in sched)
    assert summary.total_interest == summary.total_payment - Decimal("10000.00")
    assert summary.total_fees == Decimal("0.00")
    assert summary.apr == Decimal("3.04")
    assert [i.due_date for i in sched[:3]] == [date(2024, 2, 15), date(2024, 3, 15),
                                               date(2024, 4, 15)]


def interest_tolerance(r: float, k: int) -> float:
    drift = 0.01 * k * (1 + r) ** k  # balance drift after k periods (see module doc)
    return 0.005 + r * drift + 0.0051  # own rounding + drift + numpy's float slack


def random_french_terms(rng: random.Random) -> LoanTerms:
    frequency = rng.choice(list(PPY))
    months = 12 // PPY[frequency]
    periods = rng.randint(1, 120 // months)
    return terms(
        principal=Decimal(rng.randint(200_000, 7_500_000)) / 100,
        annual_rate=Decimal(rng.choice([0, rng.randint(1, 1500)])) / 100,
        term_months=periods * months,
        frequency=frequency,
    )


@pytest.mark.parametrize("seed", range(30))
def test_french_against_numpy_financial(seed: int) -> None:
    t = random_french_terms(random.Random(seed))
    sched = build_schedule(t)
    n = t.term_months * PPY[t.frequency] // 12
    r = float(t.annual_rate) / 100 / PPY[t.frequency]
    pv = float(t.principal)
    assert len(sched) == n
    check_consistent(sched, t.principal)
    expected_payment = cents(-npf.pmt(r, n, pv))
    assert abs(sched[0].payment - expected_payment) <= (CENT if n > 1 else 0)
    for inst in sched[:-1]:
        assert inst.payment == sched[0].payment
    for k, inst in enumerate(sched, start=1):
        exact_interest = -float(npf.ipmt(r, k, n, pv)) if r else 0.0
        assert abs(float(inst.interest) - exact_interest) <= interest_tolerance(r, k)
    # exact rule on the schedule's own balance: interest = balance × rate / m, half-even
    balance = t.principal
    for inst in sched:
        assert inst.interest == (balance * t.annual_rate / 100 / PPY[t.frequency]).quantize(
            CENT, rounding=ROUND_HALF_EVEN
        )
        balance = inst.balance_after
    # the last payment differs from numpy's only by the rounding absorbed
    last_exact = -float(npf.pmt(r, n, pv))
    assert abs(float(sched[-1].payment) - last_exact) <= 0.01 * n * (1 + r) ** n + 0.01


@pytest.mark.parametrize("seed", range(10))
def test_italian_hand_formula(seed: int) -> None:
    rng = random.Random(1000 + seed)
    frequency = rng.choice(list(PPY))
    months = 12 // PPY[frequency]
    n = rng.randint(1, 40)
    p = Decimal(rng.randint(200_000, 7_500_000)) / 100
    rate = Decimal(rng.randint(0, 1200)) / 100
    t = terms(method="italian", principal=p, annual_rate=rate, frequency=frequency,
              term_months=n * months)
    sched = build_schedule(t)
    quota = (p / n).quantize(CENT, rounding=ROUND_HALF_EVEN)
    balance = p
    for k, inst in enumerate(sched, start=1):
        expected_principal = quota if k < n else p - quota * (n - 1)
        assert inst.principal == expected_principal
        assert inst.interest == (balance * rate / (100 * PPY[frequency])).quantize(
            CENT, rounding=ROUND_HALF_EVEN
        )
        balance -= expected_principal
    check_consistent(sched, p)


def test_bullet_pays_interest_then_principal() -> None:
    t = terms(method="bullet", principal=Decimal("24000.00"), annual_rate=Decimal("4.10"),
              frequency="quarterly", term_months=36)
    sched = build_schedule(t)
    assert len(sched) == 12
    quarterly_interest = Decimal("246.00")  # 24,000 × 4.10% / 4
    assert all(i.interest == quarterly_interest for i in sched)
    assert all(i.principal == 0 for i in sched[:-1])
    assert sched[-1].principal == Decimal("24000.00")
    assert sched[-1].payment == Decimal("24246.00")
    check_consistent(sched, t.principal)


def test_grace_periods_are_interest_only_then_amortize_over_the_rest() -> None:
    t = terms(principal=Decimal("30000.00"), annual_rate=Decimal("2.40"), term_months=24,
              grace_periods=6)
    sched = build_schedule(t)
    assert len(sched) == 24
    assert all(i.principal == 0 and i.interest == Decimal("60.00") for i in sched[:6])
    expected = cents(-npf.pmt(0.002, 18, 30000.0))
    assert sched[6].payment == expected
    assert sched[6].interest == Decimal("60.00")
    check_consistent(sched, t.principal)

    it = build_schedule(terms(method="italian", principal=Decimal("12000.00"),
                              frequency="quarterly", term_months=24, grace_periods=2))
    assert [i.principal for i in it[:2]] == [Decimal(0), Decimal(0)]
    assert all(i.principal == Decimal("2000.00") for i in it[2:])  # 12,000 / 6
    assert it[0].interest == Decimal("90.00")  # 12,000 × 3% / 4


@pytest.mark.parametrize(
    ("frequency", "months", "first_interest"),
    [("quarterly", 3, "75.00"), ("semiannual", 6, "150.00"), ("annual", 12, "300.00")],
)
def test_longer_periods(frequency: str, months: int, first_interest: str) -> None:
    t = terms(frequency=frequency, term_months=36, disbursement_date=date(2023, 8, 31))
    sched = build_schedule(t)
    n = 36 // months
    assert len(sched) == n
    assert sched[0].interest == Decimal(first_interest)
    r = 0.03 / (12 // months)
    assert sched[0].payment == cents(-npf.pmt(r, n, 10000.0))
    # anchored at Aug 31 + one period, end-of-month clamped
    assert sched[0].due_date.day in (28, 29, 30, 31)
    if frequency == "quarterly":
        assert [i.due_date for i in sched[:3]] == [date(2023, 11, 30), date(2024, 2, 29),
                                                   date(2024, 5, 30)]
    check_consistent(sched, t.principal)


def test_end_of_month_due_dates_from_first_due_date() -> None:
    sched = build_schedule(terms(disbursement_date=date(2023, 12, 31),
                                 first_due_date=date(2024, 1, 31)))
    assert [i.due_date for i in sched[:4]] == [date(2024, 1, 31), date(2024, 2, 29),
                                               date(2024, 3, 31), date(2024, 4, 30)]
    # Dec 31 -> Jan 31 is exactly one period: a regular first period
    assert sched[0].interest == Decimal("25.00")


def test_irregular_first_period_uses_30e_360_days() -> None:
    t = terms(first_due_date=date(2024, 3, 1))  # Jan 15 -> Mar 1: 46 days in 30E/360
    sched = build_schedule(t)
    assert sched[0].interest == (Decimal("10000") * Decimal("0.03") * 46 / 360).quantize(
        CENT, rounding=ROUND_HALF_EVEN
    )  # 38.33
    assert sched[0].interest == Decimal("38.33")
    assert sched[0].due_date == date(2024, 3, 1)
    assert sched[-1].due_date == date(2025, 2, 1)
    # the installment stays the annuity; the longer period's interest eats into principal
    assert sched[0].payment == Decimal("846.94")
    assert sched[0].principal == Decimal("846.94") - Decimal("38.33")
    assert sched[1].interest == (sched[0].balance_after * Decimal("0.0025")).quantize(
        CENT, rounding=ROUND_HALF_EVEN
    )
    check_consistent(sched, t.principal)
    short = build_schedule(terms(method="bullet", first_due_date=date(2024, 2, 1)))
    assert short[0].interest == Decimal("13.33")  # 16 days: 10,000 × 3% × 16 / 360
    assert short[1].interest == Decimal("25.00")


def test_zero_rate() -> None:
    sched = build_schedule(terms(principal=Decimal("1000.00"), annual_rate=Decimal("0"),
                                 term_months=3))
    assert [i.payment for i in sched] == [Decimal("333.33"), Decimal("333.33"),
                                          Decimal("333.34")]
    assert all(i.interest == 0 for i in sched)
    it = build_schedule(terms(method="italian", principal=Decimal("1000.00"),
                              annual_rate=Decimal("0.00"), term_months=6))
    assert [i.principal for i in it] == [Decimal("166.67")] * 5 + [Decimal("166.65")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"principal": Decimal("0.00")}, "principal"),
        ({"principal": Decimal("-5.00")}, "principal"),
        ({"principal": Decimal("10.001")}, "principal"),
        ({"annual_rate": Decimal("-0.01")}, "annual_rate"),
        ({"annual_rate": Decimal("NaN")}, "annual_rate"),
        ({"term_months": 0}, "term_months"),
        ({"term_months": 10, "frequency": "quarterly"}, "term_months"),
        ({"term_months": 18, "frequency": "annual"}, "term_months"),
        ({"grace_periods": 12}, "grace_periods"),
        ({"grace_periods": -1}, "grace_periods"),
        ({"method": "bullet", "grace_periods": 1}, "grace_periods"),
        ({"method": "german"}, "method"),
        ({"frequency": "weekly"}, "frequency"),
        ({"fees": Decimal("-1.00")}, "fees"),
        ({"fees": Decimal("10000.00")}, "fees"),
        ({"first_due_date": date(2024, 1, 15)}, "first_due_date"),
        ({"currency": "ZZZ"}, "currency"),
        ({"term_months": 12_000}, "term_months"),
    ],
)
def test_validate_terms_names_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(TermsError) as info:
        validate_terms(terms(**changes))
    assert info.value.field == field
    assert str(info.value)
    with pytest.raises(ValueError):
        build_schedule(terms(**changes))


def test_validate_accepts_good_terms() -> None:
    validate_terms(terms(term_months=84, frequency="quarterly", grace_periods=27))


@settings(max_examples=150, deadline=None)
@given(
    principal=st.integers(min_value=1, max_value=10_000_000),
    rate=st.integers(min_value=0, max_value=3000),
    periods=st.integers(min_value=1, max_value=60),
    method=st.sampled_from(["french", "italian", "bullet"]),
    frequency=st.sampled_from(list(PPY)),
    grace=st.integers(min_value=0, max_value=10),
    first_shift=st.integers(min_value=-20, max_value=40),
)
def test_schedule_invariants(principal: int, rate: int, periods: int, method: str,
                             frequency: str, grace: int, first_shift: int) -> None:
    months = 12 // PPY[frequency]
    grace = 0 if method == "bullet" else min(grace, periods - 1)
    disbursed = date(2024, 1, 31)
    first = date.fromordinal(date(2024, 2, 29).toordinal() + first_shift)
    t = terms(principal=Decimal(principal) / 100, annual_rate=Decimal(rate) / 100,
              method=method, frequency=frequency, term_months=periods * months,
              grace_periods=grace, disbursement_date=disbursed,
              first_due_date=first if first > disbursed else None)
    sched = build_schedule(t)
    assert len(sched) == periods
    check_consistent(sched, t.principal)
    assert all(i.principal == 0 for i in sched[:grace])
    dates = [i.due_date for i in sched]
    assert dates == sorted(set(dates))


def test_reschedule_keep_term_and_shorten_term() -> None:
    dates = [date(2024, m, 15) for m in range(4, 13)]  # 9 remaining dates
    kept = reschedule_remaining(Decimal("5000.00"), Decimal("3.00"), dates, "french",
                                frequency="monthly", first_number=4)
    assert [i.due_date for i in kept] == dates
    assert [i.number for i in kept] == list(range(4, 13))
    assert kept[0].payment == cents(-npf.pmt(0.0025, 9, 5000.0))
    assert sum(i.principal for i in kept) == Decimal("5000.00")

    short = reschedule_remaining(Decimal("5000.00"), Decimal("3.00"), dates, "french",
                                 frequency="monthly", keep="shorten_term",
                                 current_payment=Decimal("846.94"), first_number=4)
    # nper at the same installment: 5000 needs a bit over 5.9 installments of 846.94
    expected_count = int(-(-npf.nper(0.0025, -846.94, 5000.0) // 1))
    assert len(short) == expected_count == 6
    assert all(i.payment == Decimal("846.94") for i in short[:-1])
    assert 0 < short[-1].payment < Decimal("846.94")
    assert sum(i.principal for i in short) == Decimal("5000.00")

    it = reschedule_remaining(Decimal("1000.00"), Decimal("0"), dates, "italian",
                              frequency="monthly", keep="shorten_term",
                              current_payment=Decimal("300.00"))
    assert [i.principal for i in it] == [Decimal("300.00")] * 3 + [Decimal("100.00")]
    assert reschedule_remaining(Decimal("0.00"), Decimal("3"), dates, "french",
                                frequency="monthly") == []
    with pytest.raises(ValueError):
        reschedule_remaining(Decimal("10.00"), Decimal("3"), dates, "french",
                             frequency="monthly", keep="shorten_term")


def test_restructure_adds_grace_on_the_loan_calendar() -> None:
    new = restructure(Decimal("6000.00"), Decimal("3.00"), "french", "monthly",
                      date(2024, 1, 31), 5, 8, grace_periods=2)
    # installment 5 of a loan first due Jan 31 falls on May 31, then Jun 30, Jul 31 ...
    assert [i.due_date for i in new[:3]] == [date(2024, 5, 31), date(2024, 6, 30),
                                             date(2024, 7, 31)]
    assert [i.number for i in new] == list(range(5, 13))
    assert all(i.principal == 0 and i.interest == Decimal("15.00") for i in new[:2])
    assert new[2].payment == cents(-npf.pmt(0.0025, 6, 6000.0))
    assert sum(i.principal for i in new) == Decimal("6000.00")
    with pytest.raises(TermsError):
        restructure(Decimal("1.00"), Decimal("3"), "french", "monthly", date(2024, 1, 31),
                    1, 2, grace_periods=2)


# -- the period interest as one multiplication ---------------------------------------------

def contract_interest(balance: Decimal, annual_rate: Decimal, periods_per_year: int) -> Fraction:
    """balance × annual_rate / 100 / periods a year, rounded half-even to the cent, done
    with exact fractions (``round`` on a Fraction rounds half to even)."""
    exact = Fraction(balance) * Fraction(annual_rate) / 100 / periods_per_year
    return Fraction(round(exact, 2))


def is_half_cent_tie(balance: Decimal, annual_rate: Decimal, periods_per_year: int) -> bool:
    halves = Fraction(balance) * Fraction(annual_rate) / 100 / periods_per_year * 200
    return halves.denominator == 1 and halves.numerator % 2 == 1


@pytest.mark.parametrize("periods_per_year", [12, 4, 2, 1])
@pytest.mark.parametrize("rate", ["5.00", "4", "1.25", "7.1", "0.01", "13.3333", "0"])
def test_interest_factor_gives_the_contract_interest_on_every_cent(
    rate: str, periods_per_year: int
) -> None:
    annual_rate = Decimal(rate)
    top = Decimal("400.00")
    found = interest_factor(top, Decimal("35.00"), annual_rate,
                            Decimal(100 * periods_per_year), CENT)
    assert found is not None
    factor, prec = found
    ties = 0
    for whole_cents in range(40_001):
        balance = Decimal(whole_cents).scaleb(-2)
        with localcontext() as ctx:
            ctx.prec = prec
            got = (balance * factor).quantize(CENT, ROUND_HALF_EVEN)
        assert Fraction(got) == contract_interest(balance, annual_rate, periods_per_year), (
            balance)
        ties += is_half_cent_tie(balance, annual_rate, periods_per_year)
    # Half-cent ties, where a rounded factor would tip the wrong way, were among them
    # (counted by hand: 5.00% monthly has 167 below 400 EUR, 7.1% monthly 3).
    if rate in ("5.00", "4", "1.25", "7.1") and periods_per_year != 1:
        assert ties > 0


@settings(max_examples=300, deadline=None)
@given(
    top_cents=st.integers(min_value=1, max_value=10**14),
    fraction=st.fractions(min_value=0, max_value=1),
    rate_units=st.integers(min_value=0, max_value=3_000_000),
    rate_decimals=st.integers(min_value=0, max_value=6),
    periods_per_year=st.sampled_from([12, 4, 2, 1]),
    tie=st.booleans(),
)
def test_interest_factor_matches_exact_rounding_at_any_size(
    top_cents: int, fraction: Fraction, rate_units: int, rate_decimals: int,
    periods_per_year: int, tie: bool,
) -> None:
    annual_rate = Decimal(rate_units).scaleb(-rate_decimals)
    top = Decimal(top_cents).scaleb(-2)
    found = interest_factor(top, Decimal("1.00"), annual_rate,
                            Decimal(100 * periods_per_year), CENT)
    if found is None:  # the schedule then divides; only absurd sizes get here
        assert top_cents > 10**12 or rate_decimals > 4
        return
    factor, prec = found
    balance_cents = int(top_cents * fraction)
    if tie and annual_rate:
        # Walk down to a balance whose interest is a half-cent tie, when one is near.
        for candidate in range(balance_cents, max(balance_cents - 5_000, 0), -1):
            if is_half_cent_tie(Decimal(candidate).scaleb(-2), annual_rate, periods_per_year):
                balance_cents = candidate
                break
    balance = Decimal(balance_cents).scaleb(-2)
    with localcontext() as ctx:
        ctx.prec = prec
        got = (balance * factor).quantize(CENT, ROUND_HALF_EVEN)
    assert Fraction(got) == contract_interest(balance, annual_rate, periods_per_year)


def test_a_monthly_tie_rounds_half_to_even_in_a_schedule() -> None:
    # 5% a year on 15.60 EUR is 0.065 a month: half-even gives 0.06, while the factor
    # 5 / 1200 rounded to 50 digits (0.0041666...67) would tip it to 0.07.
    sched = build_schedule(terms(principal=Decimal("18.00"), annual_rate=Decimal("5.00"),
                                 term_months=15, method="italian"))
    assert [i.principal for i in sched] == [Decimal("1.20")] * 15
    assert sched[2].interest == Decimal("0.06")
    for k, inst in enumerate(sched):
        before = Decimal("18.00") - Decimal("1.20") * k
        assert Fraction(inst.interest) == contract_interest(before, Decimal(5), 12)
    with localcontext() as ctx:
        ctx.prec = 50
        naive = Decimal("15.60") * (Decimal(5) / Decimal(1200))
        assert naive.quantize(CENT, ROUND_HALF_EVEN) == Decimal("0.07")
    # The caller's rounding mode does not leak in (the tie must snap to nearest).
    for rounding in (ROUND_DOWN, ROUND_CEILING):
        with localcontext() as ctx:
            ctx.rounding = rounding
            again = build_schedule(terms(principal=Decimal("18.00"),
                                         annual_rate=Decimal("5.00"), term_months=15,
                                         method="italian"))
        assert repr(again) == repr(sched)
