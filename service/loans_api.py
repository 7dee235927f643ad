"""HTTP for pools, deposits, member shares, loan categories and loans."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
from litestar import Controller, Response, delete, get, post, put
from sqlalchemy import Connection, insert, select, update

from ledger.chart import account, account_id, leg_id
from ledger.schedules import FREQUENCIES, METHODS, LoanTerms, TermsError, build_schedule, summarize
from ledger.transfers import Transfer
from service import lending
from service.auth import Principal
from service.common import (
    MoneyIn,
    check_filters,
    check_uuid,
    money_minor,
    money_out,
    now_utc,
    page,
    paginate,
    parse_date,
    parse_decimal_string,
    path_uuid,
    query_date,
    rfc3339,
)
from service.context import AppContext
from service.db import lock_row
from service.errors import Conflict, Errors, NotFound, invalid
from service.idempotency import once
from service.ledger_api import store_of
from service.ledger_ops import ensure_accounts
from service.ledger_ops import post as post_batch
from service.parties import refuse_acting_for
from service.tables import loans, match_rules, pools, shares

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
    from ledger.money import AMOUNT_PATTERN

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
    balance, lent = lending.pool_figures(conn, store_of(ctx), row)
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
    if principal.role == "gas" and principal.party_id:
        from service.instruments import gas_sees_loan

        if gas_sees_loan(conn, principal.party_id, row.id):
            return row
    raise NotFound("loan")


def _party_of_kind(conn: Connection, party_id: str | None, kind: str | tuple[str, ...],
                   field: str) -> Any:
    kinds = (kind,) if isinstance(kind, str) else kind
    row = lending.party_row(conn, party_id) if party_id else None
    if row is None or row.kind not in kinds:
        raise invalid(field, f"no {' or '.join(kinds)} with this id")
    return row


class PoolController(Controller):
    path = "/api/pools"
    tags = ["lending"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201)
    def create_pool(self, data: PoolIn, ctx: AppContext, principal: Principal
                    ) -> Response[Any]:
        errors = Errors()
        pool_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        lender_id = check_uuid(data.lender_id, "lender_id", errors)
        partner_id = check_uuid(data.partner_id, "partner_id", errors)
        max_loan = money_minor(data.max_loan, "max_loan", errors) if data.max_loan else None
        if not data.name.strip() or len(data.name) > 200:
            errors.add("name", "must be 1 to 200 characters")
        errors.raise_if_any()
        principal.require("officer")

        def action(conn: Connection) -> tuple[int, Any]:
            def create() -> tuple[int, Any]:
                _party_of_kind(conn, lender_id, "lender", "lender_id")
                if partner_id:
                    _party_of_kind(conn, partner_id, ("lender", "des", "gas", "producer",
                                                      "person"), "partner_id")
                row = lending.create_pool(conn, store_of(ctx), pool_id=pool_id,
                                          lender_id=str(lender_id), name=data.name.strip(),
                                          partner_id=partner_id, max_loan=max_loan,
                                          general=False, username=principal.username)
                return 201, pool_json(conn, ctx, row)

            return once(conn, data.id, "POST /api/pools", data, principal.username, create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True)
    def list_pools(self, ctx: AppContext, principal: Principal, lender_id: str | None = None,
                   limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        (lender_id,) = check_filters({"lender_id": lender_id})
        principal.require("officer")

        def read(conn: Connection) -> dict[str, Any]:
            query = select(pools)
            if lender_id:
                query = query.where(pools.c.lender_id == lender_id)
            rows, nxt = paginate(conn, query, pools.c.seq, limit, cursor)
            return page([pool_json(conn, ctx, r) for r in rows], nxt)

        return ctx.read(read)

    @get("/{pool_id:str}", sync_to_thread=True)
    def get_pool(self, pool_id: str, ctx: AppContext, principal: Principal) -> dict[str, Any]:
        pid = path_uuid(pool_id, "pool")
        if not principal.is_staff:
            raise NotFound("pool")
        return ctx.read(lambda conn: pool_json(conn, ctx, lending.get_pool(conn, pid)))

    @put("/{pool_id:str}/match-rule", sync_to_thread=True)
    def set_match_rule(self, pool_id: str, data: MatchRuleIn, ctx: AppContext,
                       principal: Principal) -> dict[str, Any]:
        """When GAS prepayments reach ``threshold`` (a fraction, "0.75") of a mixed
        request, this pool tops up the rest, up to ``cap`` (and ``budget`` in all)."""
        pid = path_uuid(pool_id, "pool")
        errors = Errors()
        threshold = parse_decimal_string(data.threshold, "threshold", errors, max_decimals=4)
        if threshold > 1:
            errors.add("threshold", "a fraction of the request between 0 and 1, e.g. \"0.75\"")
        cap = money_minor(data.cap, "cap", errors)
        budget = money_minor(data.budget, "budget", errors) if data.budget else None
        errors.raise_if_any()

        def action(conn: Connection) -> dict[str, Any]:
            if not principal.is_staff:
                raise NotFound("pool")
            lending.get_pool(conn, pid)
            values = dict(threshold=str(threshold), cap_minor=cap, budget_minor=budget,
                          updated_at=now_utc(), updated_by=principal.username)
            if conn.execute(select(match_rules.c.pool_id).where(
                    match_rules.c.pool_id == pid)).first():
                conn.execute(update(match_rules).where(match_rules.c.pool_id == pid)
                             .values(**values))
            else:
                conn.execute(insert(match_rules).values(pool_id=pid, **values))
            return match_rule_json(conn, pid)

        return ctx.write(action)

    @get("/{pool_id:str}/match-rule", sync_to_thread=True)
    def get_match_rule(self, pool_id: str, ctx: AppContext, principal: Principal
                       ) -> dict[str, Any]:
        pid = path_uuid(pool_id, "pool")
        if not principal.is_staff:
            raise NotFound("pool")
        return ctx.read(lambda conn: match_rule_json(conn, pid))

    @delete("/{pool_id:str}/match-rule", sync_to_thread=True, status_code=204)
    def delete_match_rule(self, pool_id: str, ctx: AppContext, principal: Principal) -> None:
        pid = path_uuid(pool_id, "pool")
        if not principal.is_staff:
            raise NotFound("pool")

        def action(conn: Connection) -> None:
            match_rule_json(conn, pid)  # 404 when there is none
            conn.execute(match_rules.delete().where(match_rules.c.pool_id == pid))

        ctx.write(action)

    @post("/{pool_id:str}/deposits", sync_to_thread=True, status_code=201)
    def deposit(self, pool_id: str, data: DepositIn, ctx: AppContext, principal: Principal
                ) -> Response[Any]:
        pid = path_uuid(pool_id, "pool")
        errors = Errors()
        op_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        amount = money_minor(data.amount, "amount", errors)
        on = parse_date(data.date, "date", errors)
        errors.raise_if_any()
        assert on is not None

        def action(conn: Connection) -> tuple[int, Any]:
            row = conn.execute(select(pools).where(pools.c.id == pid)).first()
            if row is None or not principal.is_staff:
                raise NotFound("pool")

            def create() -> tuple[int, Any]:
                dep = lending.deposit(conn, store_of(ctx), op_id=op_id, pool_row=row,
                                      amount=amount, on=on, note=data.note,
                                      username=principal.username)
                return 201, {"id": dep.id, "pool_id": dep.pool_id,
                             "amount": money_out(dep.amount_minor), "date": dep.date.isoformat(),
                             "note": dep.note, "created_at": rfc3339(dep.created_at)}

            return once(conn, data.id, f"POST /api/pools/{pid}/deposits", data,
                        principal.username, create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)


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


class ShareController(Controller):
    path = "/api/shares"
    tags = ["lending"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201)
    def subscribe(self, data: ShareIn, ctx: AppContext, principal: Principal
                  ) -> Response[Any]:
        errors = Errors()
        share_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        member_id = check_uuid(data.member_id, "member_id", errors)
        lender_id = check_uuid(data.lender_id, "lender_id", errors)
        amount = money_minor(data.amount, "amount", errors)
        on = parse_date(data.date, "date", errors)
        errors.raise_if_any()
        if not principal.is_staff and not (principal.role == "gas"
                                           and principal.party_id == member_id):
            ctx.read(lambda conn: refuse_acting_for(
                conn, principal, member_id,
                "officers record shares, or a GAS user for its own GAS"))

        def action(conn: Connection) -> tuple[int, Any]:
            def create() -> tuple[int, Any]:
                member = _party_of_kind(conn, member_id, ("person", "gas", "producer"),
                                        "member_id")
                _party_of_kind(conn, lender_id, "lender", "lender_id")
                store = store_of(ctx)
                pool_id = lending.general_pool_id(str(lender_id))
                ext = account("member-external", member.id, party_id=member.id)
                ensure_accounts(conn, store, [ext])
                conn.execute(insert(shares).values(
                    id=share_id, member_id=member.id, lender_id=lender_id, pool_id=pool_id,
                    amount_minor=amount, date=on, created_at=now_utc(),
                    created_by=principal.username))
                post_batch(conn, store, [Transfer(
                    id=leg_id(share_id, "share"), debit_account_id=ext.id,
                    credit_account_id=account_id("pool", pool_id), amount=amount,
                    currency="EUR", code="share", value_date=on,
                    user_data=f"share:{share_id}", operation_id=share_id)], {})
                row = conn.execute(select(shares).where(shares.c.id == share_id)).one()
                return 201, share_json(row)

            return once(conn, data.id, "POST /api/shares", data, principal.username, create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True)
    def list_shares(self, ctx: AppContext, principal: Principal,
                    member_id: str | None = None, lender_id: str | None = None,
                    limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        member_id, lender_id = check_filters(
            {"member_id": member_id, "lender_id": lender_id})
        if not principal.is_staff and principal.role != "gas":
            from service.errors import Forbidden

            raise Forbidden("officers, or a GAS user for its own GAS")

        def read(conn: Connection) -> dict[str, Any]:
            query = select(shares)
            if member_id:
                query = query.where(shares.c.member_id == member_id)
            if lender_id:
                query = query.where(shares.c.lender_id == lender_id)
            if not principal.is_staff:
                query = query.where(shares.c.member_id == principal.party_id)
            rows, nxt = paginate(conn, query, shares.c.seq, limit, cursor)
            body = page([share_json(r) for r in rows], nxt)
            # Per-member totals over everything the filter selects (not just this page).
            totals: dict[str, int] = {}
            for r in conn.execute(query):
                totals[r.member_id] = totals.get(r.member_id, 0) + r.amount_minor
            body["totals"] = {m: money_out(c) for m, c in sorted(totals.items())}
            return body

        return ctx.read(read)


class CategoryController(Controller):
    path = "/api/lenders/{lender_id:str}/categories"
    tags = ["lending"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @put("/{name:str}", sync_to_thread=True)
    def set_category(self, lender_id: str, name: str, data: CategoryIn, ctx: AppContext,
                     principal: Principal) -> dict[str, Any]:
        lid = path_uuid(lender_id, "lender")
        errors = Errors()
        if not name or len(name) > 64:
            errors.add("name", "1 to 64 characters")
        max_principal = money_minor(data.max_principal, "max_principal", errors)
        if not 1 <= data.max_term_months <= 1200:
            errors.add("max_term_months", "between 1 and 1200")
        bad = [f for f in data.frequencies if f not in FREQUENCIES]
        if bad or not data.frequencies:
            errors.add("frequencies", f"a non-empty list of {', '.join(FREQUENCIES)}")

        def rate(value: str | None, field: str) -> Decimal | None:
            return None if value is None else parse_rate(value, field, errors)

        def ratio(value: str | None, field: str) -> Decimal | None:
            """A multiple, not a percentage: 1.50 is 150% of the principal."""
            if value is None:
                return None
            parsed = parse_decimal_string(value, field, errors, max_decimals=4,
                                          allow_zero=True)
            if parsed > 100:
                errors.add(field, "a ratio such as \"1.50\" (150% of the principal), "
                                  "at most 100")
            return parsed

        category = lending.Category(
            name=name, max_principal=max_principal, max_term_months=data.max_term_months,
            frequencies=tuple(data.frequencies),
            usury_threshold=rate(data.usury_threshold, "usury_threshold"),
            late_interest_rate=rate(data.late_interest_rate, "late_interest_rate")
            or Decimal(0),
            min_coverage=ratio(data.min_coverage, "min_coverage"),
            share_multiple=ratio(data.share_multiple, "share_multiple"))
        errors.raise_if_any()

        def action(conn: Connection) -> dict[str, Any]:
            _lender_in_path(conn, lid)
            principal.require("officer")
            lending.save_category(conn, lid, category, principal.username)
            saved = lending.get_category(conn, lid, name)
            assert saved is not None
            return lending.category_out(lid, saved)

        return ctx.write(action)

    @get("/{name:str}", sync_to_thread=True)
    def get_category(self, lender_id: str, name: str, ctx: AppContext, principal: Principal
                     ) -> dict[str, Any]:
        lid = path_uuid(lender_id, "lender")

        def read(conn: Connection) -> lending.Category | None:
            _lender_in_path(conn, lid)
            return lending.get_category(conn, lid, name)

        category = ctx.read(read)
        if category is None:
            raise NotFound("category")
        return lending.category_out(lid, category)


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
        from service.instruments import share_cap_for

        cap = share_cap_for(conn, borrower_id, lender_id, category.share_multiple)
        if principal > cap:
            raise Conflict("loan_limit_exceeded",
                           f"at most {category.share_multiple} x the share capital of the "
                           f"GAS that buy from this producer: {lending.dec(cap)} EUR")


class LoanController(Controller):
    path = "/api/loans"
    tags = ["loans"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/simulate", sync_to_thread=True, status_code=200)
    def simulate(self, data: TermsIn, principal: Principal) -> dict[str, Any]:
        errors = Errors()
        terms = parse_terms(data, errors)
        errors.raise_if_any()
        assert terms is not None
        return simulation_json(terms)

    @post("/", sync_to_thread=True, status_code=201)
    def create_loan(self, data: LoanIn, ctx: AppContext, principal: Principal
                    ) -> Response[Any]:
        errors = Errors()
        loan_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        borrower_id = check_uuid(data.borrower_id, "borrower_id", errors)
        lender_id = check_uuid(data.lender_id, "lender_id", errors)
        pool_id = check_uuid(data.pool_id, "pool_id", errors)
        request_id = check_uuid(data.request_id, "request_id", errors)
        terms = parse_terms(data, errors)
        errors.raise_if_any()
        assert terms is not None
        principal.require("officer")

        def action(conn: Connection) -> tuple[int, Any]:
            def create() -> tuple[int, Any]:
                row = create_loan_row(conn, ctx, loan_id=loan_id, borrower_id=str(borrower_id),
                                      lender_id=str(lender_id), pool_id=pool_id,
                                      category_name=data.category, request_id=request_id,
                                      terms=terms, username=principal.username)
                return 201, lending.loan_with_state(conn, row, date.today())

            return once(conn, data.id, "POST /api/loans", data, principal.username, create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True)
    def list_loans(self, ctx: AppContext, principal: Principal,
                   borrower_id: str | None = None, status: str | None = None,
                   lender_id: str | None = None, as_of: str | None = None,
                   limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        day = query_date(as_of, "as_of") or date.today()
        borrower_id, lender_id = check_filters(
            {"borrower_id": borrower_id, "lender_id": lender_id},
            {"status": (status, LOAN_STATUSES)})
        if principal.role == "gas":
            from service.errors import Forbidden

            raise Forbidden("GAS users see loans through their guarantees")

        def read(conn: Connection) -> dict[str, Any]:
            query = select(loans)
            if borrower_id:
                query = query.where(loans.c.borrower_id == borrower_id)
            if lender_id:
                query = query.where(loans.c.lender_id == lender_id)
            if status:
                query = query.where(loans.c.status == status)
            if not principal.is_staff:
                query = query.where(loans.c.borrower_id == (principal.party_id or ""))
            rows, nxt = paginate(conn, query, loans.c.seq, limit, cursor)
            return page([lending.loan_with_state(conn, r, day, historical=True)
                         for r in rows], nxt)

        return ctx.read(read)

    @get("/{loan_id:str}", sync_to_thread=True)
    def get_loan(self, loan_id: str, ctx: AppContext, principal: Principal,
                 as_of: str | None = None) -> dict[str, Any]:
        lid = path_uuid(loan_id, "loan")
        day = query_date(as_of, "as_of") or date.today()
        return ctx.read(lambda conn: lending.loan_with_state(
            conn, visible_loan(conn, principal, lid), day, historical=True))

    @post("/{loan_id:str}/disbursement", sync_to_thread=True, status_code=200)
    def disburse(self, loan_id: str, data: DisbursementIn, ctx: AppContext,
                 principal: Principal) -> Response[Any]:
        lid = path_uuid(loan_id, "loan")
        errors = Errors()
        op_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        on = parse_date(data.date, "date", errors)
        errors.raise_if_any()
        assert on is not None

        def action(conn: Connection) -> tuple[int, Any]:
            row = visible_loan(conn, principal, lid, lock=True)
            principal.require("officer")

            def run() -> tuple[int, Any]:
                row2 = disburse_loan(conn, ctx, row, op_id, on, principal.username)
                return 200, lending.loan_with_state(conn, row2, max(on, date.today()))

            return once(conn, data.id, f"POST /api/loans/{lid}/disbursement", data,
                        principal.username, run)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @post("/{loan_id:str}/repayments", sync_to_thread=True, status_code=200)
    def repay(self, loan_id: str, data: RepaymentIn, ctx: AppContext, principal: Principal
              ) -> Response[Any]:
        lid = path_uuid(loan_id, "loan")
        errors = Errors()
        op_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        amount = money_minor(data.amount, "amount", errors)
        on = parse_date(data.date, "date", errors)
        if data.early_repayment not in ("term", "shorten_term"):
            errors.add("early_repayment", "either 'term' or 'shorten_term'")
        errors.raise_if_any()
        assert on is not None

        def action(conn: Connection) -> tuple[int, Any]:
            row = visible_loan(conn, principal, lid, lock=True)
            principal.require("officer")

            def run() -> tuple[int, Any]:
                allocation, row2 = record_payment(
                    conn, ctx, row, op_id, amount, on, principal.username,
                    kind="repayment", params={"early_repayment": data.early_repayment})
                return 200, {"allocation": allocation,
                             "loan": lending.loan_with_state(conn, row2, max(on, date.today()))}

            return once(conn, data.id, f"POST /api/loans/{lid}/repayments", data,
                        principal.username, run)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @post("/{loan_id:str}/reschedule", sync_to_thread=True, status_code=200)
    def reschedule(self, loan_id: str, data: RescheduleIn, ctx: AppContext,
                   principal: Principal) -> Response[Any]:
        lid = path_uuid(loan_id, "loan")
        errors = Errors()
        op_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        on = parse_date(data.date, "date", errors)
        if data.added_grace_periods < 0:
            errors.add("added_grace_periods", "must not be negative")
        if data.new_periods is not None and data.new_periods < 1:
            errors.add("new_periods", "must be positive")
        if data.method is not None and data.method not in METHODS:
            errors.add("method", f"one of {', '.join(METHODS)}")
        if not data.note.strip():
            errors.add("note", "say why the loan is rescheduled")
        if data.added_grace_periods == 0 and data.new_periods is None and data.method is None:
            errors.add("added_grace_periods", "give added_grace_periods, new_periods or method")
        errors.raise_if_any()
        assert on is not None

        def action(conn: Connection) -> tuple[int, Any]:
            row = visible_loan(conn, principal, lid, lock=True)
            principal.require("officer")

            def run() -> tuple[int, Any]:
                if row.status != "active":
                    raise Conflict("loan_not_active", f"the loan is {row.status}")
                lending.record_event(
                    conn, event_id=op_id, loan_id=row.id, kind="restructuring", on=on,
                    params={"added_grace_periods": data.added_grace_periods,
                            "new_periods": data.new_periods, "method": data.method},
                    note=data.note, username=principal.username)
                try:
                    state = lending.rebook(conn, store_of(ctx), row, op_id)
                except (TermsError, ValueError) as exc:
                    raise invalid("date", str(exc)) from None
                conn.execute(update(loans).where(loans.c.id == row.id)
                             .values(restructured=True))
                row2 = lending.refresh_status(conn, lending.get_loan(conn, row.id), state)
                return 200, lending.loan_with_state(conn, row2, max(on, date.today()))

            return once(conn, data.id, f"POST /api/loans/{lid}/reschedule", data,
                        principal.username, run)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @post("/{loan_id:str}/write-off", sync_to_thread=True, status_code=200)
    def write_off(self, loan_id: str, data: WriteOffIn, ctx: AppContext,
                  principal: Principal) -> Response[Any]:
        lid = path_uuid(loan_id, "loan")
        errors = Errors()
        op_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        on = parse_date(data.date, "date", errors)
        if not data.note.strip():
            errors.add("note", "say why the loan is written off")
        errors.raise_if_any()
        assert on is not None

        def action(conn: Connection) -> tuple[int, Any]:
            row = visible_loan(conn, principal, lid, lock=True)
            principal.require("officer")

            def run() -> tuple[int, Any]:
                if row.status != "active":
                    raise Conflict("loan_not_active", f"the loan is {row.status}")
                if on < (row.disbursed_on or row.disbursement_date):
                    raise invalid("date", "before the disbursement")
                lending.record_event(conn, event_id=op_id, loan_id=row.id, kind="write_off",
                                     on=on, note=data.note, username=principal.username)
                conn.execute(update(loans).where(loans.c.id == row.id)
                             .values(status="written_off", written_off_on=on))
                row2 = lending.get_loan(conn, row.id)
                lending.rebook(conn, store_of(ctx), row2, op_id)
                return 200, lending.loan_with_state(conn, row2, max(on, date.today()))

            return once(conn, data.id, f"POST /api/loans/{lid}/write-off", data,
                        principal.username, run)

        status, body = ctx.write(action)
        return Response(body, status_code=status)


def create_loan_row(conn: Connection, ctx: AppContext, *, loan_id: str, borrower_id: str,
                    lender_id: str, pool_id: str | None, category_name: str,
                    request_id: str | None, terms: LoanTerms, username: str) -> Any:
    _party_of_kind(conn, borrower_id, "producer", "borrower_id")
    _party_of_kind(conn, lender_id, "lender", "lender_id")
    if request_id is not None:
        from service.requests_api import funding_requests  # it builds on this module

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
    ensure_accounts(conn, store_of(ctx), lending.loan_specs(row))
    return row


def disburse_loan(conn: Connection, ctx: AppContext, row: Any, op_id: str, on: date,
                  username: str) -> Any:
    row = lock_row(conn, loans, row.id)
    if row.status != "approved":
        raise Conflict("already_disbursed", f"the loan is already {row.status}")
    if row.first_due_date is not None and row.first_due_date <= on:
        raise invalid("date", "on or after the first due date of the terms")
    category = lending.get_category(conn, row.lender_id, row.category)
    if category is not None and category.min_coverage is not None:
        from service.instruments import coverage_value, covers

        if not covers(conn, row, category.min_coverage):
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
    from ledger import lending as postings

    transfers = postings.disbursement(op_id, accounts, row.principal_minor, on,
                                      f"loan:{row.id}")
    post_batch(conn, store_of(ctx), postings.close_chain(transfers), {
        accounts.pool: ("insufficient_funds",
                        "the pool has not enough money to disburse this loan")})
    events = lending.events_of(conn, row.id)
    lending.save_installments(conn, row, lending.loan_state(row, events), events)
    return row


def record_payment(conn: Connection, ctx: AppContext, row: Any, op_id: str, amount: int,
                   on: date, username: str, *, kind: str, payer_kind: str = "borrower",
                   payer_ref: str | None = None, params: dict[str, Any] | None = None,
                   prefix: list[Transfer] | None = None, note: str | None = None
                   ) -> tuple[dict[str, Any], Any]:
    """Record a payment towards the loan and book it (and any correction it causes).

    The loan's row is locked first: the booking is computed from every operation and
    transfer of the loan, which a concurrent payment must not change meanwhile."""
    row = lock_row(conn, loans, row.id)
    # A written-off loan still takes money: it is booked as recovery. A repaid loan
    # takes a payment dated before it was repaid (it was active then): the order in
    # which payments are entered must not change the result.
    if row.status not in ("active", "written_off") and not (
            row.status == "repaid" and on <= lending.repaid_on(conn, row)):
        raise Conflict("loan_not_active", f"the loan is {row.status}")
    if on < (row.disbursed_on or row.disbursement_date):
        raise invalid("date", "before the disbursement")
    lending.record_event(conn, event_id=op_id, loan_id=row.id, kind=kind, on=on,
                         amount=amount, payer_kind=payer_kind, payer_ref=payer_ref,
                         params=params, note=note, username=username)
    state = lending.rebook(conn, store_of(ctx), row, op_id, prefix or ())
    row = lending.refresh_status(conn, row, state)
    a = state.allocations.get(op_id)
    if a is None:  # after the write-off: recovery, up to the debt then; the rest excess
        recovery = state.recoveries.get(op_id, 0)
        allocation = {"penalty": money_out(0), "interest": money_out(0),
                      "principal": money_out(0), "excess": money_out(amount - recovery),
                      "recovery": money_out(recovery)}
    else:
        allocation = {"penalty": money_out(lending.cents(a.penalty)),
                      "interest": money_out(lending.cents(a.interest)),
                      "principal": money_out(lending.cents(a.principal)),
                      "excess": money_out(lending.cents(a.excess))}
    return allocation, row


HANDLERS = [PoolController, ShareController, CategoryController, LoanController]
