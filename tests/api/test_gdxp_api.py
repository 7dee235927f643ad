"""GDXP import and export over HTTP (API.md, "Network import and export (GDXP)"): the
answer, dry runs, a second import changing nothing, refusals, and an export valid
against the schema that an import into a fresh database reads back."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from litestar.testing import TestClient
from sqlalchemy import Engine, func, select

from service.app.auth import create_user
from service.app.gdxp import load_schema
from service.db.engine import make_engine, write_tx
from service.db.tables import gdxp_price_lists, parties, relationships
from service.http.app import create_app
from service.settings import Settings
from tests.api.conftest import PASSWORD, Api
from tests.conftest import PG_URL, PgSchemas
from tests.gdxp.conftest import document, encode, piva, product, supplier

VAT_A = piva("1234567001")
VAT_B = piva("7654321002")
ORDER = {"phase": "booking", "openDate": "2020-01-10", "closeDate": "2020-01-20",
         "deliveryDate": "2020-01-25"}


def gdxp_file(creation: str = "2020-02-23", **subject: Any) -> bytes:
    blocks = [
        supplier("Cascina Bio", VAT_A, [product("Mele", "0.84", "10.5"),
                                        product("Pere", "1.10", "3", category="Frutta")],
                 order=ORDER),
        supplier("Cascina Bio", VAT_A, [product("Mele", "0.84", "2")],
                 order={"openDate": "2019-03-01", "deliveryDate": "2019-03-10"}),
        supplier("Oleificio", VAT_B, [product("Olio", "9.50", category="Olio")]),
        supplier("Senza IVA", "12345", [product("Uova", "0.30")]),
    ]
    subj = None
    if subject:
        subj = {"name": "GAS di Prova", **subject}
    return encode(document(blocks, creation=creation, subject=subj))


def send(api: Api, data: bytes, query: str = "", who: str = "officer",
         content_type: str = "application/json") -> Any:
    return api.client.post(f"/api/imports/gdxp{query}", content=data,
                           headers={**api.headers(who), "Content-Type": content_type})


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_an_officer_import_creates_producers_and_relationships(api: Api, engine: Engine
                                                                ) -> None:
    gas = api.parties["gas"]
    answer = api.ok(send(api, gdxp_file(), f"?gas_id={gas}"))
    assert answer["dry_run"] is False and answer["gas_id"] == gas
    created = answer["producers"]["created"]
    assert [(p["name"], p["vat_number"]) for p in created] == [
        ("Cascina Bio", VAT_A), ("Oleificio", VAT_B)]
    assert all(p["id"] for p in created)
    assert answer["producers"]["skipped"] == [
        {"name": "Senza IVA", "vat_number": "12345", "reason": "invalid_vat_number"}]
    (rel,) = answer["relationships"]["created"]
    # 10.5 x 0.84 + 3 x 1.10 + 2 x 0.84 = 13.80 (the 2019-03-10 order is in the window)
    assert rel["annual_purchases"] == {"amount": "13.80", "currency": "EUR"}
    assert rel["since"] == "2019-03-10" and rel["vat_number"] == VAT_A
    assert rel["producer_id"] == created[0]["id"] and rel["id"]
    producer = api.ok(api.get(f"/api/parties/{created[0]['id']}"))
    assert producer["email"] == "info@fornitore.com"
    assert producer["phone"] == "+390212345678"
    assert (producer["address"], producer["postal_code"], producer["municipality"]) == (
        "Via Roma 42", "20090", "Milano")
    assert producer["categories"] == ["Frutta"]
    listed = api.ok(api.get(f"/api/relationships?gas_id={gas}"))["items"]
    assert [(r["producer_id"], r["since"], r["annual_purchases"]["amount"])
            for r in listed] == [(created[0]["id"], "2019-03-10", "13.80")]
    assert count(engine, gdxp_price_lists) == 2


def test_the_same_file_twice_changes_nothing_the_second_time(api: Api, engine: Engine
                                                             ) -> None:
    gas = api.parties["gas"]
    api.ok(send(api, gdxp_file(), f"?gas_id={gas}"))
    before = (count(engine, parties), count(engine, relationships))
    again = api.ok(send(api, gdxp_file(), f"?gas_id={gas}"))
    assert again["producers"]["created"] == again["producers"]["updated"] == []
    assert again["relationships"] == {"created": [], "updated": []}
    assert (count(engine, parties), count(engine, relationships)) == before


def test_a_dry_run_answers_and_writes_nothing(api: Api, engine: Engine) -> None:
    before = (count(engine, parties), count(engine, relationships),
              count(engine, gdxp_price_lists))
    answer = api.ok(send(api, gdxp_file(), f"?gas_id={api.parties['gas']}&dry_run=true"))
    assert answer["dry_run"] is True
    assert [p["id"] for p in answer["producers"]["created"]] == [None, None]
    assert answer["relationships"]["created"][0]["id"] is None
    assert answer["relationships"]["created"][0]["annual_purchases"]["amount"] == "13.80"
    assert (count(engine, parties), count(engine, relationships),
            count(engine, gdxp_price_lists)) == before


def test_a_later_file_replaces_the_purchases_and_keeps_the_earlier_since(api: Api) -> None:
    gas = api.parties["gas"]
    api.ok(send(api, gdxp_file(), f"?gas_id={gas}"))
    later = encode(document([supplier("Cascina Bio", VAT_A, [product("Mele", "1.00", "7")],
                                      order={"deliveryDate": "2021-01-10"})],
                            creation="2021-02-01"))
    (rel,) = api.ok(send(api, later, f"?gas_id={gas}"))["relationships"]["updated"]
    assert rel["since"] == "2019-03-10" and rel["annual_purchases"]["amount"] == "7.00"
    older = api.ok(send(api, gdxp_file("2020-02-24"), f"?gas_id={gas}"))
    assert older["relationships"] == {"created": [], "updated": []}


def test_a_gas_user_imports_for_its_own_gas(api: Api) -> None:
    answer = api.ok(send(api, gdxp_file(), who="gas"))
    assert answer["gas_id"] == api.parties["gas"]
    assert len(answer["relationships"]["created"]) == 1
    # The other GAS's user: the known producers it cannot see are skipped as `exists`.
    other = api.ok(send(api, gdxp_file(), who="other_gas"))
    assert {(s["name"], s["reason"]) for s in other["producers"]["skipped"]} == {
        ("Cascina Bio", "exists"), ("Oleificio", "exists"),
        ("Senza IVA", "invalid_vat_number")}
    assert other["relationships"]["created"] == []


def test_a_gas_user_importing_for_another_gas_is_refused(api: Api, engine: Engine) -> None:
    before = count(engine, parties)
    r = send(api, gdxp_file(), f"?gas_id={api.parties['other_gas']}", who="gas")
    assert r.status_code in (403, 404), r.text
    assert r.status_code == 404  # another GAS is not visible to it
    assert send(api, gdxp_file(), who="producer").status_code == 403
    assert count(engine, parties) == before


def test_a_subject_naming_another_gas_is_422_for_a_gas_user(api: Api) -> None:
    with write_tx(api.client.app.state["ctx"].engine) as conn:
        conn.execute(parties.update().where(parties.c.id == api.parties["other_gas"])
                     .values(vat_number=VAT_B[:10] + VAT_B[10]))
    r = send(api, gdxp_file(vatNumber=VAT_B), who="gas")
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["subject"]
    # An officer without gas_id: the subject names the GAS.
    assert api.ok(send(api, gdxp_file(vatNumber=VAT_B)))["gas_id"] == api.parties["other_gas"]


def test_an_officer_must_name_the_gas_when_the_subject_matches_none(api: Api) -> None:
    r = send(api, gdxp_file())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "gas_id"
    r = send(api, gdxp_file(), f"?gas_id={api.parties['producer']}")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "gas_id"


def test_an_invalid_file_is_422_naming_where_and_writes_nothing(api: Api, engine: Engine
                                                                ) -> None:
    content = json.loads(gdxp_file())
    del content["blocks"][0]["supplier"]["vatNumber"]
    content["creationDate"] = "23/02/2020"
    before = count(engine, parties)
    r = send(api, json.dumps(content).encode(), f"?gas_id={api.parties['gas']}")
    assert r.status_code == 422, r.text
    assert {e["field"] for e in r.json()["errors"]} == {
        "blocks.0.supplier.vatNumber", "creationDate"}
    r = send(api, b"{not json", f"?gas_id={api.parties['gas']}")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == ""
    assert count(engine, parties) == before


def test_a_refused_producer_field_writes_nothing_of_the_file(api: Api, engine: Engine
                                                             ) -> None:
    content = json.loads(gdxp_file())
    content["blocks"][2]["supplier"]["name"] = "x" * 201
    before = (count(engine, parties), count(engine, relationships))
    r = send(api, json.dumps(content).encode(), f"?gas_id={api.parties['gas']}")
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "blocks.2.supplier.name"
    assert (count(engine, parties), count(engine, relationships)) == before


def test_wrong_content_types_are_415_and_xml_is_read(api: Api) -> None:
    gas = api.parties["gas"]
    assert send(api, gdxp_file(), f"?gas_id={gas}", content_type="text/plain"
                ).status_code == 415
    r = api.client.post(f"/api/imports/gdxp?gas_id={gas}", content=gdxp_file(),
                        headers={**api.headers("officer"), "Content-Type": ""})
    assert r.status_code == 415
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<gdxp protocolVersion="0.2" creationDate="20200223101500" applicationSignature="GASdotto">
  <supplier><vatNumber>{VAT_A}</vatNumber><name>Cascina Bio</name>
    <products><product><name>Mele</name><category>Frutta</category><um>Chili</um>
      <orderInfo><umPrice>0.84</umPrice></orderInfo></product></products>
    <orders><order><openDate>20200120</openDate><deliveryDate>20200201</deliveryDate></order>
    </orders></supplier>
</gdxp>""".encode()
    answer = api.ok(send(api, xml, f"?gas_id={gas}", content_type="application/xml"))
    assert [p["vat_number"] for p in answer["producers"]["created"]] == [VAT_A]
    assert answer["relationships"]["created"][0]["since"] == "2020-02-01"
    laughs = b"""<?xml version="1.0"?><!DOCTYPE gdxp [<!ENTITY a "aaaa">]>
<gdxp protocolVersion="&a;" creationDate="20200101" applicationSignature="x"/>"""
    r = send(api, laughs, f"?gas_id={gas}", content_type="application/xml")
    assert r.status_code == 422 and "DTD" in r.json()["errors"][0]["message"]
    # The other routes still refuse XML bodies.
    r = api.client.post("/api/parties", content=b"<party/>",
                        headers={**api.headers("officer"), "Content-Type": "application/xml"})
    assert r.status_code == 415


