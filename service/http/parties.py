"""Parties (GAS, producers, lenders, DES, people) and who buys from whom, over HTTP."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from service.app import parties
from service.app.parties import (
    PartyIn,
    PartyKind,
    PartyOut,
    PartyPage,
    RelationshipIn,
    RelationshipOut,
    RelationshipPage,
)
from service.http.params import BODY, READ, Ctx, Limit, User, responses


class PartyController(Controller):
    path = "/api/parties"
    tags = ["parties"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, codes=("idempotency_conflict",)))
    def create_party(self, data: JSONBody[PartyIn], ctx: Ctx, principal: User
                     ) -> Response[PartyOut]:
        status, body = parties.create_party(ctx, principal, data)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True, responses=responses(422))
    def list_parties(self, ctx: Ctx, principal: User, kind: FromQuery[PartyKind | None] = None,
                     limit: Limit = None, cursor: FromQuery[str | None] = None) -> PartyPage:
        return parties.list_parties(ctx, principal, kind, limit, cursor)

    @get("/{party_id:str}", sync_to_thread=True, responses=responses(*READ))
    def get_party(self, party_id: FromPath[str], ctx: Ctx, principal: User) -> PartyOut:
        return parties.read_party(ctx, principal, party_id)


class RelationshipController(Controller):
    path = "/api/relationships"
    tags = ["parties"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201,
          responses=responses(*BODY, 403, codes=("idempotency_conflict",)))
    def create_relationship(self, data: JSONBody[RelationshipIn], ctx: Ctx, principal: User
                            ) -> Response[RelationshipOut]:
        status, body = parties.create_relationship(ctx, principal, data)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True, responses=responses(422))
    def list_relationships(self, ctx: Ctx, principal: User,
                           gas_id: FromQuery[str | None] = None,
                           producer_id: FromQuery[str | None] = None,
                           limit: Limit = None, cursor: FromQuery[str | None] = None
                           ) -> RelationshipPage:
        return parties.list_relationships(ctx, principal, gas_id, producer_id, limit, cursor)


HANDLERS = [PartyController, RelationshipController]
