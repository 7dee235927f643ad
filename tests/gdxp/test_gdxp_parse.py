"""Reading GDXP files: exact numbers, the schema's errors at their dotted paths, v0 XML,
and hostile files refused with a clear error."""

from __future__ import annotations

import codecs
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.app.gdxp import MAX_BYTES, MAX_DEPTH, GdxpInvalid, parse
from tests.gdxp.conftest import document, encode, piva, product, supplier

VAT = piva("0123456001")


def booking() -> dict[str, Any]:
    """The protocol documentation's third case (a booking), rebuilt by hand."""
    return document([
        supplier("Fornitore di Prova", VAT, [
            product("Mele", "0.84", "12.00", category="Non Specificato", sku="M0123"),
            product("Pere", "7.65", "24.00", category="Frutta e Verdura", um="Cassette"),
        ], order={"phase": "booking", "openDate": "2020-01-20", "closeDate": "2020-02-20",
                  "deliveryDate": "2020-03-20"}),
    ])


def errors_of(content: Any) -> list[dict[str, str]]:
    with pytest.raises(GdxpInvalid) as caught:
        parse(content if isinstance(content, bytes) else encode(content))
    return caught.value.as_json()


def fields_of(content: Any) -> list[str]:
    return [error["field"] for error in errors_of(content)]


def test_documented_booking_reads_into_records_exactly() -> None:
    parsed = parse(encode(booking()))
    assert parsed.creation_date == date(2020, 2, 23)
    assert parsed.protocol_version == "1.0"
    assert parsed.subject.name == "GAS di Prova"
    assert parsed.subject.address.zip_code == "00153"
    (block,) = parsed.blocks
    assert (block.name, block.vat_number, block.address.locality) == (
        "Fornitore di Prova", VAT, "Milano")
    assert block.order is not None
    assert block.order.phase == "booking"
    assert block.order.date == date(2020, 3, 20)  # the delivery date comes first
    mele, pere = block.products
    assert (mele.um_price, mele.total_qty, mele.sku) == (Decimal("0.84"), Decimal("12.00"), "M0123")
    assert (pere.um, pere.category, pere.vat_rate) == ("Cassette", "Frutta e Verdura", Decimal(22))
    assert [c.kind for c in block.contacts] == ["emailAddress", "phoneNumber", "webSite"]
    assert block.contacts[1].path == "blocks.0.supplier.contacts.1.value"


def test_numbers_are_read_from_the_text_never_through_a_float() -> None:
    text = encode(booking()).replace(b"0.84", b"0.1000000000000000055511151231257827")
    # 0.1 as a float is 0.1000000000000000055511151231257827...; more than 12 decimals
    # is refused, and a representable-looking decimal stays exactly what was written.
    assert fields_of(text) == ["blocks.0.supplier.products.0.orderInfo.umPrice"]
    text = encode(booking()).replace(b"0.84", b"0.10")
    assert parse(text).blocks[0].products[0].um_price == Decimal("0.10")
    assert float(Decimal("0.10")) != Decimal("0.10")  # why the float path would be wrong


def test_order_dates_fall_back_from_delivery_to_close_to_open() -> None:
    content = booking()
    order = content["blocks"][0]["supplier"]["order"]
    del order["deliveryDate"]
    assert parse(encode(content)).blocks[0].order.date == date(2020, 2, 20)  # type: ignore[union-attr]
    del order["closeDate"]
    assert parse(encode(content)).blocks[0].order.date == date(2020, 1, 20)  # type: ignore[union-attr]


def test_order_info_at_supplier_level_is_read_as_the_order() -> None:
    content = booking()
    written = content["blocks"][0]["supplier"]
    written["orderInfo"] = written.pop("order")
    order = parse(encode(content)).blocks[0].order
    assert order is not None and order.delivery_date == date(2020, 3, 20)


@pytest.mark.parametrize("version", ["1.0", Decimal("1.0"), 1])
def test_protocol_version_is_a_number_or_a_string(version: Any) -> None:
    assert parse(encode(document([], version=version))).protocol_version == str(version)


def test_a_utf8_byte_order_mark_is_tolerated() -> None:
    assert parse(codecs.BOM_UTF8 + encode(booking())).blocks[0].name == "Fornitore di Prova"


# ----- every validation error at its dotted path ---------------------------------------


def _without(path: list[Any]) -> dict[str, Any]:
    content = booking()
    parent = content
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return content


