"""Loan terms and installment schedules (French, Italian, bullet; grace periods).

The rules are the contract's (API.md, "Loans"):

* interest of a period = balance × annual_rate / 100 / periods a year (30/360), rounded
  half-even to the cent; an irregular first period (a ``first_due_date`` other than one
  period after disbursement) earns balance × annual_rate / 100 × d / 360 with d counted
  30E/360 from disbursement;
* French: a constant installment, the annuity formula rounded to the cent; Italian: a
  constant principal part, principal / n rounded to the cent; bullet: interest every
  period and the principal with the last installment; in every method the last
  installment absorbs the rounding, so principal parts sum exactly to the principal;
* the first ``grace_periods`` periods are interest-only and amortization spreads over
  the rest of the term.

Everything here is pure: terms in, installments out, Decimal throughout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from typing import Literal, get_args

from ledger.daycount import add_months, days_30e_360, due_dates
from ledger.money import MoneyError, check_currency, currency_exponent, quantize

__all__ = [
    "FREQUENCIES",
    "MAX_TERM_MONTHS",
    "METHODS",
    "MONTHS_PER_PERIOD",
    "PERIODS_PER_YEAR",
    "Frequency",
    "Installment",
    "Keep",
    "LoanTerms",
    "Method",
    "ScheduleSummary",
    "TermsError",
    "annuity_payment",
    "build_schedule",
    "reschedule_remaining",
    "restructure",
    "summarize",
    "validate_terms",
]

Method = Literal["french", "italian", "bullet"]
Frequency = Literal["monthly", "quarterly", "semiannual", "annual"]
Keep = Literal["term", "shorten_term"]

METHODS: tuple[str, ...] = get_args(Method)
FREQUENCIES: tuple[str, ...] = get_args(Frequency)
PERIODS_PER_YEAR: Mapping[str, int] = {"monthly": 12, "quarterly": 4, "semiannual": 2, "annual": 1}
MONTHS_PER_PERIOD: Mapping[str, int] = {k: 12 // v for k, v in PERIODS_PER_YEAR.items()}

# A sanity bound against absurd input (a schedule is built in memory); categories set
# the real business limits (409), this one only keeps a 422 for nonsense.
MAX_TERM_MONTHS = 1200

# Working precision for rates and annuities; results are always quantized to the cent.
_PREC = 50
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)


class TermsError(ValueError):
    """Loan terms that cannot make a schedule; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class LoanTerms:
    principal: Decimal
    annual_rate: Decimal  # percent a year: Decimal("3.00") is 3%
    term_months: int
    method: Method
    frequency: Frequency
    grace_periods: int
    disbursement_date: date
    first_due_date: date | None = None
    fees: Decimal = _ZERO
    currency: str = "EUR"

    @property
    def periods_per_year(self) -> int:
        return PERIODS_PER_YEAR[self.frequency]

    @property
    def months_per_period(self) -> int:
        return MONTHS_PER_PERIOD[self.frequency]

    @property
    def periods(self) -> int:
        """Number of installments (``term_months`` over the months of one period)."""
        return self.term_months // self.months_per_period

    @property
    def regular_first_due_date(self) -> date:
        return add_months(self.disbursement_date, self.months_per_period)

    @property
    def resolved_first_due_date(self) -> date:
        return self.first_due_date or self.regular_first_due_date

    @property
    def irregular_first_period(self) -> bool:
        first = self.first_due_date
        return first is not None and first != self.regular_first_due_date

    def due_dates(self) -> list[date]:
        return due_dates(self.resolved_first_due_date, self.periods, self.months_per_period)


@dataclass(frozen=True)
class Installment:
    number: int
    due_date: date
    principal: Decimal
    interest: Decimal
    payment: Decimal
    balance_after: Decimal


