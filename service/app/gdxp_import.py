"""GDXP import and export over the database: the pure core (``service.app.gdxp``) told
what the database knows, and its plan applied in one transaction (or only answered, for
a dry run). The same use cases serve the HTTP API and ``filiera import gdxp``."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Connection, insert, select, update

from ledger.text import TextError, check_free_text, check_text
from service.app import gdxp
from service.app.audit_note import note_made
from service.app.auth import Principal
from service.app.clock import today
from service.app.commands import command
from service.app.common import now_utc
from service.app.context import AppContext
from service.app.errors import Errors, Forbidden, Invalid, invalid
from service.app.gdxp.contacts import vat_number
from service.app.inputs import Input, optional_id
from service.app.parties import (
    get_party,
    insert_party,
    refuse_acting_for,
    related_party_ids,
)
from service.app.types import Day, Uuid
from service.app.views import Money
from service.db.records import Record
from service.db.tables import gdxp_price_lists, parties, relationships

OPERATION = "POST /api/imports/gdxp"
# What Filiera's party columns keep (service.app.parties checks the same limits).
_LIMITS = {"name": 200, "address": 200, "municipality": 100}
_CATEGORY_LIMIT = 64


class ProducerRef(msgspec.Struct):
    id: Uuid | None  # null for what a dry run would create
    name: str
    vat_number: str


class ProducerSkipped(msgspec.Struct):
    name: str
    vat_number: str
    reason: str  # invalid_vat_number, exists


class RelationshipRef(msgspec.Struct):
    id: Uuid | None
    producer_id: Uuid | None
    vat_number: str
    since: Day
    annual_purchases: Money


class ProducersAnswer(msgspec.Struct):
    created: list[ProducerRef]
    updated: list[ProducerRef]
    skipped: list[ProducerSkipped]


class RelationshipsAnswer(msgspec.Struct):
    created: list[RelationshipRef]
    updated: list[RelationshipRef]


class ImportWarning(msgspec.Struct):
    field: str  # a dotted path into the file
    message: str


class GdxpImportOut(msgspec.Struct):
    dry_run: bool
    gas_id: Uuid
    producers: ProducersAnswer
    relationships: RelationshipsAnswer
    warnings: list[ImportWarning]


class ImportRequest(msgspec.Struct):
    """What identifies an import for its client id: the file by its digest."""

    id: str | None
    gas_id: str | None
    overwrite: bool
    sha256: str


def _invalid(error: gdxp.GdxpInvalid) -> Invalid:
    return Invalid(error.as_json(), detail="the GDXP file is not valid: " + str(error)[:300])


def parse_file(data: bytes) -> gdxp.GdxpDocument:
    """The validated document, or a 422 naming each place where it is wrong."""
    try:
        return gdxp.parse(data)
    except gdxp.GdxpInvalid as exc:
        raise _invalid(exc) from None


# -- what the database knows -----------------------------------------------------------


def _known_gases(conn: Connection) -> list[gdxp.KnownGas]:
    rows = conn.execute(select(parties.c.id, parties.c.name, parties.c.tax_code,
                               parties.c.vat_number).where(parties.c.kind == "gas"))
    return [gdxp.KnownGas(r.id, r.name, r.tax_code, r.vat_number) for r in rows]


def _known_producers(conn: Connection, visible: set[str] | None) -> list[gdxp.KnownProducer]:
    rows = conn.execute(select(parties).where(
        parties.c.kind == "producer", parties.c.vat_number.is_not(None)
    ).order_by(parties.c.seq))
    return [gdxp.KnownProducer(
        id=r.id, name=r.name, vat_number=r.vat_number, email=r.email, phone=r.phone,
        address=r.address, postal_code=r.postal_code, municipality=r.municipality,
        categories=tuple(r.categories or ()),
        visible=visible is None or r.id in visible) for r in rows]


def _known_relationships(conn: Connection, gas_id: str) -> list[gdxp.KnownRelationship]:
    rows = conn.execute(select(relationships).where(relationships.c.gas_id == gas_id))
    return [gdxp.KnownRelationship(
        id=r.id, producer_id=r.producer_id, since=r.since,
        annual_purchases_minor=r.annual_purchases_minor,
        purchases_as_of=r.purchases_as_of) for r in rows]


def _choose_gas(conn: Connection, principal: Principal, document: gdxp.GdxpDocument,
                gas_id: str | None) -> str:
    """The GAS the import is for, after who may import for it (404/403)."""
    if not principal.is_staff:
        if principal.role != "gas" or principal.party_id is None:
            raise Forbidden("officers import GDXP files, or a GAS user for its own GAS")
        if gas_id is not None and gas_id != principal.party_id:
            refuse_acting_for(conn, principal, gas_id,
                              "a GAS user imports for its own GAS only")
    elif gas_id is not None:
        row = get_party(conn, gas_id)
        if row is None or row.kind != "gas":
            raise invalid("gas_id", "no GAS with this id")
    own = None if principal.is_staff else principal.party_id
    try:
        return gdxp.resolve_gas(document.subject, _known_gases(conn), gas_id=gas_id,
                                own_gas_id=own)
    except gdxp.GdxpInvalid as exc:
        raise _invalid(exc) from None


def _plan(conn: Connection, principal: Principal, document: gdxp.GdxpDocument,
          gas_id: str | None, overwrite: bool) -> gdxp.ImportPlan:
    chosen = _choose_gas(conn, principal, document, gas_id)
    visible = None if principal.is_staff else related_party_ids(conn, chosen)
    try:
        return gdxp.plan_import(
            document, gas_id=chosen,
            producers=_known_producers(conn, visible),
            relationships=_known_relationships(conn, chosen),
            importer=gdxp.Importer.OFFICER if principal.is_staff else gdxp.Importer.GAS,
            overwrite=overwrite and principal.is_staff)
    except gdxp.GdxpInvalid as exc:
        raise _invalid(exc) from None


# -- what the import writes ------------------------------------------------------------


def _block_index(document: gdxp.GdxpDocument) -> dict[str, int]:
    """Partita IVA -> the index of its first block (for the paths of refusals)."""
    found: dict[str, int] = {}
    for block in document.blocks:
        vat = vat_number(block.vat_number)
        if vat is not None:
            found.setdefault(vat, block.index)
    return found


def _checked_values(values: dict[str, Any], path: str, errors: Errors) -> dict[str, Any]:
    """Producer fields as Filiera keeps them: text checked (no control or invisible
    characters), within the columns' limits; each bad one named at its place."""
    out = dict(values)
    for name, limit in _LIMITS.items():
        value = values.get(name)
        if value is None:
            continue
        field = f"{path}.{'address.street' if name == 'address' else name}"
        if name == "municipality":
            field = f"{path}.address.locality"
        try:
            text = (check_free_text if name == "address" else check_text)(value.strip(), field)
        except TextError as exc:
            errors.add(field, str(exc))
            continue
        if not text or len(text) > limit:
            errors.add(field, f"must be 1 to {limit} characters")
        out[name] = text
    categories = values.get("categories")
    if categories:
        kept = []
        for i, category in enumerate(categories):
            try:
                text = check_text(category.strip(), f"{path}.products.{i}.category")
            except TextError as exc:
                errors.add(f"{path}.products", str(exc))
                continue
            if len(text) > _CATEGORY_LIMIT:
                errors.add(f"{path}.products", f"a category is longer than "
                           f"{_CATEGORY_LIMIT} characters")
            kept.append(text)
        out["categories"] = kept
    return out


