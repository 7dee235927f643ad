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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, Inexact, InvalidOperation, localcontext
from functools import lru_cache
from typing import Any, Literal, NamedTuple, TypeVar, get_args

from ledger.daycount import add_months, days_30e_360, due_dates
from ledger.money import MoneyError, check_currency, currency_exponent, quantize, quantum

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
    "RowMaker",
    "ScheduleSummary",
    "TermsError",
    "annuity_payment",
    "build_schedule",
    "interest_factor",
    "period_problems",
    "reschedule_remaining",
    "reschedule_rows",
    "restructure",
    "restructure_rows",
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
_Row = TypeVar("_Row")


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


class Installment(NamedTuple):
    """One period of a schedule. A named tuple, not a dataclass: schedules build one per
    period and a tuple is the cheapest immutable record Python makes (see bench/)."""

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
    if value != value.quantize(quantum(currency)):
        raise TermsError(
            field, f"{field} {value} has more decimals than {currency} has "
            f"({currency_exponent(currency)})"
        )
    return value


def period_problems(term_months: int, frequency: str, method: str,
                    grace_periods: int) -> dict[str, str]:
    """The first problem of ``term_months`` and of ``grace_periods``, by field, judged
    from these four alone (an unknown frequency or method skips the checks that need
    it): so a client is told of them beside its other bad fields."""
    problems: dict[str, str] = {}
    months = MONTHS_PER_PERIOD.get(frequency)
    if not _is_int(term_months) or term_months <= 0:
        problems["term_months"] = "term_months must be a positive whole number of months"
    elif term_months > MAX_TERM_MONTHS:
        problems["term_months"] = f"term_months must be at most {MAX_TERM_MONTHS}"
    elif months is not None and term_months % months:
        problems["term_months"] = (
            f"term_months {term_months} is not a whole number of {frequency} "
            f"periods ({months} months each)")
    if not _is_int(grace_periods) or grace_periods < 0:
        problems["grace_periods"] = "grace_periods must be a whole number, 0 or more"
    elif method == "bullet" and grace_periods:
        problems["grace_periods"] = "a bullet loan has no grace periods (it must be 0)"
    elif months is not None and "term_months" not in problems:
        periods = term_months // months
        if grace_periods >= periods:
            problems["grace_periods"] = (
                f"grace_periods {grace_periods} must be fewer than the {periods} "
                "periods of the term")
    return problems


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
    problems = period_problems(terms.term_months, terms.frequency, terms.method,
                               terms.grace_periods)
    for field in ("term_months", "grace_periods"):
        if field in problems:
            raise TermsError(field, problems[field])
    months = terms.months_per_period
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


# ``Installment(...)`` through the tuple constructor, without the keyword-argument
# ``__new__`` the named tuple adds: the amortizing loop builds one per period.
_tuple_new: Callable[[type[Installment], tuple[Any, ...]], Installment] = tuple.__new__


def _installment(
    number: int,
    due_date: date,
    principal: Decimal,
    interest: Decimal,
    payment: Decimal,
    balance_after: Decimal,
) -> Installment:
    return _tuple_new(Installment, (number, due_date, principal, interest, payment,
                                    balance_after))


# A row of an amortization: (number, due_date, principal, interest, balance_after,
# interest_only) -> the caller's type (repayments builds its installment states directly).
RowMaker = Callable[[int, date, Decimal, Decimal, Decimal, bool], _Row]


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
    """The one loop behind every schedule (``_amortize_loop``), as ``Installment``s."""
    rows: list[Installment] = _amortize_loop(
        balance, annual_rate, periods_per_year, dates, method, grace, currency,
        first_number, first_interest, first_year_fraction, keep_size, None,
    )
    return rows


