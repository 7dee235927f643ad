"""Parties (GAS, producers, lenders, DES, people) and who buys from whom."""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal, NoReturn, TypeVar, get_args

import msgspec
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, Text, cast, insert, or_, select, update
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.it import codicefiscale, iva

from service.app.audit_note import note_changes
from service.app.auth import Principal
from service.app.commands import command
from service.app.common import (
    MoneyIn,
    check_filters,
    check_uuid,
    now_utc,
    paginate,
    path_uuid,
    rfc3339,
    where_equal,
)
from service.app.context import AppContext
from service.app.errors import Errors, Forbidden, NotFound, invalid
from service.app.events import Events, PartyCreated
from service.app.inputs import Input, an_id, client_id, custom, day, minor_units, optional_whole
from service.app.types import Day, Timestamp, Uuid
from service.app.views import Money, money
from service.db.engine import relock
from service.db.records import Record
from service.db.tables import parties, relationships

PartyKind = Literal["gas", "producer", "lender", "des", "person"]
PARTY_KINDS: tuple[str, ...] = get_args(PartyKind)


GUARANTOR_KINDS = ("gas", "person", "producer")

V = TypeVar("V")
T = TypeVar("T")


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
    email: str | None = None
    phone: str | None = None  # Italian (+39 assumed) or international; kept in E.164
    pec: str | None = None  # posta elettronica certificata: an e-mail address
    address: str | None = None
    postal_code: str | None = None  # 5 digits (CAP)


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
    email: str | None
    phone: str | None  # E.164: +390212345678
    pec: str | None
    address: str | None
    postal_code: str | None
    created_at: Timestamp


class PartyPage(msgspec.Struct):
    items: list[PartyOut]
    next_cursor: str | None


class RelationshipOut(msgspec.Struct):
    id: Uuid
    gas_id: Uuid
    gas_name: str
    producer_id: Uuid
    producer_name: str
    since: Day
    annual_purchases: Money
    households_buying: int | None
    created_at: Timestamp


class RelationshipPage(msgspec.Struct):
    items: list[RelationshipOut]
    next_cursor: str | None


def party_out(row: Record) -> PartyOut:
    return PartyOut(
        id=row.id, kind=row.kind, name=row.name, tax_code=row.tax_code,
        vat_number=row.vat_number, iban=row.iban, municipality=row.municipality,
        province=row.province, latitude=row.latitude, longitude=row.longitude,
        households=row.households, categories=row.categories,
        gas_ids=list(row.member_of) if row.member_of is not None else None,
        email=row.email, phone=row.phone, pec=row.pec, address=row.address,
        postal_code=row.postal_code, created_at=rfc3339(row.created_at) or "")


def party_names(conn: Connection, ids: Iterable[str | None]) -> dict[str, str]:
    """The names of the parties ``ids`` names (None and unknown ids left out): what an
    answer shows beside each party id (``gas_id`` -> ``gas_name``)."""
    wanted = sorted({i for i in ids if i})
    names: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        names.update((r.id, r.name) for r in conn.execute(
            select(parties.c.id, parties.c.name).where(parties.c.id.in_(chunk))))
    return names


def name_of(names: Mapping[str, str], party_id: str | None) -> str | None:
    return names.get(party_id) if party_id else None


def relationship_out(row: Record, names: Mapping[str, str]) -> RelationshipOut:
    return RelationshipOut(
        id=row.id, gas_id=row.gas_id, gas_name=names.get(row.gas_id, ""),
        producer_id=row.producer_id, producer_name=names.get(row.producer_id, ""),
        since=row.since.isoformat(),
        annual_purchases=money(row.annual_purchases_minor, row.currency),
        households_buying=row.households_buying, created_at=rfc3339(row.created_at) or "")


# -- the fields of a party, checked one by one (a create and a PATCH alike) ------------------

CONTACT_FIELDS = ("email", "phone", "pec", "address", "postal_code")
# What a PATCH may change (officers); a producer or GAS user only its own contacts.
PATCHABLE = ("name", "iban", "municipality", "province", "latitude", "longitude",
             "households", "categories", *CONTACT_FIELDS)
