"""Builders for GDXP test documents, written from the protocol's documentation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

_ENCODE = msgspec.json.Encoder(decimal_format="number")


def piva(first_ten: str) -> str:
    """A valid partita IVA: ten digits (the last three an office code, 001-100) and the
    Luhn check digit, by hand."""
    digits = [int(c) for c in first_ten]
    odd = sum(digits[0::2])
    even = sum(2 * d if 2 * d < 10 else 2 * d - 9 for d in digits[1::2])
    return first_ten + str((10 - (odd + even) % 10) % 10)


def product(name: str, price: str, qty: str | None = None, category: str = "Frutta",
            um: str = "Chili", sku: str = "") -> dict[str, Any]:
    written: dict[str, Any] = {
        "name": name, "um": um, "category": category, "sku": sku, "description": "",
        "orderInfo": {"packageQty": 1, "maxQty": 0, "minQty": 0, "mulQty": 1,
                      "availableQty": 0, "umPrice": Decimal(price), "shippingCost": 0,
                      "vatRate": 22},
        "active": True,
    }
    if qty is not None:
        written["bookingInfo"] = {"totalQty": Decimal(qty)}
    return written


def supplier(name: str, vat: str, products: list[dict[str, Any]],
             order: dict[str, Any] | None = None, contacts: list[dict[str, str]] | None = None,
             address: dict[str, str] | None = None, order_key: str = "order") -> dict[str, Any]:
    written: dict[str, Any] = {
        "name": name, "taxCode": "", "vatNumber": vat,
        "address": address if address is not None else
        {"street": "Via Roma 42", "locality": "Milano", "zipCode": "20090"},
        "contacts": contacts if contacts is not None else
        [{"type": "emailAddress", "value": "info@fornitore.com"},
         {"type": "phoneNumber", "value": "02 1234 5678"},
         {"type": "webSite", "value": "http://www.example.com"}],
        "products": products,
    }
    if order is not None:
        written[order_key] = order
    return {"supplier": written}


def document(blocks: list[dict[str, Any]], creation: str = "2020-02-23",
             subject: dict[str, Any] | None = None, version: Any = "1.0") -> dict[str, Any]:
    return {
        "protocolVersion": version,
        "creationDate": creation,
        "applicationSignature": "GASware Turbo Pro",
        "subject": subject if subject is not None else {
            "name": "GAS di Prova", "taxCode": "", "vatNumber": "",
            "address": {"street": "Via Garibaldi 13", "locality": "Roma", "zipCode": "00153"},
            "contacts": [{"type": "emailAddress", "value": "gas@prova.it"}],
        },
        "blocks": blocks,
    }


def encode(content: Any) -> bytes:
    """JSON text with Decimals written as exact numbers."""
    return _ENCODE.encode(content)