def _product_json(product: gdxp.Product) -> dict[str, Any]:
    # Decimals as strings: the JSON column never sees a float.
    return {"name": product.name, "um": product.um, "um_price": str(product.um_price),
            "category": product.category, "sku": product.sku,
            "description": product.description,
            "vat_rate": None if product.vat_rate is None else str(product.vat_rate)}


def _product(stored: dict[str, Any]) -> gdxp.Product:
    vat_rate = stored.get("vat_rate")
    return gdxp.Product(
        name=stored["name"], um=stored["um"], um_price=Decimal(stored["um_price"]),
        category=stored.get("category", ""), sku=stored.get("sku", ""),
        description=stored.get("description", ""),
        vat_rate=None if vat_rate is None else Decimal(vat_rate))


def _apply(conn: Connection, ctx: AppContext, principal: Principal,
           document: gdxp.GdxpDocument, plan: gdxp.ImportPlan
           ) -> tuple[dict[str, str], dict[str, str]]:
    """Writes the plan; answers the ids given to the producers and relationships it
    created, by partita IVA."""
    blocks = _block_index(document)
    errors = Errors()
    producer_ids: dict[str, str] = {}
    created_values = []
    for create in plan.producers_created:
        data = create.data
        path = f"blocks.{blocks.get(data.vat_number, 0)}.supplier"
        values = _checked_values({
            "name": data.name, "email": data.email, "phone": data.phone,
            "address": data.address, "postal_code": data.postal_code,
            "municipality": data.municipality,
            "categories": list(data.categories) or None}, path, errors)
        created_values.append((data.vat_number, values))
    updates = []
    for producer in plan.producers_updated:
        if not producer.changes:
            continue
        path = f"blocks.{blocks.get(producer.vat_number, 0)}.supplier"
        changed = {c.field: (list(c.new) if isinstance(c.new, tuple) else c.new)
                   for c in producer.changes}
        updates.append((producer.producer_id, _checked_values(changed, path, errors)))
    errors.raise_if_any()
    for vat, values in created_values:
        party_id = str(uuid.uuid4())
        insert_party(conn, ctx.events, {
            "id": party_id, "kind": "producer", "vat_number": vat, **values},
            principal.username)
        producer_ids[vat] = party_id
    for producer_id, changed in updates:
        conn.execute(update(parties).where(parties.c.id == producer_id).values(**changed))
    relationship_ids: dict[str, str] = {}
    for rel in plan.relationships_created:
        rel_id = str(uuid.uuid4())
        conn.execute(insert(relationships).values(
            id=rel_id, gas_id=plan.gas_id,
            producer_id=rel.producer_id or producer_ids[rel.vat_number], since=rel.since,
            annual_purchases_minor=rel.annual_purchases_minor, currency="EUR",
            purchases_as_of=rel.purchases_as_of, created_at=now_utc(),
            created_by=principal.username))
        relationship_ids[rel.vat_number] = rel_id
    for upd in plan.relationships_updated:
        conn.execute(update(relationships).where(
            relationships.c.id == upd.relationship_id).values(
            since=upd.since, annual_purchases_minor=upd.annual_purchases_minor,
            purchases_as_of=upd.purchases_as_of))
    _store_price_lists(conn, plan, producer_ids)
    return producer_ids, relationship_ids


