"""Parties (GAS, producers, lenders, DES, people) and who buys from whom."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from sqlalchemy import Connection, insert, or_, select

from service.app.auth import Principal
from service.app.common import (
    check_filters,
    check_uuid,
    money_minor,
    now_utc,
    page,
    paginate,
    parse_date,
    path_uuid,
)
from service.app.context import AppContext
from service.app.errors import Errors, invalid
from service.app.idempotency import once
from service.app.parties import (
    PARTY_KINDS,
    PartyIn,
    RelationshipIn,
    check_gas_ids,
    get_party,
    insert_party,
    party_out,
    related_party_ids,
    relationship_out,
    validate_party,
    visible_party,
)
from service.db.tables import parties, relationships


class PartyController(Controller):
    path = "/api/parties"
    tags = ["parties"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201)
    def create_party(self, request: Request[Any, Any, Any], data: PartyIn,
                     ctx: AppContext, principal: Principal) -> Response[Any]:
        values = validate_party(data)
        principal.require("officer")

        def action(conn: Connection) -> tuple[int, Any]:
            def create() -> tuple[int, Any]:
                check_gas_ids(conn, values["member_of"])
                return 201, party_out(insert_party(conn, ctx.events, values,
                                                          principal.username))

            return once(conn, data.id, "POST /api/parties", data, principal.username, create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True)
    def list_parties(
        self, ctx: AppContext, principal: Principal,
        kind: str | None = None,
        limit: Annotated[int | None, Parameter(ge=1, le=500)] = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        if kind is not None and kind not in PARTY_KINDS:
            raise invalid("kind", f"must be one of {', '.join(PARTY_KINDS)}")

        def read(conn: Connection) -> dict[str, Any]:
            query = select(parties)
            if kind:
                query = query.where(parties.c.kind == kind)
            if not principal.is_staff:
                visible = related_party_ids(conn, principal.party_id) if principal.party_id \
                    else set()
                query = query.where(parties.c.id.in_(sorted(visible)))
            rows, nxt = paginate(conn, query, parties.c.seq, limit, cursor)
            return page([party_out(r) for r in rows], nxt)

        return ctx.read(read)

    @get("/{party_id:str}", sync_to_thread=True)
    def get_party(self, party_id: str, ctx: AppContext, principal: Principal
                  ) -> dict[str, Any]:
        pid = path_uuid(party_id, "party")
        return ctx.read(lambda conn: party_out(visible_party(conn, principal, pid)))


class RelationshipController(Controller):
    path = "/api/relationships"
    tags = ["parties"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @post("/", sync_to_thread=True, status_code=201)
    def create_relationship(self, data: RelationshipIn, ctx: AppContext,
                            principal: Principal) -> Response[Any]:
        errors = Errors()
        rel_id = check_uuid(data.id, "id", errors) or str(uuid.uuid4())
        gas_id = check_uuid(data.gas_id, "gas_id", errors)
        producer_id = check_uuid(data.producer_id, "producer_id", errors)
        since = parse_date(data.since, "since", errors)
        purchases = money_minor(data.annual_purchases, "annual_purchases", errors)
        if data.households_buying is not None and data.households_buying < 0:
            errors.add("households_buying", "must not be negative")
        errors.raise_if_any()
        principal.require("officer")

        def action(conn: Connection) -> tuple[int, Any]:
            def create() -> tuple[int, Any]:
                gas = get_party(conn, str(gas_id))
                producer = get_party(conn, str(producer_id))
                if gas is None or gas.kind != "gas":
                    raise invalid("gas_id", "no GAS with this id")
                if producer is None or producer.kind != "producer":
                    raise invalid("producer_id", "no producer with this id")
                if (data.households_buying is not None and gas.households is not None
                        and data.households_buying > gas.households):
                    raise invalid("households_buying",
                                  f"the GAS has only {gas.households} households")
                exists = conn.execute(select(relationships.c.id).where(
                    relationships.c.gas_id == gas_id,
                    relationships.c.producer_id == producer_id)).first()
                if exists:
                    raise invalid("producer_id",
                                  f"relationship {exists.id} already links this GAS and producer")
                conn.execute(insert(relationships).values(
                    id=rel_id, gas_id=gas_id, producer_id=producer_id, since=since,
                    annual_purchases_minor=purchases, currency="EUR",
                    households_buying=data.households_buying, created_at=now_utc(),
                    created_by=principal.username))
                row = conn.execute(
                    select(relationships).where(relationships.c.id == rel_id)).one()
                return 201, relationship_out(row)

            return once(conn, data.id, "POST /api/relationships", data, principal.username,
                        create)

        status, body = ctx.write(action)
        return Response(body, status_code=status)

    @get("/", sync_to_thread=True)
    def list_relationships(
        self, ctx: AppContext, principal: Principal,
        gas_id: str | None = None, producer_id: str | None = None,
        limit: int | None = None, cursor: str | None = None,
    ) -> dict[str, Any]:
        gas_id, producer_id = check_filters({"gas_id": gas_id, "producer_id": producer_id})

        def read(conn: Connection) -> dict[str, Any]:
            query = select(relationships)
            if gas_id:
                query = query.where(relationships.c.gas_id == gas_id)
            if producer_id:
                query = query.where(relationships.c.producer_id == producer_id)
            if not principal.is_staff:
                pid = principal.party_id or ""
                query = query.where(or_(relationships.c.gas_id == pid,
                                        relationships.c.producer_id == pid))
            rows, nxt = paginate(conn, query, relationships.c.seq, limit, cursor)
            return page([relationship_out(r) for r in rows], nxt)

        return ctx.read(read)


HANDLERS = [PartyController, RelationshipController]
