"""Parties (GAS, producers, lenders, DES, people) and who buys from whom."""

from __future__ import annotations

import uuid
from typing import Any, Literal, NoReturn, get_args

import msgspec
from sqlalchemy import Connection, Text, cast, insert, or_, select
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.it import codicefiscale, iva

from service.app.auth import Principal
from service.app.commands import command
from service.app.common import (
    MoneyIn,
    check_filters,
    check_uuid,
    money_minor,
    now_utc,
    paginate,
    parse_date,
    path_uuid,
    rfc3339,
)
from service.app.context import AppContext
from service.app.errors import Errors, Forbidden, NotFound, invalid
from service.app.events import Events, PartyCreated
from service.app.types import Day, Timestamp, Uuid
from service.app.views import Money, money
from service.db.tables import parties, relationships

PartyKind = Literal["gas", "producer", "lender", "des", "person"]
PARTY_KINDS: tuple[str, ...] = get_args(PartyKind)


GUARANTOR_KINDS = ("gas", "person", "producer")


class PartyIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    name: str
    id: str | None = None
    tax_code: str | None = None
    vat_number: str | None = None
    iban: str | None = None
    municipality: str | None = None
    province: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    households: int | None = None
    categories: list[str] | None = None
    gas_ids: list[str] | None = None  # person: the GAS it belongs to


class RelationshipIn(msgspec.Struct, forbid_unknown_fields=True):
    gas_id: str
    producer_id: str
    since: str
    annual_purchases: MoneyIn
    id: str | None = None
    households_buying: int | None = None


class PartyOut(msgspec.Struct):
    id: Uuid
    kind: PartyKind
    name: str
    tax_code: str | None
    vat_number: str | None
    iban: str | None
    municipality: str | None
    province: str | None
    # Coordinates are not money: JSON numbers, as the contract says.
    latitude: float | None
    longitude: float | None
    households: int | None
    categories: list[str] | None
    gas_ids: list[Uuid] | None
    created_at: Timestamp


class PartyPage(msgspec.Struct):
    items: list[PartyOut]
    next_cursor: str | None


class RelationshipOut(msgspec.Struct):
    id: Uuid
    gas_id: Uuid
    producer_id: Uuid
    since: Day
    annual_purchases: Money
    households_buying: int | None
    created_at: Timestamp


class RelationshipPage(msgspec.Struct):
    items: list[RelationshipOut]
    next_cursor: str | None


def party_out(row: Any) -> PartyOut:
    return PartyOut(
        id=row.id, kind=row.kind, name=row.name, tax_code=row.tax_code,
        vat_number=row.vat_number, iban=row.iban, municipality=row.municipality,
        province=row.province, latitude=row.latitude, longitude=row.longitude,
        households=row.households, categories=row.categories,
        gas_ids=list(row.member_of) if row.member_of is not None else None,
        created_at=rfc3339(row.created_at) or "")


def relationship_out(row: Any) -> RelationshipOut:
    return RelationshipOut(
        id=row.id, gas_id=row.gas_id, producer_id=row.producer_id,
        since=row.since.isoformat(),
        annual_purchases=money(row.annual_purchases_minor, row.currency),
        households_buying=row.households_buying, created_at=rfc3339(row.created_at) or "")


