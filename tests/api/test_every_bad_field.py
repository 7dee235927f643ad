"""A 422 names every bad field of the body at once, type errors included (API.md, "Books
a MAG can keep", Validation): a field of the wrong type no longer hides the fields after
it, nor the fields only the use case can judge (a range, a date, a money amount, an id),
and a refused body changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, eur, make_party, new_id
from tests.api.test_requests_api import at_status

TODAY = "2026-12-06"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", TODAY)


def named(response: Any) -> dict[str, str]:
    """The 422's fields and messages, checked against the problem document's shape."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 422 and body["type"].endswith("invalid-input")
    assert body["detail"] == f"{body['errors'][0]['field']}: {body['errors'][0]['message']}"
    fields = [e["field"] for e in body["errors"]]
    assert len(fields) == len(set(fields)), body["errors"]  # each field named once
    return {e["field"]: e["message"] for e in body["errors"]}


def test_the_assessment_names_a_type_error_and_a_range_error(api: Api) -> None:
    rid = at_status(api, "under_review")
    path = f"/api/requests/{rid}/assessment"
    errors = named(api.put(path, {"economic_score": 6.5, "social_score": 11}))
    assert errors == {"economic_score": "Expected `int`, got `float`",
                      "social_score": "an integer from 0 to 10"}
    errors = named(api.put(path, {"economic_score": "7", "social_score": -1,
                                  "site_visit_date": "2026-13-01", "notes": 5}))
    assert set(errors) == {"economic_score", "social_score", "site_visit_date", "notes"}
    assert errors["economic_score"] == "Expected `int`, got `str`"
    assert errors["notes"] == "Expected `str`, got `int`"
    # Nothing was recorded: the request still has no assessment, and a good body passes.
    assert api.ok(api.get(f"/api/requests/{rid}"))["assessment"] is None
    done = api.ok(api.put(path, {"economic_score": 7, "social_score": 8}))
    assert done["score"] == "7.50"


def test_a_loan_names_nested_type_errors_and_the_use_cases_own(api: Api) -> None:
    lender = make_party(api, "lender", "Mag2 Finance Milano")
    loans_before = api.ok(api.get("/api/loans"))["items"]
    body = {"id": new_id(), "principal": {"amount": 1200, "currency": "EUR"},
            "annual_rate": 6.5, "term_months": "12", "method": "french",
            "frequency": "fortnightly", "disbursement_date": "2026-02-30",
            "borrower_id": "not-a-uuid", "lender_id": lender, "colour": "red"}
    errors = named(api.post("/api/loans", body))
    # msgspec's findings: types, the unknown field ...
    assert errors["principal.amount"] == "Expected `str`, got `int`"
    assert errors["annual_rate"] == "Expected `str`, got `float`"
    assert errors["term_months"] == "Expected `int`, got `str`"
    assert errors["colour"] == "Object contains unknown field `colour`"
    # ... and the use case's, on the fields that had the right type.
    assert {"frequency", "disbursement_date", "borrower_id"} <= set(errors)
    assert api.ok(api.get("/api/loans"))["items"] == loans_before
    # The refused client id is not remembered: the same id with a good body creates.
    good = {**body, "principal": eur("1200.00"), "annual_rate": "6.50", "term_months": 12,
            "frequency": "monthly", "disbursement_date": "2026-02-27",
            "borrower_id": api.parties["producer"]}
    del good["colour"]
    assert api.ok(api.post("/api/loans", good), 201)["id"] == body["id"]


def test_a_request_names_every_bad_field_with_a_missing_one(api: Api) -> None:
    body = {"producer_id": api.parties["producer"], "amount": eur("-5.00"),
            "purpose": 7, "term_months": 0, "gas_ids": "GAS Navigli",
            "needed_by": "tomorrow"}
    errors = named(api.post("/api/requests", body, "producer"))
    assert errors["purpose"] == "Expected `str`, got `int`"
    assert errors["gas_ids"] == "Expected `array | null`, got `str`"
    assert errors["instrument"] == "Object missing required field `instrument`"
    assert {"amount.amount", "term_months", "needed_by"} <= set(errors)
    assert api.ok(api.get("/api/requests"))["items"] == []