def _amortize_loop(
    balance: Decimal,
    annual_rate: Decimal,
    periods_per_year: int,
    dates: Sequence[date],
    method: Method,
    grace: int,
    currency: str,
    first_number: int,
    first_interest: Decimal | None,
    first_year_fraction: Decimal | None,
    keep_size: Decimal | None,
    make_row: RowMaker[Any] | None,
) -> list[Any]:
    """The one loop behind every schedule.

    ``keep_size`` (shorten term): the French installment or the Italian principal part to
    keep; installments stop as soon as the balance is repaid.

    Every period k: interest (``first_interest``, the irregular first period's, or
    balance × rate / 100 / periods a year, rounded half-even to the cent); principal zero
    for k < grace, the whole balance for the last, else ``min(max(size - interest, 0),
    balance)`` (French) or ``min(size, balance)``. The first period and the grace periods
    are rare, so the loop is split by phase and the amortizing phase is a tight loop.
    ``make_row`` None: rows are ``Installment``s, built inline.
    """
    n = len(dates)
    if n == 0 or balance <= 0:
        return []
    if method == "bullet":
        grace = n - 1
    grace = min(grace, n - 1)
    amortizing = n - grace
    last = n - 1
    out: list[Any] = []
    append = out.append
    with localcontext() as ctx:
        ctx.prec = _PREC
        divisor = _HUNDRED * periods_per_year
        period_rate = annual_rate / divisor
        size = keep_size
        if size is None and method == "french":
            size = annuity_payment(balance, period_rate, amortizing, currency)
        elif size is None and method == "italian":
            size = quantize(balance / amortizing, currency)
        french = method == "french"
        keep = keep_size is not None

        # Period 0: its interest may be fixed or irregular (money.quantize checks currency).
        if first_interest is not None:
            interest = first_interest
        elif first_year_fraction is not None:
            interest = quantize(balance * annual_rate * first_year_fraction / _HUNDRED, currency)
        else:
            interest = quantize(balance * annual_rate / divisor, currency)
        if grace > 0:
            principal = _ZERO
        elif last == 0:
            principal = balance
        else:
            assert size is not None
            # A long irregular first period can earn more than the installment: then the
            # installment is interest only, never negative amortization.
            principal = (
                min(max(size - interest, _ZERO), balance) if french else min(size, balance)
            )
        balance -= principal
        if make_row is None:
            append(_installment(first_number, dates[0], principal, interest,
                                principal + interest, balance))
        else:
            append(make_row(first_number, dates[0], principal, interest, balance, grace > 0))
        if last == 0 or (keep and balance == 0):
            return out

        q = quantum(currency)
        # Grace periods: interest only.
        for k in range(1, grace):
            interest = (balance * annual_rate / divisor).quantize(q, ROUND_HALF_EVEN)
            balance -= _ZERO
            if make_row is None:
                append(_installment(first_number + k, dates[k], _ZERO, interest,
                                    _ZERO + interest, balance))
            else:
                append(make_row(first_number + k, dates[k], _ZERO, interest, balance, True))
            if keep and balance == 0:
                return out

        # Amortizing periods before the last. A French installment that is not capped
        # pays (size - interest) + interest, which is exactly ``size`` when both have the
        # cent's exponent and are far from the working precision: then ``size`` is reused.
        begin = grace if grace > 1 else 1
        if begin < last:
            assert size is not None
            same = (
                french
                and size > 0
                and size.as_tuple().exponent == q.as_tuple().exponent
                and size.adjusted() < 30
                and balance.adjusted() < 30
                and annual_rate.adjusted() < 5
            )
            phase = dates[begin:last]
            after: Decimal | None = None
            by_product: tuple[Decimal, int] | None = None
            if make_row is None and not keep:
                by_product = interest_factor(balance, size, annual_rate, divisor, q)
            if by_product is not None:
                after = _uncapped_phase(out, balance, by_product, q, phase,
                                        first_number + begin, size, french, same)
            if after is None:
                after, repaid = _capped_phase(out, balance, annual_rate, divisor, q, phase,
                                              first_number + begin, size, french, same, keep,
                                              make_row)
                if repaid:
                    return out
            balance = after

        # The last installment absorbs the rounding.
        interest = (balance * annual_rate / divisor).quantize(q, ROUND_HALF_EVEN)
        principal = balance
        balance -= principal
        if make_row is None:
            append(_installment(first_number + last, dates[last], principal, interest,
                                principal + interest, balance))
        else:
            append(make_row(first_number + last, dates[last], principal, interest, balance,
                            False))
    return out