@pytest.mark.parametrize("path", [
    ["protocolVersion"], ["creationDate"], ["applicationSignature"], ["subject"], ["blocks"],
    ["subject", "name"],
    ["blocks", 0, "supplier", "name"],
    ["blocks", 0, "supplier", "vatNumber"],
    ["blocks", 0, "supplier", "products"],
    ["blocks", 0, "supplier", "products", 0, "name"],
    ["blocks", 0, "supplier", "products", 0, "um"],
    ["blocks", 0, "supplier", "products", 1, "orderInfo"],
    ["blocks", 0, "supplier", "products", 1, "orderInfo", "umPrice"],
])
def test_a_missing_property_is_named_at_its_own_path(path: list[Any]) -> None:
    expected = ".".join(str(part) for part in path)
    assert errors_of(_without(path)) == [{"field": expected, "message": "is required"}]


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    content = booking()
    parent = content
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return content


S = ["blocks", 0, "supplier"]
P = [*S, "products", 0]


@pytest.mark.parametrize(("path", "value", "message"), [
    (["protocolVersion"], True, "must be of type number or string"),
    (["creationDate"], "2020-02-30", "must be a valid date (YYYY-MM-DD)"),
    (["creationDate"], "23/02/2020", "must be a valid date (YYYY-MM-DD)"),
    (["applicationSignature"], 7, "must be of type string"),
    (["subject"], "GAS", "must be of type object"),
    (["subject", "taxCode"], None, "must be of type string"),
    (["subject", "address", "zipCode"], 153, "must be of type string"),
    (["subject", "contacts", 0, "type"], "telegram",
     "must be one of phoneNumber, faxNumber, mobileNumber, emailAddress, webSite"),
    (["blocks"], {}, "must be of type array"),
    ([*S, "vatNumber"], 12345678901, "must be of type string"),
    ([*S, "contacts"], "info@fornitore.com", "must be of type array"),
    ([*S, "order", "phase"], "closed", "must be one of preorder, order, booking"),
    ([*S, "order", "openDate"], "2020-1-20", "must be a valid date (YYYY-MM-DD)"),
    ([*S, "order", "deliveryDate"], 20200320, "must be of type string"),
    ([*P, "orderInfo", "umPrice"], "0.84", "must be of type number"),
    ([*P, "orderInfo", "umPrice"], Decimal("-0.01"), "must be at least 0"),
    ([*P, "orderInfo", "packageQty"], 0, "must be at least 1"),
    ([*P, "orderInfo", "packageQty"], Decimal("1.5"), "must be of type integer"),
    ([*P, "orderInfo", "vatRate"], 101, "must be at most 100"),
    ([*P, "bookingInfo", "totalQty"], "12", "must be of type number"),
    # Bounds Filiera adds before it multiplies anything.
    ([*P, "bookingInfo", "totalQty"], Decimal("-1"), "must not be negative"),
    ([*P, "orderInfo", "umPrice"], Decimal("1000000000000.01"), "must be at most 1000000000000"),
    ([*P, "bookingInfo", "totalQty"], Decimal("1E-13"), "must have at most 12 decimal places"),
])
def test_each_wrong_value_is_named_at_its_dotted_path(
    path: list[Any], value: Any, message: str
) -> None:
    expected = ".".join(str(part) for part in path)
    assert errors_of(_with(path, value)) == [{"field": expected, "message": message}]


@pytest.mark.parametrize("content", [[], "GDXP", 1, None])
def test_a_document_that_is_not_an_object_is_named_with_the_empty_path(content: Any) -> None:
    assert errors_of(content) == [{"field": "", "message": "must be of type object"}]


def test_several_errors_are_all_named_once_each_in_path_order() -> None:
    content = booking()
    del content["creationDate"]
    content["blocks"][0]["supplier"]["products"][1]["orderInfo"]["umPrice"] = "x"
    del content["subject"]["name"]
    assert fields_of(content) == [
        "blocks.0.supplier.products.1.orderInfo.umPrice", "creationDate", "subject.name"]


def test_the_real_world_shape_with_extra_properties_is_accepted() -> None:
    content = booking()
    content["subject"]["global_id"] = "gas-di-prova"
    content["blocks"][0]["supplier"]["products"][0]["active"] = False
    content["blocks"][0]["note"] = "extra properties are not forbidden by the protocol"
    assert len(parse(encode(content)).blocks[0].products) == 2


