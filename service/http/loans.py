"""Pools, deposits, match rules, member shares, loan categories and loans, over HTTP."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from service.app import arrears, categories, loans, pools, shares, terms
from service.app.arrears import ArrearsPage
from service.app.categories import CategoryIn, CategoryOut
from service.app.lending import LoanOut
from service.app.loans import (
    LOAN_STATUSES,
    DisbursementIn,
    LoanIn,
    LoanPage,
    RepaymentIn,
    RepaymentOut,
    RepaymentPage,
    RepaymentReversalOut,
    RescheduleIn,
    WriteOffIn,
)
from service.app.pools import (
    DepositIn,
    DepositOut,
    MatchRuleIn,
    MatchRuleOut,
    PoolIn,
    PoolOut,
    PoolPage,
)
from service.app.reversals import ReversalIn
from service.app.shares import ShareIn, ShareOut, SharePage
from service.app.terms import SimulationOut, TermsIn
from service.http.params import BODY, READ, Ctx, Limit, User, responses

# The use case answers a value outside the list with its own 422 naming ``status``; the
# enum documents the values without Litestar refusing first in other words.
LoanStatusQuery = Annotated[str | None, QueryParameter(enum=LOAN_STATUSES)]

BoolQuery = Annotated[str | None, QueryParameter(enum=("true", "false"))]

REPLAY = ("idempotency_conflict",)
# What a command on an existing loan can be refused with (the loan is named in the path).
ON_LOAN = (*BODY, 403, 404, 409)


class PoolController(Controller):
    path = "/api/pools"
    tags = ["lending"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, 404, 409, codes=REPLAY))
    def create_pool(self, data: JSONBody[PoolIn], ctx: Ctx, principal: User
                    ) -> Response[PoolOut]:
        status, body = pools.create_pool(ctx, principal, data)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True, responses=responses(403, 422))
    def list_pools(self, ctx: Ctx, principal: User, lender_id: FromQuery[str | None] = None,
                   limit: Limit = None, cursor: FromQuery[str | None] = None) -> PoolPage:
        return pools.list_pools(ctx, principal, lender_id, limit, cursor)

    @get("/{pool_id:str}", sync_to_thread=True, responses=responses(404))
    def get_pool(self, pool_id: FromPath[str], ctx: Ctx, principal: User) -> PoolOut:
        return pools.read_pool(ctx, principal, pool_id)

    @put("/{pool_id:str}/match-rule", sync_to_thread=True, responses=responses(*BODY, 404))
    def set_match_rule(self, pool_id: FromPath[str], data: JSONBody[MatchRuleIn], ctx: Ctx,
                       principal: User) -> MatchRuleOut:
        return pools.set_match_rule(ctx, principal, pool_id, data)

    @get("/{pool_id:str}/match-rule", sync_to_thread=True, responses=responses(404))
    def get_match_rule(self, pool_id: FromPath[str], ctx: Ctx, principal: User
                       ) -> MatchRuleOut:
        return pools.read_match_rule(ctx, principal, pool_id)

    @delete("/{pool_id:str}/match-rule", sync_to_thread=True, status_code=204,
            responses=responses(404))
    def delete_match_rule(self, pool_id: FromPath[str], ctx: Ctx, principal: User) -> None:
        pools.delete_match_rule(ctx, principal, pool_id)

    @post("/{pool_id:str}/deposits", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 404, 409, codes=(*REPLAY, "period_closed")))
    def deposit(self, pool_id: FromPath[str], data: JSONBody[DepositIn], ctx: Ctx,
                principal: User) -> Response[DepositOut]:
        status, body = pools.deposit_into_pool(ctx, principal, pool_id, data)
        return Response(body, status_code=status)


class ShareController(Controller):
    path = "/api/shares"
    tags = ["lending"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, 404, 409, codes=(*REPLAY, "period_closed")))
    def subscribe(self, data: JSONBody[ShareIn], ctx: Ctx, principal: User
                  ) -> Response[ShareOut]:
        status, body = shares.subscribe_share(ctx, principal, data)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True, responses=responses(403, 422))
    def list_shares(self, ctx: Ctx, principal: User, member_id: FromQuery[str | None] = None,
                    lender_id: FromQuery[str | None] = None, limit: Limit = None,
                    cursor: FromQuery[str | None] = None) -> SharePage:
        return shares.list_shares(ctx, principal, member_id, lender_id, limit, cursor)


class CategoryController(Controller):
    path = "/api/lenders/{lender_id:str}/categories"
    tags = ["lending"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @put("/{name:str}", sync_to_thread=True, responses=responses(*BODY, 403, 404))
    def set_category(self, lender_id: FromPath[str], name: FromPath[str],
                     data: JSONBody[CategoryIn], ctx: Ctx, principal: User) -> CategoryOut:
        return categories.set_category(ctx, principal, lender_id, name, data)

    @get("/{name:str}", sync_to_thread=True, responses=responses(404))
    def get_category(self, lender_id: FromPath[str], name: FromPath[str], ctx: Ctx,
                     principal: User) -> CategoryOut:
        return categories.read_category(ctx, principal, lender_id, name)


class LoanController(Controller):
    path = "/api/loans"
    tags = ["loans"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/simulate", sync_to_thread=True, status_code=200, responses=responses(*BODY))
    def simulate(self, data: JSONBody[TermsIn], principal: User) -> SimulationOut:
        # Anyone signed in may simulate: the caller is named only to require a sign-in.
        return terms.simulate_loan(data)

    @post("/", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, 404, 409, codes=(
              *REPLAY, "loan_limit_exceeded", "usury_threshold_exceeded")))
    def create_loan(self, data: JSONBody[LoanIn], ctx: Ctx, principal: User
                    ) -> Response[LoanOut]:
        status, body = loans.create_loan(ctx, principal, data)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True, responses=responses(403, 422))
    def list_loans(self, ctx: Ctx, principal: User, borrower_id: FromQuery[str | None] = None,
                   status: LoanStatusQuery = None, lender_id: FromQuery[str | None] = None,
                   as_of: FromQuery[str | None] = None, limit: Limit = None,
                   cursor: FromQuery[str | None] = None,
                   reference: FromQuery[str | None] = None,
                   overdue: BoolQuery = None,
                   min_days_past_due: FromQuery[str | None] = None) -> LoanPage:
        return loans.list_loans(ctx, principal, borrower_id, status, lender_id, as_of, limit,
                                cursor, reference=reference, overdue=overdue,
                                min_days_past_due=min_days_past_due)

    @get("/{loan_id:str}", sync_to_thread=True, responses=responses(*READ))
    def get_loan(self, loan_id: FromPath[str], ctx: Ctx, principal: User,
                 as_of: FromQuery[str | None] = None) -> LoanOut:
        return loans.read_loan(ctx, principal, loan_id, as_of)

    @post("/{loan_id:str}/disbursement", sync_to_thread=True, status_code=200,
          responses=responses(*ON_LOAN, codes=(
              *REPLAY, "already_disbursed", "coverage_below_minimum", "insufficient_funds",
              "period_closed")))
    def disburse(self, loan_id: FromPath[str], data: JSONBody[DisbursementIn], ctx: Ctx,
                 principal: User) -> Response[LoanOut]:
        status, body = loans.record_disbursement(ctx, principal, loan_id, data)
        return Response(body, status_code=status)

    @post("/{loan_id:str}/repayments", sync_to_thread=True, status_code=200,
          responses=responses(*ON_LOAN, codes=(*REPLAY, "loan_not_active",
                                               "insufficient_funds", "period_closed")))
    def repay(self, loan_id: FromPath[str], data: JSONBody[RepaymentIn], ctx: Ctx,
              principal: User) -> Response[RepaymentOut]:
        status, body = loans.record_repayment(ctx, principal, loan_id, data)
        return Response(body, status_code=status)

    @get("/{loan_id:str}/repayments", sync_to_thread=True, responses=responses(*READ))
    def list_repayments(self, loan_id: FromPath[str], ctx: Ctx, principal: User,
                        reference: FromQuery[str | None] = None, limit: Limit = None,
                        cursor: FromQuery[str | None] = None) -> RepaymentPage:
        return loans.list_repayments(ctx, principal, loan_id, reference, limit, cursor)

    @post("/{loan_id:str}/repayments/{repayment_id:str}/reversal", sync_to_thread=True,
          status_code=200, responses=responses(*ON_LOAN, codes=(
              *REPLAY, "already_reversed", "insufficient_funds", "exceeds_capacity",
              "period_closed")),
          description="Reverse a repayment recorded by mistake (officers): from its value "
          "date it counts as never recorded. A loan it had repaid is active again: the "
          "guarantees released at that payoff pledge again (`exceeds_capacity` when a "
          "guarantor's capacity is gone) and a closed request is funded again.")
    def reverse_repayment(self, loan_id: FromPath[str], repayment_id: FromPath[str],
                          data: JSONBody[ReversalIn], ctx: Ctx, principal: User
                          ) -> RepaymentReversalOut:
        return loans.reverse_repayment(ctx, principal, loan_id, repayment_id, data)[1]

    @post("/{loan_id:str}/reschedule", sync_to_thread=True, status_code=200,
          responses=responses(*ON_LOAN, codes=(*REPLAY, "loan_not_active",
                                               "insufficient_funds", "period_closed")))
    def reschedule(self, loan_id: FromPath[str], data: JSONBody[RescheduleIn], ctx: Ctx,
                   principal: User) -> Response[LoanOut]:
        status, body = loans.reschedule_loan(ctx, principal, loan_id, data)
        return Response(body, status_code=status)

    @post("/{loan_id:str}/write-off", sync_to_thread=True, status_code=200,
          responses=responses(*ON_LOAN, codes=(*REPLAY, "loan_not_active",
                                               "insufficient_funds", "period_closed")))
    def write_off(self, loan_id: FromPath[str], data: JSONBody[WriteOffIn], ctx: Ctx,
                  principal: User) -> Response[LoanOut]:
        status, body = loans.write_off_loan(ctx, principal, loan_id, data)
        return Response(body, status_code=status)


class ArrearsController(Controller):
    path = "/api/arrears"
    tags = ["loans"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get("/", sync_to_thread=True, responses=responses(403, 422))
    def list_arrears(self, ctx: Ctx, principal: User, as_of: FromQuery[str | None] = None,
                     lender_id: FromQuery[str | None] = None,
                     include_written_off: BoolQuery = None, limit: Limit = None,
                     cursor: FromQuery[str | None] = None) -> ArrearsPage:
        """Loans late as of ``as_of`` (officers), most days late first, with guarantors."""
        return arrears.list_arrears(ctx, principal, as_of, lender_id, include_written_off,
                                    limit, cursor)


HANDLERS = [PoolController, ShareController, CategoryController, LoanController,
            ArrearsController]
