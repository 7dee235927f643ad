"""Funding requests: submission, review workflow, assessment, terms, funding, GAS
interest, and the officers' to-do list.

The workflow rules are ``ledger.requests``; this module checks input, visibility and
the order of refusals, keeps the append-only history, and at funding calls the
instrument use cases (``loans.create_loan_row``/``disburse_loan``,
``instruments.create_guarantee``/``create_prepayment``) inside the request's
transaction, so a package is funded whole or not at all.

Tables (written only here; matching and reports read them):

* ``funding_requests``: one row per request; its status columns cache the last
  ``request_history`` row and change in the same transaction.
* ``request_gas``: the GAS a request names (``gas_ids``), for visibility and matching.
* ``request_history``, ``request_assessments``, ``request_terms``: append-only; the
  latest assessment and terms are the ones in force, earlier versions stay.
* ``request_instruments``: what the funding created.
* ``request_interests``: non-binding interest declared by GAS."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal, TypedDict, TypeVar, get_args

import msgspec
from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Table,
    and_,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from ledger.money import MAX_MINOR, MoneyError, parse_amount, to_minor_decimal
from ledger.prepayments import ON_EXPIRY, OnExpiry
from ledger.requests import (
    STATUSES,
    TRANSITION_TARGETS,
    InvalidTransition,
    RequestStatus,
    RoleNotAllowed,
    assessment_score,
    auto_close,
    check_edit,
    check_funding,
    check_terms_edit,
    check_transition,
)
from ledger.schedules import Frequency, LoanTerms, Method
from ledger.store import cursor_int
from service.app import lending
from service.app.audit_note import note_changes
from service.app.auth import Principal
from service.app.books import refuse_closed
from service.app.clock import today
from service.app.commands import command
from service.app.common import (
    MoneyIn,
    check_limit,
    check_uuid,
    money_minor,
    money_out,
    now_utc,
    paginate,
    path_uuid,
    rfc3339,
)
from service.app.context import AppContext
from service.app.errors import Conflict, Errors, Forbidden, Invalid, NotFound, invalid
from service.app.events import LoanReopened, LoanRepaid, PrepaymentClosed
from service.app.guarantees import create_guarantee
from service.app.inputs import (
    Input,
    an_id,
    client_id,
    custom,
    day,
    each,
    minor_units,
    one_of,
    optional_day,
    optional_decimal,
    optional_id,
    optional_minor_units,
    optional_one_of,
    text,
)
from service.app.lender_scope import (
    lender_scope,
    request_claim,
    require_request_lender,
    require_terms_lender,
)
from service.app.loans import create_loan_row, disburse_loan
from service.app.parties import party_names, refuse_acting_for
from service.app.prepayments import create_prepayment
from service.app.references import REQUEST, next_reference
from service.app.terms import TermsIn, parse_terms
from service.app.types import Day, DecimalText, Timestamp, Uuid
from service.app.views import Money, money
from service.db.records import AnyColumn, Expr, Query, Record
from service.db.tables import (
    funding_requests,
    guarantees,
    loan_events,
    loans,
    parties,
    pools,
    prepayments,
    request_assessments,
    request_gas,
    request_history,
    request_instruments,
    request_interests,
    request_terms,
)

Instrument = Literal["loan", "prepayment", "mixed"]
INSTRUMENTS: tuple[str, ...] = get_args(Instrument)


InterestKind = Literal["prepayment", "guarantee"]
INTEREST_KINDS: tuple[str, ...] = get_args(InterestKind)


# Statuses in which a request still takes interest from GAS.
OPEN_STATUSES = ("submitted", "under_review", "needs_info", "approved")


SORTS = ("created_at", "amount", "needed_by")


NO_DATE = date(9999, 12, 31)  # where a request without needed_by sorts


MAX_TEXT = 5000


SYSTEM_USER = "system"


class BusinessIn(msgspec.Struct, forbid_unknown_fields=True):
    description: str | None = None
    revenue: MoneyIn | None = None
    costs: MoneyIn | None = None
    existing_debts: MoneyIn | None = None
    workers: int | None = None
    hectares: str | None = None
    certifications: list[str] | None = None


class RequestIn(msgspec.Struct, forbid_unknown_fields=True):
    producer_id: str
    amount: MoneyIn
    purpose: str
    instrument: str
    term_months: int
    id: str | None = None
    needed_by: str | None = None
    gas_ids: list[str] | None = None
    business: BusinessIn | None = None
    social_notes: str | None = None
    environmental_notes: str | None = None
    links: list[str] | None = None


class TransitionIn(msgspec.Struct, forbid_unknown_fields=True):
    to: str
    note: str = ""
    id: str | None = None


class AssessmentIn(msgspec.Struct, forbid_unknown_fields=True):
    economic_score: int
    social_score: int
    notes: str = ""
    site_visit_date: str | None = None
    decision_date: str | None = None
    decision_reference: str | None = None


class LoanPartIn(TermsIn, forbid_unknown_fields=True, kw_only=True):
    """The terms of ``POST /api/loans`` without ``borrower_id`` (the request's producer);
    ``lender_id`` defaults to a bound officer's lender, else the request's, and
    ``disbursement_date`` to the funding's ``date`` (the day is rarely known in advance)."""

    disbursement_date: str | None = None  # type: ignore[assignment]
    lender_id: str | None = None
    pool_id: str | None = None
    category: str = lending.DEFAULT_CATEGORY


class PrepaymentPartIn(msgspec.Struct, forbid_unknown_fields=True):
    gas_id: str
    amount: MoneyIn
    product: str
    unit: str
    unit_price: MoneyIn
    expires_on: str
    on_expiry: str


class GuaranteePartIn(msgspec.Struct, forbid_unknown_fields=True):
    guarantor_id: str
    amount: MoneyIn


class RequestTermsIn(msgspec.Struct, forbid_unknown_fields=True):
    loan: LoanPartIn | None = None
    prepayments: list[PrepaymentPartIn] | None = None
    guarantees: list[GuaranteePartIn] | None = None


class FundingIn(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    id: str | None = None


class InterestIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    amount: MoneyIn
    id: str | None = None
    note: str | None = None
    gas_id: str | None = None  # officers declaring for a GAS; a GAS user's is its own


# -- what the use cases read from those bodies ----------------------------------------------

Part = TypeVar("Part", bound=Input)


def _free_text(*, required: bool = False, limit: int = MAX_TEXT
               ) -> Callable[[str | None, str, Errors], str | None]:
    """Free text, stripped; None when blank (refused when ``required``)."""
    def read(value: str | None, field: str, errors: Errors) -> str | None:
        if value is None or not value.strip():
            if required:
                errors.add(field, "required, not blank")
            return None
        if len(value) > limit:
            errors.add(field, f"at most {limit} characters")
            return None
        return value.strip()
    return read


def _at_most(limit: int) -> Callable[[str, str, Errors], str | None]:
    """Text of at most ``limit`` characters, as given (the use case strips it)."""
    def read(value: str, field: str, errors: Errors) -> str | None:
        if len(value) > limit:
            errors.add(field, f"at most {limit} characters")
            return None
        return value
    return read


def _within(low: int, high: int, message: str
            ) -> Callable[[int | None, str, Errors], int | None]:
    """A whole number from ``low`` to ``high`` (None: left out)."""
    def read(value: int | None, field: str, errors: Errors) -> int | None:
        if value is not None and not low <= value <= high:
            errors.add(field, message)
            return None
        return value
    return read


def _optional(part: type[Part]) -> Callable[[object, str, Errors], Part | None]:
    """A nested input that may be left out, read as ``part`` under ``field.``."""
    def read(value: object, field: str, errors: Errors) -> Part | None:
        return None if value is None else part.read_into(value, errors, f"{field}.")
    return read


def _gas_ids(values: list[str] | None, field: str, errors: Errors) -> list[str]:
    """Distinct ids (each named by its index), at most 100."""
    out: list[str] = []
    for i, value in enumerate(values or []):
        checked = check_uuid(value, f"{field}.{i}", errors)
        if checked is None:
            continue
        if checked in out:
            errors.add(f"{field}.{i}", "listed twice")
        out.append(checked)
    if len(out) > 100:
        errors.add(field, "at most 100 ids")
    return out


def _certifications(values: list[str] | None, field: str, errors: Errors) -> list[str]:
    out = []
    for i, c in enumerate(values or []):
        if not c.strip() or len(c) > 64:
            errors.add(f"{field}.{i}", "1 to 64 characters, such as 'organic'")
        out.append(c.strip())
    if len(out) > 20:
        errors.add(field, "at most 20")
    return out


def _links(values: list[str] | None, field: str, errors: Errors) -> list[str]:
    out = []
    for i, link in enumerate(values or []):
        link = link.strip()
        if not link.startswith(("http://", "https://")) or len(link) > 500 or " " in link:
            errors.add(f"{field}.{i}", "an http(s) address of at most 500 characters")
        out.append(link)
    if len(out) > 20:
        errors.add(field, "at most 20 links")
    return out


def _stored_money(minor: int | None) -> dict[str, str] | None:
    return None if minor is None else money_out(minor)


@dataclass(frozen=True, kw_only=True)
class Business(Input):
    """What the producer tells of its business (``BusinessIn``)."""

    hectares: Decimal | None = optional_decimal(max_decimals=4, allow_zero=True)
    workers: int | None = custom(_within(0, 100_000, "between 0 and 100000"))
    certifications: list[str] = custom(_certifications)
    description: str | None = custom(_free_text())
    revenue: int | None = optional_minor_units(allow_zero=True)
    costs: int | None = optional_minor_units(allow_zero=True)
    existing_debts: int | None = optional_minor_units(allow_zero=True)

    def stored(self) -> BusinessValues:
        return {"description": self.description, "revenue": _stored_money(self.revenue),
                "costs": _stored_money(self.costs),
                "existing_debts": _stored_money(self.existing_debts),
                "workers": self.workers,
                "hectares": str(self.hectares) if self.hectares is not None else None,
                "certifications": self.certifications}


@dataclass(frozen=True, kw_only=True)
class NewRequest(Input):
    """A request (``RequestIn``); a patch is judged as the request it makes."""

    id: str = client_id()
    producer_id: str = an_id()
    amount: int = minor_units()
    purpose: str = custom(_free_text(required=True, limit=2000))
    instrument: str = one_of(*INSTRUMENTS)
    term_months: int = custom(_within(1, 600, "between 1 and 600"))
    needed_by: date | None = optional_day()
    gas_ids: list[str] = custom(_gas_ids)
    business: Business | None = custom(_optional(Business))
    social_notes: str | None = custom(_free_text())
    environmental_notes: str | None = custom(_free_text())
    links: list[str] = custom(_links)

    def stored(self) -> RequestValues:
        return {
            "id": self.id, "producer_id": self.producer_id, "amount_minor": self.amount,
            "currency": "EUR", "purpose": self.purpose, "instrument": self.instrument,
            "term_months": self.term_months, "needed_by": self.needed_by,
            "business": self.business.stored() if self.business is not None else None,
            "social_notes": self.social_notes,
            "environmental_notes": self.environmental_notes, "links": self.links,
            "gas_ids": self.gas_ids}


def _category(value: str, field: str, errors: Errors) -> str | None:
    if not value or len(value) > 64:
        errors.add(field, "1 to 64 characters")
        return None
    return value


def _terms_from_today(value: LoanPartIn, field: str, errors: Errors) -> LoanTerms | None:
    """The loan's terms, checked from today when the funding's date is to be its
    disbursement date."""
    return parse_terms(_dated(value, today()), errors, prefix=field)


@dataclass(frozen=True, kw_only=True)
class LoanPart(Input):
    """The loan of a package (``LoanPartIn``), its terms as ``POST /api/loans`` has them."""

    lender_id: str | None = optional_id()
    pool_id: str | None = optional_id()
    category: str = custom(_category)
    terms: LoanTerms = custom(_terms_from_today, source="")

    def stored(self, given: LoanPartIn) -> LoanValues:
        """As stored: the rate as given, the dates and fees only where given."""
        terms = self.terms
        return {
            "lender_id": self.lender_id, "pool_id": self.pool_id, "category": self.category,
            "principal": money_out(lending.cents(terms.principal)),
            "annual_rate": given.annual_rate, "term_months": terms.term_months,
            "method": terms.method, "frequency": terms.frequency,
            "grace_periods": terms.grace_periods,
            "disbursement_date": terms.disbursement_date.isoformat()
            if given.disbursement_date is not None else None,
            "first_due_date": terms.first_due_date.isoformat()
            if terms.first_due_date else None,
            "fees": money_out(lending.cents(terms.fees)) if given.fees is not None else None,
        }


@dataclass(frozen=True, kw_only=True)
class PrepaymentPart(Input):
    expires_on: date = day()
    on_expiry: str = one_of(*ON_EXPIRY)
    product: str = text(at_most=200, message="1 to 200 characters")
    unit: str = text(at_most=32, message="1 to 32 characters, such as 'kg'")
    gas_id: str = an_id()
    amount: int = minor_units()
    unit_price: int = minor_units()

    def stored(self) -> PrepaymentValues:
        return {"gas_id": self.gas_id, "amount": money_out(self.amount),
                "product": self.product, "unit": self.unit,
                "unit_price": money_out(self.unit_price),
                "expires_on": self.expires_on.isoformat(), "on_expiry": self.on_expiry}


@dataclass(frozen=True, kw_only=True)
class GuaranteePart(Input):
    guarantor_id: str = an_id()
    amount: int = minor_units()

    def stored(self) -> GuaranteeValues:
        return {"guarantor_id": self.guarantor_id, "amount": money_out(self.amount)}


@dataclass(frozen=True, kw_only=True)
class Package(Input):
    """A request's terms (``RequestTermsIn``): a loan, prepayments or both."""

    loan: LoanPart | None = custom(_optional(LoanPart))
    prepayments: list[PrepaymentPart] = each(PrepaymentPart)
    guarantees: list[GuaranteePart] = each(GuaranteePart)

    def check(self, errors: Errors) -> None:
        if self.loan is None and not self.prepayments:
            errors.add("loan", "a package has a loan, prepayments or both")
        if self.loan is None and self.guarantees:
            errors.add("guarantees", "guarantees back a loan: give the loan too")
        if len(self.prepayments) > 100:
            errors.add("prepayments", "at most 100")
        if len(self.guarantees) > 100:
            errors.add("guarantees", "at most 100")

    def stored(self, given: RequestTermsIn) -> TermsValues:
        """The package as stored: the same shapes as the input, money normalized."""
        loan = None
        if self.loan is not None and given.loan is not None:
            loan = self.loan.stored(given.loan)
        return {"loan": loan, "prepayments": [p.stored() for p in self.prepayments],
                "guarantees": [g.stored() for g in self.guarantees]}


@dataclass(frozen=True, kw_only=True)
class Transition(Input):
    id: str | None = optional_id()  # the client id: checked, kept as given
    to: str = one_of(*TRANSITION_TARGETS)
    note: str = custom(_at_most(MAX_TEXT))


@dataclass(frozen=True, kw_only=True)
class Assessment(Input):
    economic_score: int = custom(_within(0, 10, "an integer from 0 to 10"))
    social_score: int = custom(_within(0, 10, "an integer from 0 to 10"))
    notes: str = custom(_at_most(MAX_TEXT))
    site_visit_date: date | None = optional_day()
    decision_date: date | None = optional_day()
    decision_reference: str | None = custom(_free_text(limit=200))


@dataclass(frozen=True, kw_only=True)
class Funding(Input):
    id: str = client_id()
    on: date = day("date", past=True)


def _interest_kind(value: str, field: str, errors: Errors) -> str | None:
    if value not in INTEREST_KINDS:
        errors.add(field, f"one of {', '.join(INTEREST_KINDS)}")
        return None
    return value


@dataclass(frozen=True, kw_only=True)
class Interest(Input):
    id: str = client_id()
    gas_id: str | None = optional_id()
    kind: str = custom(_interest_kind)
    amount: int = minor_units()
    note: str | None = custom(_free_text())


@dataclass(frozen=True, kw_only=True)
class Withdrawal(Input):
    """What ``DELETE /api/requests/{id}/interests/{kind}?gas_id=`` names."""

    gas_id: str | None = optional_id()
    kind: str = custom(_interest_kind)


def _statuses(value: str | None, field: str, errors: Errors) -> list[str] | None:
    statuses = [s for s in (value or "").split(",") if s]
    if any(s not in STATUSES for s in statuses):
        errors.add(field, f"one or more (comma-separated) of {', '.join(STATUSES)}")
        return None
    return statuses


def _amount_filter(value: str | None, field: str, errors: Errors) -> int | None:
    if value is None:
        return None
    try:
        return to_minor_decimal(parse_amount(value, "EUR", allow_zero=True), "EUR")
    except MoneyError as exc:
        errors.add(field, str(exc))
        return None


@dataclass(frozen=True, kw_only=True)
class RequestFilters(Input):
    """The filters of ``GET /api/requests`` (query parameters, by name)."""

    statuses: list[str] = custom(_statuses, source="status")
    instrument: str | None = optional_one_of(*INSTRUMENTS)
    producer_id: str | None = optional_id()
    gas_id: str | None = optional_id()
    created_from: date | None = optional_day()
    created_to: date | None = optional_day()
    amount_min: int | None = custom(_amount_filter)
    amount_max: int | None = custom(_amount_filter)


# -- output records -------------------------------------------------------------------------


class BusinessOut(msgspec.Struct):
    """What the producer told about its business, as submitted (money normalized)."""

    description: str | None
    revenue: Money | None
    costs: Money | None
    existing_debts: Money | None
    workers: int | None
    hectares: DecimalText | None
    certifications: list[str]


class LoanPartOut(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The loan of a package: the terms of ``POST /api/loans`` without the borrower.
    The parties' names are answered, not stored (``terms_out``)."""

    lender_id: Uuid
    lender_name: str | msgspec.UnsetType = msgspec.UNSET
    pool_id: Uuid | None
    category: str
    principal: Money
    annual_rate: DecimalText  # as given, a percentage
    term_months: int
    method: Method
    frequency: Frequency
    grace_periods: int
    disbursement_date: Day | None  # None: the funding's date
    first_due_date: Day | None
    fees: Money | None


class PrepaymentPartOut(msgspec.Struct, omit_defaults=True, kw_only=True):
    gas_id: Uuid
    gas_name: str | msgspec.UnsetType = msgspec.UNSET
    amount: Money
    product: str
    unit: str
    unit_price: Money
    expires_on: Day
    on_expiry: OnExpiry


class GuaranteePartOut(msgspec.Struct, omit_defaults=True, kw_only=True):
    guarantor_id: Uuid
    guarantor_name: str | msgspec.UnsetType = msgspec.UNSET
    amount: Money


class TermsDoc(msgspec.Struct):
    """The package as stored in ``request_terms.terms``."""

    loan: LoanPartOut | None
    prepayments: list[PrepaymentPartOut]
    guarantees: list[GuaranteePartOut]


class TermsOut(TermsDoc):
    total: Money  # the loan's principal and the prepayments
    guaranteed: Money
    set_at: Timestamp
    set_by: str


class AssessmentOut(msgspec.Struct):
    economic_score: int
    social_score: int
    score: DecimalText  # the mean of the two, 2 decimals
    notes: str
    site_visit_date: Day | None
    decision_date: Day | None
    decision_reference: str | None
    assessed_at: Timestamp
    assessed_by: str


class FieldChange(msgspec.Struct):
    """One field an edit changed, as the request shows it before and after."""

    from_: Any = msgspec.field(name="from")  # any JSON value the field had
    to: Any = None


class HistoryOut(msgspec.Struct):
    at: Timestamp
    by: str
    from_status: RequestStatus | None  # null for the creation
    to_status: RequestStatus
    note: str | None
    # An edit (``PATCH``; to_status = from_status): each field it changed.
    changes: dict[str, FieldChange] | msgspec.UnsetType = msgspec.UNSET


class LoanMadeOut(msgspec.Struct):
    """The loan a funding made, as people name it."""

    id: Uuid
    reference: str
    lender_id: Uuid
    lender_name: str
    principal: Money


class PrepaymentMadeOut(msgspec.Struct):
    id: Uuid
    reference: str
    gas_id: Uuid
    gas_name: str
    amount: Money


class GuaranteeMadeOut(msgspec.Struct):
    id: Uuid
    reference: str
    guarantor_id: Uuid
    guarantor_name: str
    amount: Money


class InstrumentsOut(msgspec.Struct, kw_only=True):
    """What the funding created; ``loan_id`` (and ``loan``) are absent from a package
    without a loan. ``loan``, ``prepayments`` and ``guarantees`` name each instrument by
    its reference, with its parties' names, in the order of the ids."""

    loan_id: Uuid | msgspec.UnsetType = msgspec.UNSET
    prepayment_ids: list[Uuid]
    guarantee_ids: list[Uuid]
    loan: LoanMadeOut | msgspec.UnsetType = msgspec.UNSET
    prepayments: list[PrepaymentMadeOut] = msgspec.field(default_factory=list)
    guarantees: list[GuaranteeMadeOut] = msgspec.field(default_factory=list)


class RequestOut(msgspec.Struct, omit_defaults=True):
    """A request. ``assessment``, ``terms`` and ``history`` are absent for GAS users."""

    id: Uuid
    reference: str
    producer_id: Uuid
    producer_name: str
    amount: Money
    purpose: str
    instrument: Instrument
    term_months: int
    needed_by: Day | None
    gas_ids: list[Uuid]
    business: BusinessOut | None
    social_notes: str | None
    environmental_notes: str | None
    links: list[str]
    status: RequestStatus
    status_since: Timestamp
    instruments: InstrumentsOut | None
    funded_on: Day | None
    created_at: Timestamp
    created_by: str
    # The lender the request belongs to (whose officer first took it under review;
    # null until then), and its name beside it.
    lender_id: Uuid | None = None
    lender_name: str | None = None
    assessment: AssessmentOut | msgspec.UnsetType | None = msgspec.UNSET
    terms: TermsOut | msgspec.UnsetType | None = msgspec.UNSET
    history: list[HistoryOut] | msgspec.UnsetType = msgspec.UNSET


class RequestPage(msgspec.Struct):
    items: list[RequestOut]
    next_cursor: str | None


class TodoSection(msgspec.Struct):
    count: int  # all of the section, however many ``items`` the limit lets through
    items: list[RequestOut]


class TodoOut(msgspec.Struct):
    waiting_review: TodoSection  # new requests to review
    info_provided: TodoSection  # answers to a request for information
    in_review: TodoSection  # under review by this officer
    to_fund: TodoSection  # approved, not yet funded


class InterestOut(msgspec.Struct):
    """A GAS's current interest of one kind in a request (at most one per kind)."""

    id: Uuid
    request_id: Uuid
    gas_id: Uuid
    gas_name: str | None
    kind: InterestKind
    amount: Money
    note: str | None
    at: Timestamp  # when it was declared (``created_at``, kept for older clients)
    created_at: Timestamp
    created_by: str


class InterestPage(msgspec.Struct):
    items: list[InterestOut]
    next_cursor: str | None


class BusinessValues(TypedDict):
    """A request's ``business`` as stored (the JSON column), money normalized."""

    description: str | None
    revenue: dict[str, str] | None
    costs: dict[str, str] | None
    existing_debts: dict[str, str] | None
    workers: int | None
    hectares: str | None
    certifications: list[str]


class RequestValues(TypedDict):
    """A validated request: its columns, and the GAS it names (``gas_ids``)."""

    id: str
    producer_id: str | None
    amount_minor: int
    currency: str
    purpose: str | None
    instrument: str
    term_months: int
    needed_by: date | None
    business: BusinessValues | None
    social_notes: str | None
    environmental_notes: str | None
    links: list[str]
    gas_ids: list[str]


class LoanValues(TypedDict):
    lender_id: str | None
    pool_id: str | None
    category: str
    principal: dict[str, str]
    annual_rate: str
    term_months: int
    method: str
    frequency: str
    grace_periods: int
    disbursement_date: str | None
    first_due_date: str | None
    fees: dict[str, str] | None


class PrepaymentValues(TypedDict):
    gas_id: str | None
    amount: dict[str, str]
    product: str
    unit: str
    unit_price: dict[str, str]
    expires_on: str | None
    on_expiry: str


class GuaranteeValues(TypedDict):
    guarantor_id: str | None
    amount: dict[str, str]


class TermsValues(TypedDict):
    """A package as stored (``request_terms.terms``): the input's shapes, money normalized."""

    loan: LoanValues | None
    prepayments: list[PrepaymentValues]
    guarantees: list[GuaranteeValues]


def validate_request(data: RequestIn) -> RequestValues:
    return NewRequest.read(data).stored()


def _cents(value: MoneyIn, field: str, errors: Errors) -> int:
    return money_minor(value, field, errors)


def _dated(loan: LoanPartIn, default: date) -> LoanPartIn:
    """``loan`` with ``default`` as its disbursement date where the terms leave it to the
    funding: the schedule is checked from today when the terms are set, and built from
    the funding's date when the loan is made."""
    if loan.disbursement_date is not None:
        return loan
    return msgspec.structs.replace(loan, disbursement_date=default.isoformat())


def validate_terms(data: RequestTermsIn) -> TermsValues:
    """The package as stored: the same shapes as the input, money normalized."""
    return Package.read(data).stored(data)


def check_term_parties(conn: Connection, doc: TermsValues, producer_id: str | None
                       ) -> None:
    """422 for parties, pools and categories the terms name that do not exist (checked
    when the terms are set, so funding does not fail on them later)."""
    errors = Errors()
    loan = doc["loan"]
    if loan is not None:
        lender = _party(conn, loan["lender_id"])
        if lender is None or lender.kind != "lender":
            errors.add("loan.lender_id", "no lender with this id")
        else:
            pool_id = loan["pool_id"] or lending.general_pool_id(lender.id)
            pool = conn.execute(select(pools).where(pools.c.id == pool_id)).first()
            if pool is None or pool.lender_id != lender.id:
                errors.add("loan.pool_id", "no pool of this lender with this id")
            if lending.get_category(conn, lender.id, loan["category"]) is None:
                errors.add("loan.category", f"the lender has no loan category "
                           f"{loan['category']!r}")
    for i, p in enumerate(doc["prepayments"]):
        gas = _party(conn, p["gas_id"])
        if gas is None or gas.kind != "gas":
            errors.add(f"prepayments.{i}.gas_id", "no GAS with this id")
    for i, g in enumerate(doc["guarantees"]):
        guarantor = _party(conn, g["guarantor_id"])
        if guarantor is None or guarantor.kind not in ("gas", "person", "producer"):
            errors.add(f"guarantees.{i}.guarantor_id", "no GAS, person or producer with this id")
        elif guarantor.id == producer_id:
            errors.add(f"guarantees.{i}.guarantor_id",
                       "a borrower cannot guarantee its own loan")
    errors.raise_if_any()


def _party(conn: Connection, party_id: str | None) -> Record | None:
    if party_id is None:
        return None
    return conn.execute(select(parties).where(parties.c.id == party_id)).first()


def history_out(row: Record) -> HistoryOut:
    changes: dict[str, FieldChange] | msgspec.UnsetType = msgspec.UNSET
    if row.changes is not None:
        changes = {k: FieldChange(v.get("from"), v.get("to")) for k, v in row.changes.items()}
    return HistoryOut(at=rfc3339(row.at) or "", by=row.by, from_status=row.from_status,
                      to_status=row.to_status, note=row.note, changes=changes)


def assessment_out(row: Record) -> AssessmentOut:
    return AssessmentOut(
        economic_score=row.economic_score, social_score=row.social_score,
        # Equal weight, as DESIGN.md says of the economic and the social review.
        score=str(assessment_score(row.economic_score, row.social_score)),
        notes=row.notes,
        site_visit_date=row.site_visit_date.isoformat() if row.site_visit_date else None,
        decision_date=row.decision_date.isoformat() if row.decision_date else None,
        decision_reference=row.decision_reference,
        assessed_at=rfc3339(row.created_at) or "", assessed_by=row.created_by)


def term_party_ids(row: Record) -> list[str]:
    """The parties a stored package names (its lender, GAS and guarantors)."""
    doc = row.terms
    ids = [p.get("gas_id") for p in doc.get("prepayments") or []]
    ids += [g.get("guarantor_id") for g in doc.get("guarantees") or []]
    if doc.get("loan"):
        ids.append(doc["loan"].get("lender_id"))
    return [i for i in ids if i]


def terms_out(row: Record, names: Mapping[str, str]) -> TermsOut:
    """The stored package, with the parties' names (``names``, by id) beside their ids."""
    doc = msgspec.convert(row.terms, TermsDoc)
    total = sum(_cents_of(p.amount) for p in doc.prepayments)
    if doc.loan is not None:
        total += _cents_of(doc.loan.principal)
        doc.loan.lender_name = names.get(doc.loan.lender_id, "")
    for p in doc.prepayments:
        p.gas_name = names.get(p.gas_id, "")
    for g in doc.guarantees:
        g.guarantor_name = names.get(g.guarantor_id, "")
    guaranteed = sum(_cents_of(g.amount) for g in doc.guarantees)
    return TermsOut(loan=doc.loan, prepayments=doc.prepayments, guarantees=doc.guarantees,
                    total=money(total), guaranteed=money(guaranteed),
                    set_at=rfc3339(row.created_at) or "", set_by=row.created_by)


def _cents_of(value: Money) -> int:
    return lending.cents(Decimal(value.amount))


def interest_out(row: Record, gas_name: str | None) -> InterestOut:
    at = rfc3339(row.created_at) or ""
    return InterestOut(id=row.id, request_id=row.request_id, gas_id=row.gas_id,
                       gas_name=gas_name, kind=row.kind,
                       amount=money(row.amount_minor, row.currency), note=row.note, at=at,
                       created_at=at, created_by=row.created_by)


def _interest_select() -> Query:
    """Interests with their GAS's name (``gas_name``)."""
    return select(request_interests, parties.c.name.label("gas_name")).join(
        parties, parties.c.id == request_interests.c.gas_id)


def _latest(conn: Connection, table: Table, ids: list[str]) -> dict[str, Record]:
    out: dict[str, Record] = {}
    if ids:
        for r in conn.execute(select(table).where(table.c.request_id.in_(ids))
                              .order_by(table.c.seq)):
            out[r.request_id] = r  # later versions overwrite earlier ones
    return out


def _grouped(conn: Connection, table: Table, ids: list[str], order: AnyColumn
             ) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = {i: [] for i in ids}
    if ids:
        for r in conn.execute(select(table).where(table.c.request_id.in_(ids)).order_by(order)):
            out[r.request_id].append(r)
    return out


def requests_out(conn: Connection, rows: Sequence[Record], principal: Principal
                 ) -> list[RequestOut]:
    """Requests as the API shows them. GAS users do not see the assessment, the terms or
    the history (the producer's and the MAG's business); producers see their own."""
    ids = [r.id for r in rows]
    gas = _grouped(conn, request_gas, ids, request_gas.c.position)
    instruments = _grouped(conn, request_instruments, ids, request_instruments.c.position)
    made = _instruments_made(conn, [i for rs in instruments.values() for i in rs])
    insider = principal.role != "gas"
    names = party_names(conn, [i for r in rows for i in (r.producer_id, r.lender_id) if i])
    if insider:
        assessments = _latest(conn, request_assessments, ids)
        terms = _latest(conn, request_terms, ids)
        history = _grouped(conn, request_history, ids, request_history.c.seq)
        names.update(party_names(conn, [i for t in terms.values() for i in term_party_ids(t)]))
    out = []
    for r in rows:
        body = RequestOut(
            id=r.id, reference=r.reference, producer_id=r.producer_id,
            producer_name=names.get(r.producer_id, ""), amount=money(r.amount_minor, r.currency),
            purpose=r.purpose, instrument=r.instrument, term_months=r.term_months,
            needed_by=r.needed_by.isoformat() if r.needed_by else None,
            gas_ids=[g.gas_id for g in gas[r.id]],
            business=msgspec.convert(r.business, BusinessOut) if r.business is not None
            else None,
            social_notes=r.social_notes, environmental_notes=r.environmental_notes,
            links=r.links or [], status=r.status, status_since=rfc3339(r.status_since) or "",
            instruments=_instruments_out(instruments[r.id], made) if r.funding_id else None,
            funded_on=r.funded_on.isoformat() if r.funded_on else None,
            created_at=rfc3339(r.created_at) or "", created_by=r.created_by,
            lender_id=r.lender_id,
            lender_name=names.get(r.lender_id, "") if r.lender_id is not None else None)
        if insider:
            a = assessments.get(r.id)
            t = terms.get(r.id)
            body.assessment = assessment_out(a) if a is not None else None
            body.terms = terms_out(t, names) if t is not None else None
            body.history = [history_out(h) for h in history[r.id]]
        out.append(body)
    return out


Made = LoanMadeOut | PrepaymentMadeOut | GuaranteeMadeOut


def _instruments_made(conn: Connection, rows: list[Record]) -> dict[str, Made]:
    """The instruments fundings made (``request_instruments`` rows), by id, with their
    references and their parties' names: one query per kind."""
    wanted: dict[str, list[str]] = {"loan": [], "prepayment": [], "guarantee": []}
    for r in rows:
        wanted[r.kind].append(r.instrument_id)
    found: list[tuple[str, Record]] = []
    for kind, table, party in (("loan", loans, "lender_id"),
                               ("prepayment", prepayments, "gas_id"),
                               ("guarantee", guarantees, "guarantor_id")):
        if wanted[kind]:
            found += [(kind, r) for r in conn.execute(
                select(table.c.id, table.c.reference, table.c[party].label("party_id"),
                       (table.c.principal_minor if kind == "loan"
                        else table.c.amount_minor).label("minor"))
                .where(table.c.id.in_(wanted[kind])))]
    names = party_names(conn, [r.party_id for _, r in found])
    out: dict[str, Made] = {}
    for kind, r in found:
        name, amount = names.get(r.party_id, ""), money(r.minor, "EUR")
        out[r.id] = (LoanMadeOut(r.id, r.reference, r.party_id, name, amount)
                     if kind == "loan" else
                     PrepaymentMadeOut(r.id, r.reference, r.party_id, name, amount)
                     if kind == "prepayment" else
                     GuaranteeMadeOut(r.id, r.reference, r.party_id, name, amount))
    return out


def _instruments_out(rows: list[Record], made: Mapping[str, Made]) -> InstrumentsOut:
    def of(kind: str) -> list[str]:
        return [r.instrument_id for r in rows if r.kind == kind]

    loan, prepayment_ids, guarantee_ids = of("loan"), of("prepayment"), of("guarantee")
    loan_made = made.get(loan[0]) if loan else None
    return InstrumentsOut(
        loan_id=loan[0] if loan else msgspec.UNSET,
        prepayment_ids=prepayment_ids, guarantee_ids=guarantee_ids,
        loan=loan_made if isinstance(loan_made, LoanMadeOut) else msgspec.UNSET,
        prepayments=[m for i in prepayment_ids
                     if isinstance(m := made.get(i), PrepaymentMadeOut)],
        guarantees=[m for i in guarantee_ids
                    if isinstance(m := made.get(i), GuaranteeMadeOut)])


def request_out(conn: Connection, request_id: str, principal: Principal) -> RequestOut:
    return requests_out(conn, [get_request(conn, request_id)], principal)[0]


def get_request(conn: Connection, request_id: str, *, lock: bool = False) -> Record:
    query = select(funding_requests).where(funding_requests.c.id == request_id)
    if lock:  # serializes commands on one request (SQLite serializes writers anyway)
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("request")
    return row


def _gas_sees(party_id: str) -> ColumnElement[bool]:
    return exists(select(request_gas.c.seq).where(
        request_gas.c.request_id == funding_requests.c.id, request_gas.c.gas_id == party_id))


def visible_request(conn: Connection, principal: Principal, request_id: str, *,
                    lock: bool = False) -> Record:
    """The request if the user may see it, else 404 (not found or not yours)."""
    row = get_request(conn, request_id, lock=lock)
    if principal.is_staff:
        return row
    party = principal.party_id
    if principal.role == "producer" and party and row.producer_id == party:
        return row
    if principal.role == "gas" and party and conn.execute(select(request_gas.c.seq).where(
            request_gas.c.request_id == row.id, request_gas.c.gas_id == party)).first():
        return row
    raise NotFound("request")


def change_status(conn: Connection, row: Record, to: str, by: str, note: str | None) -> None:
    """Append the history row and move the cached status with it (one transaction)."""
    at = now_utc()
    conn.execute(insert(request_history).values(
        id=str(uuid.uuid4()), request_id=row.id, at=at, by=by, from_status=row.status,
        to_status=to, note=note or None))
    conn.execute(update(funding_requests).where(funding_requests.c.id == row.id).values(
        status=to, previous_status=row.status, status_since=at, status_by=by))


def insert_request(conn: Connection, values: RequestValues, username: str) -> None:
    at = now_utc()
    gas_ids = values["gas_ids"]
    row = {k: v for k, v in values.items() if k != "gas_ids"}
    conn.execute(insert(funding_requests).values(
        **row, status="submitted", previous_status=None, status_since=at, status_by=username,
        reference=next_reference(conn, REQUEST), created_at=at, created_by=username))
    for i, gas_id in enumerate(gas_ids):
        conn.execute(insert(request_gas).values(request_id=values["id"], gas_id=gas_id,
                                                position=i))
    conn.execute(insert(request_history).values(
        id=str(uuid.uuid4()), request_id=values["id"], at=at, by=username, from_status=None,
        to_status="submitted", note=None))


def has_assessment(conn: Connection, request_id: str) -> bool:
    return conn.execute(select(request_assessments.c.seq).where(
        request_assessments.c.request_id == request_id).limit(1)).first() is not None


def latest_terms(conn: Connection, request_id: str) -> Record | None:
    return conn.execute(select(request_terms).where(request_terms.c.request_id == request_id)
                        .order_by(request_terms.c.seq.desc()).limit(1)).first()


def latest_assessment(conn: Connection, request_id: str) -> Record | None:
    return conn.execute(select(request_assessments).where(
        request_assessments.c.request_id == request_id)
        .order_by(request_assessments.c.seq.desc()).limit(1)).first()


def fund_package(conn: Connection, ctx: AppContext, row: Record, doc: object,
                 op_id: str, on: date, username: str) -> None:
    """Create the package the terms describe: the loan, its guarantees (before the
    disbursement, which may need their coverage), the disbursement, the prepayments.
    Any refusal raises and the caller's transaction leaves nothing behind. Instrument
    ids derive from the command id, so a replay could only ever name the same ones."""

    package = msgspec.convert(doc, RequestTermsIn)
    key = uuid.UUID(op_id)

    def instrument_id(label: str) -> str:
        return str(uuid.uuid5(key, label))

    errors = Errors()
    for i, p in enumerate(package.prepayments or []):
        if date.fromisoformat(p.expires_on) <= on:
            errors.add("date", f"prepayment {i} of the terms expires on {p.expires_on}, "
                       "not after the funding date")
    errors.raise_if_any()
    created: list[tuple[str, str]] = []
    if package.loan is not None:
        lp = _dated(package.loan, on)
        terms = parse_terms(lp, errors, prefix="terms.loan.")
        errors.raise_if_any()  # valid when they were set; the parser has not changed
        assert terms is not None and lp.lender_id is not None  # filled in when set
        loan_id = instrument_id("loan")
        loan_row = create_loan_row(
            conn, ctx, loan_id=loan_id, borrower_id=row.producer_id, lender_id=lp.lender_id,
            pool_id=lp.pool_id, category_name=lp.category, request_id=row.id, terms=terms,
            username=username)
        created.append(("loan", loan_id))
        for i, g in enumerate(package.guarantees or []):
            guarantee_id = instrument_id(f"guarantee:{i}")
            create_guarantee(conn, ctx, guarantee_id=guarantee_id, loan_id=loan_id,
                             guarantor_id=g.guarantor_id,
                             amount=_cents(g.amount, f"terms.guarantees.{i}.amount", errors),
                             username=username, on=on)
            created.append(("guarantee", guarantee_id))
        disburse_loan(conn, ctx, loan_row, instrument_id("disbursement"), on, username)
    for i, p in enumerate(package.prepayments or []):
        prepayment_id = instrument_id(f"prepayment:{i}")
        f = f"terms.prepayments.{i}."
        create_prepayment(
            conn, ctx, prepayment_id=prepayment_id, producer_id=row.producer_id,
            gas_id=p.gas_id, amount=_cents(p.amount, f + "amount", errors), product=p.product,
            unit=p.unit, unit_price=_cents(p.unit_price, f + "unit_price", errors),
            expires_on=date.fromisoformat(p.expires_on), on_expiry=p.on_expiry,
            username=username, request_id=row.id, on=on)
        created.append(("prepayment", prepayment_id))
    errors.raise_if_any()
    for position, (kind, iid) in enumerate(created):
        conn.execute(insert(request_instruments).values(
            request_id=row.id, kind=kind, instrument_id=iid, position=position))
    conn.execute(update(funding_requests).where(funding_requests.c.id == row.id)
                 .values(funding_id=op_id, funded_on=on))
    change_status(conn, row, "funded", username, f"funded on {on.isoformat()}")


def close_if_settled(conn: Connection, request_id: str | None, note: str) -> None:
    """``funded -> closed`` once every loan of the package is repaid and every prepayment
    made for the request (rollovers included) is closed."""
    if request_id is None:
        return
    row = conn.execute(select(funding_requests).where(funding_requests.c.id == request_id)
                       .with_for_update()).first()
    if row is None or row.status != "funded":
        return
    loan_ids = [r.instrument_id for r in conn.execute(select(request_instruments).where(
        request_instruments.c.request_id == request_id, request_instruments.c.kind == "loan"))]
    loan_statuses = [s for (s,) in conn.execute(
        select(loans.c.status).where(loans.c.id.in_(loan_ids or [""])))]
    open_prepayment = conn.execute(select(prepayments.c.id).where(
        prepayments.c.request_id == request_id, prepayments.c.status != "closed")
        .limit(1)).first()
    status = auto_close(row.status,
                        loan_repaid=all(s == "repaid" for s in loan_statuses),
                        prepayments_closed=open_prepayment is None)
    if status != row.status:
        change_status(conn, row, status, SYSTEM_USER, note)


def close_on_loan_repaid(conn: Connection, event: LoanRepaid) -> None:
    loan = event.loan
    request_id = conn.execute(select(request_instruments.c.request_id).where(
        request_instruments.c.kind == "loan",
        request_instruments.c.instrument_id == loan.id)).scalar()
    by = conn.execute(select(loan_events.c.recorded_by).where(
        loan_events.c.loan_id == loan.id).order_by(loan_events.c.seq.desc()).limit(1)).scalar()
    close_if_settled(conn, request_id, f"closed automatically: loan {loan.id} repaid"
                     + (f" (recorded by {by})" if by else ""))


def reopen_on_loan_reopened(conn: Connection, event: LoanReopened) -> None:
    """A correction made the request's repaid loan owe again: a ``closed`` request is
    ``funded`` again, with a history entry saying why."""
    loan = event.loan
    request_id = conn.execute(select(request_instruments.c.request_id).where(
        request_instruments.c.kind == "loan",
        request_instruments.c.instrument_id == loan.id)).scalar()
    if request_id is None:
        return
    row = conn.execute(select(funding_requests).where(funding_requests.c.id == request_id)
                       .with_for_update()).first()
    if row is not None and row.status == "closed":
        change_status(conn, row, "funded", event.username or SYSTEM_USER,
                      f"reopened: loan {loan.id} owes again after the correction "
                      f"{event.cause}")


def close_on_prepayment_closed(conn: Connection, event: PrepaymentClosed) -> None:
    prepayment = event.prepayment
    close_if_settled(conn, prepayment.request_id,
                     f"closed automatically: prepayment {prepayment.id} closed")


def _parse_sort(sort: str | None) -> tuple[str, bool]:
    if sort is None:
        return "created_at", False
    desc = sort.startswith("-")
    name = sort.removeprefix("-")
    if name not in SORTS:
        raise invalid("sort", f"one of {', '.join(SORTS)}, '-' in front for descending")
    return name, desc


def _sort_key(name: str) -> Expr | None:
    if name == "amount":
        return funding_requests.c.amount_minor
    if name == "needed_by":
        return func.coalesce(funding_requests.c.needed_by, literal(NO_DATE, Date()))
    return None  # created_at: creation order, the ordering key itself


def _cursor_value(name: str, row: Record) -> int | str | None:
    if name == "amount":
        return int(row.amount_minor)
    if name == "needed_by":
        return (row.needed_by or NO_DATE).isoformat()
    return None


def _encode(name: str, desc: bool, value: int | str | None, seq: int) -> str:
    raw = json.dumps([name, desc, value, seq], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str | None, name: str, desc: bool) -> tuple[object, int] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        c_name, c_desc, value, seq = json.loads(raw)
        if c_name != name or c_desc != desc or not isinstance(seq, int):
            raise ValueError
        cursor_int(str(seq))  # a BIGINT position, as this API made it
        if name == "amount" and (not isinstance(value, int) or abs(value) > MAX_MINOR):
            raise ValueError
        if name == "needed_by":
            value = date.fromisoformat(value)
        return value, seq
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor", "not a cursor this API returned for this sort") from None


def sorted_page(conn: Connection, query: Query, sort: str | None, limit: int | None,
                cursor: str | None) -> tuple[list[Record], str | None]:
    """Keyset pagination on (sort key, seq), so pages stay stable while requests arrive."""
    size = check_limit(limit)
    name, desc = _parse_sort(sort)
    seq = funding_requests.c.seq
    key = _sort_key(name)
    after = _decode(cursor, name, desc)
    if after is not None:
        value, last = after
        if key is None:
            query = query.where(seq < last if desc else seq > last)
        elif desc:
            query = query.where(or_(key < value, and_(key == value, seq < last)))
        else:
            query = query.where(or_(key > value, and_(key == value, seq > last)))
    order: list[Expr] = [seq] if key is None else [key, seq]
    query = query.order_by(*[o.desc() if desc else o.asc() for o in order]).limit(size + 1)
    rows = list(conn.execute(query))
    nxt = None
    if len(rows) > size:
        last_row = rows[size - 1]
        nxt = _encode(name, desc, _cursor_value(name, last_row), last_row.seq)
    return rows[:size], nxt


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _role_first(check: Callable[[], None]) -> None:
    """Answer a 403 at once; a 409 waits until the idempotency record is consulted (a
    replayed command answers as the first time although the status has moved on)."""
    try:
        check()
    except RoleNotAllowed as exc:
        raise Forbidden(exc.reason) from None
    except InvalidTransition:
        pass


def _refuse(check: Callable[[], None]) -> None:
    try:
        check()
    except RoleNotAllowed as exc:
        raise Forbidden(exc.reason) from None
    except InvalidTransition as exc:
        raise Conflict("invalid_transition", exc.reason, allowed=exc.allowed) from None


# -- use cases ------------------------------------------------------------------------------


def submit_request(ctx: AppContext, principal: Principal, data: RequestIn
                   ) -> tuple[int, RequestOut]:
    """Submit a request (a producer for itself, an officer on a producer's behalf)."""
    values = validate_request(data)

    def check(conn: Connection) -> None:
        errors = Errors()
        producer = _party(conn, values["producer_id"])
        if producer is None or producer.kind != "producer":
            errors.add("producer_id", "no producer with this id")
        for i, gas_id in enumerate(values["gas_ids"]):
            gas = _party(conn, gas_id)
            if gas is None or gas.kind != "gas":
                errors.add(f"gas_ids.{i}", "no GAS with this id")
        errors.raise_if_any()
        if not (principal.is_staff or (principal.role == "producer"
                                       and principal.party_id == values["producer_id"])):
            raise Forbidden("a producer submits its own requests; officers on a "
                            "producer's behalf")

    def run(conn: Connection, _: None) -> tuple[int, RequestOut]:
        insert_request(conn, values, principal.username)
        return 201, request_out(conn, values["id"], principal)

    return command(ctx, principal, "POST /api/requests", data, run, check,
                   returns=RequestOut)


# ``PATCH /api/requests/{id}``: the request's own fields; the first four cannot be cleared.
EDITABLE = ("amount", "purpose", "instrument", "term_months", "needed_by", "gas_ids",
            "business", "social_notes", "environmental_notes", "links")
REQUIRED = ("amount", "purpose", "instrument", "term_months")
_FIELD_TYPES = {f.name: f.type for f in msgspec.structs.fields(RequestIn)}
# What a patch is checked against for the fields it leaves alone (never answered).
_PLACEHOLDER = {"producer_id": str(uuid.UUID(int=0)), "amount": {"amount": "1",
                "currency": "EUR"}, "purpose": "-", "instrument": INSTRUMENTS[0],
                "term_months": 12}
_AT = re.compile(r" - at `\$(.*)`$")


def _merge(target: object, patch: object) -> object:
    """RFC 7396: an object merges key by key, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


# The fields' types are known only at run time (RequestIn's, by name): msgspec.convert
# gives Any for them.
def _typed(values: dict[str, Any], errors: Errors) -> dict[str, Any]:
    """Each field converted to its input type; a type error names the field."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        try:
            out[key] = msgspec.convert(value, _FIELD_TYPES[key])
        except msgspec.ValidationError as exc:
            message = str(exc)
            found = _AT.search(message)
            suffix = found.group(1).replace("[", ".").replace("]", "") if found else ""
            errors.add(key + suffix, _AT.sub("", message))
    return out


def validate_request_patch(patch: Mapping[str, object]) -> None:
    """422 for everything a patch gets wrong on its own, every bad field at once: a field
    one cannot change (``id``, ``producer_id``, unknown ones), a required one cleared, a
    bad type or value."""
    errors = Errors()
    for key in patch:
        if key not in EDITABLE:
            errors.add(key, "not a field of a request one can change")
        elif patch[key] is None and key in REQUIRED:
            errors.add(key, "required: it cannot be cleared")
    given = {k: (_merge(None, v) if k == "business" else v)
             for k, v in patch.items() if k in EDITABLE and v is not None}
    typed = Errors()
    _typed(given, typed)
    errors.items += typed.items
    # The values of the fields of the right type are judged too (a type error hides
    # nothing): each bad field of the wrong type stands as its placeholder meanwhile.
    wrong = {e["field"].split(".")[0] for e in typed.items}
    judged = {k: v for k, v in given.items() if k not in wrong}
    try:
        validate_request(msgspec.convert({**_PLACEHOLDER, **judged}, RequestIn))
    except Invalid as exc:
        errors.items += [e for e in exc.errors if e["field"].split(".")[0] in judged]
    errors.raise_if_any()


def update_request(ctx: AppContext, principal: Principal, request_id: str,
                   patch: Mapping[str, object]) -> RequestOut:
    """``PATCH /api/requests/{id}``: the producer while its request is ``submitted`` or
    ``needs_info``, an officer while ``submitted``, ``under_review`` or ``needs_info``
    (else 409 ``invalid_transition``). The history records each edit with what it
    changed; a patch that changes nothing answers the request and records nothing."""
    rid = path_uuid(request_id, "request")
    validate_request_patch(patch)

    def before(conn: Connection) -> Record:
        row = visible_request(conn, principal, rid, lock=True)
        _role_first(lambda: check_edit(row.status, principal.role))
        return row

    def run(conn: Connection, row: Record) -> tuple[int, RequestOut]:
        _refuse(lambda: check_edit(row.status, principal.role))
        shown = msgspec.to_builtins(request_out(conn, rid, principal))
        current = {k: shown[k] for k in EDITABLE if shown[k] is not None}
        merged = {k: _merge(current.get(k), v) if k == "business" else v
                  for k, v in patch.items()}
        merged = {k: v for k, v in {**current, **merged}.items() if v is not None}
        errors = Errors()
        typed = _typed(merged, errors)
        errors.raise_if_any()
        values = validate_request(RequestIn(producer_id=row.producer_id, **typed))
        for i, gas_id in enumerate(values["gas_ids"]):
            gas = _party(conn, gas_id)
            if gas is None or gas.kind != "gas":
                errors.add(f"gas_ids.{i}", "no GAS with this id")
        errors.raise_if_any()
        columns = {k: v for k, v in values.items()
                   if k not in ("id", "producer_id", "gas_ids") and getattr(row, k) != v}
        gas_changed = values["gas_ids"] != shown["gas_ids"]
        if not columns and not gas_changed:
            note_changes({})
            return 200, request_out(conn, rid, principal)
        if columns:
            conn.execute(update(funding_requests).where(funding_requests.c.id == rid)
                         .values(**columns))
        if gas_changed:
            conn.execute(request_gas.delete().where(request_gas.c.request_id == rid))
            for i, gas_id in enumerate(values["gas_ids"]):
                conn.execute(insert(request_gas).values(request_id=rid, gas_id=gas_id,
                                                        position=i))
        after = msgspec.to_builtins(request_out(conn, rid, principal))
        changes = {k: {"from": shown[k], "to": after[k]} for k in EDITABLE
                   if shown[k] != after[k]}
        note_changes({k: v["to"] for k, v in changes.items()})
        if changes:
            conn.execute(insert(request_history).values(
                id=str(uuid.uuid4()), request_id=rid, at=now_utc(), by=principal.username,
                from_status=row.status, to_status=row.status, note=None, changes=changes))
        return 200, request_out(conn, rid, principal)

    return command(ctx, principal, f"PATCH /api/requests/{rid}", patch, run, before,
                   returns=RequestOut)[1]


def list_requests(ctx: AppContext, principal: Principal, *, status: str | None = None,
                  producer_id: str | None = None, gas_id: str | None = None,
                  instrument: str | None = None, created_from: str | None = None,
                  created_to: str | None = None, amount_min: str | None = None,
                  amount_max: str | None = None, sort: str | None = None,
                  limit: int | None = None, cursor: str | None = None,
                  reference: str | None = None) -> RequestPage:
    """Requests the user may see, oldest first unless ``sort`` says otherwise
    (``created_at``, ``amount``, ``needed_by``; ``-`` in front for descending);
    ``status`` is one or more statuses, comma-separated."""
    where = RequestFilters.read({
        "status": status, "instrument": instrument, "producer_id": producer_id,
        "gas_id": gas_id, "created_from": created_from, "created_to": created_to,
        "amount_min": amount_min, "amount_max": amount_max})
    _parse_sort(sort)
    check_limit(limit)
    c = funding_requests.c

    def read(conn: Connection) -> RequestPage:
        query = select(funding_requests)
        if where.statuses:
            query = query.where(c.status.in_(where.statuses))
        if where.producer_id:
            query = query.where(c.producer_id == where.producer_id)
        if where.gas_id:
            query = query.where(_gas_sees(where.gas_id))
        if where.instrument:
            query = query.where(c.instrument == where.instrument)
        if where.created_from:
            query = query.where(c.created_at >= _day_start(where.created_from))
        if where.created_to:
            query = query.where(
                c.created_at < _day_start(where.created_to + timedelta(days=1)))
        if where.amount_min is not None:
            query = query.where(c.amount_minor >= where.amount_min)
        if where.amount_max is not None:
            query = query.where(c.amount_minor <= where.amount_max)
        if reference is not None:
            query = query.where(c.reference == reference)
        if principal.role == "producer":
            query = query.where(c.producer_id == (principal.party_id or ""))
        elif principal.role == "gas":
            query = query.where(_gas_sees(principal.party_id or ""))
        rows, nxt = sorted_page(conn, query, sort, limit, cursor)
        return RequestPage(requests_out(conn, rows, principal), nxt)

    return ctx.read(read)


def officer_todo(ctx: AppContext, principal: Principal, limit: int | None) -> TodoOut:
    """An officer's to-do list, each section oldest first by when the request entered
    its status: new requests to review, answers to a request for information, requests
    this officer has under review, approved ones to fund."""
    principal.require("officer")
    size = check_limit(limit)
    c = funding_requests.c

    def section(conn: Connection, where: ColumnElement[bool]) -> TodoSection:
        rows = list(conn.execute(select(funding_requests).where(where)
                                 .order_by(c.status_since, c.seq).limit(size)))
        count = conn.execute(select(func.count()).select_from(funding_requests)
                             .where(where)).scalar_one()
        return TodoSection(count, requests_out(conn, rows, principal))

    def read(conn: Connection) -> TodoOut:
        return TodoOut(
            waiting_review=section(conn, and_(
                c.status == "submitted",
                or_(c.previous_status.is_(None), c.previous_status != "needs_info"))),
            info_provided=section(conn, and_(c.status == "submitted",
                                             c.previous_status == "needs_info")),
            in_review=section(conn, and_(c.status == "under_review",
                                         c.status_by == principal.username)),
            to_fund=section(conn, and_(c.status == "approved", c.funding_id.is_(None))))

    return ctx.read(read)


def read_request(ctx: AppContext, principal: Principal, request_id: str) -> RequestOut:
    rid = path_uuid(request_id, "request")

    def read(conn: Connection) -> RequestOut:
        visible_request(conn, principal, rid)
        return request_out(conn, rid, principal)

    return ctx.read(read)


def move_request(ctx: AppContext, principal: Principal, request_id: str, data: TransitionIn
                 ) -> tuple[int, RequestOut]:
    """Move a request along the workflow of ``ledger.requests``, with a history entry."""
    rid = path_uuid(request_id, "request")
    move = Transition.read(data)

    def before(conn: Connection) -> tuple[Record, Callable[[], None]]:
        row = visible_request(conn, principal, rid, lock=True)
        require_request_lender(principal, row.lender_id, "move it along")
        is_own = principal.role == "producer" and row.producer_id == principal.party_id

        def check() -> None:
            check_transition(row.status, move.to, principal.role, is_own=is_own,
                             note=move.note, has_assessment=has_assessment(conn, rid))

        _role_first(check)
        return row, check

    def run(conn: Connection, target: tuple[Record, Callable[[], None]]
            ) -> tuple[int, RequestOut]:
        row, check = target
        _refuse(check)
        change_status(conn, row, move.to, principal.username, move.note.strip())
        claim = request_claim(principal, row.lender_id, move.to)
        if claim != row.lender_id:  # the first bound officer to review it: its lender's
            conn.execute(update(funding_requests).where(funding_requests.c.id == rid)
                         .values(lender_id=claim))
        return 200, request_out(conn, rid, principal)

    return command(ctx, principal, f"POST /api/requests/{rid}/transitions", data, run,
                   before, returns=RequestOut)


def assess_request(ctx: AppContext, principal: Principal, request_id: str,
                   data: AssessmentIn) -> AssessmentOut:
    """Record the officers' assessment; an unchanged one adds no version."""
    rid = path_uuid(request_id, "request")
    given = Assessment.read(data)
    values = {"economic_score": given.economic_score, "social_score": given.social_score,
              "notes": given.notes.strip(), "site_visit_date": given.site_visit_date,
              "decision_date": given.decision_date,
              "decision_reference": given.decision_reference}

    def write(conn: Connection) -> AssessmentOut:
        row = visible_request(conn, principal, rid, lock=True)
        principal.require("officer")
        require_request_lender(principal, row.lender_id, "assess it")
        latest = latest_assessment(conn, rid)
        if latest is None or any(getattr(latest, k) != v for k, v in values.items()):
            conn.execute(insert(request_assessments).values(
                id=str(uuid.uuid4()), request_id=rid, **values, created_at=now_utc(),
                created_by=principal.username))
            latest = latest_assessment(conn, rid)
        assert latest is not None  # there, or just written
        return assessment_out(latest)

    return ctx.write(write)


def read_assessment(ctx: AppContext, principal: Principal, request_id: str) -> AssessmentOut:
    rid = path_uuid(request_id, "request")

    def read(conn: Connection) -> AssessmentOut:
        visible_request(conn, principal, rid)
        if principal.role == "gas":
            raise Forbidden("the assessment is for officers and the producer")
        latest = latest_assessment(conn, rid)
        if latest is None:
            raise NotFound("assessment")
        return assessment_out(latest)

    return ctx.read(read)


def set_terms(ctx: AppContext, principal: Principal, request_id: str, data: RequestTermsIn
              ) -> TermsOut:
    """Set the financing package (officers, under review or approved); unchanged terms
    add no version."""
    rid = path_uuid(request_id, "request")
    doc = validate_terms(data)

    def write(conn: Connection) -> TermsOut:
        row = get_request(conn, rid, lock=True)
        loan = doc["loan"]
        if loan is not None and loan["lender_id"] is None:
            loan["lender_id"] = lender_scope(principal) or row.lender_id
            if loan["lender_id"] is None:
                raise invalid("loan.lender_id", "the lender of the loan (required unless "
                              "an officer bound to a lender sets the terms)")
        check_term_parties(conn, doc, row.producer_id)
        row = visible_request(conn, principal, rid)
        if principal.is_staff:
            require_request_lender(principal, row.lender_id, "set its terms")
            require_terms_lender(principal, row.lender_id,
                                 loan["lender_id"] if loan is not None else None)
        _refuse(lambda: check_terms_edit(row.status, principal.role))
        latest = latest_terms(conn, rid)
        if latest is None or latest.terms != doc:
            conn.execute(insert(request_terms).values(
                id=str(uuid.uuid4()), request_id=rid, terms=doc, created_at=now_utc(),
                created_by=principal.username))
            latest = latest_terms(conn, rid)
        assert latest is not None  # there, or just written
        return terms_out(latest, party_names(conn, term_party_ids(latest)))

    return ctx.write(write)


def read_terms(ctx: AppContext, principal: Principal, request_id: str) -> TermsOut:
    rid = path_uuid(request_id, "request")

    def read(conn: Connection) -> TermsOut:
        visible_request(conn, principal, rid)
        if principal.role == "gas":
            raise Forbidden("the terms are for officers and the producer")
        latest = latest_terms(conn, rid)
        if latest is None:
            raise NotFound("terms")
        return terms_out(latest, party_names(conn, term_party_ids(latest)))

    return ctx.read(read)


def fund_request(ctx: AppContext, principal: Principal, request_id: str, data: FundingIn
                 ) -> tuple[int, RequestOut]:
    """Create the package of the terms in force, all or nothing: the request is then
    ``funded`` with its ``instruments``."""
    rid = path_uuid(request_id, "request")
    funding = Funding.read(data)

    def before(conn: Connection) -> tuple[Record, Record | None, Callable[[], None]]:
        row = visible_request(conn, principal, rid, lock=True)
        terms_row = latest_terms(conn, rid)
        if principal.is_staff:
            require_request_lender(principal, row.lender_id, "fund it")
            loan = terms_row.terms.get("loan") if terms_row is not None else None
            require_terms_lender(principal, row.lender_id,
                                 loan.get("lender_id") if loan else None)

        def check() -> None:
            check_funding(row.status, principal.role, has_terms=terms_row is not None)

        _role_first(check)
        return row, terms_row, check

    def run(conn: Connection, target: tuple[Record, Record | None, Callable[[], None]]
            ) -> tuple[int, RequestOut]:
        row, terms_row, check = target
        _refuse(check)
        assert terms_row is not None  # check_funding refuses a request without terms
        fund_package(conn, ctx, row, terms_row.terms, funding.id, funding.on,
                     principal.username)
        refuse_closed(conn, funding.on, "a funding")
        return 200, request_out(conn, rid, principal)

    return command(ctx, principal, f"POST /api/requests/{rid}/funding", data, run, before,
                   returns=RequestOut)


def _declaring_gas(conn: Connection, principal: Principal, gas_id: str | None, action: str
                   ) -> str | None:
    """The GAS an interest is declared or withdrawn for: an officer's ``gas_id`` (a GAS,
    else 422), a GAS user's own; producers -> 403, another GAS -> 404 or 403."""
    if principal.role == "producer":
        raise Forbidden(f"GAS {action} interest in a request, not producers")
    if principal.is_staff:
        return gas_id
    if gas_id not in (None, principal.party_id):
        refuse_acting_for(conn, principal, gas_id, f"a GAS user {action} interest for its "
                          "own GAS")
    return principal.party_id


def _staff_gas(conn: Connection, principal: Principal, gas_id: str | None) -> None:
    if principal.is_staff:
        gas = _party(conn, gas_id)
        if gas is None or gas.kind != "gas":
            raise invalid("gas_id", "no GAS with this id")


def declare_interest(ctx: AppContext, principal: Principal, request_id: str, data: InterestIn
                     ) -> tuple[int, InterestOut]:
    """A GAS says it may prepay or guarantee part of the request (non-binding);
    officers may record it for a GAS (``gas_id``). A GAS has at most one interest per
    kind in a request: a new one of the same kind replaces its earlier one."""
    rid = path_uuid(request_id, "request")
    errors = Errors()
    interest = Interest.read_into(data, errors)
    if principal.is_staff and data.gas_id is None:
        errors.add("gas_id", "required when an officer records a GAS's interest")
    errors.raise_if_any()

    def before(conn: Connection) -> tuple[Record, str | None]:
        _staff_gas(conn, principal, interest.gas_id)
        row = visible_request(conn, principal, rid)
        return row, _declaring_gas(conn, principal, interest.gas_id, "declare")

    def run(conn: Connection, target: tuple[Record, str | None]) -> tuple[int, InterestOut]:
        row, declaring = target
        if row.status not in OPEN_STATUSES:
            raise Conflict("closed", f"the request is {row.status}; it takes no more interest")
        i = request_interests.c
        conn.execute(request_interests.delete().where(
            i.request_id == rid, i.gas_id == declaring, i.kind == interest.kind))
        conn.execute(insert(request_interests).values(
            id=interest.id, request_id=rid, gas_id=declaring, kind=interest.kind,
            amount_minor=interest.amount, currency="EUR", note=interest.note,
            created_at=now_utc(), created_by=principal.username))
        found = conn.execute(_interest_select().where(i.id == interest.id)).one()
        return 201, interest_out(found, found.gas_name)

    return command(ctx, principal, f"POST /api/requests/{rid}/interests", data, run, before,
                   returns=InterestOut)


def withdraw_interest(ctx: AppContext, principal: Principal, request_id: str, kind: str,
                      gas_id: str | None = None) -> None:
    """A GAS withdraws its interest of ``kind`` in a request (officers for a GAS,
    ``gas_id``): 404 when it has none, 409 ``closed`` once the request takes no more."""
    rid = path_uuid(request_id, "request")
    errors = Errors()
    asked = Withdrawal.read_into({"gas_id": gas_id, "kind": kind}, errors)
    if principal.is_staff and gas_id is None:
        errors.add("gas_id", "required when an officer withdraws a GAS's interest")
    errors.raise_if_any()

    def write(conn: Connection) -> None:
        _staff_gas(conn, principal, asked.gas_id)
        row = visible_request(conn, principal, rid, lock=True)
        declaring = _declaring_gas(conn, principal, asked.gas_id, "withdraws")
        i = request_interests.c
        current = and_(i.request_id == rid, i.gas_id == (declaring or ""),
                       i.kind == asked.kind)
        if conn.execute(select(i.seq).where(current)).first() is None:
            raise NotFound("interest")
        if row.status not in OPEN_STATUSES:
            raise Conflict("closed", f"the request is {row.status}; its interests stay as "
                           "they were")
        conn.execute(request_interests.delete().where(current))

    ctx.write(write)


def list_interests(ctx: AppContext, principal: Principal, request_id: str,
                   limit: int | None, cursor: str | None) -> InterestPage:
    """The current interests (one per GAS and kind): officers and the producer see every
    GAS's, a GAS user its own."""
    rid = path_uuid(request_id, "request")

    def read(conn: Connection) -> InterestPage:
        visible_request(conn, principal, rid)
        query = _interest_select().where(request_interests.c.request_id == rid)
        if principal.role == "gas":
            query = query.where(request_interests.c.gas_id == (principal.party_id or ""))
        rows, nxt = paginate(conn, query, request_interests.c.seq, limit, cursor)
        return InterestPage([interest_out(r, r.gas_name) for r in rows], nxt)

    return ctx.read(read)
