"""The export: a GDXP v1 document of the producers a GAS buys from, valid against the
schema imports are validated with, and read back by the import as what was written."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from service.app.gdxp import (
    ExportParty,
    ExportProducer,
    KnownProducer,
    Product,
    build_export,
    export_json,
    parse,
    plan_import,
    schema_errors,
)
from tests.gdxp.conftest import piva

VAT_A = piva("0123456001")
GAS = ExportParty("GAS di Prova", tax_code="97000000001", address="Via Garibaldi 13",
                  postal_code="00153", municipality="Roma", email="gas@prova.it")
MELE = Product("Mele", "Chili", Decimal("0.84"), category="Frutta", sku="M0123",
               vat_rate=Decimal("4"))
PRODUCER = ExportProducer(ExportParty(
    "Fornitore di Prova", vat_number=VAT_A, email="info@fornitore.com",
    phone="+390212345678", address="Via Roma 42", postal_code="20090",
    municipality="Milano"), (MELE,))


def test_the_export_is_the_documented_shape() -> None:
    written = build_export(GAS, [PRODUCER], creation_date=date(2026, 12, 6))
    assert written == {
        "protocolVersion": Decimal("1.0"),
        "creationDate": "2026-12-06",
        "applicationSignature": "Filiera",
        "subject": {
            "name": "GAS di Prova", "taxCode": "97000000001",
            "address": {"street": "Via Garibaldi 13", "locality": "Roma", "zipCode": "00153"},
            "contacts": [{"type": "emailAddress", "value": "gas@prova.it"}],
        },
        "blocks": [{"supplier": {
            "name": "Fornitore di Prova", "vatNumber": VAT_A,
            "address": {"street": "Via Roma 42", "locality": "Milano", "zipCode": "20090"},
            "contacts": [{"type": "emailAddress", "value": "info@fornitore.com"},
                         {"type": "phoneNumber", "value": "+390212345678"}],
            "products": [{"name": "Mele", "um": "Chili", "category": "Frutta", "sku": "M0123",
                          "orderInfo": {"umPrice": Decimal("0.84"), "vatRate": Decimal("4")}}],
        }}],
    }
    assert schema_errors(written) == []


def test_the_json_writes_protocol_version_and_prices_as_exact_numbers() -> None:
    text = export_json(build_export(GAS, [PRODUCER], creation_date=date(2026, 12, 6)))
    assert b'"protocolVersion":1.0' in text and b'"umPrice":0.84' in text
    assert json.loads(text, parse_float=Decimal)["protocolVersion"] == Decimal("1.0")


def test_producers_without_a_valid_partita_iva_are_left_out() -> None:
    no_vat = ExportProducer(ExportParty("Senza"))
    bad_vat = ExportProducer(ExportParty("Sbagliata", vat_number="12345678901"))
    prefixed = ExportProducer(ExportParty("Prefisso", vat_number="IT" + VAT_A))
    written = build_export(GAS, [no_vat, bad_vat, prefixed], creation_date=date(2026, 1, 1))
    assert [b["supplier"]["name"] for b in written["blocks"]] == ["Prefisso"]
    assert written["blocks"][0]["supplier"]["vatNumber"] == VAT_A
    assert written["blocks"][0]["supplier"]["products"] == []


def test_an_exported_file_imports_back_as_the_same_producer() -> None:
    text = export_json(build_export(GAS, [PRODUCER], creation_date=date(2026, 12, 6)))
    parsed = parse(text)
    assert parsed.protocol_version == "1.0"
    assert parsed.blocks[0].products == (MELE,)
    party = PRODUCER.party
    known = KnownProducer("prod-1", party.name, party.vat_number, party.email, party.phone,
                          party.address, party.postal_code, party.municipality, ("Frutta",))
    result = plan_import(parsed, gas_id="gas-1", producers=[known], relationships=[],
                         overwrite=True)
    assert result.changes_nothing and result.producers_unchanged == ("prod-1",)


TEXT = st.text(st.characters(codec="utf-8"), max_size=20)
MAYBE = st.none() | TEXT
PRODUCTS = st.builds(
    Product, name=TEXT, um=TEXT, um_price=st.decimals(min_value=0, max_value=10**6, places=2),
    category=TEXT, sku=TEXT, description=TEXT,
    vat_rate=st.none() | st.decimals(min_value=0, max_value=100, places=1))


def parties(vat: st.SearchStrategy[str | None]) -> st.SearchStrategy[ExportParty]:
    return st.builds(ExportParty, name=TEXT, tax_code=MAYBE, vat_number=vat, email=MAYBE,
                     phone=MAYBE, address=MAYBE, postal_code=MAYBE, municipality=MAYBE)


# Valid ones are the only all-digit values drawn.
VATS = (st.none() | TEXT.filter(lambda text: not text.isdigit())
        | st.integers(1, 9_999_999).map(lambda n: piva(f"{n:07d}050")))


@settings(max_examples=40, deadline=None)
@given(parties(MAYBE), st.lists(st.builds(ExportProducer, parties(VATS),
                                          st.lists(PRODUCTS, max_size=3).map(tuple)),
                                max_size=4),
       st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_every_export_validates_and_reads_back(
    gas: ExportParty, producers: list[ExportProducer], day: date
) -> None:
    written = build_export(gas, producers, creation_date=day)
    assert schema_errors(written) == []
    parsed = parse(export_json(written))
    assert parsed.creation_date == day
    kept = [p for p in producers if p.party.vat_number and p.party.vat_number.isdigit()]
    assert [block.name for block in parsed.blocks] == [p.party.name for p in kept]
    assert [tuple(b.products) for b in parsed.blocks] == [p.products for p in kept]
