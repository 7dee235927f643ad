"""``plan_import``: what importing a GDXP document would create, update and skip.

Pure: the caller passes what the database knows as plain records and applies the plan
(or, for a dry run, only answers it). Applying a plan and planning again from the result
gives an empty plan: the same file imported twice changes nothing the second time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from ledger.money import MAX_MINOR

from .contacts import contact_fields, vat_number
from .document import GdxpDocument, Product, Subject, SupplierBlock
from .errors import FieldError, GdxpInvalid
from .purchases import annual_purchases_minor, earliest_order


class Importer(StrEnum):
    """Who imports: an officer (fills or overwrites producers) or a GAS user (adds only)."""

    OFFICER = "officer"
    GAS = "gas"


class SkipReason(StrEnum):
    INVALID_VAT_NUMBER = "invalid_vat_number"
    EXISTS = "exists"  # a known producer the importing GAS user cannot see


# ----- what the database knows, passed in ----------------------------------------------


@dataclass(frozen=True)
class KnownGas:
    id: str
    name: str
    tax_code: str | None = None
    vat_number: str | None = None


@dataclass(frozen=True)
class KnownProducer:
    id: str
    name: str
    vat_number: str | None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    postal_code: str | None = None
    municipality: str | None = None
    categories: tuple[str, ...] = ()
    # Whether the importing user may see it (officers see every producer).
    visible: bool = True


@dataclass(frozen=True)
class KnownRelationship:
    """The importing GAS's relationship with a producer. ``purchases_as_of`` is the
    ``creationDate`` of the file that last set ``annual_purchases_minor`` (None when it
    was typed by hand: any file then replaces it)."""

    id: str
    producer_id: str
    since: date
    annual_purchases_minor: int
    purchases_as_of: date | None = None


# ----- the plan ---------------------------------------------------------------------------

CONTACT_FIELDS = ("email", "phone", "address", "postal_code", "municipality")


@dataclass(frozen=True)
class ProducerData:
    """A producer as the file describes it (None or () = the file does not say)."""

    name: str
    vat_number: str
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    postal_code: str | None = None
    municipality: str | None = None
    categories: tuple[str, ...] = ()


FieldValue = str | tuple[str, ...] | None


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: FieldValue
    new: FieldValue


@dataclass(frozen=True)
class ProducerCreate:
    data: ProducerData


@dataclass(frozen=True)
class ProducerUpdate:
    """A known producer; ``changes`` is empty when a GAS user's import lists one it sees."""

    producer_id: str
    name: str
    vat_number: str
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class ProducerSkip:
    name: str
    vat_number: str
    reason: SkipReason


@dataclass(frozen=True)
class RelationshipCreate:
    vat_number: str
    producer_id: str | None  # None: the producer is created by the same plan
    since: date
    annual_purchases_minor: int
    purchases_as_of: date


@dataclass(frozen=True)
class RelationshipUpdate:
    """The relationship's values after the import; ``changed`` names what differs."""

    relationship_id: str
    producer_id: str
    vat_number: str
    since: date
    annual_purchases_minor: int
    purchases_as_of: date | None
    changed: tuple[str, ...]


@dataclass(frozen=True)
class PriceList:
    """The products the GAS last imported for a producer (the export writes them back)."""

    vat_number: str
    products: tuple[Product, ...]


@dataclass(frozen=True)
class ImportPlan:
    gas_id: str
    creation_date: date
    producers_created: tuple[ProducerCreate, ...] = ()
    producers_updated: tuple[ProducerUpdate, ...] = ()
    producers_unchanged: tuple[str, ...] = ()  # ids of known producers left as they are
    producers_skipped: tuple[ProducerSkip, ...] = ()
    relationships_created: tuple[RelationshipCreate, ...] = ()
    relationships_updated: tuple[RelationshipUpdate, ...] = ()
    relationships_unchanged: tuple[str, ...] = ()
    price_lists: tuple[PriceList, ...] = ()
    warnings: tuple[FieldError, ...] = field(default=())

    @property
    def changes_nothing(self) -> bool:
        """True when applying the plan would write nothing but price lists."""
        return not (
            self.producers_created
            or any(update.changes for update in self.producers_updated)
            or self.relationships_created
            or self.relationships_updated
        )


# ----- choosing the GAS -------------------------------------------------------------------


def _code(text: str | None) -> str:
    code = "".join((text or "").split()).upper()
    return code[2:] if code.startswith("IT") and code[2:].isdigit() else code


