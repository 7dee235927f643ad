"""Planning an import: producers created, filled or skipped; relationships with `since`
and `annual_purchases` computed by hand here; the GAS user's rules; imports repeated."""

from __future__ import annotations

import calendar
import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.app.gdxp import (
    FieldChange,
    FieldError,
    GdxpInvalid,
    Importer,
    ImportPlan,
    KnownGas,
    KnownProducer,
    KnownRelationship,
    SkipReason,
    Subject,
    import_answer,
    parse,
    plan_import,
    resolve_gas,
)
from tests.gdxp.conftest import document, encode, piva, product, supplier

VAT_A = piva("0123456001")
VAT_B = piva("0765432002")


def plan(content: dict[str, Any], **kwargs: Any) -> ImportPlan:
    kwargs.setdefault("gas_id", "gas-1")
    kwargs.setdefault("producers", [])
    kwargs.setdefault("relationships", [])
    return plan_import(parse(encode(content)), **kwargs)


def test_the_documented_booking_creates_producer_and_relationship() -> None:
    content = document([supplier("Fornitore di Prova", VAT_A, [
        product("Mele", "0.84", "12.00"), product("Pere", "7.65", "24.00")],
        order={"phase": "booking", "openDate": "2020-01-20", "closeDate": "2020-02-20",
               "deliveryDate": "2020-03-20"})], creation="2020-02-23")
    result = plan(content)
    (created,) = result.producers_created
    assert created.data.name == "Fornitore di Prova"
    assert created.data.email == "info@fornitore.com"
    assert created.data.phone == "+390212345678"
    assert (created.data.address, created.data.postal_code, created.data.municipality) == (
        "Via Roma 42", "20090", "Milano")
    (relationship,) = result.relationships_created
    # Delivered on 2020-03-20, after the file was made (2020-02-23): not in the year
    # before it, so nothing counts; the order still dates the relationship.
    assert relationship.since == date(2020, 3, 20)
    assert relationship.annual_purchases_minor == 0
    assert relationship.producer_id is None
    assert relationship.purchases_as_of == date(2020, 2, 23)


def test_annual_purchases_worked_example() -> None:
    # File made 2021-03-15: the window is 2020-03-15 .. 2021-03-15, both included.
    blocks = [
        supplier("A", VAT_A, [product("Mele", "0.84", "12.5"), product("Pere", "7.65", "3")],
                 order={"openDate": "2020-01-01", "deliveryDate": "2020-03-15"}),  # 33.45
        supplier("A", VAT_A, [product("X", "0.005", "1"), product("Y", "0.005", "1")],
                 order={"openDate": "2021-03-01", "closeDate": "2021-03-15"}),  # 0.01
        supplier("A", VAT_A, [product("Z", "0.335", "3")],
                 order={"deliveryDate": "2020-12-01"}),  # 1.005
        supplier("A", VAT_A, [product("W", "1", "100")],
                 order={"openDate": "2020-03-14"}),  # the day before the window
        supplier("A", VAT_A, [product("V", "1", "100")],
                 order={"deliveryDate": "2021-03-16"}),  # the day after the file
        supplier("A", VAT_A, [product("U", "9.99")],
                 order={"phase": "preorder", "openDate": "2020-06-01"}),  # nothing booked
    ]
    (relationship,) = plan(document(blocks, creation="2021-03-15")).relationships_created
    # 33.45 + 0.01 + 1.005 = 34.465, rounded half-even once: 34.46 (rounding each
    # product would give 34.45, rounding half-up 34.47).
    assert relationship.annual_purchases_minor == 3446
    assert relationship.since == date(2020, 3, 14)


@pytest.mark.parametrize(("order_day", "counted"), [
    ("2023-02-27", False), ("2023-02-28", True), ("2024-02-29", True), ("2024-03-01", False)])
def test_the_window_of_a_leap_day_file_starts_on_the_last_day_of_february(
    order_day: str, counted: bool
) -> None:
    content = document([supplier("A", VAT_A, [product("Mele", "2.50", "4")],
                                 order={"deliveryDate": order_day})], creation="2024-02-29")
    (relationship,) = plan(content).relationships_created
    assert relationship.annual_purchases_minor == (1000 if counted else 0)


