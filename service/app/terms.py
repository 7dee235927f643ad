"""A loan's terms as a client gives them (to simulate, to create a loan, in a funding
request's package): reading them, and the schedule and figures they make."""

from __future__ import annotations

from decimal import Decimal
from typing import cast

import msgspec

from ledger.money import AMOUNT_PATTERN
from ledger.schedules import (
    FREQUENCIES,
    METHODS,
    Frequency,
    Installment,
    LoanTerms,
    Method,
    TermsError,
    build_schedule,
    period_problems,
    summarize,
)
from service.app.common import MoneyIn, money_minor, parse_date
from service.app.errors import Errors
from service.app.lending import cents, dec
from service.app.types import Day, DecimalText
from service.app.views import Money, money

RATE_DECIMALS = 4


class TermsIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The terms of a loan, as ``POST /api/loans/simulate`` takes them."""

    principal: MoneyIn
    annual_rate: str
    term_months: int
    method: str
    frequency: str
    disbursement_date: str
    grace_periods: int = 0
    first_due_date: str | None = None
    fees: MoneyIn | None = None


class PlannedInstallmentOut(msgspec.Struct):
    """One installment of the contractual schedule."""

    number: int
    due_date: Day
    principal: Money
    interest: Money
    payment: Money
    balance_after: Money


class SimulationOut(msgspec.Struct):
    installments: list[PlannedInstallmentOut]
    total_interest: Money
    total_payment: Money
    total_fees: Money
    apr: DecimalText


def parse_rate(text: str, field: str, errors: Errors) -> Decimal:
    """A yearly percentage such as "3.50" (0 to 100, at most four decimals)."""
    if not AMOUNT_PATTERN.fullmatch(text) or text.startswith("-"):
        errors.add(field, f"{text!r} is not a percentage such as \"3.50\"")
        return Decimal(0)
    if len(text.partition(".")[2]) > RATE_DECIMALS:
        errors.add(field, f"at most {RATE_DECIMALS} decimals")
        return Decimal(0)
    value = Decimal(text)
    if value > 100:
        errors.add(field, "a yearly percentage of at most 100")
    return value


def parse_terms(data: TermsIn, errors: Errors, *, prefix: str = "") -> LoanTerms | None:
    """The terms, or None with every bad field (named under ``prefix``) in ``errors``."""
    principal = money_minor(data.principal, f"{prefix}principal", errors)
    rate = parse_rate(data.annual_rate, f"{prefix}annual_rate", errors)
    disbursed = parse_date(data.disbursement_date, f"{prefix}disbursement_date", errors)
    first_due = parse_date(data.first_due_date, f"{prefix}first_due_date", errors,
                           required=False)
    fees = money_minor(data.fees, f"{prefix}fees", errors, allow_zero=True) \
        if data.fees is not None else 0
    if data.method not in METHODS:
        errors.add(f"{prefix}method", f"one of {', '.join(METHODS)}")
    if data.frequency not in FREQUENCIES:
        errors.add(f"{prefix}frequency", f"one of {', '.join(FREQUENCIES)}")
    if data.term_months < 1:
        errors.add(f"{prefix}term_months", "must be positive")
    if data.grace_periods < 0:
        errors.add(f"{prefix}grace_periods", "must not be negative")
    # Across fields (a term of whole periods, fewer grace periods than periods): named
    # beside the other bad fields, not only once they are right.
    named = {e["field"] for e in errors.items}
    for name, message in period_problems(data.term_months, data.frequency, data.method,
                                         data.grace_periods).items():
        if f"{prefix}{name}" not in named:
            errors.add(f"{prefix}{name}", message)
    if errors.items:
        return None
    assert disbursed is not None
    # Both checked above against the values the schedules take.
    terms = LoanTerms(principal=dec(principal), annual_rate=rate,
                      term_months=data.term_months, method=cast(Method, data.method),
                      frequency=cast(Frequency, data.frequency), grace_periods=data.grace_periods,
                      disbursement_date=disbursed, first_due_date=first_due,
                      fees=dec(fees))
    try:
        build_schedule(terms)
    except TermsError as exc:
        errors.add(f"{prefix}{exc.field}", exc.message)
        return None
    return terms


def planned_installment_out(i: Installment) -> PlannedInstallmentOut:
    return PlannedInstallmentOut(
        number=i.number, due_date=i.due_date.isoformat(), principal=money(cents(i.principal)),
        interest=money(cents(i.interest)), payment=money(cents(i.payment)),
        balance_after=money(cents(i.balance_after)))


def simulation_out(terms: LoanTerms) -> SimulationOut:
    schedule = build_schedule(terms)
    summary = summarize(terms, schedule)
    return SimulationOut(
        installments=[planned_installment_out(i) for i in schedule],
        total_interest=money(cents(summary.total_interest)),
        total_payment=money(cents(summary.total_payment)),
        total_fees=money(cents(summary.total_fees)), apr=str(summary.apr))


# -- use cases ------------------------------------------------------------------------------


def simulate_loan(data: TermsIn) -> SimulationOut:
    """The schedule and figures of ``data`` (nothing is stored; anyone signed in may ask)."""
    errors = Errors()
    terms = parse_terms(data, errors)
    errors.raise_if_any()
    assert terms is not None
    return simulation_out(terms)
