"""Pledge capacities, guarantees, guarantee calls, releases and pledge reductions, over
HTTP."""

from __future__ import annotations

from typing import Annotated, get_args

from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from service.app import guarantees
from service.app.coverage import GuaranteeStatus
from service.app.guarantees import (
    CallIn,
    CallOut,
    CallPage,
    CallReversalOut,
    CapacityIn,
    CapacityOut,
    CommandIn,
    GuaranteeIn,
    GuaranteeOut,
    GuaranteePage,
    LoanGuaranteesOut,
)
from service.app.reversals import ReversalIn
from service.http.params import BODY, READ, Ctx, Limit, User, responses

# Checked by the use case, so a bad status and a bad id are named in one 422.
StatusFilter = Annotated[str | None, QueryParameter(
    schema_extra={"enum": list(get_args(GuaranteeStatus))})]


class PledgeCapacityController(Controller):
    path = "/api/parties/{party_id:str}/pledge-capacity"
    tags = ["guarantees"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @put("/", sync_to_thread=True,
         responses=responses(*BODY, 403, 404, 409, codes=("exceeds_capacity",)))
    def set_capacity(self, party_id: FromPath[str], data: JSONBody[CapacityIn], ctx: Ctx,
                     principal: User) -> CapacityOut:
        return guarantees.set_pledge_capacity(ctx, principal, party_id, data)

    @get("/", sync_to_thread=True, responses=responses(404))
    def get_capacity(self, party_id: FromPath[str], ctx: Ctx, principal: User) -> CapacityOut:
        return guarantees.read_pledge_capacity(ctx, principal, party_id)


class GuaranteeController(Controller):
    path = "/api/guarantees"
    tags = ["guarantees"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, 404, 409, codes=(
              "idempotency_conflict", "exceeds_capacity", "loan_not_active", "period_closed")))
    def create(self, data: JSONBody[GuaranteeIn], ctx: Ctx, principal: User
               ) -> Response[GuaranteeOut]:
        status, body = guarantees.sign_guarantee(ctx, principal, data)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True, responses=responses(422))
    def list_guarantees(self, ctx: Ctx, principal: User,
                        guarantor_id: FromQuery[str | None] = None,
                        loan_id: FromQuery[str | None] = None,
                        status: StatusFilter = None, limit: Limit = None,
                        cursor: FromQuery[str | None] = None,
                        reference: FromQuery[str | None] = None) -> GuaranteePage:
        return guarantees.list_guarantees(ctx, principal, guarantor_id, loan_id, status, limit,
                                          cursor, reference)

    @get("/{guarantee_id:str}", sync_to_thread=True, responses=responses(404))
    def get_guarantee(self, guarantee_id: FromPath[str], ctx: Ctx, principal: User
                      ) -> GuaranteeOut:
        return guarantees.read_guarantee(ctx, principal, guarantee_id)

    @post("/{guarantee_id:str}/release", sync_to_thread=True, status_code=200,
          responses=responses(*BODY, 403, 404, 409,
                              codes=("idempotency_conflict", "already_released", "period_closed")))
    def release(self, guarantee_id: FromPath[str], ctx: Ctx, principal: User,
                data: JSONBody[CommandIn | None] = None) -> Response[GuaranteeOut]:
        status, body = guarantees.release_guarantee(ctx, principal, guarantee_id, data)
        return Response(body, status_code=status)


class LoanGuaranteeController(Controller):
    path = "/api/loans/{loan_id:str}"
    tags = ["guarantees"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/guarantee-calls", sync_to_thread=True, status_code=200,
          responses=responses(*BODY, 403, 404, 409, codes=(
              "idempotency_conflict", "loan_not_active", "exceeds_capacity", "period_closed")))
    def call(self, loan_id: FromPath[str], data: JSONBody[CallIn], ctx: Ctx, principal: User
             ) -> Response[CallOut]:
        status, body = guarantees.call_guarantees(ctx, principal, loan_id, data)
        return Response(body, status_code=status)

    @get("/guarantee-calls", sync_to_thread=True, responses=responses(*READ),
         description="The loan's guarantee calls in the order recorded, reversed ones "
         "too (`reversed`); a GAS user sees the parts of its own guarantees only.")
    def list_calls(self, loan_id: FromPath[str], ctx: Ctx, principal: User,
                   limit: Limit = None, cursor: FromQuery[str | None] = None) -> CallPage:
        return guarantees.list_calls(ctx, principal, loan_id, limit, cursor)

    @post("/guarantee-calls/{call_id:str}/reversal", sync_to_thread=True, status_code=200,
          responses=responses(*BODY, 403, 404, 409, codes=(
              "idempotency_conflict", "already_reversed", "insufficient_funds",
              "exceeds_capacity", "period_closed")),
          description="Reverse a guarantee call recorded by mistake (officers): the loan "
          "owes again what it paid, from its date; the guarantors get their money back and "
          "pledge again what it called (refused when a guarantor's capacity is gone).")
    def reverse_call(self, loan_id: FromPath[str], call_id: FromPath[str],
                     data: JSONBody[ReversalIn], ctx: Ctx, principal: User) -> CallReversalOut:
        return guarantees.reverse_call(ctx, principal, loan_id, call_id, data)[1]

    @post("/guarantees/reduction", sync_to_thread=True, status_code=200,
          responses=responses(*BODY, 403, 404, 409,
                              codes=("idempotency_conflict", "loan_not_active", "period_closed")))
    def reduce(self, loan_id: FromPath[str], data: JSONBody[CommandIn], ctx: Ctx,
               principal: User) -> Response[LoanGuaranteesOut]:
        """Shrink the loan's active pledges in proportion to the principal repaid."""
        status, body = guarantees.reduce_pledges(ctx, principal, loan_id, data)
        return Response(body, status_code=status)

    @get("/guarantees", sync_to_thread=True, responses=responses(*READ))
    def loan_guarantees(self, loan_id: FromPath[str], ctx: Ctx, principal: User,
                        as_of: FromQuery[str | None] = None) -> LoanGuaranteesOut:
        return guarantees.read_loan_guarantees(ctx, principal, loan_id, as_of)


HANDLERS = [PledgeCapacityController, GuaranteeController, LoanGuaranteeController]