@dataclass(frozen=True)
class ScheduleSummary:
    total_interest: Decimal
    total_payment: Decimal  # sum of the payments; fees are reported apart
    total_fees: Decimal
    apr: Decimal  # percent, 2 decimals


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_amount(field: str, value: object, currency: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TermsError(field, f"{field} must be a finite Decimal amount")
    if value != value.quantize(Decimal(1).scaleb(-currency_exponent(currency))):
        raise TermsError(
            field, f"{field} {value} has more decimals than {currency} has "
            f"({currency_exponent(currency)})"
        )
    return value


def validate_terms(terms: LoanTerms) -> None:
    """Raise ``TermsError`` (with the offending ``field``) unless the terms make a schedule."""
    try:
        check_currency(terms.currency)
    except MoneyError as exc:
        raise TermsError("currency", str(exc)) from None
    principal = _check_amount("principal", terms.principal, terms.currency)
    if principal <= 0:
        raise TermsError("principal", "principal must be positive")
    fees = _check_amount("fees", terms.fees, terms.currency)
    if fees < 0:
        raise TermsError("fees", "fees must not be negative")
    if fees >= principal:
        raise TermsError("fees", "fees must be less than the principal")
    rate = terms.annual_rate
    if not isinstance(rate, Decimal) or not rate.is_finite():
        raise TermsError("annual_rate", "annual_rate must be a finite decimal percentage")
    if rate < 0:
        raise TermsError("annual_rate", "annual_rate must not be negative")
    if terms.method not in METHODS:
        raise TermsError("method", f"method must be one of {', '.join(METHODS)}")
    if terms.frequency not in FREQUENCIES:
        raise TermsError("frequency", f"frequency must be one of {', '.join(FREQUENCIES)}")
    if not _is_int(terms.term_months) or terms.term_months <= 0:
        raise TermsError("term_months", "term_months must be a positive whole number of months")
    if terms.term_months > MAX_TERM_MONTHS:
        raise TermsError("term_months", f"term_months must be at most {MAX_TERM_MONTHS}")
    months = terms.months_per_period
    if terms.term_months % months:
        raise TermsError(
            "term_months",
            f"term_months {terms.term_months} is not a whole number of {terms.frequency} "
            f"periods ({months} months each)",
        )
    if not _is_int(terms.grace_periods) or terms.grace_periods < 0:
        raise TermsError("grace_periods", "grace_periods must be a whole number, 0 or more")
    if terms.method == "bullet" and terms.grace_periods:
        raise TermsError("grace_periods", "a bullet loan has no grace periods (it must be 0)")
    if terms.grace_periods >= terms.periods:
        raise TermsError(
            "grace_periods",
            f"grace_periods {terms.grace_periods} must be fewer than the {terms.periods} "
            "periods of the term",
        )
    if not isinstance(terms.disbursement_date, date):
        raise TermsError("disbursement_date", "disbursement_date must be a date")
    first = terms.first_due_date
    if first is not None and first <= terms.disbursement_date:
        raise TermsError("first_due_date", "first_due_date must be after disbursement_date")
    try:  # the last due date is the furthest from the calendar's ends
        add_months(terms.resolved_first_due_date, (terms.periods - 1) * months)
    except ValueError:
        raise TermsError("term_months", "the due dates fall outside the calendar") from None


def annuity_payment(balance: Decimal, period_rate: Decimal, periods: int, currency: str) -> Decimal:
    """French installment for ``balance`` over ``periods`` at ``period_rate`` (a fraction,
    not a percentage), rounded half-even to the minor unit; zero rate: balance / periods."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        if period_rate == 0:
            return quantize(balance / periods, currency)
        factor = (1 + period_rate) ** -periods
        return quantize(balance * period_rate / (1 - factor), currency)


def _amortize(
    balance: Decimal,
    annual_rate: Decimal,
    periods_per_year: int,
    dates: Sequence[date],
    method: Method,
    grace: int,
    *,
    currency: str,
    first_number: int = 1,
    first_interest: Decimal | None = None,
    first_year_fraction: Decimal | None = None,
    keep_size: Decimal | None = None,
) -> list[Installment]:
    """The one loop behind every schedule.

    ``keep_size`` (shorten term): the French installment or the Italian principal part to
    keep; installments stop as soon as the balance is repaid.
    """
    n = len(dates)
    if n == 0 or balance <= 0:
        return []
    if method == "bullet":
        grace = n - 1
    grace = min(grace, n - 1)
    amortizing = n - grace
    out: list[Installment] = []
    with localcontext() as ctx:
        ctx.prec = _PREC
        divisor = _HUNDRED * periods_per_year
        period_rate = annual_rate / divisor
        size = keep_size
        if size is None and method == "french":
            size = annuity_payment(balance, period_rate, amortizing, currency)
        elif size is None and method == "italian":
            size = quantize(balance / amortizing, currency)
        for k, due in enumerate(dates):
            if k == 0 and first_interest is not None:
                interest = first_interest
            elif k == 0 and first_year_fraction is not None:
                interest = quantize(
                    balance * annual_rate * first_year_fraction / _HUNDRED, currency
                )
            else:
                interest = quantize(balance * annual_rate / divisor, currency)
            if k < grace:
                principal = _ZERO
            elif k == n - 1:
                principal = balance
            elif method == "french":
                assert size is not None
                # A long irregular first period can earn more than the installment: then
                # the installment is interest only, never negative amortization.
                principal = min(max(size - interest, _ZERO), balance)
            else:
                assert size is not None
                principal = min(size, balance)
            balance -= principal
            out.append(
                Installment(
                    number=first_number + k,
                    due_date=due,
                    principal=principal,
                    interest=interest,
                    payment=principal + interest,
                    balance_after=balance,
                )
            )
            if keep_size is not None and balance == 0:
                break
    return out


def build_schedule(terms: LoanTerms) -> list[Installment]:
    """The contract's installment schedule for ``terms`` (validated first)."""
    validate_terms(terms)
    first_fraction: Decimal | None = None
    if terms.irregular_first_period:
        assert terms.first_due_date is not None
        with localcontext() as ctx:
            ctx.prec = _PREC
            first_fraction = Decimal(days_30e_360(terms.disbursement_date, terms.first_due_date))
            first_fraction /= Decimal(360)
    return _amortize(
        quantize(terms.principal, terms.currency),
        terms.annual_rate,
        terms.periods_per_year,
        terms.due_dates(),
        terms.method,
        terms.grace_periods,
        currency=terms.currency,
        first_year_fraction=first_fraction,
    )


def summarize(terms: LoanTerms, schedule: Sequence[Installment]) -> ScheduleSummary:
    """Totals and APR (TAEG) of a schedule, as the simulate endpoint reports them."""
    from ledger.apr import apr_for_schedule  # apr builds on these types

    return ScheduleSummary(
        total_interest=sum((i.interest for i in schedule), _ZERO),
        total_payment=sum((i.payment for i in schedule), _ZERO),
        total_fees=quantize(terms.fees, terms.currency),
        apr=apr_for_schedule(terms, schedule),
    )


def reschedule_remaining(
    balance: Decimal,
    annual_rate: Decimal,
    due_dates: Sequence[date],
    method: Method,
    *,
    frequency: Frequency,
    keep: Keep = "term",
    current_payment: Decimal | None = None,
    grace_periods: int = 0,
    first_number: int = 1,
    first_interest: Decimal | None = None,
    currency: str = "EUR",
) -> list[Installment]:
    """Installments for ``balance`` after an early repayment, on the remaining due dates.

    ``keep="term"``: recomputed over the same dates (a new French installment or Italian
    principal part; bullet keeps paying interest until the last date).
    ``keep="shorten_term"``: the installment size stays (``current_payment``: the French
    installment, or the Italian principal part) and fewer installments are needed, the
    last one smaller; bullet loans have no size to keep, so they keep the term.
    ``grace_periods``: how many of the first dates are still interest-only.
    ``first_interest``: the interest of the first date when it is already fixed (the
    payment fell inside that period: interest follows the schedule, not the calendar).
    An empty list when nothing is left to repay.
    """
    keep_size: Decimal | None = None
    if keep == "shorten_term" and method != "bullet":
        if current_payment is None or current_payment <= 0:
            raise ValueError("shorten_term needs the current installment size")
        keep_size = current_payment
    elif keep not in ("term", "shorten_term"):
        raise ValueError(f"keep must be 'term' or 'shorten_term', not {keep!r}")
    return _amortize(
        balance,
        annual_rate,
        PERIODS_PER_YEAR[frequency],
        due_dates,
        method,
        grace_periods,
        currency=currency,
        first_number=first_number,
        first_interest=first_interest,
        keep_size=keep_size,
    )


def restructure(
    balance: Decimal,
    annual_rate: Decimal,
    method: Method,
    frequency: Frequency,
    calendar_anchor: date,
    first_number: int,
    periods: int,
    *,
    grace_periods: int = 0,
    calendar_offset: int | None = None,
    currency: str = "EUR",
) -> list[Installment]:
    """A new schedule for the outstanding ``balance`` (rescheduling after a bad harvest).

    ``periods`` installments numbered from ``first_number``, the k-th (from 0) due on
    the loan's calendar: ``calendar_anchor`` (the loan's first due date) plus
    ``calendar_offset + k`` periods (offset default: ``first_number - 1``), so the
    end-of-month rule is kept. The first ``grace_periods`` are interest-only (a
    bullet loan is interest-only until its last installment anyway). Every period earns
    the regular interest: interest follows the schedule, not the calendar.
    """
    if periods <= 0:
        raise TermsError("periods", "a restructured schedule needs at least one period")
    if first_number <= 0:
        raise TermsError("first_number", "installments are numbered from 1")
    if grace_periods < 0 or (method != "bullet" and grace_periods >= periods):
        raise TermsError("grace_periods", "grace_periods must be fewer than the periods")
    months = MONTHS_PER_PERIOD[frequency]
    offset = first_number - 1 if calendar_offset is None else calendar_offset
    if offset < 0:
        raise TermsError("calendar_offset", "calendar_offset must not be negative")
    dates = [add_months(calendar_anchor, (offset + k) * months) for k in range(periods)]
    return _amortize(
        balance,
        annual_rate,
        PERIODS_PER_YEAR[frequency],
        dates,
        method,
        grace_periods,
        currency=currency,
        first_number=first_number,
    )