# ----- hostile files ----------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_before_reading() -> None:
    assert errors_of(b" " * (MAX_BYTES + 1)) == [
        {"field": "", "message": f"the file is larger than {MAX_BYTES} bytes"}]
    small = encode(booking())
    with pytest.raises(GdxpInvalid, match="larger than 100 bytes"):
        parse(small, max_bytes=100)


def test_a_huge_valid_file_within_the_limit_is_read() -> None:
    many = [product(f"P{i}", "1.25", "2") for i in range(4_000)]
    content = document([supplier("Grande", VAT, many, order={"openDate": "2020-01-01"})])
    assert len(encode(content)) > 900_000
    assert len(parse(encode(content)).blocks[0].products) == 4_000


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 200_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    nested = b'{"protocolVersion": ' + b"[" * depth + b"]" * depth + b"}"
    assert errors_of(nested) == [
        {"field": "", "message": f"nested deeper than {MAX_DEPTH} levels"}]


def test_nesting_up_to_the_limit_is_not_an_error_of_depth() -> None:
    content = booking()
    content["blocks"][0]["note"] = json.loads("[" * (MAX_DEPTH - 3) + "]" * (MAX_DEPTH - 3))
    assert parse(encode(content)).blocks[0].name == "Fornitore di Prova"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_are_refused_clearly(encoding: str) -> None:
    data = json.dumps({"name": "Società"}).encode(encoding)
    assert errors_of(data) == [
        {"field": "", "message": "the file must be UTF-8 encoded (found UTF-16/32)"}]


def test_latin1_text_is_refused_naming_the_bad_byte() -> None:
    data = encode(_with(["subject", "name"], "GAS Società")).decode().encode("latin-1")
    offset = data.index("à".encode("latin-1"))
    assert errors_of(data) == [
        {"field": "", "message": f"the file is not UTF-8 text (bad byte at offset {offset})"}]


@pytest.mark.parametrize("data", [
    b"", b"{", b"{'a': 1}", b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1' + b"0" * 5000 + b"}",
    b"\x00\x01\x02",
])
def test_malformed_json_is_one_clear_error_on_the_document(data: bytes) -> None:
    errors = errors_of(data)
    assert len(errors) == 1 and errors[0]["field"] == ""
    assert errors[0]["message"].startswith(("not valid JSON", "the file is not UTF-8"))


# ----- v0 XML -----------------------------------------------------------------------------

V0 = f"""<?xml version="1.0" encoding="UTF-8"?>
<gdxp protocolVersion="0.2" creationDate="20200223101500" applicationSignature="GASdotto">
  <supplier>
    <taxCode>FRNPRV80A01F205X</taxCode>
    <vatNumber>{VAT}</vatNumber>
    <name>Fornitore di Prova</name>
    <address><street>Via Roma 42</street><locality>Milano</locality>
      <zipCode>20090</zipCode><country>Italia</country></address>
    <contacts><contact>
      <primary><phoneNumber>0212345678</phoneNumber><emailAddress>info@fornitore.com</emailAddress></primary>
      <extraContact><firstName>Anna</firstName><lastName>Rossi</lastName>
        <phoneNumber></phoneNumber><mobileNumber>3331234567</mobileNumber>
        <emailAddress>anna@fornitore.com</emailAddress></extraContact>
    </contact></contacts>
    <products>
      <product><sku>M0123</sku><name>Mele</name><category>Frutta</category><um>Chili</um>
        <description>Mele rosse</description><active>true</active>
        <orderInfo><packageQty>1</packageQty><umPrice>0.84</umPrice><vatRate>4</vatRate></orderInfo>
      </product>
    </products>
    <orders>
      <order><openDate>20200120</openDate><closeDate>20200220</closeDate></order>
      <order><openDate>2020-02-21</openDate><closeDate>2020-03-01</closeDate>
        <deliveryDate>2020-03-05</deliveryDate></order>
    </orders>
  </supplier>
</gdxp>
"""


def test_a_v0_xml_file_reads_as_one_block_per_order() -> None:
    parsed = parse(V0.encode())
    assert parsed.creation_date == date(2020, 2, 23)
    assert parsed.protocol_version == "0.2"
    assert [b.order.date for b in parsed.blocks if b.order] == [
        date(2020, 2, 20), date(2020, 3, 5)]
    block = parsed.blocks[0]
    assert (block.vat_number, block.tax_code, block.address.zip_code) == (
        VAT, "FRNPRV80A01F205X", "20090")
    assert [(c.kind, c.value) for c in block.contacts] == [
        ("phoneNumber", "0212345678"), ("emailAddress", "info@fornitore.com"),
        ("phoneNumber", ""), ("mobileNumber", "3331234567"),
        ("emailAddress", "anna@fornitore.com")]
    (mele,) = block.products
    assert (mele.um_price, mele.vat_rate, mele.total_qty) == (Decimal("0.84"), Decimal(4), None)


