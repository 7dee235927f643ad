"""HTTP for pools, deposits, member shares, loan categories and loans."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Connection, insert, select, update

from ledger import lending as postings
from ledger.money import AMOUNT_PATTERN
from ledger.schedules import FREQUENCIES, METHODS, LoanTerms, TermsError, build_schedule, summarize
from service.app import lending
from service.app.auth import Principal
from service.app.common import (
    MoneyIn,
    money_minor,
    money_out,
    now_utc,
    parse_date,
    rfc3339,
)
from service.app.context import AppContext
from service.app.coverage import coverage_value, covers, gas_sees_loan, share_cap_for
from service.app.errors import Conflict, Errors, NotFound, invalid
from service.app.ledger_ops import ensure_accounts
from service.app.ledger_ops import post as post_batch
from service.db.engine import lock_row
from service.db.tables import funding_requests, loans, match_rules, pools

RATE_PATTERN_DECIMALS = 4


class PoolIn(msgspec.Struct, forbid_unknown_fields=True):
    lender_id: str
    name: str
    id: str | None = None
    partner_id: str | None = None
    max_loan: MoneyIn | None = None


class MatchRuleIn(msgspec.Struct, forbid_unknown_fields=True):
    threshold: str
    cap: MoneyIn
    budget: MoneyIn | None = None


class DepositIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: MoneyIn
    date: str
    id: str | None = None
    note: str | None = None


class ShareIn(msgspec.Struct, forbid_unknown_fields=True):
    member_id: str
    lender_id: str
    amount: MoneyIn
    date: str
    id: str | None = None


LOAN_STATUSES = ("approved", "active", "repaid", "written_off")


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


class LoanIn(TermsIn, forbid_unknown_fields=True, kw_only=True):
    borrower_id: str
    lender_id: str
    id: str | None = None
    pool_id: str | None = None
    category: str = lending.DEFAULT_CATEGORY
    request_id: str | None = None


class DisbursementIn(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    id: str | None = None


class RepaymentIn(msgspec.Struct, forbid_unknown_fields=True):
    amount: MoneyIn
    date: str
    id: str | None = None
    early_repayment: str = "term"


class RescheduleIn(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    note: str
    id: str | None = None
    added_grace_periods: int = 0
    new_periods: int | None = None
    method: str | None = None


class WriteOffIn(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    note: str
    id: str | None = None


class CategoryIn(msgspec.Struct, forbid_unknown_fields=True):
    max_principal: MoneyIn
    max_term_months: int
    frequencies: list[str]
    usury_threshold: str | None = None
    late_interest_rate: str = "0"
    min_coverage: str | None = None
    share_multiple: str | None = None


def parse_rate(text: str, field: str, errors: Errors) -> Decimal:

    if not AMOUNT_PATTERN.fullmatch(text) or text.startswith("-"):
        errors.add(field, f"{text!r} is not a percentage such as \"3.50\"")
        return Decimal(0)
    if len(text.partition(".")[2]) > RATE_PATTERN_DECIMALS:
        errors.add(field, f"at most {RATE_PATTERN_DECIMALS} decimals")
        return Decimal(0)
    value = Decimal(text)
    if value > 100:
        errors.add(field, "a yearly percentage of at most 100")
    return value


def parse_terms(data: Any, errors: Errors, *, prefix: str = "") -> LoanTerms | None:
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
    if errors.items:
        return None
    assert disbursed is not None
    terms = LoanTerms(principal=lending.dec(principal), annual_rate=rate,
                      term_months=data.term_months, method=data.method,
                      frequency=data.frequency, grace_periods=data.grace_periods,
                      disbursement_date=disbursed, first_due_date=first_due,
                      fees=lending.dec(fees))
    try:
        build_schedule(terms)
    except TermsError as exc:
        errors.add(f"{prefix}{exc.field}", exc.message)
        return None
    return terms


def installment_json(i: Any) -> dict[str, Any]:
    return {"number": i.number, "due_date": i.due_date.isoformat(),
            "principal": money_out(lending.cents(i.principal)),
            "interest": money_out(lending.cents(i.interest)),
            "payment": money_out(lending.cents(i.payment)),
            "balance_after": money_out(lending.cents(i.balance_after))}


def simulation_json(terms: LoanTerms) -> dict[str, Any]:
    schedule = build_schedule(terms)
    summary = summarize(terms, schedule)
    return {"installments": [installment_json(i) for i in schedule],
            "total_interest": money_out(lending.cents(summary.total_interest)),
            "total_payment": money_out(lending.cents(summary.total_payment)),
            "total_fees": money_out(lending.cents(summary.total_fees)),
            "apr": str(summary.apr)}


def pool_json(conn: Connection, ctx: AppContext, row: Any) -> dict[str, Any]:
    balance, lent = lending.pool_figures(conn, ctx.store, row)
    return {"id": row.id, "lender_id": row.lender_id, "name": row.name,
            "partner_id": row.partner_id,
            "max_loan": money_out(row.max_loan_minor) if row.max_loan_minor is not None
            else None,
            "general": bool(row.is_general), "balance": money_out(balance),
            "lent": money_out(lent), "created_at": rfc3339(row.created_at)}


def visible_loan(conn: Connection, principal: Principal, loan_id: str, *,
                 lock: bool = False) -> Any:
    """The loan if the user may see it, else 404; ``lock`` for commands that change it."""
    row = (lock_row(conn, loans, loan_id) if lock
           else conn.execute(select(loans).where(loans.c.id == loan_id)).first())
    if row is None:
        raise NotFound("loan")
    if principal.is_staff:
        return row
    if principal.role == "producer" and row.borrower_id == principal.party_id:
        return row
    if principal.role == "gas" and principal.party_id and gas_sees_loan(
            conn, principal.party_id, row.id):
        return row
    raise NotFound("loan")


def _party_of_kind(conn: Connection, party_id: str | None, kind: str | tuple[str, ...],
                   field: str) -> Any:
    kinds = (kind,) if isinstance(kind, str) else kind
    row = lending.party_row(conn, party_id) if party_id else None
    if row is None or row.kind not in kinds:
        raise invalid(field, f"no {' or '.join(kinds)} with this id")
    return row


def match_rule_json(conn: Connection, pool_id: str) -> dict[str, Any]:
    row = conn.execute(select(match_rules).where(match_rules.c.pool_id == pool_id)).first()
    if row is None:
        raise NotFound("match rule")
    return {"pool_id": row.pool_id, "threshold": row.threshold,
            "cap": money_out(row.cap_minor),
            "budget": money_out(row.budget_minor) if row.budget_minor is not None else None,
            "updated_at": rfc3339(row.updated_at)}


def share_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "member_id": row.member_id, "lender_id": row.lender_id,
            "pool_id": row.pool_id, "amount": money_out(row.amount_minor),
            "date": row.date.isoformat(), "created_at": rfc3339(row.created_at)}


def _lender_in_path(conn: Connection, lender_id: str) -> None:
    """A lender named in the path: 404 unless it is one."""
    row = lending.party_row(conn, lender_id)
    if row is None or row.kind != "lender":
        raise NotFound("lender")


def check_category(conn: Connection, terms: LoanTerms, category: lending.Category,
                   pool_row: Any, borrower_id: str, lender_id: str) -> None:
    """Terms outside the category or the pool: 409 with the limit named."""
    principal = lending.cents(terms.principal)
    if principal > category.max_principal:
        raise Conflict("loan_limit_exceeded",
                       f"category {category.name} lends at most "
                       f"{lending.dec(category.max_principal)} EUR")
    if terms.term_months > category.max_term_months:
        raise Conflict("loan_limit_exceeded", f"category {category.name} allows at most "
                       f"{category.max_term_months} months")
    if terms.frequency not in category.frequencies:
        raise Conflict("loan_limit_exceeded", f"category {category.name} allows "
                       f"{', '.join(category.frequencies)} installments")
    if pool_row.max_loan_minor is not None and principal > pool_row.max_loan_minor:
        raise Conflict("loan_limit_exceeded", f"pool {pool_row.name} lends at most "
                       f"{lending.dec(pool_row.max_loan_minor)} EUR to one loan")
    if category.usury_threshold is not None:
        apr = summarize(terms, build_schedule(terms)).apr
        if apr > category.usury_threshold:
            raise Conflict("usury_threshold_exceeded",
                           f"TAEG {apr}% is above the usury threshold "
                           f"{category.usury_threshold}% of category {category.name}")
    if category.share_multiple is not None:

        cap = share_cap_for(conn, borrower_id, lender_id, category.share_multiple)
        if principal > cap:
            raise Conflict("loan_limit_exceeded",
                           f"at most {category.share_multiple} x the share capital of the "
                           f"GAS that buy from this producer: {lending.dec(cap)} EUR")


def create_loan_row(conn: Connection, ctx: AppContext, *, loan_id: str, borrower_id: str,
                    lender_id: str, pool_id: str | None, category_name: str,
                    request_id: str | None, terms: LoanTerms, username: str) -> Any:
    _party_of_kind(conn, borrower_id, "producer", "borrower_id")
    _party_of_kind(conn, lender_id, "lender", "lender_id")
    if request_id is not None:

        asked = conn.execute(select(funding_requests.c.producer_id)
                             .where(funding_requests.c.id == request_id)).first()
        if asked is None or asked.producer_id != borrower_id:
            raise invalid("request_id", "no funding request of this borrower with this id")
    pool_id = pool_id or lending.general_pool_id(lender_id)
    pool_row = conn.execute(select(pools).where(pools.c.id == pool_id)).first()
    if pool_row is None or pool_row.lender_id != lender_id:
        raise invalid("pool_id", "no pool of this lender with this id")
    category = lending.get_category(conn, lender_id, category_name)
    if category is None:
        raise invalid("category", f"lender has no loan category {category_name!r}")
    check_category(conn, terms, category, pool_row, borrower_id, lender_id)
    conn.execute(insert(loans).values(
        id=loan_id, borrower_id=borrower_id, lender_id=lender_id, pool_id=pool_id,
        category=category_name, request_id=request_id,
        principal_minor=lending.cents(terms.principal), annual_rate=str(terms.annual_rate),
        term_months=terms.term_months, method=terms.method, frequency=terms.frequency,
        grace_periods=terms.grace_periods, disbursement_date=terms.disbursement_date,
        first_due_date=terms.first_due_date, fees_minor=lending.cents(terms.fees),
        status="approved", restructured=False, created_at=now_utc(), created_by=username))
    row = lending.get_loan(conn, loan_id)
    ensure_accounts(conn, ctx.store, lending.loan_specs(row))
    return row


def disburse_loan(conn: Connection, ctx: AppContext, row: Any, op_id: str, on: date,
                  username: str) -> Any:
    row = lock_row(conn, loans, row.id)
    if row.status != "approved":
        raise Conflict("already_disbursed", f"the loan is already {row.status}")
    if row.first_due_date is not None and row.first_due_date <= on:
        raise invalid("date", "on or after the first due date of the terms")
    category = lending.get_category(conn, row.lender_id, row.category)
    if (category is not None and category.min_coverage is not None
            and not covers(conn, row, category.min_coverage)):
        coverage = coverage_value(conn, row, on)
        raise Conflict("coverage_below_minimum",
                       f"guarantees cover {coverage or 0} x the principal; category "
                       f"{category.name} needs at least {category.min_coverage}")
    conn.execute(update(loans).where(loans.c.id == row.id)
                 .values(status="active", disbursed_on=on))
    row = lending.get_loan(conn, row.id)
    lending.record_event(conn, event_id=op_id, loan_id=row.id, kind="disbursement", on=on,
                         amount=row.principal_minor, username=username)
    accounts = lending.accounts_of(row)

    transfers = postings.disbursement(op_id, accounts, row.principal_minor, on,
                                      f"loan:{row.id}")
    post_batch(conn, ctx.store, postings.close_chain(transfers), {
        accounts.pool: ("insufficient_funds",
                        "the pool has not enough money to disburse this loan")})
    events = lending.events_of(conn, row.id)
    lending.save_installments(conn, row, lending.loan_state(row, events), events)
    return row


