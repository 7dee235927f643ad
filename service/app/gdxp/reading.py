"""``parse``: the bytes of a GDXP file (v1 JSON, or v0 XML) -> a validated document.

Hostile files are refused with a clear error, never a crash: a size limit, a nesting
limit, UTF-8 only for JSON, no XML DTDs or entities, numbers read exactly (never floats)
and bounded before anything multiplies them."""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, NoReturn

from .document import Address, Contact, GdxpDocument, Order, Product, Subject, SupplierBlock
from .errors import FieldError, GdxpInvalid, dotted
from .schema import schema_errors
from .xml_v0 import read_v0

# Validation reads about a megabyte a second here: a bound on the time a file can take.
MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 32
# Prices and quantities beyond these cannot be real GAS orders, and keeping them small
# keeps the exact products and sums small.
MAX_QUANTITY = Decimal(10) ** 12
MAX_DECIMALS = 12

_OTHER_UNICODE_BOMS = (
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF32_BE,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
)


def parse(data: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> GdxpDocument:
    """The document in ``data``, validated; raises ``GdxpInvalid`` naming each problem."""
    return to_document(load(data, max_bytes=max_bytes, max_depth=max_depth))


def load(data: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The file's content as JSON values (Decimal for non-integers), validated."""
    if len(data) > max_bytes:
        raise GdxpInvalid([FieldError("", f"the file is larger than {max_bytes} bytes")])
    if data.startswith(_OTHER_UNICODE_BOMS):
        raise GdxpInvalid([FieldError("", "the file must be UTF-8 encoded (found UTF-16/32)")])
    if data.lstrip(codecs.BOM_UTF8 + b" \t\r\n").startswith(b"<"):
        content = read_v0(data, max_depth)
    else:
        content = _read_json(data.removeprefix(codecs.BOM_UTF8), max_depth)
    errors = schema_errors(content)
    if not errors:
        errors = _bound_errors(content)
    if errors:
        raise GdxpInvalid(errors)
    return content


def _read_json(data: bytes, max_depth: int) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GdxpInvalid(
            [FieldError("", f"the file is not UTF-8 text (bad byte at offset {exc.start})")]
        ) from None
    try:
        content = json.loads(
            text, parse_float=Decimal, parse_int=int, parse_constant=_refuse_constant
        )
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise GdxpInvalid([FieldError("", message)]) from None
    except RecursionError:
        raise GdxpInvalid([FieldError("", f"nested deeper than {max_depth} levels")]) from None
    except ValueError as exc:  # an integer with thousands of digits, NaN, Infinity
        raise GdxpInvalid([FieldError("", f"not valid JSON: {exc}")]) from None
    _check_depth(content, max_depth)
    return content


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _check_depth(content: object, max_depth: int) -> None:
    # Iterative, so a deep document cannot exhaust the stack here.
    stack: list[tuple[object, int]] = [(content, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                raise GdxpInvalid([FieldError("", f"nested deeper than {max_depth} levels")])
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


def _bound_errors(content: dict[str, Any]) -> list[FieldError]:
    errors = []
    for b, block in enumerate(content["blocks"]):
        supplier = block.get("supplier")
        if not isinstance(supplier, dict):
            continue
        for p, product in enumerate(supplier["products"]):
            values = [("orderInfo", "umPrice", product["orderInfo"]["umPrice"])]
            if isinstance(booking := product.get("bookingInfo"), dict) and "totalQty" in booking:
                values.append(("bookingInfo", "totalQty", booking["totalQty"]))
            for group, name, value in values:
                path = dotted(["blocks", b, "supplier", "products", p, group, name])
                if (message := _out_of_bounds(value)) is not None:
                    errors.append(FieldError(path, message))
    return errors


def _out_of_bounds(value: Decimal | int) -> str | None:
    number = Decimal(value)
    if number < 0:
        return "must not be negative"
    if number > MAX_QUANTITY:
        return f"must be at most {MAX_QUANTITY}"
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
        return f"must have at most {MAX_DECIMALS} decimal places"
    return None


def _text(mapping: Mapping[str, object], key: str) -> str:
    value = mapping.get(key, "")
    return value if isinstance(value, str) else ""


def _address(value: object) -> Address:
    if not isinstance(value, dict):
        return Address()
    return Address(_text(value, "street"), _text(value, "locality"), _text(value, "zipCode"))


def _contacts(value: object, path: list[object]) -> tuple[Contact, ...]:
    contacts = []
    for i, contact in enumerate(value if isinstance(value, list) else []):
        if isinstance(contact, dict) and "type" in contact and "value" in contact:
            contact_path = dotted([*path, i, "value"])
            contacts.append(Contact(contact["type"], contact["value"], contact_path))
    return tuple(contacts)


def _day(mapping: Mapping[str, object], key: str) -> date | None:
    value = mapping.get(key)
    return date.fromisoformat(value) if isinstance(value, str) else None


def _order(supplier: dict[str, Any]) -> Order | None:
    # Some files write the block's order as ``orderInfo`` (API.md: read it as ``order``).
    order = supplier.get("order", supplier.get("orderInfo"))
    if not isinstance(order, dict):
        return None
    return Order(
        phase=order.get("phase"),
        open_date=_day(order, "openDate"),
        close_date=_day(order, "closeDate"),
        delivery_date=_day(order, "deliveryDate"),
    )


def _product(product: dict[str, Any]) -> Product:
    info = product["orderInfo"]
    booking = product.get("bookingInfo")
    total = booking.get("totalQty") if isinstance(booking, dict) else None
    vat_rate = info.get("vatRate")
    return Product(
        name=product["name"],
        um=product["um"],
        um_price=Decimal(info["umPrice"]),
        category=_text(product, "category"),
        sku=_text(product, "sku"),
        description=_text(product, "description"),
        vat_rate=None if vat_rate is None else Decimal(vat_rate),
        total_qty=None if total is None else Decimal(total),
    )


def to_document(content: dict[str, Any]) -> GdxpDocument:
    """Typed records of validated content."""
    subject = content["subject"]
    blocks = []
    for index, block in enumerate(content["blocks"]):
        supplier = block.get("supplier")
        if not isinstance(supplier, dict):
            continue  # a block about something other than a supplier
        blocks.append(
            SupplierBlock(
                index=index,
                name=supplier["name"],
                vat_number=supplier["vatNumber"],
                tax_code=_text(supplier, "taxCode"),
                address=_address(supplier.get("address")),
                contacts=_contacts(
                    supplier.get("contacts"), ["blocks", index, "supplier", "contacts"]
                ),
                products=tuple(_product(product) for product in supplier["products"]),
                order=_order(supplier),
            )
        )
    return GdxpDocument(
        protocol_version=str(content["protocolVersion"]),
        creation_date=date.fromisoformat(content["creationDate"]),
        application_signature=content["applicationSignature"],
        subject=Subject(
            name=subject["name"],
            tax_code=_text(subject, "taxCode"),
            vat_number=_text(subject, "vatNumber"),
            address=_address(subject.get("address")),
            contacts=_contacts(subject.get("contacts"), ["subject", "contacts"]),
        ),
        blocks=tuple(blocks),
    )
