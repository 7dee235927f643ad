"""A loan's terms as a client gives them (to simulate, to create a loan, in a funding
request's package): reading them, and the schedule and figures they make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
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
from service.app.common import MoneyIn
from service.app.errors import Errors
from service.app.inputs import (
    Input,
    custom,
    day,
    minor_units,
    one_of,
    optional_day,
    optional_minor_units,
    whole,
)
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


@dataclass(frozen=True, kw_only=True)
class Terms(Input):
    """What ``TermsIn`` says, each field read on its own (``parse_terms`` adds the rules
    between them)."""

    principal: int = minor_units()
    annual_rate: Decimal = custom(parse_rate)
    disbursement_date: date = day()
    first_due_date: date | None = optional_day()
    fees: int | None = optional_minor_units(allow_zero=True)
    method: str = one_of(*METHODS)
    frequency: str = one_of(*FREQUENCIES)
    term_months: int = whole(at_least=1, message="must be positive")
    grace_periods: int = whole(at_least=0, message="must not be negative")

    def loan_terms(self) -> LoanTerms:
        # Method and frequency were read among the values the schedules take.
        return LoanTerms(principal=dec(self.principal), annual_rate=self.annual_rate,
                         term_months=self.term_months, method=cast(Method, self.method),
                         frequency=cast(Frequency, self.frequency),
                         grace_periods=self.grace_periods,
                         disbursement_date=self.disbursement_date,
                         first_due_date=self.first_due_date, fees=dec(self.fees or 0))


def parse_terms(data: TermsIn, errors: Errors, *, prefix: str = "") -> LoanTerms | None:
    """The terms, or None with every bad field (named under ``prefix``) in ``errors``."""
    read = Terms.read_into(data, errors, prefix)
    # Across fields (a term of whole periods, fewer grace periods than periods): named
    # beside the other bad fields, not only once they are right.
    named = {e["field"] for e in errors.items}
    for name, message in period_problems(data.term_months, data.frequency, data.method,
                                         data.grace_periods).items():
        if f"{prefix}{name}" not in named:
            errors.add(f"{prefix}{name}", message)
    if errors.items:
        return None
    terms = read.loan_terms()
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