def _decimals(value: Decimal) -> int:
    """Digits after the point of a finite Decimal (0 for whole numbers)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int), "finite amounts only"
    return max(-exponent, 0)


def interest_factor(
    balance: Decimal, size: Decimal, annual_rate: Decimal, divisor: Decimal, q: Decimal
) -> tuple[Decimal, int] | None:
    """A factor and a precision that turn the contract's period interest into one
    multiplication: for every balance of whole minor units between 0 and ``balance``,
    ``(balance × factor)`` at ``prec`` digits, quantized half-even to ``q``, equals
    ``balance × annual_rate / divisor`` quantized half-even, exactly. ``None`` when no
    such pair is proven here (the caller then divides, as the contract is written).

    The factor is ``annual_rate / divisor``. When that division terminates the product
    is exact. Otherwise ``divisor`` is m × 2^a × 5^b with m a small odd factor (3 for
    monthly periods) and the true interest x is a multiple of 10^-K / m (K: the decimals
    of balance × annual_rate / (2^a × 5^b)): either x has at most K decimals, and then
    x ± x × 10^-49 (the rounded factor's error) rounds back to x at ``prec`` digits, so a
    half-cent tie stays a tie for half-even; or x is at least 10^-K / m away from every
    number of K decimals, cent boundaries included, farther than the rounding to
    ``prec`` digits (half a unit in the K+2-th decimal) can move it.
    """
    if annual_rate < 0 or balance < 0 or size < 0:
        return None
    factor, odd, rate_decimals = _rate_over(annual_rate, divisor)
    if odd == 1:  # exact: the product fits the working precision for any sane loan
        if len(balance.as_tuple().digits) < 25 and len(factor.as_tuple().digits) < 25:
            return factor, _PREC
        return None
    if not 1 < odd < 10 or balance.adjusted() >= 20 or size.adjusted() >= 20:
        return None
    # Under 20 digits before the point these fit any context's precision.
    if balance != balance.quantize(q) or size != size.quantize(q):
        return None  # not whole minor units: the proof below counts on them
    decimals = max(-q.adjusted(), 0)  # q is a power of ten
    k = max(decimals + rate_decimals, decimals + 1)
    largest = balance * annual_rate / divisor  # only its magnitude is used
    prec = max(
        largest.adjusted() + k + 2,
        balance.adjusted() + decimals + 2,  # the subtractions stay exact
        size.adjusted() + decimals + 2,
    )
    if prec > 40:  # the factor's error (10^-49) must stay far below one unit
        return None
    return factor, prec


@lru_cache(maxsize=1024)
def _rate_over(annual_rate: Decimal, divisor: Decimal) -> tuple[Decimal, int, int]:
    """``annual_rate / divisor`` at the working precision; the odd part of ``divisor``
    (its factors other than 2 and 5; 1 when the quotient is exact, 0 when ``divisor`` is
    not whole); the decimals of ``annual_rate`` over the rest of ``divisor``. Equal
    rates share an entry: everything here depends on the value, not its spelling."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        ctx.clear_flags()
        factor = annual_rate / divisor
        if not ctx.flags[Inexact]:
            return factor, 1, 0
        whole = int(divisor)
        if whole != divisor:
            return factor, 0, 0
        odd = whole
        for prime in (2, 5):
            while odd % prime == 0:
                odd //= prime
        terminating = annual_rate / (divisor / odd)  # exact: only 2s and 5s divide
        return factor, odd, _decimals(terminating.normalize())


def _uncapped_phase(
    out: list[Any],
    balance: Decimal,
    rate: tuple[Decimal, int],
    q: Decimal,
    dates: Sequence[date],
    number: int,
    size: Decimal,
    french: bool,
    same: bool,
) -> Decimal | None:
    """The amortizing periods as ``Installment``s appended to ``out``, assuming no period
    needs capping (the common case, a tight loop); the balance after them. ``rate``: the
    factor and precision of ``interest_factor``.

    ``None``, with ``out`` as it was, when some period did need capping: a French
    principal below zero (a long irregular first period) or any principal above the
    balance (rounding at the end of the term). Both show in the final balance, so the
    loop needs no test per period: a French principal (size - interest) never falls
    while the balance does, so either all are negative and the balance grew, or none is
    and the balance only falls, and once it is below zero it stays there. While the
    balance stays between 0 and where it started, every amount fits ``prec`` digits and
    each subtraction is exact.
    """
    start = balance
    mark = len(out)
    append = out.append
    make = _tuple_new
    row = Installment
    factor, prec = rate
    try:
        with localcontext() as ctx:
            ctx.prec = prec
            ctx.rounding = ROUND_HALF_EVEN  # to nearest: what snaps a tie back
            if french:
                for number, due in enumerate(dates, number):  # noqa: B020 - numbering goes on
                    interest = (balance * factor).quantize(q, ROUND_HALF_EVEN)
                    principal = size - interest
                    balance -= principal
                    append(make(row, (number, due, principal, interest,
                                      size if same else principal + interest, balance)))
            else:
                for number, due in enumerate(dates, number):  # noqa: B020 - numbering goes on
                    interest = (balance * factor).quantize(q, ROUND_HALF_EVEN)
                    balance -= size
                    append(make(row, (number, due, size, interest, size + interest, balance)))
    except InvalidOperation:  # a balance run far out of range outgrew ``prec``
        del out[mark:]
        return None
    if balance < _ZERO or balance > start:
        del out[mark:]
        return None
    return balance


def _capped_phase(
    out: list[Any],
    balance: Decimal,
    annual_rate: Decimal,
    divisor: Decimal,
    q: Decimal,
    dates: Sequence[date],
    number: int,
    size: Decimal,
    french: bool,
    same: bool,
    keep: bool,
    make_row: RowMaker[Any] | None,
) -> tuple[Decimal, bool]:
    """The amortizing periods with every principal capped: French ``min(max(size -
    interest, 0), balance)``, Italian ``min(size, balance)`` (min/max spelled out, same
    ties as the builtins); rows by ``make_row`` (``None``: ``Installment``s). Returns the
    balance after them and whether the loan was repaid early (``keep``: stop there)."""
    append = out.append
    for due in dates:
        interest = (balance * annual_rate / divisor).quantize(q, ROUND_HALF_EVEN)
        if french:
            principal = size - interest
            if principal < _ZERO:
                principal = balance if balance < _ZERO else _ZERO
                payment = principal + interest
            elif balance < principal:
                principal = balance
                payment = principal + interest
            else:
                payment = size if same else principal + interest
        else:
            principal = balance if balance < size else size
            payment = principal + interest
        balance -= principal
        if make_row is None:
            append(_installment(number, due, principal, interest, payment, balance))
        else:
            append(make_row(number, due, principal, interest, balance, False))
        number += 1
        if keep and balance == 0:
            return balance, True
    return balance, False


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
    rows: list[Installment] = reschedule_rows(
        None,
        balance,
        annual_rate,
        due_dates,
        method,
        frequency=frequency,
        keep=keep,
        current_payment=current_payment,
        grace_periods=grace_periods,
        first_number=first_number,
        first_interest=first_interest,
        currency=currency,
    )
    return rows


def reschedule_rows(
    make_row: RowMaker[Any] | None,
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
) -> list[Any]:
    """``reschedule_remaining`` with each period built by ``make_row(number, due_date,
    principal, interest, balance_after, interest_only)`` (``None``: ``Installment``s).

    ``interest_only`` marks the grace periods the loop applies: the first
    ``grace_periods`` dates but never the last one; a bullet loan: all but the last.
    """
    keep_size: Decimal | None = None
    if keep == "shorten_term" and method != "bullet":
        if current_payment is None or current_payment <= 0:
            raise ValueError("shorten_term needs the current installment size")
        keep_size = current_payment
    elif keep not in ("term", "shorten_term"):
        raise ValueError(f"keep must be 'term' or 'shorten_term', not {keep!r}")
    return _amortize_loop(
        balance,
        annual_rate,
        PERIODS_PER_YEAR[frequency],
        due_dates,
        method,
        grace_periods,
        currency,
        first_number,
        first_interest,
        None,
        keep_size,
        make_row,
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
    rows: list[Installment] = restructure_rows(
        None,
        balance,
        annual_rate,
        method,
        frequency,
        calendar_anchor,
        first_number,
        periods,
        grace_periods=grace_periods,
        calendar_offset=calendar_offset,
        currency=currency,
    )
    return rows


def restructure_rows(
    make_row: RowMaker[Any] | None,
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
) -> list[Any]:
    """``restructure`` with each period built by ``make_row`` (see ``reschedule_rows``;
    ``None``: ``Installment``s)."""
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
    return _amortize_loop(
        balance,
        annual_rate,
        PERIODS_PER_YEAR[frequency],
        dates,
        method,
        grace_periods,
        currency,
        first_number,
        None,
        None,
        None,
        make_row,
    )