_POSTAL_CODE = re.compile(r"[0-9]{5}")


def _email(value: str, field: str, errors: Errors) -> str | None:
    """Syntax only: nothing is looked up on the network."""
    try:
        return str(validate_email(value.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        errors.add(field, f"not a valid e-mail address: {exc}")
        return None


def _phone(value: str, field: str, errors: Errors) -> str | None:
    """E.164 of an Italian number (``+39`` assumed without a prefix) or an international
    one."""
    try:
        number = phonenumbers.parse(value, "IT")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        errors.add(field, "not a valid phone number: an Italian one, or an international "
                   "one with its + prefix")
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _name(value: str, field: str, errors: Errors) -> str | None:
    name = value.strip()
    if not name or len(name) > 200:
        errors.add(field, "must be 1 to 200 characters")
        return None
    return name


def _label(limit: int) -> Callable[[str, str, Errors], str | None]:
    def check(value: str, field: str, errors: Errors) -> str | None:
        text = value.strip()
        if len(text) > limit:
            errors.add(field, f"at most {limit} characters")
            return None
        return text or None
    return check


def _tax_code(value: str, field: str, errors: Errors) -> str | None:
    try:
        return str(codicefiscale.validate(value))
    except StdnumError as exc:
        errors.add(field, f"not a valid codice fiscale: {exc}")
        return None


def _vat_number(value: str, field: str, errors: Errors) -> str | None:
    try:
        return str(iva.validate(value))
    except StdnumError as exc:
        errors.add(field, f"not a valid partita IVA: {exc}")
        return None


def _iban(value: str, field: str, errors: Errors) -> str | None:
    try:
        return str(stdnum_iban.validate(value))
    except StdnumError as exc:
        errors.add(field, f"not a valid IBAN: {exc}")
        return None


def _province(value: str, field: str, errors: Errors) -> str | None:
    province = value.strip().upper()
    if len(province) != 2 or not province.isascii() or not province.isalpha():
        errors.add(field, "a two-letter province code such as 'MI'")
        return None
    return province


def _latitude(value: float, field: str, errors: Errors) -> float | None:
    if not -90 <= value <= 90:
        errors.add(field, "must be between -90 and 90")
        return None
    return float(value)


def _longitude(value: float, field: str, errors: Errors) -> float | None:
    if not -180 <= value <= 180:
        errors.add(field, "must be between -180 and 180")
        return None
    return float(value)


def _households(value: int, field: str, errors: Errors) -> int | None:
    if value < 1 or value > 100_000:
        errors.add(field, "must be a positive number of households")
        return None
    return value


def _categories(value: list[str], field: str, errors: Errors) -> list[str] | None:
    ok = True
    for i, cat in enumerate(value):
        if not cat.strip() or len(cat) > 64:
            errors.add(f"{field}.{i}", "must be 1 to 64 characters")
            ok = False
    return [c.strip() for c in value] if ok else None


def _postal_code(value: str, field: str, errors: Errors) -> str | None:
    code = value.strip()
    if not _POSTAL_CODE.fullmatch(code):
        errors.add(field, "a postal code (CAP) of 5 digits, such as '20121'")
        return None
    return code


def _address(value: str, field: str, errors: Errors) -> str | None:
    text = value.strip()
    if not text or len(text) > 200:
        errors.add(field, "must be 1 to 200 characters")
        return None
    return text


# Each check takes the field's own input type (text, number, list): called by name.
_CHECKS: dict[str, Callable[..., object]] = {
    "name": _name, "tax_code": _tax_code, "vat_number": _vat_number, "iban": _iban,
    "municipality": _label(100), "province": _province, "latitude": _latitude,
    "longitude": _longitude, "households": _households, "categories": _categories,
    "email": _email, "phone": _phone, "pec": _email, "address": _address,
    "postal_code": _postal_code,
}


def check_field(name: str, value: object, errors: Errors) -> object:
    """The stored form of ``value`` for field ``name`` (None stays None), or None after
    naming the field in ``errors``."""
    return None if value is None else _CHECKS[name](value, name, errors)


def check_kind_fields(kind: str, values: Mapping[str, object], errors: Errors) -> None:
    """What depends on the kind of party and on fields together (``values``: the party
    as it would be)."""
    if values.get("households") is not None and kind != "gas":
        errors.add("households", "only a GAS has households")
    if values.get("categories") is not None and kind != "producer":
        errors.add("categories", "only a producer has product categories")
    if (values.get("latitude") is None) != (values.get("longitude") is None):
        errors.add("latitude" if values.get("latitude") is None else "longitude",
                   "give both coordinates or neither")


def _kind(value: str, field: str, errors: Errors) -> str | None:
    if value not in PARTY_KINDS:
        errors.add(field, f"must be one of {', '.join(PARTY_KINDS)}")
        return None
    return value


def _given(check: Callable[[V, str, Errors], T | None]
           ) -> Callable[[V | None, str, Errors], T | None]:
    """A field's check for a field that may be left out (None then)."""
    def read(value: V | None, field: str, errors: Errors) -> T | None:
        return None if value is None else check(value, field, errors)
    return read


def _member_of(value: list[str] | None, field: str, errors: Errors) -> list[str] | None:
    """The GAS a person belongs to, each once (``gas_ids.N`` named); None: not given."""
    if value is None:
        return None
    gas_ids: list[str] = []
    for i, gid in enumerate(value):
        checked = check_uuid(gid, f"{field}.{i}", errors)
        if checked is not None and checked in gas_ids:
            errors.add(f"{field}.{i}", "listed twice")
        elif checked is not None:
            gas_ids.append(checked)
    return gas_ids


@dataclass(frozen=True, kw_only=True)
class NewParty(Input):
    """A party to create, each field in its stored form (the checks a PATCH makes too)."""

    id: str = client_id()
    kind: str = custom(_kind)
    name: str = custom(_name)
    tax_code: str | None = custom(_given(_tax_code))
    vat_number: str | None = custom(_given(_vat_number))
    iban: str | None = custom(_given(_iban))
    municipality: str | None = custom(_given(_label(100)))
    province: str | None = custom(_given(_province))
    latitude: float | None = custom(_given(_latitude))
    longitude: float | None = custom(_given(_longitude))
    households: int | None = custom(_given(_households))
    categories: list[str] | None = custom(_given(_categories))
    email: str | None = custom(_given(_email))
    phone: str | None = custom(_given(_phone))
    pec: str | None = custom(_given(_email))
    address: str | None = custom(_given(_address))
    postal_code: str | None = custom(_given(_postal_code))
    gas_ids: list[str] | None = custom(_member_of)

    def check(self, errors: Errors) -> None:
        # Judged on what was given: a field refused above was given all the same.
        given = {name: getattr(self, name) if self.read_fine(name) else True
                 for name in ("households", "categories", "latitude", "longitude")}
        check_kind_fields(self.kind, given, errors)
        if self.gas_ids is not None and self.kind != "person":
            errors.add("gas_ids", "only a person belongs to a GAS")

    def values(self) -> dict[str, object]:
        """The party's columns."""
        fields = ("name", "tax_code", "vat_number", "iban", "municipality", "province",
                  "latitude", "longitude", "households", "categories", *CONTACT_FIELDS)
        return {
            "id": self.id,
            "kind": self.kind,
            **{name: getattr(self, name) for name in fields},
            # An empty list of categories is kept as none, as before.
            "categories": self.categories or None,
            "member_of": self.gas_ids or None,
        }


def validate_party(data: PartyIn) -> dict[str, object]:
    return NewParty.read(data).values()


@dataclass(frozen=True, kw_only=True)
class NewRelationship(Input):
    id: str = client_id()
    gas_id: str = an_id()
    producer_id: str = an_id()
    since: date = day()
    annual_purchases: int = minor_units()
    households_buying: int | None = optional_whole(at_least=0, message="must not be negative")


_NUMBER = (int, float)


def _patch_type_error(name: str, value: object) -> str | None:
    """What is wrong with the JSON type of ``value`` for field ``name`` (None: fine)."""
    if value is None:
        return "required: it cannot be cleared" if name == "name" else None
    if name in ("latitude", "longitude"):
        ok = isinstance(value, _NUMBER) and not isinstance(value, bool)
        return None if ok else "expected a number"
    if name == "households":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "expected an integer"
    if name == "categories":
        ok = isinstance(value, list) and all(isinstance(c, str) for c in value)
        return None if ok else "expected a list of strings"
    return None if isinstance(value, str) else "expected a string"


def validate_patch(patch: object) -> dict[str, object]:
    """A JSON merge patch (RFC 7396) of a party: the fields it sets, in stored form
    (None clears). Every bad field is named at once; ``id`` and fields no PATCH changes
    are refused."""
    if not isinstance(patch, dict):
        raise invalid("", "a PATCH body is a JSON object (a merge patch)")
    errors = Errors()
    out: dict[str, object] = {}
    for name, value in patch.items():
        if name == "id":
            errors.add("id", "a party's id cannot be changed")
        elif name not in PATCHABLE:
            known = name in PartyOut.__struct_fields__
            errors.add(name, "cannot be changed" if known else "unknown field")
        elif (problem := _patch_type_error(name, value)) is not None:
            errors.add(name, problem)
        else:
            out[name] = check_field(name, value, errors)
    errors.raise_if_any()
    return out


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


def insert_party(conn: Connection, events: Events, values: Mapping[str, object],
                 username: str | None) -> Record:
    conn.execute(insert(parties).values(**values, created_at=now_utc(), created_by=username))
    row = conn.execute(select(parties).where(parties.c.id == values["id"])).one()
    events.emit(conn, PartyCreated(row, username))
    return row


def get_party(conn: Connection, party_id: str) -> Record | None:
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


def visible_party(conn: Connection, principal: Principal, party_id: str) -> Record:
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
        check_gas_ids(conn, typing.cast("list[str] | None", values["member_of"]))  # as validated
        return 201, party_out(insert_party(conn, ctx.events, values, principal.username))

    return command(ctx, principal, "POST /api/parties", data, run, returns=PartyOut)


def list_parties(ctx: AppContext, principal: Principal, kind: str | None, limit: int | None,
                 cursor: str | None) -> PartyPage:
    if kind is not None and kind not in PARTY_KINDS:
        raise invalid("kind", f"must be one of {', '.join(PARTY_KINDS)}")

    def read(conn: Connection) -> PartyPage:
        query = where_equal(select(parties), parties, kind=kind or None)
        if not principal.is_staff:
            visible = related_party_ids(conn, principal.party_id) if principal.party_id \
                else set()
            query = query.where(parties.c.id.in_(sorted(visible)))
        rows, nxt = paginate(conn, query, parties.c.seq, limit, cursor)
        return PartyPage([party_out(r) for r in rows], nxt)

    return ctx.read(read)


class PartyName(msgspec.Struct, frozen=True):
    id: str
    kind: str
    name: str


def list_party_names(ctx: AppContext, principal: Principal, kinds: Iterable[str]
                     ) -> list[PartyName]:
    """Id, kind and name of every party of ``kinds`` the user may see, by name: what a
    select of parties shows, without the rest of each party (a MAG has thousands)."""
    wanted = sorted(set(kinds))
    for kind in wanted:
        if kind not in PARTY_KINDS:
            raise invalid("kind", f"must be one of {', '.join(PARTY_KINDS)}")

    def read(conn: Connection) -> list[PartyName]:
        query = select(parties.c.id, parties.c.kind, parties.c.name).where(
            parties.c.kind.in_(wanted))
        if not principal.is_staff:
            visible = related_party_ids(conn, principal.party_id) if principal.party_id \
                else set()
            query = query.where(parties.c.id.in_(sorted(visible)))
        rows = conn.execute(query.order_by(parties.c.seq)).all()
        return sorted((PartyName(r.id, r.kind, r.name) for r in rows),
                      key=lambda p: p.name.casefold())

    return ctx.read(read)


def read_party(ctx: AppContext, principal: Principal, party_id: str) -> PartyOut:
    pid = path_uuid(party_id, "party")
    return ctx.read(lambda conn: party_out(visible_party(conn, principal, pid)))


def update_party(ctx: AppContext, principal: Principal, party_id: str,
                 patch: Mapping[str, object]) -> PartyOut:
    """``PATCH /api/parties/{id}``: officers change the fields in ``PATCHABLE``; a
    producer or GAS user only its own party's contacts (any other field -> 403). A patch
    that changes nothing answers the party as it is and records nothing."""
    pid = path_uuid(party_id, "party")
    changes = validate_patch(patch)

    def before(conn: Connection) -> None:
        visible_party(conn, principal, pid)
        if principal.is_staff:
            return None
        if principal.role not in ("producer", "gas") or principal.party_id != pid:
            raise Forbidden("officers change a party; a producer or GAS user only its "
                            "own party's contacts")
        others = sorted(set(changes) - set(CONTACT_FIELDS))
        if others:
            raise Forbidden(f"a {principal.role} user changes only its own party's "
                            f"{', '.join(CONTACT_FIELDS)}; not {', '.join(others)}")
        return None

    def run(conn: Connection, _: None) -> tuple[int, PartyOut]:
        row = relock(conn, parties, pid)
        after = {name: getattr(row, name) for name in PATCHABLE} | changes
        errors = Errors()
        check_kind_fields(row.kind, after, errors)
        for name in ("households", "categories"):  # only what the patch names
            if name not in changes:
                errors.items = [e for e in errors.items if e["field"] != name]
        errors.raise_if_any()
        changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
        note_changes(changed)
        if changed:
            conn.execute(update(parties).where(parties.c.id == pid).values(**changed))
            updated = get_party(conn, pid)
            assert updated is not None  # the row locked above
            row = updated
        return 200, party_out(row)

    return command(ctx, principal, f"PATCH /api/parties/{pid}", patch, run, before,
                   returns=PartyOut)[1]


def create_relationship(ctx: AppContext, principal: Principal, data: RelationshipIn
                        ) -> tuple[int, RelationshipOut]:
    new = NewRelationship.read(data)
    principal.require("officer")

    def run(conn: Connection, _: None) -> tuple[int, RelationshipOut]:
        gas = get_party(conn, new.gas_id)
        producer = get_party(conn, new.producer_id)
        if gas is None or gas.kind != "gas":
            raise invalid("gas_id", "no GAS with this id")
        if producer is None or producer.kind != "producer":
            raise invalid("producer_id", "no producer with this id")
        if (new.households_buying is not None and gas.households is not None
                and new.households_buying > gas.households):
            raise invalid("households_buying", f"the GAS has only {gas.households} households")
        exists = conn.execute(select(relationships.c.id).where(
            relationships.c.gas_id == new.gas_id,
            relationships.c.producer_id == new.producer_id)).first()
        if exists:
            raise invalid("producer_id",
                          f"relationship {exists.id} already links this GAS and producer")
        conn.execute(insert(relationships).values(
            id=new.id, gas_id=new.gas_id, producer_id=new.producer_id, since=new.since,
            annual_purchases_minor=new.annual_purchases, currency="EUR",
            households_buying=new.households_buying, created_at=now_utc(),
            created_by=principal.username))
        row = conn.execute(select(relationships).where(relationships.c.id == new.id)).one()
        return 201, relationship_out(row, {gas.id: gas.name, producer.id: producer.name})

    return command(ctx, principal, "POST /api/relationships", data, run,
                   returns=RelationshipOut)


def list_relationships(ctx: AppContext, principal: Principal, gas_id: str | None,
                       producer_id: str | None, limit: int | None, cursor: str | None
                       ) -> RelationshipPage:
    gas_id, producer_id = check_filters({"gas_id": gas_id, "producer_id": producer_id})

    def read(conn: Connection) -> RelationshipPage:
        query = select(relationships)
        query = where_equal(query, relationships, gas_id=gas_id, producer_id=producer_id)
        if not principal.is_staff:
            pid = principal.party_id or ""
            query = query.where(or_(relationships.c.gas_id == pid,
                                    relationships.c.producer_id == pid))
        rows, nxt = paginate(conn, query, relationships.c.seq, limit, cursor)
        names = party_names(conn, [i for r in rows for i in (r.gas_id, r.producer_id)])
        return RelationshipPage([relationship_out(r, names) for r in rows], nxt)

    return ctx.read(read)