def test_list_items_are_named_by_position(api: Api) -> None:
    rid = at_status(api, "approved")
    gas = api.parties["gas"]
    good = {"gas_id": gas, "amount": eur("100.00"), "product": "taleggio", "unit": "kg",
            "unit_price": eur("10.00"), "expires_on": "2027-06-30", "on_expiry": "refund"}
    terms = {"prepayments": [good, {**good, "amount": 100, "on_expiry": "burn"},
                             {**good, "unit_price": {"amount": "10.00"}}]}
    errors = named(api.put(f"/api/requests/{rid}/terms", terms))
    assert errors["prepayments.1.amount"] == "Expected `object`, got `int`"
    assert errors["prepayments.2.unit_price.currency"] == \
        "Object missing required field `currency`"
    assert "prepayments.1.on_expiry" in errors  # the use case's, beside the types
    assert not any(f.startswith("prepayments.0") for f in errors)
    assert api.ok(api.get(f"/api/requests/{rid}"))["terms"] is None


def test_type_errors_come_before_a_missing_target_and_a_simulation(api: Api) -> None:
    # 422 before 404 (API.md, order of refusals): the request does not exist.
    errors = named(api.put(f"/api/requests/{new_id()}/assessment",
                           {"economic_score": 6.5, "social_score": "8"}))
    assert set(errors) == {"economic_score", "social_score"}
    # A simulation reads nothing and writes nothing: it refuses all the same.
    errors = named(api.post("/api/loans/simulate", {
        "principal": eur("1000.00"), "annual_rate": 3, "term_months": 12.0,
        "method": "french", "frequency": "monthly", "disbursement_date": TODAY}))
    assert set(errors) == {"annual_rate", "term_months"}


def test_raw_transfers_name_each_bad_item(api: Api) -> None:
    item = {"id": new_id(), "debit_account_id": new_id(), "credit_account_id": new_id(),
            "amount": {"amount": "1.00", "currency": "EUR"}, "code": "x"}
    bad = [{**item, "amount": {"amount": 1, "currency": "EUR"}},
           {**item, "id": 5}, {**item, "code": 7}]
    errors = named(api.post("/api/ledger/transfers", bad))
    assert set(errors) == {"0.amount.amount", "1.id", "2.code"}


def test_a_body_that_is_not_an_object_still_says_so(api: Api) -> None:
    r = api.post("/api/requests", ["not", "an", "object"], "producer")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == ""


# -- refused characters beside the other bad fields ----------------------------------------
#
# A text with a control or invisible character (API.md, "Hardening") is one bad field
# among the others: its refusal no longer hides theirs.

ZWSP, BEL = "\u200b", "\u0007"


def test_a_refused_character_is_named_beside_the_other_bad_fields(api: Api) -> None:
    parties_before = api.ok(api.get("/api/parties?limit=500"))["items"]
    errors = named(api.post("/api/parties", {"kind": "gas", "name": f"a{ZWSP}",
                                             "iban": "IT00"}))
    assert set(errors) == {"name", "iban"}
    assert "U+200B" in errors["name"] and "IBAN" in errors["iban"]
    errors = named(api.post("/api/parties", {"kind": "gas", "name": f"a{ZWSP}",
                                             "email": "x"}))
    assert set(errors) == {"name", "email"}
    # A type error, a refused character and a value error, all in one 422.
    errors = named(api.post("/api/parties", {"kind": "gas", "name": f"GAS{BEL}",
                                             "households": "8", "iban": "IT00",
                                             "province": f"M{ZWSP}I"}))
    assert set(errors) == {"name", "households", "iban", "province"}
    assert errors["households"] == "Expected `int | null`, got `str`"
    assert api.ok(api.get("/api/parties?limit=500"))["items"] == parties_before

    funds_before = api.ok(api.get("/api/funds"))["items"]
    body = {"gas_id": api.parties["gas"], "amount": eur("1.00"), "date": "x",
            "note": f"a{BEL}"}
    errors = named(api.post("/api/contributions", body))
    assert set(errors) == {"note", "date"}
    assert "U+0007" in errors["note"]
    assert api.ok(api.get("/api/funds"))["items"] == funds_before
    # The same body with good text and date is taken: nothing was remembered.
    api.ok(api.post("/api/contributions", {**body, "date": "2026-12-01", "note": "ok"}),
           201)


def test_a_refused_character_in_a_list_item_and_a_nested_field(api: Api) -> None:
    a, b = new_id(), new_id()
    item = {"id": new_id(), "debit_account_id": a, "credit_account_id": b,
            "amount": eur("1.00"), "code": "ok"}
    bad = [{**item, "code": f"x{BEL}"}, {**item, "id": "nope"},
           {**item, "amount": eur("-1.00"), "code": f"{ZWSP}"}]
    errors = named(api.post("/api/ledger/transfers", bad))
    assert set(errors) == {"0.code", "1.id", "2.code", "2.amount.amount"}