def subject_matches(subject: Subject, gases: Sequence[KnownGas]) -> list[KnownGas]:
    """The GAS whose codice fiscale or partita IVA the file's subject names."""
    codes = {_code(subject.tax_code), _code(subject.vat_number)} - {""}
    return [gas for gas in gases if codes & ({_code(gas.tax_code), _code(gas.vat_number)} - {""})]


def resolve_gas(
    subject: Subject,
    gases: Sequence[KnownGas],
    *,
    gas_id: str | None = None,
    own_gas_id: str | None = None,
) -> str:
    """The GAS the import is for: a GAS user's own (a subject naming another GAS is an
    error), else the one the officer names, else the only GAS the subject matches."""
    matches = subject_matches(subject, gases)
    if own_gas_id is not None:
        if matches and own_gas_id not in {gas.id for gas in matches}:
            raise GdxpInvalid([FieldError("subject", "the file's subject is another GAS")])
        return own_gas_id
    if gas_id is not None:
        return gas_id
    if len(matches) == 1:
        return matches[0].id
    message = (
        "name the GAS: the file's subject matches several GAS"
        if matches
        else "name the GAS: the file's subject matches no GAS"
    )
    raise GdxpInvalid([FieldError("gas_id", message)])


# ----- planning ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Supplier:
    vat_number: str
    blocks: tuple[SupplierBlock, ...]


def _group_by_supplier(
    blocks: Sequence[SupplierBlock],
) -> tuple[list[_Supplier], list[ProducerSkip]]:
    grouped: dict[str, list[SupplierBlock]] = {}
    skipped: dict[ProducerSkip, None] = {}  # each once, in the file's order
    for block in blocks:
        vat = vat_number(block.vat_number)
        if vat is None:
            skip = ProducerSkip(block.name, block.vat_number, SkipReason.INVALID_VAT_NUMBER)
            skipped.setdefault(skip, None)
        else:
            grouped.setdefault(vat, []).append(block)
    return [_Supplier(vat, tuple(group)) for vat, group in grouped.items()], list(skipped)


def _describe(supplier: _Supplier) -> tuple[ProducerData, list[FieldError]]:
    """The producer the supplier's blocks describe: the first block's name, the first
    valid contact of each kind over all blocks, the categories as written."""
    contacts = tuple(contact for block in supplier.blocks for contact in block.contacts)
    first = supplier.blocks[0]
    address_path = f"blocks.{first.index}.supplier.address"
    fields, warnings = contact_fields(contacts, first.address, address_path)
    categories: dict[str, None] = {}
    for block in supplier.blocks:
        for product in block.products:
            if product.category.strip():
                categories.setdefault(product.category, None)
    data = ProducerData(
        name=first.name,
        vat_number=supplier.vat_number,
        email=fields.email,
        phone=fields.phone,
        address=fields.address,
        postal_code=fields.postal_code,
        municipality=fields.municipality,
        categories=tuple(categories),
    )
    return data, warnings


def _is_empty(value: FieldValue) -> bool:
    return value is None or value == "" or value == ()


def producer_changes(
    known: KnownProducer, data: ProducerData, *, overwrite: bool
) -> tuple[FieldChange, ...]:
    """An officer's import fills a known producer's empty fields; ``overwrite`` replaces
    every field the file gives a value for."""
    names = (*CONTACT_FIELDS, "categories", *(("name",) if overwrite else ()))
    changes = []
    for name in names:
        old: FieldValue = getattr(known, name)
        new: FieldValue = getattr(data, name)
        if _is_empty(new) or new == old:
            continue
        if overwrite or _is_empty(old):
            changes.append(FieldChange(name, old, new))
    return tuple(changes)


def _price_list(supplier: _Supplier) -> PriceList:
    # One row per product (same sku, name and unit): the first the file lists.
    products: dict[tuple[str, str, str], Product] = {}
    for block in supplier.blocks:
        for product in block.products:
            key = (product.sku, product.name, product.um)
            products.setdefault(key, replace(product, total_qty=None))
    return PriceList(supplier.vat_number, tuple(products.values()))


def _order_warnings(supplier: _Supplier) -> list[FieldError]:
    return [
        FieldError(
            f"blocks.{block.index}.supplier.order",
            "an order without openDate, closeDate or deliveryDate is not counted",
        )
        for block in supplier.blocks
        if block.order is not None and block.order.date is None
    ]