def validate_party(data: PartyIn) -> dict[str, Any]:
    errors = Errors()
    party_id = check_uuid(data.id, "id", errors)
    if data.kind not in PARTY_KINDS:
        errors.add("kind", f"must be one of {', '.join(PARTY_KINDS)}")
    name = data.name.strip()
    if not name or len(name) > 200:
        errors.add("name", "must be 1 to 200 characters")
    tax_code = vat = iban = None
    if data.tax_code is not None:
        try:
            tax_code = codicefiscale.validate(data.tax_code)
        except StdnumError as exc:
            errors.add("tax_code", f"not a valid codice fiscale: {exc}")
    if data.vat_number is not None:
        try:
            vat = iva.validate(data.vat_number)
        except StdnumError as exc:
            errors.add("vat_number", f"not a valid partita IVA: {exc}")
    if data.iban is not None:
        try:
            iban = stdnum_iban.validate(data.iban)
        except StdnumError as exc:
            errors.add("iban", f"not a valid IBAN: {exc}")
    province = data.province
    if province is not None:
        province = province.strip().upper()
        if len(province) != 2 or not province.isalpha():
            errors.add("province", "a two-letter province code such as 'MI'")
    if data.latitude is not None and not -90 <= data.latitude <= 90:
        errors.add("latitude", "must be between -90 and 90")
    if data.longitude is not None and not -180 <= data.longitude <= 180:
        errors.add("longitude", "must be between -180 and 180")
    if (data.latitude is None) != (data.longitude is None):
        errors.add("latitude" if data.latitude is None else "longitude",
                   "give both coordinates or neither")
    if data.households is not None:
        if data.kind != "gas":
            errors.add("households", "only a GAS has households")
        elif data.households < 1 or data.households > 100_000:
            errors.add("households", "must be a positive number of households")
    if data.categories is not None:
        if data.kind != "producer":
            errors.add("categories", "only a producer has product categories")
        for i, cat in enumerate(data.categories):
            if not cat.strip() or len(cat) > 64:
                errors.add(f"categories.{i}", "must be 1 to 64 characters")
    gas_ids: list[str] = []
    if data.gas_ids is not None:
        if data.kind != "person":
            errors.add("gas_ids", "only a person belongs to a GAS")
        for i, gid in enumerate(data.gas_ids):
            checked = check_uuid(gid, f"gas_ids.{i}", errors)
            if checked is not None and checked in gas_ids:
                errors.add(f"gas_ids.{i}", "listed twice")
            elif checked is not None:
                gas_ids.append(checked)
    errors.raise_if_any()
    return {
        "id": party_id or str(uuid.uuid4()),
        "kind": data.kind,
        "name": name,
        "tax_code": tax_code,
        "vat_number": vat,
        "iban": iban,
        "municipality": data.municipality.strip() if data.municipality else None,
        "province": province,
        "latitude": data.latitude,
        "longitude": data.longitude,
        "households": data.households,
        "categories": [c.strip() for c in data.categories] if data.categories else None,
        "member_of": gas_ids or None,
    }


def check_gas_ids(conn: Connection, gas_ids: list[str] | None) -> None:
    """422 naming ``gas_ids.N`` for each id that is not a GAS."""
    if not gas_ids:
        return
    found = set(conn.execute(select(parties.c.id).where(
        parties.c.id.in_(gas_ids), parties.c.kind == "gas")).scalars())
    errors = Errors()
    for i, gid in enumerate(gas_ids):
        if gid not in found:
            errors.add(f"gas_ids.{i}", "no GAS with this id")
    errors.raise_if_any()


def insert_party(conn: Connection, events: Events, values: dict[str, Any],
                 username: str | None) -> Any:
    conn.execute(insert(parties).values(**values, created_at=now_utc(), created_by=username))
    row = conn.execute(select(parties).where(parties.c.id == values["id"])).one()
    events.emit(conn, PartyCreated(row, username))
    return row


def get_party(conn: Connection, party_id: str) -> Any | None:
    return conn.execute(select(parties).where(parties.c.id == party_id)).first()


def related_party_ids(conn: Connection, party_id: str) -> set[str]:
    """The party itself, every party it buys from or sells to, and (for a GAS) the
    persons that belong to it."""
    rows = conn.execute(
        select(relationships.c.gas_id, relationships.c.producer_id).where(
            or_(relationships.c.gas_id == party_id, relationships.c.producer_id == party_id)))
    ids = {party_id}
    for gas_id, producer_id in rows:
        ids.update((gas_id, producer_id))
    ids.update(member_ids(conn, party_id))
    return ids


def member_ids(conn: Connection, gas_id: str) -> set[str]:
    """The persons whose ``member_of`` lists ``gas_id``."""
    # JSON containment differs between SQLite and PostgreSQL: match the quoted id in the
    # stored text to narrow the rows, then check the list itself.
    rows = conn.execute(select(parties.c.id, parties.c.member_of).where(
        parties.c.kind == "person", parties.c.member_of.is_not(None),
        cast(parties.c.member_of, Text).contains(f'"{gas_id}"', autoescape=True)))
    return {r.id for r in rows if gas_id in (r.member_of or ())}