def test_a_price_list_creates_the_producer_and_no_relationship() -> None:
    content = document([supplier("A", VAT_A, [
        product("Mele", "1", category="Frutta"), product("Cavoli", "1", category="Verdura"),
        product("Pere", "1", category="Frutta"), product("Sale", "1", category=""),
        product("Uova", "1", category="uova bio ")])])
    result = plan(content)
    assert result.producers_created[0].data.categories == (
        "Frutta", "Verdura", "uova bio ")  # as written, once each, in order
    assert result.relationships_created == ()
    (price_list,) = result.price_lists
    assert [p.name for p in price_list.products] == ["Mele", "Cavoli", "Pere", "Sale", "Uova"]


def test_vat_numbers_key_suppliers_and_invalid_ones_are_skipped() -> None:
    content = document([
        supplier("Con prefisso", "IT" + VAT_A, [product("Mele", "1")]),
        supplier("Stesso, altro ordine", VAT_A, [product("Pere", "2", "1")],
                 order={"openDate": "2020-01-10"}),
        supplier("Fornitore di Prova", "9876543210", [product("Mele", "1")]),
        supplier("Fornitore di Prova", "9876543210", [product("Mele", "1")]),
        supplier("Senza", "", [product("Mele", "1")]),
    ])
    result = plan(content)
    (created,) = result.producers_created
    assert (created.data.vat_number, created.data.name) == (VAT_A, "Con prefisso")
    assert [(s.name, s.vat_number, s.reason) for s in result.producers_skipped] == [
        ("Fornitore di Prova", "9876543210", SkipReason.INVALID_VAT_NUMBER),
        ("Senza", "", SkipReason.INVALID_VAT_NUMBER)]
    assert result.relationships_created[0].annual_purchases_minor == 200


def test_the_first_valid_contact_of_each_kind_is_taken_and_bad_ones_are_warnings() -> None:
    contacts = [
        {"type": "emailAddress", "value": "not an address"},
        {"type": "emailAddress", "value": "ordini@fornitore.it"},
        {"type": "phoneNumber", "value": "123"},
        {"type": "mobileNumber", "value": "333 123 4567"},
        {"type": "phoneNumber", "value": "+39 02 1234 5678"},
        {"type": "emailAddress", "value": "altro@fornitore.it"},
        {"type": "faxNumber", "value": "fax?"},
        {"type": "webSite", "value": "www.fornitore.it"},
    ]
    content = document([supplier("A", VAT_A, [product("Mele", "1")], contacts=contacts,
                                 address={"street": "Via Po 1", "zipCode": "1012"})])
    result = plan(content)
    data = result.producers_created[0].data
    assert (data.email, data.phone) == ("ordini@fornitore.it", "+390212345678")
    assert (data.address, data.postal_code, data.municipality) == ("Via Po 1", None, None)
    assert result.warnings == (
        FieldError("blocks.0.supplier.contacts.0.value", "not a valid e-mail address"),
        FieldError("blocks.0.supplier.contacts.2.value", "not a valid phone number"),
        FieldError("blocks.0.supplier.address.zipCode", "not a 5-digit postal code"),
    )


def test_a_mobile_is_the_phone_when_there_is_no_landline() -> None:
    content = document([supplier("A", VAT_A, [product("Mele", "1")],
                                 contacts=[{"type": "mobileNumber", "value": "3331234567"}])])
    assert plan(content).producers_created[0].data.phone == "+393331234567"


def test_an_undated_order_is_a_warning_and_counts_nothing() -> None:
    content = document([supplier("A", VAT_A, [product("Mele", "1", "5")],
                                 order={"phase": "booking"})])
    result = plan(content)
    assert result.relationships_created == ()
    assert result.warnings == (FieldError(
        "blocks.0.supplier.order",
        "an order without openDate, closeDate or deliveryDate is not counted"),)