def plan_import(
    document: GdxpDocument,
    *,
    gas_id: str,
    producers: Sequence[KnownProducer],
    relationships: Sequence[KnownRelationship],
    importer: Importer = Importer.OFFICER,
    overwrite: bool = False,
) -> ImportPlan:
    """What importing ``document`` for the GAS ``gas_id`` does, given the producers the
    database knows and that GAS's relationships. Raises ``GdxpInvalid`` when a total
    is beyond what Filiera can keep."""
    by_vat: dict[str, KnownProducer] = {}
    for producer in producers:
        if producer.vat_number:
            by_vat.setdefault(_code(producer.vat_number), producer)
    by_producer: Mapping[str, KnownRelationship] = {r.producer_id: r for r in relationships}
    suppliers, skipped = _group_by_supplier(document.blocks)
    created: list[ProducerCreate] = []
    updated: list[ProducerUpdate] = []
    unchanged: list[str] = []
    rel_created: list[RelationshipCreate] = []
    rel_updated: list[RelationshipUpdate] = []
    rel_unchanged: list[str] = []
    price_lists: list[PriceList] = []
    warnings: list[FieldError] = []
    for supplier in suppliers:
        data, contact_warnings = _describe(supplier)
        warnings += contact_warnings + _order_warnings(supplier)
        known = by_vat.get(supplier.vat_number)
        if known is None:
            created.append(ProducerCreate(data))
        elif importer is Importer.GAS and not known.visible:
            skipped.append(ProducerSkip(data.name, supplier.vat_number, SkipReason.EXISTS))
            continue
        elif importer is Importer.GAS:
            updated.append(ProducerUpdate(known.id, known.name, supplier.vat_number))
        elif changes := producer_changes(known, data, overwrite=overwrite):
            updated.append(ProducerUpdate(known.id, known.name, supplier.vat_number, changes))
        else:
            unchanged.append(known.id)
        price_lists.append(_price_list(supplier))
        since = earliest_order(supplier.blocks)
        if since is None:
            continue  # a price list, not orders: no relationship
        purchases = annual_purchases_minor(supplier.blocks, document.creation_date)
        if purchases > MAX_MINOR:
            path = f"blocks.{supplier.blocks[0].index}.supplier.products"
            message = "the booked purchases are beyond the largest amount Filiera keeps"
            raise GdxpInvalid([FieldError(path, message)])
        relationship = None if known is None else by_producer.get(known.id)
        if relationship is None:
            rel_created.append(
                RelationshipCreate(
                    vat_number=supplier.vat_number,
                    producer_id=None if known is None else known.id,
                    since=since,
                    annual_purchases_minor=purchases,
                    purchases_as_of=document.creation_date,
                )
            )
            continue
        update = _relationship_update(
            relationship, supplier.vat_number, since, purchases, document.creation_date
        )
        if update.changed:
            rel_updated.append(update)
        else:
            rel_unchanged.append(relationship.id)
    return ImportPlan(
        gas_id=gas_id,
        creation_date=document.creation_date,
        producers_created=tuple(created),
        producers_updated=tuple(updated),
        producers_unchanged=tuple(unchanged),
        producers_skipped=tuple(skipped),
        relationships_created=tuple(rel_created),
        relationships_updated=tuple(rel_updated),
        relationships_unchanged=tuple(rel_unchanged),
        price_lists=tuple(price_lists),
        warnings=tuple(warnings),
    )


def _relationship_update(
    known: KnownRelationship, vat: str, since: date, purchases: int, creation_date: date
) -> RelationshipUpdate:
    """``since`` keeps the earlier date; the purchases follow the latest file only."""
    new_since = min(known.since, since)
    later = known.purchases_as_of is None or creation_date > known.purchases_as_of
    new_purchases = purchases if later else known.annual_purchases_minor
    new_as_of = creation_date if later else known.purchases_as_of
    changed = tuple(
        name
        for name, old, new in (
            ("since", known.since, new_since),
            ("annual_purchases", known.annual_purchases_minor, new_purchases),
            ("purchases_as_of", known.purchases_as_of, new_as_of),
        )
        if old != new
    )
    return RelationshipUpdate(
        relationship_id=known.id,
        producer_id=known.producer_id,
        vat_number=vat,
        since=new_since,
        annual_purchases_minor=new_purchases,
        purchases_as_of=new_as_of,
        changed=changed,
    )