def test_a_refused_character_comes_before_a_missing_target(api: Api) -> None:
    # 422 before 404 (API.md, order of refusals), whether the id is unknown or malformed.
    for rid in (new_id(), "not-a-request"):
        r = api.client.patch(f"/api/requests/{rid}", json={"purpose": f"p{BEL}"},
                             headers=api.headers("officer"))
        assert set(named(r)) == {"purpose"}
        errors = named(api.put(f"/api/requests/{rid}/assessment", {
            "economic_score": 7, "social_score": 11, "notes": f"n{ZWSP}"}))
        assert set(errors) == {"social_score", "notes"}
    # And before a login is judged (a wrong password found on the cleaned name).
    r = api.client.post("/api/auth/token", json={"username": f"officer{ZWSP}",
                                                 "password": "wrong"})
    assert set(named(r)) == {"username"}


# -- merge patches and simulations -------------------------------------------------------


def patch_request(api: Api, rid: str, body: Any) -> Any:
    return api.client.patch(f"/api/requests/{rid}", json=body,
                            headers=api.headers("officer"))


def test_a_request_patch_names_type_and_value_errors_together(api: Api) -> None:
    rid = at_status(api, "submitted")
    before = api.ok(api.get(f"/api/requests/{rid}"))
    errors = named(patch_request(api, rid, {"amount": 5, "instrument": "gift"}))
    assert errors == {"amount": "Expected `object`, got `int`",
                      "instrument": "one of loan, prepayment, mixed"}
    errors = named(patch_request(api, rid, {"amount": eur("-5.00"), "term_months": "x"}))
    assert set(errors) == {"amount.amount", "term_months"}
    assert errors["term_months"] == "Expected `int`, got `str`"
    # Fields one cannot change, a cleared required one, types, values and text at once.
    errors = named(patch_request(api, rid, {
        "colour": "red", "purpose": None, "term_months": 6.5, "needed_by": "2026-02-30",
        "gas_ids": ["nope"], "social_notes": f"s{BEL}", "instrument": 3}))
    assert set(errors) == {"colour", "purpose", "term_months", "needed_by", "gas_ids.0",
                           "social_notes", "instrument"}
    assert errors["purpose"] == "required: it cannot be cleared"
    assert api.ok(api.get(f"/api/requests/{rid}")) == before


def test_a_party_patch_names_every_bad_field(api: Api) -> None:
    gas = api.parties["gas"]
    before = api.ok(api.get(f"/api/parties/{gas}"))
    r = api.client.patch(f"/api/parties/{gas}", json={
        "households": "x", "iban": "IT00", "name": f"a{ZWSP}", "email": "x",
        "kind": "producer"}, headers=api.headers("officer"))
    errors = named(r)
    assert set(errors) == {"households", "iban", "name", "email", "kind"}
    assert api.ok(api.get(f"/api/parties/{gas}")) == before


SIMULATION = {"principal": eur("1000.00"), "annual_rate": "3.00", "term_months": 12,
              "method": "french", "frequency": "monthly", "disbursement_date": TODAY}


def test_a_simulation_names_a_cross_field_error_beside_the_others(api: Api) -> None:
    quarterly = {**SIMULATION, "frequency": "quarterly", "term_months": 13}
    errors = named(api.post("/api/loans/simulate", {
        **quarterly, "principal": eur("-1.00"), "annual_rate": "x"}))
    assert set(errors) == {"principal.amount", "annual_rate", "term_months"}
    assert errors["term_months"] == ("term_months 13 is not a whole number of quarterly "
                                     "periods (3 months each)")
    errors = named(api.post("/api/loans/simulate", {
        **quarterly, "principal": {"amount": 5, "currency": "EUR"}, "annual_rate": "x"}))
    assert set(errors) == {"principal.amount", "annual_rate", "term_months"}
    # Grace periods are judged against the term the same way.
    errors = named(api.post("/api/loans/simulate", {
        **SIMULATION, "frequency": "quarterly", "grace_periods": 4, "annual_rate": "x"}))
    assert errors == {"annual_rate": "'x' is not a percentage such as \"3.50\"",
                      "grace_periods": "grace_periods 4 must be fewer than the 4 periods "
                                       "of the term"}
    # A term_months of the wrong type is named for its type only.
    errors = named(api.post("/api/loans/simulate", {**quarterly, "term_months": "13",
                                                    "annual_rate": "x"}))
    assert errors == {"term_months": "Expected `int`, got `str`",
                      "annual_rate": "'x' is not a percentage such as \"3.50\""}
    # The rest right, the cross-field error alone; all right, the schedule.
    assert set(named(api.post("/api/loans/simulate", quarterly))) == {"term_months"}
    done = api.ok(api.post("/api/loans/simulate", {**quarterly, "term_months": 12}))
    assert len(done["installments"]) == 4
