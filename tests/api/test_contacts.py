"""Contacts of a party (e-mail, phone, PEC, address, postal code) and PATCH
/api/parties/{id}: a JSON merge patch, officers for every listed field, a producer or GAS
user for its own party's contacts only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from service.db.tables import idempotency, parties
from tests.api.conftest import Api, eur, make_party, new_id


def fields_of(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [e["field"] for e in response.json()["errors"]]


def patch(api: Api, party_id: str, body: Any, who: str = "officer",
          content_type: str = "application/merge-patch+json") -> Any:
    import json

    return api.client.patch(f"/api/parties/{party_id}", content=json.dumps(body).encode(),
                            headers={**api.headers(who), "content-type": content_type})


def test_a_party_is_created_with_its_contacts(api: Api) -> None:
    body = api.ok(api.post("/api/parties", {
        "kind": "producer", "name": "Cascina Contatti", "email": "Mario.Rossi@Cascina.Example.it",
        "phone": "02 1234 5678", "pec": "cascina@pec.example.it",
        "address": "Via dei Mille 12\nCascina Nuova", "postal_code": "20121"}), 201)
    assert body["email"] == "Mario.Rossi@cascina.example.it"  # the domain in lower case
    assert body["phone"] == "+390212345678"
    assert body["pec"] == "cascina@pec.example.it"
    assert body["address"] == "Via dei Mille 12\nCascina Nuova"
    assert body["postal_code"] == "20121"
    assert api.ok(api.get(f"/api/parties/{body['id']}")) == body
    bare = api.ok(api.post("/api/parties", {"kind": "gas", "name": "GAS senza contatti"}), 201)
    assert [bare[f] for f in ("email", "phone", "pec", "address", "postal_code")] == [None] * 5


@pytest.mark.parametrize(("phone", "e164"), [
    ("02 1234 5678", "+390212345678"),
    ("+39 02 1234 5678", "+390212345678"),
    ("0039 02 12345678", "+390212345678"),
    ("333 123 4567", "+393331234567"),
    ("+44 20 7946 0958", "+442079460958"),
    ("+1 (650) 253-0000", "+16502530000"),
])
def test_phones_are_kept_in_e164(api: Api, phone: str, e164: str) -> None:
    body = api.ok(api.post("/api/parties", {"kind": "person", "name": "Anna",
                                            "phone": phone}), 201)
    assert body["phone"] == e164


def test_every_bad_contact_is_named_in_one_422(api: Api) -> None:
    r = api.post("/api/parties", {"kind": "producer", "name": "X", "email": "not-an-address",
                                  "pec": "a@b@c", "phone": "12", "postal_code": "2012",
                                  "address": "   "})
    assert sorted(fields_of(r)) == ["address", "email", "pec", "phone", "postal_code"]
    for bad in ("201210", "2012a", "２０１２１", " 2012 "):
        r = api.post("/api/parties", {"kind": "producer", "name": "X", "postal_code": bad})
        assert fields_of(r) == ["postal_code"], bad


def test_an_officer_patches_a_party(api: Api) -> None:
    pid = make_party(api, "gas", "GAS Patch", households=20, municipality="Milano",
                     province="MI", latitude=45.46, longitude=9.19)
    body = api.ok(patch(api, pid, {"name": "  GAS Patch Isola ", "households": 31,
                                   "email": "gas@example.org", "phone": "+39 333 1234567",
                                   "postal_code": "20159", "province": "mi",
                                   "latitude": 45.49, "longitude": 9.18}))
    assert body["name"] == "GAS Patch Isola" and body["households"] == 31
    assert body["phone"] == "+393331234567" and body["postal_code"] == "20159"
    assert (body["latitude"], body["longitude"]) == (45.49, 9.18)
    assert api.ok(api.get(f"/api/parties/{pid}")) == body
    # null clears an optional field; the others stay as they were.
    cleared = api.ok(patch(api, pid, {"municipality": None, "phone": None,
                                      "latitude": None, "longitude": None}))
    assert cleared["municipality"] is None and cleared["phone"] is None
    assert cleared["latitude"] is None and cleared["email"] == "gas@example.org"
    assert cleared["households"] == 31
    # application/json is read as a merge patch too.
    plain = api.ok(patch(api, pid, {"address": "Via Borsieri 1"},
                         content_type="application/json"))
    assert plain["address"] == "Via Borsieri 1"


def test_a_producer_patches_its_categories_and_iban(api: Api) -> None:
    pid = make_party(api, "producer", "Orto Patch", categories=["veg"])
    body = api.ok(patch(api, pid, {"categories": ["veg", " eggs "],
                                   "iban": "IT60 X054 2811 1010 0000 0123 456"}))
    assert body["categories"] == ["veg", "eggs"]
    assert body["iban"] == "IT60X0542811101000000123456"


def test_a_patch_that_changes_nothing_answers_200_and_records_nothing(
        api: Api, engine: Engine) -> None:
    pid = make_party(api, "producer", "Forno Invariato", email="forno@example.it",
                     phone="0212345678")
    before = api.ok(api.get(f"/api/parties/{pid}"))

    def stored() -> tuple[Any, ...]:
        with engine.connect() as conn:
            row = conn.execute(select(parties).where(parties.c.id == pid)).one()
            count = conn.execute(select(func.count()).select_from(idempotency)).scalar()
        return (*row, count)

    snapshot = stored()
    for body in ({}, {"email": "forno@example.it", "phone": "+39 02 1234 5678"},
                 {"name": "Forno Invariato", "pec": None}):
        assert api.ok(patch(api, pid, body)) == before
        assert stored() == snapshot


@pytest.mark.parametrize(("body", "fields"), [
    ({"id": new_id()}, ["id"]),
    ({"name": None}, ["name"]),
    ({"name": "  "}, ["name"]),
    ({"tax_code": "RSSMRA85T10A562S"}, ["tax_code"]),
    ({"kind": "gas"}, ["kind"]),
    ({"nickname": "x"}, ["nickname"]),
    ({"email": 5, "phone": "12", "postal_code": "ABCDE", "latitude": "45"},
     ["email", "phone", "postal_code", "latitude"]),
    ({"households": True}, ["households"]),
    ({"households": 3}, ["households"]),  # a producer has none
    ({"categories": "cheese"}, ["categories"]),
    ({"latitude": 45.0}, ["longitude"]),  # both coordinates or neither
    ({"pec": "no-at-sign"}, ["pec"]),
    ({"address": "Via\u202eRoma"}, ["address"]),
    ({"name": "A\u0000B"}, ["name"]),
])
def test_bad_patches_are_422_naming_the_fields(api: Api, body: dict[str, Any],
                                               fields: list[str]) -> None:
    pid = api.parties["producer"]
    before = api.ok(api.get(f"/api/parties/{pid}"))
    assert sorted(fields_of(patch(api, pid, body))) == sorted(fields)
    assert api.ok(api.get(f"/api/parties/{pid}")) == before


def test_a_body_that_is_not_an_object_is_refused(api: Api) -> None:
    pid = api.parties["producer"]
    assert patch(api, pid, [1, 2]).status_code == 422
    assert patch(api, pid, "x").status_code == 422
    r = api.client.patch(f"/api/parties/{pid}", content=b"{nope",
                         headers={**api.headers("officer"), "content-type": "application/json"})
    assert r.status_code == 400


def test_a_producer_or_gas_user_changes_only_its_own_contacts(api: Api) -> None:
    producer, gas = api.parties["producer"], api.parties["gas"]
    api.ok(api.post("/api/relationships", {"gas_id": gas, "producer_id": producer,
                                           "since": "2024-01-01",
                                           "annual_purchases": eur("1000.00")}), 201)
    own = api.ok(patch(api, producer, {"email": "caseificio@example.it",
                                       "address": "Via Roma 3", "postal_code": "24010"},
                       who="producer"))
    assert own["email"] == "caseificio@example.it" and own["postal_code"] == "24010"
    assert api.ok(patch(api, gas, {"pec": "gas@pec.example.it", "phone": None},
                        who="gas"))["pec"] == "gas@pec.example.it"
    # Other fields of its own party: 403, and nothing changes.
    for body in ({"name": "Altro nome"}, {"email": "x@example.it", "categories": ["x"]},
                 {"iban": None}):
        r = patch(api, producer, body, who="producer")
        assert r.status_code == 403, r.text
    assert api.ok(api.get(f"/api/parties/{producer}"))["email"] == "caseificio@example.it"
    # A party it sees but is not: 403; one it does not see (or none at all): 404.
    assert patch(api, gas, {"email": "x@example.it"}, who="producer").status_code == 403
    assert patch(api, producer, {"email": "x@example.it"}, who="gas").status_code == 403
    stranger = api.parties["other_producer"]
    assert patch(api, stranger, {"email": "x@example.it"}, who="producer").status_code == 404
    assert patch(api, new_id(), {"email": "x@example.it"}, who="producer").status_code == 404
    assert patch(api, new_id(), {"email": "x@example.it"}).status_code == 404
    assert patch(api, "not-a-uuid", {"email": "x@example.it"}).status_code == 404


def test_refusals_come_in_the_contract_order(api: Api) -> None:
    stranger = api.parties["other_producer"]
    # Without credentials: 401 before anything else.
    assert patch(api, stranger, {"id": "x"}, who=None).status_code == 401  # type: ignore[arg-type]
    # An invalid body is 422 before the 404 of a party the user may not see.
    assert fields_of(patch(api, stranger, {"email": "bad"}, who="producer")) == ["email"]
    assert fields_of(patch(api, new_id(), {"name": None})) == ["name"]
    # 405 with Allow for a method the path does not have.
    r = api.client.put(f"/api/parties/{stranger}", json={},
                       headers=api.headers("officer"))
    assert r.status_code == 405 and "PATCH" in r.headers["allow"]


def test_arrears_show_the_guarantors_contacts(api: Api, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    lender = make_party(api, "lender", "Mag Contatti")
    gas = make_party(api, "gas", "GAS Garante", households=10, email="garante@example.it",
                     phone="02 8765 4321", pec="garante@pec.example.it",
                     address="Piazza Duomo 1")
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool}/deposits", {"amount": eur("3000.00"),
                                                    "date": "2026-01-02"}), 201)
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("3000.00")}))
    loan = api.ok(api.post("/api/loans", {
        "principal": eur("3000.00"), "annual_rate": "3.00", "term_months": 12,
        "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-05",
        "borrower_id": api.parties["producer"], "lender_id": lender}), 201)["id"]
    api.ok(api.post("/api/guarantees", {"loan_id": loan, "guarantor_id": gas,
                                        "amount": eur("1000.00"), "date": "2026-01-03"}), 201)
    api.ok(api.post(f"/api/loans/{loan}/disbursement", {"date": "2026-01-05"}))
    items = api.ok(api.get(f"/api/arrears?lender_id={lender}&as_of=2026-06-01"))["items"]
    (guarantor,) = items[0]["guarantors"]
    assert guarantor == {"id": gas, "name": "GAS Garante", "remaining": eur("1000.00"),
                         "email": "garante@example.it", "phone": "+390287654321",
                         "pec": "garante@pec.example.it", "address": "Piazza Duomo 1"}
