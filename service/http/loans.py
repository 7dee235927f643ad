"""HTTP for pools, deposits, member shares, loan categories and loans."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from litestar import Controller, Response, delete, get, post, put
from sqlalchemy import Connection, insert, select, update

from ledger.chart import account, account_id, leg_id
from ledger.schedules import FREQUENCIES, METHODS, TermsError
from ledger.transfers import Transfer
from service.app import lending
from service.app.auth import Principal
from service.app.common import (
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
from service.app.context import AppContext
from service.app.errors import Conflict, Errors, Forbidden, NotFound, invalid
from service.app.idempotency import once
from service.app.ledger_ops import ensure_accounts
from service.app.ledger_ops import post as post_batch
from service.app.lending import record_payment
from service.app.loans import (
    LOAN_STATUSES,
    CategoryIn,
    DepositIn,
    DisbursementIn,
    LoanIn,
    MatchRuleIn,
    PoolIn,
    RepaymentIn,
    RescheduleIn,
    ShareIn,
    TermsIn,
    WriteOffIn,
    _lender_in_path,
    _party_of_kind,
    create_loan_row,
    disburse_loan,
    match_rule_json,
    parse_rate,
    parse_terms,
    pool_json,
    share_json,
    simulation_json,
    visible_loan,
)
from service.app.parties import refuse_acting_for
from service.db.tables import loans, match_rules, pools, shares


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
                row = lending.create_pool(conn, ctx.store, pool_id=pool_id,
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
                dep = lending.deposit(conn, ctx.store, op_id=op_id, pool_row=row,
                                      amount=amount, on=on, note=data.note,
                                      username=principal.username)
                return 201, {"id": dep.id, "pool_id": dep.pool_id,
                             "amount": money_out(dep.amount_minor), "date": dep.date.isoformat(),
                             "note": dep.note, "created_at": rfc3339(dep.created_at)}

            return once(conn, data.id, f"POST /api/pools/{pid}/deposits", data,
                        principal.username, create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)


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
                store = ctx.store
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
                 as_of: str | None = None) -> lending.LoanOut:
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
                    state = lending.rebook(conn, ctx.store, row, op_id)
                except (TermsError, ValueError) as exc:
                    raise invalid("date", str(exc)) from None
                conn.execute(update(loans).where(loans.c.id == row.id)
                             .values(restructured=True))
                row2 = lending.refresh_status(conn, ctx.events, lending.get_loan(conn, row.id),
                                                state)
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
                lending.rebook(conn, ctx.store, row2, op_id)
                return 200, lending.loan_with_state(conn, row2, max(on, date.today()))

            return once(conn, data.id, f"POST /api/loans/{lid}/write-off", data,
                        principal.username, run)

        status, body = ctx.write(action)
        return Response(body, status_code=status)


HANDLERS = [PoolController, ShareController, CategoryController, LoanController]