def test_an_officer_fills_empty_fields_and_overwrites_on_request(api: Api) -> None:
    gas = api.parties["gas"]
    made = api.ok(api.post("/api/parties", {"kind": "producer", "name": "Cascina Vecchia",
                                            "vat_number": VAT_A, "email": "old@x.it"}), 201)
    answer = api.ok(send(api, gdxp_file(), f"?gas_id={gas}"))
    assert [p["id"] for p in answer["producers"]["updated"]] == [made["id"]]
    party = api.ok(api.get(f"/api/parties/{made['id']}"))
    assert (party["name"], party["email"], party["municipality"]) == (
        "Cascina Vecchia", "old@x.it", "Milano")
    api.ok(send(api, gdxp_file(), f"?gas_id={gas}&overwrite=true"))
    party = api.ok(api.get(f"/api/parties/{made['id']}"))
    assert (party["name"], party["email"]) == ("Cascina Bio", "info@fornitore.com")


def test_a_client_id_replays_the_answer(api: Api, engine: Engine) -> None:
    key = "3f2b1c3e-1d7a-4c55-9d5e-1b1a2b3c4d5e"
    gas = api.parties["gas"]
    first = api.ok(send(api, gdxp_file(), f"?gas_id={gas}&id={key}"))
    assert api.ok(send(api, gdxp_file(), f"?gas_id={gas}&id={key}")) == first
    r = send(api, gdxp_file("2020-03-01"), f"?gas_id={gas}&id={key}")
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict"


