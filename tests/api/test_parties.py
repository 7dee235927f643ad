from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, eur, new_id

VALID = {
    "kind": "producer",
    "name": "Riseria Lomellina Bio",
    "tax_code": "RSSMRA85T10A562S",
    "vat_number": "00743110157",
    "iban": "IT60X0542811101000000123456",
    "municipality": "Vigevano",
    "province": "pv",
    "latitude": 45.3177,
    "longitude": 8.8547,
    "categories": ["rice"],
}


def test_create_and_read_party(api: Api) -> None:
    body = api.ok(api.post("/api/parties", VALID), 201)
    assert body["province"] == "PV" and body["categories"] == ["rice"]
    assert body["vat_number"] == "00743110157"
    again = api.ok(api.get(f"/api/parties/{body['id']}"))
    assert again == body


def test_omocodia_codice_fiscale_is_accepted(api: Api) -> None:
    # RSSMRA85T10A562S with its last digits replaced by omocodia letters.
    body = api.ok(api.post("/api/parties", {**VALID, "tax_code": "RSSMRA85T10A56NH"}), 201)
    assert body["tax_code"] == "RSSMRA85T10A56NH"


@pytest.mark.parametrize(("field", "value"), [
    ("tax_code", "RSSMRA85T10A562X"),
    ("vat_number", "00743110158"),
    ("iban", "IT61X0542811101000000123456"),
    ("kind", "bank"),
    ("province", "Milano"),
    ("latitude", 123.0),
    ("name", "   "),
])
def test_each_bad_field_is_named_in_a_422(api: Api, field: str, value: Any) -> None:
    before = api.ok(api.get("/api/parties"))["items"]
    r = api.post("/api/parties", {**VALID, field: value})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == 422 and problem["title"] and problem["type"]
    assert field in [e["field"] for e in problem["errors"]]
    assert api.ok(api.get("/api/parties"))["items"] == before


