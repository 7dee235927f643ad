"""Solidarity funds, contributions and payouts, over HTTP."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from service.app import funds
from service.app.funds import (
    ContributionIn,
    ContributionOut,
    ContributionPage,
    ContributionReversalOut,
    FundIn,
    FundOut,
    FundPage,
    PayoutIn,
    PayoutOut,
    PayoutPage,
    PayoutReversalOut,
)
from service.app.reversals import ReversalIn
from service.http.params import BODY, READ, Ctx, Limit, User, responses

# A reversal: the item named in the path, by whoever may record it, once.
REVERSAL = responses(*BODY, 403, 404, 409, codes=(
    "idempotency_conflict", "already_reversed", "insufficient_funds", "period_closed"))


class ContributionController(Controller):
    path = "/api/contributions"
    tags = ["funds"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, 404, 409, codes=(
              "idempotency_conflict", "period_closed")))
    def contribute(self, data: JSONBody[ContributionIn], ctx: Ctx, principal: User
                   ) -> Response[ContributionOut]:
        status, body = funds.contribute_to_fund(ctx, principal, data)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True, responses=responses(422))
    def list_contributions(self, ctx: Ctx, principal: User,
                           gas_id: FromQuery[str | None] = None,
                           fund_id: FromQuery[str | None] = None, limit: Limit = None,
                           cursor: FromQuery[str | None] = None,
                           reference: FromQuery[str | None] = None) -> ContributionPage:
        return funds.list_contributions(ctx, principal, gas_id, fund_id, limit, cursor,
                                        reference)

    @post("/{contribution_id:str}/reversal", sync_to_thread=True, status_code=200,
          responses=responses(*BODY, 403, 404, 409, codes=(
              "idempotency_conflict", "already_reversed", "insufficient_funds", "closed",
              "period_closed")),
          description="Reverse a contribution recorded by mistake (officers, or the "
          "contributing GAS's user): it counts as never made, from its date; refused "
          "when the fund would be short on any day since (its money was paid out).")
    def reverse_contribution(self, contribution_id: FromPath[str], data: JSONBody[ReversalIn],
                             ctx: Ctx, principal: User) -> ContributionReversalOut:
        return funds.reverse_contribution(ctx, principal, contribution_id, data)[1]


class FundController(Controller):
    path = "/api/funds"
    tags = ["funds"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get("/", sync_to_thread=True, responses=responses(422))
    def list_funds(self, ctx: Ctx, principal: User, gas_id: FromQuery[str | None] = None,
                   limit: Limit = None, cursor: FromQuery[str | None] = None,
                   as_of: FromQuery[str | None] = None) -> FundPage:
        return funds.list_funds(ctx, principal, gas_id, limit, cursor, as_of)

    @post("/", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, 409, codes=("idempotency_conflict",)))
    def create_fund(self, data: JSONBody[FundIn], ctx: Ctx, principal: User
                    ) -> Response[FundOut]:
        status, body = funds.open_shared_fund(ctx, principal, data)
        return Response(body, status_code=status)

    @get("/{fund_id:str}", sync_to_thread=True, responses=responses(404))
    def get_fund(self, fund_id: FromPath[str], ctx: Ctx, principal: User) -> FundOut:
        return funds.read_fund(ctx, principal, fund_id)

    @post("/{fund_id:str}/payouts", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, 404, 409, codes=(
              "idempotency_conflict", "insufficient_funds", "loan_not_active", "period_closed")))
    def payout(self, fund_id: FromPath[str], data: JSONBody[PayoutIn], ctx: Ctx,
               principal: User) -> Response[PayoutOut]:
        status, body = funds.pay_out(ctx, principal, fund_id, data)
        return Response(body, status_code=status)

    @get("/{fund_id:str}/payouts", sync_to_thread=True, responses=responses(*READ))
    def list_payouts(self, fund_id: FromPath[str], ctx: Ctx, principal: User,
                     limit: Limit = None, cursor: FromQuery[str | None] = None,
                     reference: FromQuery[str | None] = None) -> PayoutPage:
        return funds.list_payouts(ctx, principal, fund_id, limit, cursor, reference)

    @post("/{fund_id:str}/payouts/{payout_id:str}/reversal", sync_to_thread=True,
          status_code=200, responses=REVERSAL,
          description="Reverse a payout recorded by mistake (officers): a grant's money "
          "comes back into the fund, a loss cover's from the loan, which owes it again "
          "(the answer then carries the loan).")
    def reverse_payout(self, fund_id: FromPath[str], payout_id: FromPath[str],
                       data: JSONBody[ReversalIn], ctx: Ctx, principal: User
                       ) -> PayoutReversalOut:
        return funds.reverse_payout(ctx, principal, fund_id, payout_id, data)[1]


HANDLERS = [ContributionController, FundController]