def _store_price_lists(conn: Connection, plan: gdxp.ImportPlan,
                       producer_ids: dict[str, str]) -> None:
    """The GAS's price list of each producer, replaced only when the file is not older
    than the one it came from (and left alone when equal: a second import writes
    nothing)."""
    known = {p.vat_number: p.id for p in _known_producers(conn, None) if p.vat_number}
    for price_list in plan.price_lists:
        producer_id = producer_ids.get(price_list.vat_number) or known.get(
            price_list.vat_number)
        if producer_id is None:
            continue
        products = [_product_json(p) for p in price_list.products]
        key = (gdxp_price_lists.c.gas_id == plan.gas_id,
               gdxp_price_lists.c.producer_id == producer_id)
        row = conn.execute(select(gdxp_price_lists).where(*key)).first()
        if row is None:
            conn.execute(insert(gdxp_price_lists).values(
                gas_id=plan.gas_id, producer_id=producer_id, products=products,
                creation_date=plan.creation_date, updated_at=now_utc()))
        elif plan.creation_date >= row.creation_date and (
                row.products != products or row.creation_date != plan.creation_date):
            conn.execute(update(gdxp_price_lists).where(*key).values(
                products=products, creation_date=plan.creation_date, updated_at=now_utc()))


# -- use cases -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ImportQuery(Input):
    """``?gas_id=`` (whose network the file is) and ``?id=`` (the client's id of the
    import: none given, none kept), from the query string."""

    gas_id: str | None = optional_id()
    id: str | None = optional_id()


@dataclass(frozen=True, kw_only=True)
class ExportQuery(Input):
    gas_id: str | None = optional_id()