def _known(**fields: Any) -> KnownProducer:
    values: dict[str, Any] = {"id": "prod-1", "name": "Vecchio Nome", "vat_number": VAT_A,
                              "email": "vecchia@fornitore.it", "phone": None,
                              "categories": ()}
    values.update(fields)
    return KnownProducer(**values)


LISTINO = document([supplier("Nuovo Nome", VAT_A, [product("Mele", "1", category="Frutta")])])


def test_an_officer_import_fills_only_empty_fields() -> None:
    (update,) = plan(LISTINO, producers=[_known()]).producers_updated
    assert update.producer_id == "prod-1" and update.name == "Vecchio Nome"
    assert update.changes == (
        FieldChange("phone", None, "+390212345678"),
        FieldChange("address", None, "Via Roma 42"),
        FieldChange("postal_code", None, "20090"),
        FieldChange("municipality", None, "Milano"),
        FieldChange("categories", (), ("Frutta",)),
    )


def test_an_officer_import_with_overwrite_replaces_what_the_file_says() -> None:
    known = _known(phone="+390212345678", address="Via Roma 42", postal_code="20090",
                   municipality="Milano", categories=("Verdura",))
    (update,) = plan(LISTINO, producers=[known], overwrite=True).producers_updated
    assert update.changes == (
        FieldChange("email", "vecchia@fornitore.it", "info@fornitore.com"),
        FieldChange("categories", ("Verdura",), ("Frutta",)),
        FieldChange("name", "Vecchio Nome", "Nuovo Nome"),
    )


def test_an_officer_import_of_what_is_known_changes_nothing() -> None:
    known = _known(phone="+390212345678", address="Via Roma 42", postal_code="20090",
                   municipality="Milano", categories=("Frutta",))
    result = plan(LISTINO, producers=[known])
    assert result.producers_updated == () and result.producers_unchanged == ("prod-1",)
    assert result.changes_nothing


def test_a_gas_user_import_leaves_known_producers_unchanged() -> None:
    content = document([
        supplier("Visto", VAT_A, [product("Mele", "2", "3")], order={"openDate": "2020-01-10"}),
        supplier("Non visto", VAT_B, [product("Pere", "2", "3")],
                 order={"openDate": "2020-01-10"}),
    ])
    producers = [_known(), _known(id="prod-2", name="Altro", vat_number=VAT_B, visible=False)]
    result = plan(content, producers=producers, importer=Importer.GAS, overwrite=True)
    (update,) = result.producers_updated
    assert (update.producer_id, update.changes) == ("prod-1", ())
    assert [(s.name, s.vat_number, s.reason) for s in result.producers_skipped] == [
        ("Non visto", VAT_B, SkipReason.EXISTS)]
    # Its own GAS's relationship with the producer it sees; none with the hidden one.
    assert [(r.producer_id, r.annual_purchases_minor) for r in result.relationships_created] == [
        ("prod-1", 600)]
    assert [p.vat_number for p in result.price_lists] == [VAT_A]


def _order_file(creation: str, order_day: str, qty: str) -> dict[str, Any]:
    return document([supplier("A", VAT_A, [product("Mele", "2.00", qty)],
                              order={"deliveryDate": order_day})], creation=creation)


KNOWN_REL = KnownRelationship("rel-1", "prod-1", date(2019, 5, 1), 50_000, date(2020, 1, 1))


def test_a_later_file_keeps_the_earlier_since_and_replaces_the_purchases() -> None:
    (update,) = plan(_order_file("2020-02-23", "2020-02-01", "10"), producers=[_known()],
                     relationships=[KNOWN_REL]).relationships_updated
    assert (update.since, update.annual_purchases_minor, update.purchases_as_of) == (
        date(2019, 5, 1), 2000, date(2020, 2, 23))
    assert update.changed == ("annual_purchases", "purchases_as_of")


def test_an_older_file_moves_since_earlier_but_keeps_the_purchases() -> None:
    (update,) = plan(_order_file("2019-12-31", "2019-01-10", "10"), producers=[_known()],
                     relationships=[KNOWN_REL]).relationships_updated
    assert (update.since, update.annual_purchases_minor, update.purchases_as_of) == (
        date(2019, 1, 10), 50_000, date(2020, 1, 1))
    assert update.changed == ("since",)


