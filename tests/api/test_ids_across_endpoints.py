"""One client id names one operation: reusing it on another endpoint is a conflict."""

from __future__ import annotations

from tests.api.conftest import Api, eur, new_id
from tests.api.test_instruments_api import capacity, setup_loan


def test_an_id_used_for_a_contribution_cannot_create_a_guarantee(api: Api) -> None:
    _, _, loan_id = setup_loan(api, principal="1000.00")
    gas = api.parties["gas"]
    capacity(api, gas, "500.00")
    shared = new_id()
    api.ok(api.post("/api/contributions", {"id": shared, "gas_id": gas,
                                           "amount": eur("10.00"), "date": "2026-01-10"}), 201)
    r = api.post("/api/guarantees", {"id": shared, "loan_id": loan_id, "guarantor_id": gas,
                                     "amount": eur("100.00")})
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict", r.text
    assert api.ok(api.get(f"/api/loans/{loan_id}/guarantees"))["items"] == []
    # The same id in capitals is the same id.
    r = api.post("/api/guarantees", {"id": shared.upper(), "loan_id": loan_id,
                                     "guarantor_id": gas, "amount": eur("100.00")})
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict", r.text


def test_a_gas_user_cannot_learn_the_status_of_a_loan_it_cannot_see(api: Api) -> None:
    _, _, loan_id = setup_loan(api, principal="1000.00")
    gas = api.parties["gas"]
    capacity(api, gas, "500.00")
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    api.ok(api.post(f"/api/loans/{loan_id}/write-off", {"date": "2026-02-01",
                                                        "note": "grandinata"}))
    body = {"guarantor_id": gas, "amount": eur("100.00")}
    # An unknown loan and one it could not pledge on look the same to the GAS user.
    for lid in (new_id(), loan_id):
        r = api.post("/api/guarantees", {**body, "loan_id": lid}, "gas")
        assert r.status_code == 404, r.text
    # An officer is told why.
    r = api.post("/api/guarantees", {**body, "loan_id": loan_id})
    assert r.status_code == 409 and r.json()["code"] == "loan_not_active"


def test_naming_a_party_one_may_not_act_for_is_404_unless_one_can_see_it(api: Api) -> None:
    gas, producer = api.parties["gas"], api.parties["producer"]
    # The GAS buys from the producer: it sees it, so acting for it is only forbidden.
    api.ok(api.post("/api/relationships", {"gas_id": gas, "producer_id": producer,
                                           "since": "2020-01-01",
                                           "annual_purchases": eur("1000.00")}), 201)
    _, _, loan_id = setup_loan(api, principal="1000.00")
    body = {"loan_id": loan_id, "amount": eur("10.00")}
    r = api.post("/api/guarantees", {**body, "guarantor_id": producer}, "gas")
    assert r.status_code == 403, r.text
    r = api.post("/api/guarantees", {**body, "guarantor_id": api.parties["other_gas"]}, "gas")
    assert r.status_code == 404, r.text
    r = api.post("/api/prepayments", {
        "producer_id": producer, "gas_id": api.parties["other_gas"], "amount": eur("10.00"),
        "product": "uova", "unit": "pz", "unit_price": eur("0.50"),
        "expires_on": "2026-12-31", "on_expiry": "refund"}, "gas")
    assert r.status_code == 404, r.text


def test_the_same_id_in_capitals_replays_the_first_answer(api: Api) -> None:
    shared = new_id()
    body = {"kind": "gas", "name": "GAS Lorenteggio", "households": 12}
    first = api.ok(api.post("/api/parties", {**body, "id": shared}, "admin"), 201)
    again = api.post("/api/parties", {**body, "id": shared.upper()}, "admin")
    assert again.status_code == 201 and again.json() == first
    r = api.post("/api/parties", {**body, "id": shared.upper(), "name": "Altro"}, "admin")
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict"


def test_a_release_cannot_predate_a_call(api: Api) -> None:
    _, _, loan_id = setup_loan(api, principal="1000.00")
    gas = api.parties["gas"]
    capacity(api, gas, "500.00")
    gid = api.ok(api.post("/api/guarantees", {"loan_id": loan_id, "guarantor_id": gas,
                                              "amount": eur("500.00"),
                                              "date": "2026-01-15"}), 201)["id"]
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    api.ok(api.post(f"/api/loans/{loan_id}/guarantee-calls",
                    {"amount": eur("10.00"), "date": "2026-08-01"}))
    r = api.post(f"/api/guarantees/{gid}/release", {"date": "2026-07-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "date"
    released = api.ok(api.post(f"/api/guarantees/{gid}/release", {"date": "2026-08-01"}))
    assert released["status"] == "released" and released["released_on"] == "2026-08-01"


def test_a_gas_user_gets_the_422_of_bad_loan_filters_before_its_403(api: Api) -> None:
    r = api.get("/api/loans?status=bogus", "gas")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"
    assert api.get("/api/loans", "gas").status_code == 403
