"""Prepayments, their deliveries and closes, over HTTP."""

from __future__ import annotations

from typing import Annotated, get_args

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from service.app import prepayments
from service.app.prepayments import (
    CloseIn,
    DeliveredOut,
    DeliveryIn,
    DeliveryReversalOut,
    PrepaymentIn,
    PrepaymentOut,
    PrepaymentPage,
    PrepaymentStatus,
)
from service.app.reversals import ReversalIn
from service.http.params import BODY, Ctx, Limit, User, responses

# Checked by the use case, so a bad status and a bad id are named in one 422.
StatusFilter = Annotated[str | None, QueryParameter(
    schema_extra={"enum": list(get_args(PrepaymentStatus))})]


class PrepaymentController(Controller):
    path = "/api/prepayments"
    tags = ["prepayments"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, 404, 409, codes=(
              "idempotency_conflict", "period_closed")))
    def create(self, data: JSONBody[PrepaymentIn], ctx: Ctx, principal: User
               ) -> Response[PrepaymentOut]:
        status, body = prepayments.open_prepayment(ctx, principal, data)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True, responses=responses(422))
    def list_prepayments(self, ctx: Ctx, principal: User,
                         producer_id: FromQuery[str | None] = None,
                         gas_id: FromQuery[str | None] = None,
                         status: StatusFilter = None,
                         product: FromQuery[str | None] = None, limit: Limit = None,
                         cursor: FromQuery[str | None] = None,
                         reference: FromQuery[str | None] = None) -> PrepaymentPage:
        return prepayments.list_prepayments(ctx, principal, producer_id, gas_id, status,
                                            product, limit, cursor, reference)

    @get("/{prepayment_id:str}", sync_to_thread=True, responses=responses(404))
    def get_prepayment(self, prepayment_id: FromPath[str], ctx: Ctx, principal: User
                       ) -> PrepaymentOut:
        return prepayments.read_prepayment(ctx, principal, prepayment_id)

    @post("/{prepayment_id:str}/deliveries", sync_to_thread=True, status_code=200,
          responses=responses(*BODY, 404, 409, codes=(
              "idempotency_conflict", "closed", "exceeds_prepayment", "period_closed")))
    def deliver(self, prepayment_id: FromPath[str], data: JSONBody[DeliveryIn], ctx: Ctx,
                principal: User) -> Response[DeliveredOut]:
        status, body = prepayments.deliver(ctx, principal, prepayment_id, data)
        return Response(body, status_code=status)

    @post("/{prepayment_id:str}/deliveries/{delivery_id:str}/reversal", sync_to_thread=True,
          status_code=200, responses=responses(*BODY, 404, 409, codes=(
              "idempotency_conflict", "already_reversed", "closed", "period_closed")),
          description="Reverse a delivery recorded by mistake (whoever may record one): "
          "its value is owed in goods again, from its date; not on a closed prepayment.")
    def reverse_delivery(self, prepayment_id: FromPath[str], delivery_id: FromPath[str],
                         data: JSONBody[ReversalIn], ctx: Ctx, principal: User
                         ) -> DeliveryReversalOut:
        return prepayments.reverse_delivery(ctx, principal, prepayment_id, delivery_id,
                                            data)[1]

    @post("/{prepayment_id:str}/close", sync_to_thread=True, status_code=200,
          responses=responses(*BODY, 403, 404, 409, codes=(
              "idempotency_conflict", "closed", "period_closed")))
    def close(self, prepayment_id: FromPath[str], data: JSONBody[CloseIn], ctx: Ctx,
              principal: User) -> Response[PrepaymentOut]:
        status, body = prepayments.close_prepayment(ctx, principal, prepayment_id, data)
        return Response(body, status_code=status)


HANDLERS = [PrepaymentController]