def test_a_file_of_the_same_date_changes_nothing() -> None:
    result = plan(_order_file("2020-01-01", "2019-06-01", "7"), producers=[_known()],
                  relationships=[KNOWN_REL])
    assert result.relationships_updated == ()
    assert result.relationships_unchanged == ("rel-1",)


def test_a_relationship_typed_by_hand_takes_the_files_purchases() -> None:
    by_hand = dataclasses.replace(KNOWN_REL, purchases_as_of=None)
    (update,) = plan(_order_file("2018-01-01", "2017-06-01", "1"), producers=[_known()],
                     relationships=[by_hand]).relationships_updated
    assert (update.since, update.annual_purchases_minor) == (date(2017, 6, 1), 200)


def test_purchases_beyond_the_largest_amount_are_refused() -> None:
    many = [product(f"P{i}", "1000000000000", "1000000000000") for i in range(100)]
    content = document([supplier("A", VAT_A, many, order={"openDate": "2020-01-01"})])
    with pytest.raises(GdxpInvalid) as caught:
        plan(content)
    assert [e.field for e in caught.value.errors] == ["blocks.0.supplier.products"]


# ----- the GAS an import is for ---------------------------------------------------------

GASES = [KnownGas("gas-1", "GAS Uno", tax_code="97000000001", vat_number=None),
         KnownGas("gas-2", "GAS Due", tax_code=None, vat_number=VAT_B)]


def test_the_subject_picks_the_gas_by_codice_fiscale_or_partita_iva() -> None:
    assert resolve_gas(Subject("x", tax_code="97000000001"), GASES) == "gas-1"
    assert resolve_gas(Subject("x", vat_number="IT" + VAT_B), GASES) == "gas-2"
    assert resolve_gas(Subject("x", vat_number=VAT_B), GASES, gas_id="gas-1") == "gas-1"


@pytest.mark.parametrize("subject", [Subject("x"), Subject("x", tax_code="00000000000")])
def test_an_officer_names_the_gas_when_the_subject_matches_none(subject: Subject) -> None:
    with pytest.raises(GdxpInvalid) as caught:
        resolve_gas(subject, GASES)
    assert caught.value.as_json() == [
        {"field": "gas_id", "message": "name the GAS: the file's subject matches no GAS"}]


def test_a_gas_user_imports_for_its_own_gas_only() -> None:
    assert resolve_gas(Subject("x"), GASES, own_gas_id="gas-1") == "gas-1"
    assert resolve_gas(Subject("x", tax_code="97000000001"), GASES, own_gas_id="gas-1") == (
        "gas-1")
    with pytest.raises(GdxpInvalid) as caught:
        resolve_gas(Subject("x", vat_number=VAT_B), GASES, own_gas_id="gas-1")
    assert caught.value.as_json() == [
        {"field": "subject", "message": "the file's subject is another GAS"}]


def test_the_answer_is_the_contracts_shape() -> None:
    content = document([
        supplier("Nuovo", VAT_B, [product("Mele", "0.84", "12")],
                 order={"deliveryDate": "2020-01-15"}),
        supplier("Noto", VAT_A, [product("Pere", "7.65", "2")],
                 order={"deliveryDate": "2020-02-01"}),
        supplier("Rotto", "123", [product("Mele", "1")]),
    ], creation="2020-02-23")
    result = plan(content, producers=[_known()], importer=Importer.GAS)
    assert import_answer(result, dry_run=True) == {
        "dry_run": True,
        "gas_id": "gas-1",
        "producers": {
            "created": [{"id": None, "name": "Nuovo", "vat_number": VAT_B}],
            "updated": [{"id": "prod-1", "name": "Vecchio Nome", "vat_number": VAT_A}],
            "skipped": [{"name": "Rotto", "vat_number": "123", "reason": "invalid_vat_number"}],
        },
        "relationships": {
            "created": [
                {"id": None, "producer_id": None, "vat_number": VAT_B, "since": "2020-01-15",
                 "annual_purchases": {"amount": "10.08", "currency": "EUR"}},
                {"id": None, "producer_id": "prod-1", "vat_number": VAT_A,
                 "since": "2020-02-01", "annual_purchases": {"amount": "15.30", "currency": "EUR"}},
            ],
            "updated": [],
        },
        "warnings": [],
    }
    written = import_answer(result, dry_run=False, producer_ids={VAT_B: "prod-9"},
                            relationship_ids={VAT_B: "rel-8", VAT_A: "rel-9"})
    assert written["producers"]["created"][0]["id"] == "prod-9"
    assert [(r["id"], r["producer_id"]) for r in written["relationships"]["created"]] == [
        ("rel-8", "prod-9"), ("rel-9", "prod-1")]


