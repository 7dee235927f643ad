"""A validated GDXP document as typed records (only what Filiera reads from it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Address:
    street: str = ""
    locality: str = ""
    zip_code: str = ""


@dataclass(frozen=True)
class Contact:
    """``kind`` is the protocol's type: phoneNumber, faxNumber, mobileNumber,
    emailAddress or webSite; ``path`` locates it in the file for warnings."""

    kind: str
    value: str
    path: str


@dataclass(frozen=True)
class Subject:
    name: str
    tax_code: str = ""
    vat_number: str = ""
    address: Address = Address()
    contacts: tuple[Contact, ...] = ()


@dataclass(frozen=True)
class Product:
    name: str
    um: str
    um_price: Decimal
    category: str = ""
    sku: str = ""
    description: str = ""
    vat_rate: Decimal | None = None
    # What the subject GAS booked of it, when the block is a booking (else None).
    total_qty: Decimal | None = None


@dataclass(frozen=True)
class Order:
    phase: str | None = None
    open_date: date | None = None
    close_date: date | None = None
    delivery_date: date | None = None

    @property
    def date(self) -> date | None:
        """The order's date for the network: delivery, else close, else open."""
        return self.delivery_date or self.close_date or self.open_date


@dataclass(frozen=True)
class SupplierBlock:
    """One entry of ``blocks``; ``index`` is its position (for dotted paths)."""

    index: int
    name: str
    vat_number: str
    tax_code: str = ""
    address: Address = Address()
    contacts: tuple[Contact, ...] = ()
    products: tuple[Product, ...] = ()
    order: Order | None = None


@dataclass(frozen=True)
class GdxpDocument:
    protocol_version: str
    creation_date: date
    application_signature: str
    subject: Subject
    blocks: tuple[SupplierBlock, ...]
