"""GDXP v0 (XML with a DTD) read into the shape of a v1 document, so one schema and one
planner serve both. DTDs, entities and external references are refused outright."""

from __future__ import annotations

import re
from decimal import Decimal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .errors import FieldError, GdxpInvalid

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# v0 writes timestamps as YYYYMMDD[HHmmss]; v1 wants YYYY-MM-DD.
_COMPACT_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{6})?")
_CONTACT_KINDS = ("phoneNumber", "mobileNumber", "faxNumber", "emailAddress", "webSite")
_NUMBERS = ("packageQty", "minQty", "mulQty", "maxQty", "umPrice", "vatRate", "shippingCost")


def read_v0(data: bytes, max_depth: int) -> dict[str, object]:
    """The v1-shaped dict of a v0 XML file (not yet validated)."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        message = f"XML DTDs and entities are not accepted ({exc})"
        raise GdxpInvalid([FieldError("", message)]) from None
    except ParseError as exc:
        raise GdxpInvalid([FieldError("", f"not well-formed XML: {exc}")]) from None
    _check_depth(root, max_depth)
    if root.tag != "gdxp":
        raise GdxpInvalid([FieldError("", "an XML file must be a GDXP v0 document (<gdxp>)")])
    blocks: list[dict[str, object]] = []
    document: dict[str, object] = {"subject": {"name": ""}, "blocks": blocks}
    for attribute in ("protocolVersion", "applicationSignature"):
        if (value := root.get(attribute)) is not None:
            document[attribute] = value
    if (created := root.get("creationDate")) is not None:
        document["creationDate"] = _date(created)
    for supplier in root.findall("supplier"):
        blocks.extend(_blocks(supplier))
    return document


def _check_depth(root: Element, max_depth: int) -> None:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            raise GdxpInvalid([FieldError("", f"nested deeper than {max_depth} levels")])
        stack.extend((child, depth + 1) for child in element)


def _text(parent: Element | None, tag: str) -> str | None:
    child = None if parent is None else parent.find(tag)
    return None if child is None else (child.text or "").strip()


def _date(text: str) -> str:
    match = _COMPACT_DATE.fullmatch(text.strip())
    return f"{match[1]}-{match[2]}-{match[3]}" if match else text.strip()


def _number(text: str) -> Decimal | str:
    # Exact, as in JSON (a whole Decimal is an integer to the schema); anything else stays
    # text for the schema to refuse where it is.
    return Decimal(text) if _NUMBER.fullmatch(text) else text


def _blocks(supplier: Element) -> list[dict[str, object]]:
    fields: dict[str, object] = {}
    for tag in ("name", "taxCode"):
        if (value := _text(supplier, tag)) is not None:
            fields[tag] = value
    # v0 makes the partita IVA optional: without one the supplier is skipped, not refused.
    fields["vatNumber"] = _text(supplier, "vatNumber") or ""
    address = supplier.find("address")
    if address is not None:
        fields["address"] = {
            key: value
            for key in ("street", "locality", "zipCode")
            if (value := _text(address, key)) is not None
        }
    fields["contacts"] = [
        {"type": child.tag, "value": (child.text or "").strip()}
        for person in supplier.iterfind("contacts/contact/*")
        for child in person
        if child.tag in _CONTACT_KINDS
    ]
    fields["products"] = [_product(product) for product in supplier.iterfind("products/product")]
    orders = supplier.findall("orders/order")
    if not orders:
        return [{"supplier": fields}]
    return [{"supplier": {**fields, "order": _order(order)}} for order in orders]


def _product(product: Element) -> dict[str, object]:
    fields: dict[str, object] = {
        tag: value
        for tag in ("name", "um", "category", "sku", "description")
        if (value := _text(product, tag)) is not None
    }
    info = product.find("orderInfo")
    if info is not None:
        order_info: dict[str, object] = {}
        for tag in _NUMBERS:
            if (value := _text(info, tag)) is not None:
                order_info[tag] = _number(value)
        fields["orderInfo"] = order_info
    return fields


def _order(order: Element) -> dict[str, str]:
    return {
        tag: _date(value)
        for tag in ("openDate", "closeDate", "deliveryDate")
        if (value := _text(order, tag))
    }