# ----- generated documents -----------------------------------------------------------------

DAYS = st.dates(min_value=date(2017, 1, 1), max_value=date(2021, 12, 31))
PRICES = st.decimals(min_value=0, max_value=500, places=3)
QUANTITIES = st.none() | st.decimals(min_value=0, max_value=200, places=2)


@st.composite
def orders(draw: st.DrawFn) -> dict[str, str] | None:
    if draw(st.booleans()):
        return None
    order: dict[str, str] = {"phase": draw(st.sampled_from(["preorder", "order", "booking"]))}
    for key in draw(st.sets(st.sampled_from(["openDate", "closeDate", "deliveryDate"]))):
        order[key] = draw(DAYS).isoformat()
    return order


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    vats = draw(st.lists(st.integers(1, 9_999_999), min_size=1, max_size=3, unique=True))
    blocks = []
    for n in draw(st.lists(st.sampled_from(range(len(vats))), min_size=1, max_size=6)):
        products = [product(f"P{i}", str(draw(PRICES)),
                            None if (q := draw(QUANTITIES)) is None else str(q),
                            category=draw(st.sampled_from(["Frutta", "Verdura", ""])))
                    for i in range(draw(st.integers(0, 4)))]
        blocks.append(supplier(f"Fornitore {n}", piva(f"{vats[n]:07d}{n + 1:03d}"), products,
                               order=draw(orders()),
                               order_key=draw(st.sampled_from(["order", "orderInfo"]))))
    return document(blocks, creation=draw(DAYS).isoformat())


def _year_before(day: date) -> date:
    year = day.year - 1
    return date(year, day.month, min(day.day, calendar.monthrange(year, day.month)[1]))


def _order_day(order: dict[str, str]) -> date | None:
    for key in ("deliveryDate", "closeDate", "openDate"):
        if key in order:
            return date.fromisoformat(order[key])
    return None


def _by_hand(content: dict[str, Any]) -> dict[str, tuple[date, int]]:
    """(since, cents) per partita IVA, in fractions, rounded half-even by ``round``."""
    creation = date.fromisoformat(content["creationDate"])
    start = _year_before(creation)
    dates: dict[str, list[date]] = {}
    totals: dict[str, Fraction] = {}
    for block in content["blocks"]:
        written = block["supplier"]
        order = written.get("order", written.get("orderInfo"))
        day = None if order is None else _order_day(order)
        if day is None:
            continue
        vat = written["vatNumber"]
        dates.setdefault(vat, []).append(day)
        totals.setdefault(vat, Fraction(0))
        if start <= day <= creation:
            for item in written["products"]:
                if "bookingInfo" in item:
                    totals[vat] += (Fraction(item["bookingInfo"]["totalQty"])
                                    * Fraction(item["orderInfo"]["umPrice"]))
    return {vat: (min(dates[vat]), round(totals[vat] * 100)) for vat in dates}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_generated_relationships_match_a_computation_in_fractions(content: dict[str, Any]) -> None:
    result = plan(content)
    got = {r.vat_number: (r.since, r.annual_purchases_minor) for r in result.relationships_created}
    assert got == _by_hand(content)