@pytest.mark.parametrize(("content", "status"), [
    (b"{not json", 400),
    (b'{"kind": "gas", "name": "X", "surprise": 1}', 422),
    (b'{"kind": "gas"}', 422),
    (b'{"kind": 5, "name": "X"}', 422),
    (b'[1, 2]', 422),
    (b'{"kind": "gas", "name": "X", "id": "not-a-uuid"}', 422),
    (b'{"kind": "gas", "name": "X", "households": "many"}', 422),
])
def test_malformed_bodies(api: Api, content: bytes, status: int) -> None:
    r = api.client.post("/api/parties", content=content,
                        headers={**api.headers("officer"), "content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["status"] == status


def test_huge_body_is_413(api: Api) -> None:
    r = api.client.post("/api/parties", content=b'{"name": "' + b"x" * (9 * 1024 * 1024) + b'"}',
                        headers={**api.headers("officer"), "content-type": "application/json"})
    assert r.status_code == 413


def test_idempotent_create(api: Api) -> None:
    pid = new_id()
    first = api.post("/api/parties", {**VALID, "id": pid})
    again = api.post("/api/parties", {**VALID, "id": pid})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and first.json()["id"] == pid
    different = api.post("/api/parties", {**VALID, "id": pid, "name": "Altro nome"})
    assert different.status_code == 409
    assert different.json()["code"] == "idempotency_conflict"
    names = [p["name"] for p in api.ok(api.get("/api/parties?kind=producer"))["items"]]
    assert names.count(VALID["name"]) == 1


def test_refused_request_is_not_remembered(api: Api) -> None:
    pid = new_id()
    assert api.post("/api/parties", {**VALID, "id": pid, "iban": "IT00"}).status_code == 422
    assert api.post("/api/parties", {**VALID, "id": pid}).status_code == 201


def test_list_is_oldest_first_with_cursor(api: Api) -> None:
    for i in range(5):
        api.ok(api.post("/api/parties", {"kind": "person", "name": f"Socio {i}"}), 201)
    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/parties?kind=person&limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = api.ok(api.get(url))
        seen += [p["name"] for p in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Socio {i}" for i in range(5)]
    assert api.get("/api/parties?limit=0").status_code == 422
    assert api.get("/api/parties?limit=501").status_code == 422
    assert api.get("/api/parties?cursor=garbage").status_code == 422


def test_who_sees_which_party(api: Api) -> None:
    producer, gas, other_gas = api.parties["producer"], api.parties["gas"], \
        api.parties["other_gas"]
    # No relationship yet: a producer sees itself only.
    assert api.get(f"/api/parties/{gas}", "producer").status_code == 404
    api.ok(api.post("/api/relationships", {"gas_id": gas, "producer_id": producer,
                                           "since": "2014-03-01",
                                           "annual_purchases": eur("4800.00"),
                                           "households_buying": 18}), 201)
    assert api.get(f"/api/parties/{gas}", "producer").status_code == 200
    assert api.get(f"/api/parties/{producer}", "gas").status_code == 200
    assert api.get(f"/api/parties/{other_gas}", "producer").status_code == 404
    assert api.get(f"/api/parties/{producer}", "other_gas").status_code == 404
    listed = {p["id"] for p in api.ok(api.get("/api/parties", "gas"))["items"]}
    assert listed == {gas, producer}
    assert api.get("/api/parties/not-a-uuid", "officer").status_code == 404
    assert api.get(f"/api/parties/{new_id()}", "officer").status_code == 404


def test_only_staff_create_parties_and_relationships(api: Api) -> None:
    for who in ("producer", "gas"):
        assert api.post("/api/parties", VALID, who).status_code == 403
        r = api.post("/api/relationships", {"gas_id": api.parties["gas"],
                                            "producer_id": api.parties["producer"],
                                            "since": "2020-01-01",
                                            "annual_purchases": eur("100.00")}, who)
        assert r.status_code == 403
    assert api.post("/api/parties", VALID, "admin").status_code == 201


@pytest.mark.parametrize(("field", "value"), [
    ("since", "2020-13-01"),
    ("annual_purchases", {"amount": 100.5, "currency": "EUR"}),
    ("annual_purchases", {"amount": "100.555", "currency": "EUR"}),
    ("annual_purchases", {"amount": "1e3", "currency": "EUR"}),
    ("annual_purchases", {"amount": "100.00", "currency": "XYZ"}),
    ("annual_purchases", {"amount": "100.00", "currency": "USD"}),
    ("annual_purchases", {"amount": "0", "currency": "EUR"}),
    ("annual_purchases", {"amount": "0.00", "currency": "EUR"}),
    ("annual_purchases", {"amount": "-0", "currency": "EUR"}),
    ("annual_purchases", {"amount": "99999999999999999999999999.99", "currency": "EUR"}),
    ("gas_id", "nope"),
    ("households_buying", 500),
])
def test_relationship_validation(api: Api, field: str, value: Any) -> None:
    body = {"gas_id": api.parties["gas"], "producer_id": api.parties["producer"],
            "since": "2014-03-01", "annual_purchases": eur("4800.00"),
            "households_buying": 10, field: value}
    r = api.post("/api/relationships", body)
    assert r.status_code == 422, r.text
    assert any(e["field"].startswith(field) for e in r.json()["errors"])


def test_health_and_openapi(api: Api) -> None:
    assert api.client.get("/health").json() == {"status": "ok", "database": "ok"}
    schema = api.client.get("/schema/openapi.json").json()
    assert "/api/parties" in schema["paths"] and "/api/auth/token" in schema["paths"]
    assert api.client.get("/schema").status_code == 200


# -- persons and the GAS they belong to ------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "gas", "gas_ids": ["GAS"]}, "gas_ids"),
    ({"kind": "producer", "gas_ids": []}, "gas_ids"),
    ({"kind": "person", "gas_ids": ["nope"]}, "gas_ids.0"),
    ({"kind": "person", "gas_ids": ["GAS", "PRODUCER"]}, "gas_ids.1"),
    ({"kind": "person", "gas_ids": ["GAS", "UNKNOWN"]}, "gas_ids.1"),
    ({"kind": "person", "gas_ids": ["GAS", "GAS"]}, "gas_ids.1"),
])
def test_person_gas_ids_must_be_gas(api: Api, body: dict[str, Any], field: str) -> None:
    names = {"GAS": api.parties["gas"], "PRODUCER": api.parties["producer"],
             "UNKNOWN": new_id()}
    gas_ids = [names.get(g, g) for g in body["gas_ids"]]
    before = api.ok(api.get("/api/parties"))["items"]
    pid = new_id()
    r = api.post("/api/parties", {**body, "id": pid, "name": "Maria Rossi",
                                  "gas_ids": gas_ids})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert api.ok(api.get("/api/parties"))["items"] == before
    # refused, so not remembered: the same id with a valid body creates the party
    fixed = {"kind": "person", "name": "Maria Rossi", "gas_ids": [api.parties["gas"]]}
    created = api.ok(api.post("/api/parties", {**fixed, "id": pid}), 201)
    assert created["id"] == pid and created["gas_ids"] == [api.parties["gas"]]


def test_person_gas_ids_round_trip(api: Api) -> None:
    gas, other_gas = api.parties["gas"], api.parties["other_gas"]
    # ids are stored in their canonical (lower-case) form, in the order given
    body = api.ok(api.post("/api/parties", {"kind": "person", "name": "Luca Bianchi",
                                            "gas_ids": [other_gas.upper(), gas]}), 201)
    assert body["gas_ids"] == [other_gas, gas]
    assert api.ok(api.get(f"/api/parties/{body['id']}")) == body
    listed = {p["id"]: p for p in api.ok(api.get("/api/parties?kind=person"))["items"]}
    assert listed[body["id"]] == body
    alone = api.ok(api.post("/api/parties", {"kind": "person", "name": "Anna Verdi"}), 201)
    assert alone["gas_ids"] is None
    empty = api.ok(api.post("/api/parties", {"kind": "person", "name": "Ugo Neri",
                                             "gas_ids": []}), 201)
    assert empty["gas_ids"] is None
    assert api.ok(api.get(f"/api/parties/{gas}"))["gas_ids"] is None
    assert api.ok(api.post("/api/parties", VALID), 201)["gas_ids"] is None


def test_gas_user_sees_the_persons_of_its_gas(api: Api) -> None:
    gas, other_gas = api.parties["gas"], api.parties["other_gas"]

    def person(name: str, gas_ids: list[str] | None) -> str:
        body: dict[str, Any] = {"kind": "person", "name": name}
        if gas_ids is not None:
            body["gas_ids"] = gas_ids
        pid: str = api.ok(api.post("/api/parties", body), 201)["id"]
        return pid

    mine = person("Socia Isola", [gas])
    theirs = person("Socio Navigli", [other_gas])
    both = person("Socia di entrambi", [other_gas, gas])
    nobody = person("Senza GAS", None)
    for pid, status in ((mine, 200), (both, 200), (theirs, 404), (nobody, 404)):
        assert api.get(f"/api/parties/{pid}", "gas").status_code == status, pid
    for pid, status in ((theirs, 200), (both, 200), (mine, 404), (nobody, 404)):
        assert api.get(f"/api/parties/{pid}", "other_gas").status_code == status, pid
    listed = {p["id"] for p in api.ok(api.get("/api/parties", "gas"))["items"]}
    assert listed == {gas, mine, both}
    persons = {p["id"] for p in api.ok(api.get("/api/parties?kind=person", "other_gas"))["items"]}
    assert persons == {theirs, both}
    # a producer does not see the members, even of a GAS that buys from it
    api.ok(api.post("/api/relationships", {"gas_id": gas, "producer_id": api.parties["producer"],
                                           "since": "2014-03-01",
                                           "annual_purchases": eur("4800.00")}), 201)
    assert api.get(f"/api/parties/{mine}", "producer").status_code == 404
    listed = {p["id"] for p in api.ok(api.get("/api/parties", "producer"))["items"]}
    assert listed == {api.parties["producer"], gas}
