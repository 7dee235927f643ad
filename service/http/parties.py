"""Parties (GAS, producers, lenders, DES, people) and who buys from whom, over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, patch, post
from litestar.params import Body, FromPath, FromQuery, JSONBody

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

_TEXT_OR_NULL = {"type": ["string", "null"]}
# A merge patch is read as a JSON object (so that every bad field is named at once, and
# an absent field differs from a null one); its shape is documented here.
PartyPatch = Annotated[dict[str, Any], Body(
    title="PartyPatch",
    description="JSON merge patch of a party: the fields given change, `null` clears one.",
    schema_extra={
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "iban": _TEXT_OR_NULL, "municipality": _TEXT_OR_NULL,
            "province": _TEXT_OR_NULL,
            "latitude": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
            "longitude": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
            "households": {"type": ["integer", "null"], "minimum": 1},
            "categories": {"type": ["array", "null"], "items": {"type": "string"}},
            "email": {**_TEXT_OR_NULL, "format": "email"},
            "phone": {**_TEXT_OR_NULL, "description": "Italian or international; "
                      "answered in E.164 (+390212345678)"},
            "pec": {**_TEXT_OR_NULL, "format": "email"},
            "address": _TEXT_OR_NULL,
            "postal_code": {**_TEXT_OR_NULL, "pattern": "^[0-9]{5}$"},
        }})]


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

    @patch("/{party_id:str}", sync_to_thread=True, responses=responses(*BODY, 403, 404),
           description="A JSON merge patch (RFC 7396; `application/merge-patch+json` or "
           "`application/json`): officers change `name`, `iban`, `municipality`, "
           "`province`, `latitude`, `longitude`, `households`, `categories`, `email`, "
           "`phone`, `pec`, `address` and `postal_code`; a producer or GAS user only its "
           "own party's `email`, `phone`, `pec`, `address` and `postal_code` (any other "
           "field -> 403). `null` clears an optional field (`name` -> 422); `id` or a "
           "field no PATCH changes -> 422. Phones are answered in E.164. A patch that "
           "changes nothing answers 200 and records nothing.")
    def update_party(self, party_id: FromPath[str], data: PartyPatch,
                     ctx: Ctx, principal: User) -> PartyOut:
        return parties.update_party(ctx, principal, party_id, data)


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