def _apply(result: ImportPlan, producers: dict[str, KnownProducer],
           relationships: dict[str, KnownRelationship]) -> None:
    """What the service does with a plan, on dictionaries standing for the tables."""
    ids = {}
    for create in result.producers_created:
        data = create.data
        new_id = f"prod-{len(producers)}"
        ids[data.vat_number] = new_id
        producers[new_id] = KnownProducer(
            new_id, data.name, data.vat_number, data.email, data.phone, data.address,
            data.postal_code, data.municipality, data.categories)
    for update in result.producers_updated:
        changes: dict[str, Any] = {change.field: change.new for change in update.changes}
        producers[update.producer_id] = dataclasses.replace(
            producers[update.producer_id], **changes)
    for rel in result.relationships_created:
        new_id = f"rel-{len(relationships)}"
        producer_id = rel.producer_id or ids[rel.vat_number]
        relationships[new_id] = KnownRelationship(
            new_id, producer_id, rel.since, rel.annual_purchases_minor, rel.purchases_as_of)
    for change in result.relationships_updated:
        relationships[change.relationship_id] = KnownRelationship(
            change.relationship_id, change.producer_id, change.since,
            change.annual_purchases_minor, change.purchases_as_of)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.sampled_from(list(Importer)), st.booleans())
def test_importing_a_generated_file_twice_changes_nothing_the_second_time(
    content: dict[str, Any], importer: Importer, overwrite: bool
) -> None:
    producers: dict[str, KnownProducer] = {}
    relationships: dict[str, KnownRelationship] = {}
    options = {"importer": importer, "overwrite": overwrite}
    _apply(plan(content, **options), producers, relationships)
    again = plan(content, producers=list(producers.values()),
                 relationships=list(relationships.values()), **options)
    assert again.changes_nothing
    assert again.producers_created == () and again.relationships_created == ()
    assert len(again.relationships_unchanged) == len(relationships)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.integers(1, 400))
def test_a_later_file_never_moves_since_later(content: dict[str, Any], days: int) -> None:
    producers: dict[str, KnownProducer] = {}
    relationships: dict[str, KnownRelationship] = {}
    _apply(plan(content), producers, relationships)
    before = {r.producer_id: r.since for r in relationships.values()}
    later = dict(content, creationDate=(
        date.fromisoformat(content["creationDate"]) + timedelta(days=days)).isoformat())
    _apply(plan(later, producers=list(producers.values()),
                relationships=list(relationships.values())), producers, relationships)
    assert {r.producer_id: r.since for r in relationships.values()} == before
    assert all(r.purchases_as_of == date.fromisoformat(later["creationDate"])
               for r in relationships.values())


def test_decimal_inputs_stay_decimal() -> None:
    (block,) = parse(encode(_order_file("2020-02-23", "2020-02-01", "0.1"))).blocks
    assert isinstance(block.products[0].total_qty, Decimal)


KINDS = st.sampled_from(["phoneNumber", "faxNumber", "mobileNumber", "emailAddress", "webSite"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries({"type": KINDS, "value": st.text(max_size=40)}),
                max_size=6),
       st.text(max_size=8))
def test_any_contacts_give_valid_fields_or_warnings(
    contacts: list[dict[str, str]], zip_code: str
) -> None:
    content = document([supplier("A", VAT_A, [product("Mele", "1")], contacts=contacts,
                                 address={"zipCode": zip_code})])
    result = plan(content)
    data = result.producers_created[0].data
    assert data.email is None or "@" in data.email
    assert data.phone is None or (data.phone.startswith("+") and data.phone[1:].isdigit())
    assert data.postal_code is None or (len(data.postal_code) == 5 and data.postal_code.isdigit())
    # Every contact that could fill a field and did not is a warning, and only those.
    usable = {"emailAddress", "phoneNumber", "mobileNumber"}
    candidates = {f"blocks.0.supplier.contacts.{i}.value" for i, c in enumerate(contacts)
                  if c["type"] in usable and c["value"].strip()}
    warned = {w.field for w in result.warnings if w.field.endswith(".value")}
    assert warned <= candidates
    if data.email is None:
        assert {p for p in candidates
                if contacts[int(p.split(".")[4])]["type"] == "emailAddress"} <= warned