def test_a_v0_price_list_without_orders_is_one_block_without_order() -> None:
    start, end = V0.index("<orders>"), V0.index("</orders>") + len("</orders>")
    parsed = parse((V0[:start] + V0[end:]).encode())
    assert [block.order for block in parsed.blocks] == [None]


def test_a_v0_file_with_a_wrong_price_is_named_at_the_v1_path() -> None:
    assert errors_of(V0.replace("<umPrice>0.84", "<umPrice>0,84").encode()) == [
        {"field": "blocks.0.supplier.products.0.orderInfo.umPrice",
         "message": "must be of type number"},
        {"field": "blocks.1.supplier.products.0.orderInfo.umPrice",
         "message": "must be of type number"},
    ]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE gdxp [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<gdxp protocolVersion="&c;" creationDate="20200101" applicationSignature="x"/>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE gdxp [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<gdxp protocolVersion="&x;" creationDate="20200101" applicationSignature="x"/>"""
DTD_ONLY = b"""<?xml version="1.0"?>
<!DOCTYPE gdxp SYSTEM "http://example.com/GDXP-0.dtd">
<gdxp protocolVersion="0.2" creationDate="20200101" applicationSignature="x"/>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL, DTD_ONLY])
def test_xml_dtds_and_entities_are_refused(data: bytes) -> None:
    (error,) = errors_of(data)
    assert error["field"] == ""
    assert error["message"].startswith("XML DTDs and entities are not accepted")


@pytest.mark.parametrize(("data", "start"), [
    (b"<gdxp><supplier>", "not well-formed XML"),
    ("<?xml version='1.0' encoding='utf-8'?><gdxp a='\xe0'/>".encode("latin-1"),
     "not well-formed XML"),
    (b"<listino/>", "an XML file must be a GDXP v0 document"),
    (b"<gdxp>" + b"<x>" * (MAX_DEPTH + 1) + b"</x>" * (MAX_DEPTH + 1) + b"</gdxp>",
     "nested deeper than"),
])
def test_broken_xml_is_one_clear_error(data: bytes, start: str) -> None:
    (error,) = errors_of(data)
    assert error["field"] == "" and error["message"].startswith(start)


def test_an_empty_v0_root_names_its_missing_attributes() -> None:
    assert fields_of(b"<gdxp/>") == ["applicationSignature", "creationDate", "protocolVersion"]



def test_a_v0_package_quantity_must_be_whole() -> None:
    data = V0.replace("<packageQty>1<", "<packageQty>1.5<").encode()
    assert fields_of(data) == ["blocks.0.supplier.products.0.orderInfo.packageQty",
                               "blocks.1.supplier.products.0.orderInfo.packageQty"]
    huge = V0.replace("<packageQty>1<", "<packageQty>" + "1" * 5000 + "<").encode()
    assert parse(huge).blocks[0].products[0].name == "Mele"


def test_a_v0_supplier_without_partita_iva_is_read_with_an_empty_one() -> None:
    data = V0.replace(f"<vatNumber>{VAT}</vatNumber>", "").encode()
    assert {block.vat_number for block in parse(data).blocks} == {""}


# ----- whatever arrives, the answer is a document or GdxpInvalid -------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12)
    | st.decimals(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _parsed_or_refused(data: bytes) -> None:
    try:
        parse(data)
    except GdxpInvalid as refused:
        assert refused.errors
        assert all(isinstance(e.field, str) and e.message for e in refused.errors)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_value_anywhere_in_a_document_is_read_or_refused_never_a_crash(
    data: st.DataObject,
) -> None:
    content: Any = booking()
    path = data.draw(st.sampled_from(_paths(content)))
    value = data.draw(JSON_VALUES)
    if path:
        parent: Any = content
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
    else:
        content = value
    _parsed_or_refused(encode(content))


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_any_bytes_are_read_or_refused_never_a_crash(data: bytes) -> None:
    _parsed_or_refused(data)


@pytest.mark.parametrize(
    "day", ["2020-W01-1", "20200101", "2020-01-01T00:00", "2020-1-01", "２０２０-01-01"])
def test_only_calendar_dates_are_dates(day: str) -> None:
    assert fields_of(_with(["creationDate"], day)) == ["creationDate"]