def import_gdxp(ctx: AppContext, principal: Principal, data: bytes, *,
                gas_id: str | None = None, dry_run: bool = False, overwrite: bool = False,
                client_id: str | None = None) -> GdxpImportOut:
    """``POST /api/imports/gdxp``: the answer API.md describes. A dry run only reads;
    an import is one transaction (a refusal leaves nothing written)."""
    asked = ImportQuery.read({"gas_id": gas_id, "id": client_id})
    gas_id, client_id = asked.gas_id, asked.id
    document = parse_file(data)
    if principal.role not in ("admin", "officer", "gas"):
        raise Forbidden("officers import GDXP files, or a GAS user for its own GAS")

    if dry_run:
        def answer(conn: Connection) -> dict[str, Any]:
            plan = _plan(conn, principal, document, gas_id, overwrite)
            return gdxp.import_answer(plan, dry_run=True)
        return msgspec.convert(ctx.read(answer), GdxpImportOut)

    request = ImportRequest(id=client_id, gas_id=gas_id, overwrite=overwrite,
                            sha256=hashlib.sha256(data).hexdigest())

    def run(conn: Connection, _: None) -> tuple[int, GdxpImportOut]:
        plan = _plan(conn, principal, document, gas_id, overwrite)
        producer_ids, relationship_ids = _apply(conn, ctx, principal, document, plan)
        note_made([*producer_ids.values(),
                   *(p.producer_id for p in plan.producers_updated if p.changes),
                   *relationship_ids.values(),
                   *(r.relationship_id for r in plan.relationships_updated)])
        return 200, msgspec.convert(
            gdxp.import_answer(plan, dry_run=False, producer_ids=producer_ids,
                               relationship_ids=relationship_ids), GdxpImportOut)

    return command(ctx, principal, OPERATION, request, run, returns=GdxpImportOut)[1]


def export_gdxp(ctx: AppContext, principal: Principal, gas_id: str | None) -> bytes:
    """``GET /api/exports/gdxp``: the producers the GAS buys from as a GDXP v1 document
    (UTF-8 JSON, numbers exact)."""
    gas_id = ExportQuery.read({"gas_id": gas_id}).gas_id
    if gas_id is None:
        if principal.is_staff or principal.role != "gas" or principal.party_id is None:
            raise invalid("gas_id", "name the GAS")
        gas_id = principal.party_id

    def read(conn: Connection) -> bytes:
        chosen = str(gas_id)
        if not principal.is_staff and (principal.role != "gas"
                                       or principal.party_id != chosen):
            refuse_acting_for(conn, principal, chosen,
                              "officers export a GAS's network, or the GAS's own user")
        gas = get_party(conn, chosen)
        if gas is None or gas.kind != "gas":
            raise invalid("gas_id", "no GAS with this id")
        rows = conn.execute(
            select(parties).join(relationships, relationships.c.producer_id == parties.c.id)
            .where(relationships.c.gas_id == chosen).order_by(parties.c.name, parties.c.id))
        lists = {r.producer_id: r.products for r in conn.execute(
            select(gdxp_price_lists).where(gdxp_price_lists.c.gas_id == chosen))}
        producers = [gdxp.ExportProducer(
            _export_party(row), tuple(_product(p) for p in lists.get(row.id, ())))
            for row in rows]
        document = gdxp.build_export(_export_party(gas), producers, creation_date=today())
        return gdxp.export_json(document)

    return ctx.read(read)


def _export_party(row: Record) -> gdxp.ExportParty:
    return gdxp.ExportParty(
        name=row.name, tax_code=row.tax_code, vat_number=row.vat_number, email=row.email,
        phone=row.phone, address=row.address, postal_code=row.postal_code,
        municipality=row.municipality)


def import_files(ctx: AppContext, principal: Principal, files: Sequence[bytes], *,
                 gas_id: str | None = None, dry_run: bool = False) -> list[GdxpImportOut]:
    """Each file imported in turn (the CLI); a refused file raises, its own import
    written nothing."""
    return [import_gdxp(ctx, principal, data, gas_id=gas_id, dry_run=dry_run)
            for data in files]