# ----- export ---------------------------------------------------------------------------


def test_the_export_is_valid_and_an_import_into_a_fresh_database_reads_it_back(
        api: Api, backend: str, tmp_path: Path, sqlite_template: Path,
        pg_schemas: PgSchemas | None) -> None:
    gas = api.parties["gas"]
    api.ok(send(api, gdxp_file(), f"?gas_id={gas}"))
    r = api.get(f"/api/exports/gdxp?gas_id={gas}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    exported = json.loads(r.content, parse_float=Decimal)
    assert list(Draft7Validator(load_schema(), format_checker=Draft7Validator.FORMAT_CHECKER)
                .iter_errors(exported)) == []
    assert exported["protocolVersion"] == Decimal("1.0") and b'"protocolVersion":1.0' in (
        r.content)
    assert exported["subject"]["name"] == "GAS Gasabile Milano Isola"
    # The GAS buys from Cascina Bio only (Oleificio had a price list, no orders).
    (block,) = exported["blocks"]
    assert block["supplier"]["vatNumber"] == VAT_A
    assert [(p["name"], p["orderInfo"]["umPrice"]) for p in block["supplier"]["products"]
            ] == [("Mele", Decimal("0.84")), ("Pere", Decimal("1.10"))]
    # The GAS's own user gets the same; another GAS's user does not see it.
    assert api.get("/api/exports/gdxp", who="gas").content == r.content
    assert api.get(f"/api/exports/gdxp?gas_id={gas}", who="other_gas").status_code == 404
    assert api.get("/api/exports/gdxp").status_code == 422

    with _fresh_api(backend, tmp_path, sqlite_template, pg_schemas) as fresh_api:
        fresh_gas = fresh_api.ok(fresh_api.post("/api/parties", {
            "kind": "gas", "name": "GAS Gasabile Milano Isola"}), 201)["id"]
        answer = fresh_api.ok(send(fresh_api, r.content, f"?gas_id={fresh_gas}"))
        (made,) = answer["producers"]["created"]
        assert (made["name"], made["vat_number"]) == ("Cascina Bio", VAT_A)
        party = fresh_api.ok(fresh_api.get(f"/api/parties/{made['id']}"))
        assert (party["email"], party["phone"], party["postal_code"],
                party["categories"]) == ("info@fornitore.com", "+390212345678", "20090",
                                         ["Frutta"])
        # A network without orders: the relationship is not in the protocol's export.
        assert answer["relationships"]["created"] == []


@contextmanager
def _fresh_api(backend: str, tmp_path: Path, sqlite_template: Path,
               pg_schemas: PgSchemas | None) -> Iterator[Api]:
    """An app on a new, migrated database of the same kind as the test's."""
    if backend == "sqlite":
        path = tmp_path / "fresh.db"
        shutil.copyfile(sqlite_template, path)
        other = make_engine(f"sqlite:///{path}")
    else:
        assert pg_schemas is not None and PG_URL
        other = make_engine(PG_URL, schema=pg_schemas.migrated())
    try:
        app = create_app(Settings(database_url="unused",
                                  secret_key="test-secret-" + "x" * 40), engine=other)
        with TestClient(app) as client:
            api = Api(client)
            with write_tx(other) as conn:
                create_user(conn, "officer", PASSWORD, "officer", None)
            api.tokens["officer"] = api.login("officer")
            yield api
    finally:
        other.dispose()


@pytest.mark.parametrize("path", ["/api/imports/gdxp", "/api/exports/gdxp"])
def test_the_openapi_documents_the_operations(api: Api, path: str) -> None:
    document = api.ok(api.get("/schema/openapi.json", None))
    operations = document["paths"][path]
    (method,) = operations
    statuses = set(operations[method]["responses"])
    if method == "post":
        assert statuses == {"200", "400", "401", "403", "404", "409", "413", "415", "422"}
        assert set(operations[method]["requestBody"]["content"]) == {
            "application/json", "application/xml"}
        assert operations[method]["responses"]["200"]["content"]["application/json"][
            "schema"] == {"$ref": "#/components/schemas/GdxpImportOut"}
    else:
        assert statuses == {"200", "400", "401", "403", "404", "422"}


def test_an_export_imported_back_for_the_same_gas_changes_no_relationship(api: Api) -> None:
    """The export writes no orders (Filiera keeps no orders to write): imported back, it
    neither creates nor changes a relationship, and keeps each `since` and purchases."""
    gas = api.parties["gas"]
    api.ok(send(api, gdxp_file(), f"?gas_id={gas}"))
    before = api.ok(api.get(f"/api/relationships?gas_id={gas}"))["items"]
    exported = api.get(f"/api/exports/gdxp?gas_id={gas}").content
    assert b'"order"' not in exported and b'"bookingInfo"' not in exported
    answer = api.ok(send(api, exported, f"?gas_id={gas}"))
    assert answer["relationships"] == {"created": [], "updated": []}
    assert api.ok(api.get(f"/api/relationships?gas_id={gas}"))["items"] == before