def visible_party(conn: Connection, principal: Principal, party_id: str) -> Any:
    """The party row if the user may see it, else 404 (not found or not yours)."""
    row = get_party(conn, party_id)
    if row is None:
        raise NotFound("party")
    if not principal.is_staff and (
            principal.party_id is None
            or party_id not in related_party_ids(conn, principal.party_id)):
        raise NotFound("party")
    return row


def refuse_acting_for(conn: Connection, principal: Principal, party_id: str | None,
                      message: str) -> NoReturn:
    """The refusal for a user naming a party it may not act for: 404 when it may not
    even see that party (or there is none), else 403 with ``message``."""
    if party_id is not None:
        visible_party(conn, principal, party_id)
        raise Forbidden(message)
    raise NotFound("party")


# -- use cases ------------------------------------------------------------------------------


def create_party(ctx: AppContext, principal: Principal, data: PartyIn) -> tuple[int, PartyOut]:
    values = validate_party(data)
    principal.require("officer")

    def run(conn: Connection, _: None) -> tuple[int, PartyOut]:
        check_gas_ids(conn, values["member_of"])
        return 201, party_out(insert_party(conn, ctx.events, values, principal.username))

    return command(ctx, principal, "POST /api/parties", data, run, returns=PartyOut)


def list_parties(ctx: AppContext, principal: Principal, kind: str | None, limit: int | None,
                 cursor: str | None) -> PartyPage:
    if kind is not None and kind not in PARTY_KINDS:
        raise invalid("kind", f"must be one of {', '.join(PARTY_KINDS)}")

    def read(conn: Connection) -> PartyPage:
        query = select(parties)
        if kind:
            query = query.where(parties.c.kind == kind)
        if not principal.is_staff:
            visible = related_party_ids(conn, principal.party_id) if principal.party_id \
                else set()
            query = query.where(parties.c.id.in_(sorted(visible)))
        rows, nxt = paginate(conn, query, parties.c.seq, limit, cursor)
        return PartyPage([party_out(r) for r in rows], nxt)

    return ctx.read(read)


def read_party(ctx: AppContext, principal: Principal, party_id: str) -> PartyOut:
    pid = path_uuid(party_id, "party")
    return ctx.read(lambda conn: party_out(visible_party(conn, principal, pid)))


def create_relationship(ctx: AppContext, principal: Principal, data: RelationshipIn
                        ) -> tuple[int, RelationshipOut]:
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

    def run(conn: Connection, _: None) -> tuple[int, RelationshipOut]:
        gas = get_party(conn, str(gas_id))
        producer = get_party(conn, str(producer_id))
        if gas is None or gas.kind != "gas":
            raise invalid("gas_id", "no GAS with this id")
        if producer is None or producer.kind != "producer":
            raise invalid("producer_id", "no producer with this id")
        if (data.households_buying is not None and gas.households is not None
                and data.households_buying > gas.households):
            raise invalid("households_buying", f"the GAS has only {gas.households} households")
        exists = conn.execute(select(relationships.c.id).where(
            relationships.c.gas_id == gas_id, relationships.c.producer_id == producer_id)).first()
        if exists:
            raise invalid("producer_id",
                          f"relationship {exists.id} already links this GAS and producer")
        conn.execute(insert(relationships).values(
            id=rel_id, gas_id=gas_id, producer_id=producer_id, since=since,
            annual_purchases_minor=purchases, currency="EUR",
            households_buying=data.households_buying, created_at=now_utc(),
            created_by=principal.username))
        row = conn.execute(select(relationships).where(relationships.c.id == rel_id)).one()
        return 201, relationship_out(row)

    return command(ctx, principal, "POST /api/relationships", data, run,
                   returns=RelationshipOut)


def list_relationships(ctx: AppContext, principal: Principal, gas_id: str | None,
                       producer_id: str | None, limit: int | None, cursor: str | None
                       ) -> RelationshipPage:
    gas_id, producer_id = check_filters({"gas_id": gas_id, "producer_id": producer_id})

    def read(conn: Connection) -> RelationshipPage:
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
        return RelationshipPage([relationship_out(r) for r in rows], nxt)

    return ctx.read(read)
