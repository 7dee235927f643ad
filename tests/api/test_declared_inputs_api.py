"""Every bad field of a guarantee, prepayment, party and relationship body, and of the
report and GDXP query values, named at once with its message (the use cases read them
through declared inputs, service.app.inputs); 422 before a missing target (404)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, eur, new_id

TODAY = "2026-12-06"
LATE = "after today (2026-12-06): money that has moved is recorded on the day it moved"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", TODAY)


def named(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    fields = [e["field"] for e in response.json()["errors"]]
    assert len(fields) == len(set(fields)), fields
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def not_uuid(text: str) -> str:
    return f"{text!r} is not a UUID"


def test_a_guarantee_names_every_bad_field(api: Api) -> None:
    errors = named(api.post("/api/guarantees", {
        "id": "g-1", "loan_id": "l-1", "guarantor_id": "p-1", "amount": eur("0.00"),
        "date": "2026-12-07"}))
    assert set(errors) == {"id", "loan_id", "guarantor_id", "amount.amount", "date"}
    assert errors["loan_id"] == not_uuid("l-1") and errors["date"] == LATE
    capacity = f"/api/parties/{api.parties['gas']}/pledge-capacity"
    assert set(named(api.put(capacity, {"amount": eur("-1.00")}))) == {"amount.amount"}
    assert set(named(api.put(capacity, {"amount": {"amount": "1.00",
                                                   "currency": "USD"}}))) == {
        "amount.currency"}
    # Zero is a capacity (none left to pledge).
    assert api.ok(api.put(capacity, {"amount": eur("0.00")}))["amount"] == eur("0.00")


def test_guarantee_commands_refuse_before_looking_for_the_loan(api: Api) -> None:
    loan, guarantee = new_id(), new_id()
    errors = named(api.post(f"/api/loans/{loan}/guarantee-calls",
                            {"id": "c", "amount": eur("0.001"), "date": "2026-12-07"}))
    assert set(errors) == {"id", "amount.amount", "date"} and errors["date"] == LATE
    # A reduction's date is required (not today by default); a release's is not.
    errors = named(api.post(f"/api/loans/{loan}/guarantees/reduction", {"id": "r"}))
    assert errors == {"id": not_uuid("r"), "date": "required"}
    errors = named(api.post(f"/api/guarantees/{guarantee}/release", {"date": "2026-12-07"}))
    assert errors == {"date": LATE}
    assert api.post(f"/api/guarantees/{guarantee}/release", {}).status_code == 404
    assert api.post(f"/api/loans/{loan}/guarantees/reduction",
                    {"date": "2026-12-07"}).status_code == 404  # a plan may be ahead


def test_a_prepayment_names_every_bad_field(api: Api) -> None:
    errors = named(api.post("/api/prepayments", {
        "id": "x", "producer_id": "p", "gas_id": "g", "amount": eur("0.00"),
        "unit_price": {"amount": "1.00", "currency": "USD"}, "expires_on": "2027-02-30",
        "date": "2026-12-07", "on_expiry": "burn", "product": "  ", "unit": "k" * 33}))
    assert errors == {
        "id": not_uuid("x"), "producer_id": not_uuid("p"), "gas_id": not_uuid("g"),
        "amount.amount": errors["amount.amount"],
        "unit_price.currency": "instruments are in EUR",
        "expires_on": "'2027-02-30' is not a date YYYY-MM-DD", "date": LATE,
        "on_expiry": "one of refund, rollover, solidarity",
        "product": "1 to 200 characters", "unit": "1 to 32 characters, such as 'kg'"}
    good = {"producer_id": api.parties["producer"], "gas_id": api.parties["gas"],
            "amount": eur("100.00"), "unit_price": eur("10.00"), "expires_on": "2027-06-30",
            "on_expiry": "refund", "product": " taleggio ", "unit": " kg "}
    made = api.ok(api.post("/api/prepayments", good), 201)
    assert (made["product"], made["unit"], made["date"]) == ("taleggio", "kg", TODAY)


def test_a_delivery_and_a_close_name_their_bad_fields(api: Api) -> None:
    pid = new_id()  # no such prepayment: the body is judged first
    errors = named(api.post(f"/api/prepayments/{pid}/deliveries",
                            {"id": "d", "date": "2026-12-07", "quantity": "1.0001"}))
    assert errors == {"id": not_uuid("d"), "date": LATE, "quantity": "at most 3 decimals"}
    errors = named(api.post(f"/api/prepayments/{pid}/close",
                            {"date": "2026-12-01", "new_expires_on": "2026-12-01"}))
    assert errors == {"new_expires_on": "after the date of the close: the new prepayment "
                      "must not be born expired"}
    # A bad date of the close: the rule between the two dates is not judged on it.
    errors = named(api.post(f"/api/prepayments/{pid}/close",
                            {"date": "2026-12-07", "new_expires_on": "2026-12-01"}))
    assert errors == {"date": LATE}
    assert api.post(f"/api/prepayments/{pid}/close", {"date": "2026-12-01",
                    "new_expires_on": "2026-12-02"}).status_code == 404


def test_a_party_names_its_bad_fields_and_the_rules_between_them(api: Api) -> None:
    gas = api.parties["gas"]
    errors = named(api.post("/api/parties", {
        "kind": "gas", "name": "GAS Lambrate", "gas_ids": [gas, "x", gas.upper()],
        "latitude": 95.0, "categories": ["veg"]}))
    assert errors == {
        "latitude": "must be between -90 and 90",
        "gas_ids.1": not_uuid("x"), "gas_ids.2": "listed twice",
        "categories": "only a producer has product categories",
        # The latitude was given, refused or not: the longitude is missing.
        "longitude": "give both coordinates or neither",
        "gas_ids": "only a person belongs to a GAS"}
    errors = named(api.post("/api/parties", {"kind": "bank", "name": " ", "id": "p"}))
    assert errors == {"id": not_uuid("p"),
                      "kind": "must be one of gas, producer, lender, des, person",
                      "name": "must be 1 to 200 characters"}
    # An empty list of GAS is a list all the same: only a person has one.
    errors = named(api.post("/api/parties", {"kind": "gas", "name": "G", "gas_ids": []}))
    assert errors == {"gas_ids": "only a person belongs to a GAS"}
    person = api.ok(api.post("/api/parties", {"kind": "person", "name": "Anna",
                                              "gas_ids": [gas.upper()]}), 201)
    assert person["gas_ids"] == [gas]


def test_a_relationship_names_every_bad_field(api: Api) -> None:
    errors = named(api.post("/api/relationships", {
        "id": "r", "gas_id": "g", "producer_id": api.parties["producer"],
        "since": "2026-13-01", "annual_purchases": eur("1.001"), "households_buying": -1}))
    assert set(errors) == {"id", "gas_id", "since", "annual_purchases.amount",
                           "households_buying"}
    assert errors["households_buying"] == "must not be negative"
    assert errors["since"] == "'2026-13-01' is not a date YYYY-MM-DD"
    made = api.ok(api.post("/api/relationships", {
        "gas_id": api.parties["gas"], "producer_id": api.parties["producer"],
        "since": "2025-01-01", "annual_purchases": eur("1200.00"),
        "households_buying": 0}), 201)
    assert made["households_buying"] == 0


def test_report_filters_are_named_at_once(api: Api) -> None:
    errors = named(api.get("/api/reports/prepayments.csv?as_of=2026-02-30&from=x"
                           "&to=2026/01/01&gas_id=g&producer_id=p"))
    assert errors == {"as_of": "'2026-02-30' is not a date YYYY-MM-DD",
                      "from": "'x' is not a date YYYY-MM-DD",
                      "to": "'2026/01/01' is not a date YYYY-MM-DD",
                      "gas_id": not_uuid("g"), "producer_id": not_uuid("p")}


def test_gdxp_query_ids_are_named_before_the_file_is_read(api: Api) -> None:
    r = api.client.post("/api/imports/gdxp?gas_id=g&id=i", content=b"not a document",
                        headers={**api.headers("officer"),
                                 "Content-Type": "application/json"})
    assert named(r) == {"gas_id": not_uuid("g"), "id": not_uuid("i")}
    assert named(api.get("/api/exports/gdxp?gas_id=g")) == {"gas_id": not_uuid("g")}
