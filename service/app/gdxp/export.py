"""``build_export``: the producers a GAS buys from, as a GDXP v1 document its own
software can load (valid against the same schema Filiera validates imports with)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import msgspec

from .contacts import vat_number
from .document import Product

PROTOCOL_VERSION = Decimal("1.0")  # written as the JSON number 1.0
APPLICATION_SIGNATURE = "Filiera"


@dataclass(frozen=True)
class ExportParty:
    """A GAS or a producer as the database keeps it."""

    name: str
    tax_code: str | None = None
    vat_number: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    postal_code: str | None = None
    municipality: str | None = None


@dataclass(frozen=True)
class ExportProducer:
    party: ExportParty
    # As the GAS last imported them (see ``PriceList``); none if it never did.
    products: tuple[Product, ...] = ()


def _address(party: ExportParty) -> dict[str, str]:
    fields = {"street": party.address, "locality": party.municipality, "zipCode": party.postal_code}
    return {key: value for key, value in fields.items() if value}


def _contacts(party: ExportParty) -> list[dict[str, str]]:
    contacts = [("emailAddress", party.email), ("phoneNumber", party.phone)]
    return [{"type": kind, "value": value} for kind, value in contacts if value]


def _product(product: Product) -> dict[str, object]:
    order_info: dict[str, object] = {"umPrice": product.um_price}
    if product.vat_rate is not None:
        order_info["vatRate"] = product.vat_rate
    written: dict[str, object] = {"name": product.name, "um": product.um}
    for key, value in (
        ("category", product.category),
        ("sku", product.sku),
        ("description", product.description),
    ):
        if value:
            written[key] = value
    written["orderInfo"] = order_info
    return written


def _supplier(producer: ExportProducer, vat: str) -> dict[str, object]:
    supplier: dict[str, object] = {"name": producer.party.name, "vatNumber": vat}
    if producer.party.tax_code:
        supplier["taxCode"] = producer.party.tax_code
    if address := _address(producer.party):
        supplier["address"] = address
    supplier["contacts"] = _contacts(producer.party)
    supplier["products"] = [_product(product) for product in producer.products]
    return {"supplier": supplier}


def build_export(
    gas: ExportParty,
    producers: Sequence[ExportProducer],
    *,
    creation_date: date,
    application_signature: str = APPLICATION_SIGNATURE,
) -> dict[str, object]:
    """The GDXP v1 document: ``subject`` is the GAS, one block per producer with a valid
    partita IVA (the protocol's key; the others are left out). Numbers are Decimals:
    write it with ``export_json``."""
    subject: dict[str, object] = {"name": gas.name}
    if gas.tax_code:
        subject["taxCode"] = gas.tax_code
    if gas.vat_number:
        subject["vatNumber"] = gas.vat_number
    if address := _address(gas):
        subject["address"] = address
    subject["contacts"] = _contacts(gas)
    blocks = [
        _supplier(producer, vat)
        for producer in producers
        if producer.party.vat_number and (vat := vat_number(producer.party.vat_number))
    ]
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "creationDate": creation_date.isoformat(),
        "applicationSignature": application_signature,
        "subject": subject,
        "blocks": blocks,
    }


_ENCODER = msgspec.json.Encoder(decimal_format="number")


def export_json(document: dict[str, object]) -> bytes:
    """UTF-8 JSON with every Decimal written as the exact JSON number (never a float)."""
    return _ENCODER.encode(document)
