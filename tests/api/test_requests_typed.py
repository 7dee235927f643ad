"""Funding requests' typed answers: the exact JSON keys (and their order) of each view,
keys absent where the contract leaves them out, replays answering byte for byte, and an
OpenAPI document that states the shapes and the refusals."""

from __future__ import annotations

import json
import warnings
from typing import Any

from litestar.exceptions import LitestarDeprecationWarning
from litestar.handlers import HTTPRouteHandler
from sqlalchemy import Engine

from ledger.requests import STATUSES
from service.http.app import create_app
from service.http.requests import RequestController
from service.settings import Settings
from tests.api.conftest import Api, eur, new_id
from tests.api.test_requests_api import assess, at_status, prepayment_terms, submit

# The request's keys in the order the API has always sent them (API.md, "Funding
# requests"); insiders (officers, the producer) also get assessment, terms and history.
REQUEST_KEYS = [
    "id", "reference", "producer_id", "producer_name", "amount", "purpose", "instrument",
    "term_months", "needed_by",
    "gas_ids", "business", "social_notes", "environmental_notes", "links", "status",
    "status_since", "instruments", "funded_on", "created_at", "created_by",
]
INSIDER_KEYS = [*REQUEST_KEYS, "assessment", "terms", "history"]


def keys(text: str) -> list[str]:
    return list(json.loads(text))


def test_views_keep_their_keys_in_order(api: Api) -> None:
    rid = submit(api)["id"]
    for who in ("producer", "officer", "admin"):
        assert keys(api.get(f"/api/requests/{rid}", who).text) == INSIDER_KEYS
    gas_view = api.get(f"/api/requests/{rid}", "gas")
    assert keys(gas_view.text) == REQUEST_KEYS
    [listed] = json.loads(api.get("/api/requests", "gas").text)["items"]
    assert list(listed) == REQUEST_KEYS
    assert json.loads(gas_view.text)["business"] is None
    assert assess(api, rid, decision_reference="board 12/2026").status_code == 200
    assessment = api.get(f"/api/requests/{rid}/assessment", "producer")
    assert keys(assessment.text) == [
        "economic_score", "social_score", "score", "notes", "site_visit_date",
        "decision_date", "decision_reference", "assessed_at", "assessed_by"]
    # (7 + 8) / 2, two decimals.
    assert json.loads(assessment.text)["score"] == "7.50"
    todo = json.loads(api.get("/api/requests/todo").text)
    assert list(todo) == ["waiting_review", "info_provided", "in_review", "to_fund"]
    assert todo["waiting_review"]["count"] == 1
    assert list(todo["waiting_review"]["items"][0]) == INSIDER_KEYS


def test_prepayment_only_package_has_no_loan_id_and_replays_byte_for_byte(api: Api) -> None:
    gas, other_gas = api.parties["gas"], api.parties["other_gas"]
    rid = at_status(api, "approved")
    terms = {"prepayments": [prepayment_terms(gas, "700.00"),
                             prepayment_terms(other_gas, "300.50")]}
    set_terms = api.put(f"/api/requests/{rid}/terms", terms)
    assert set_terms.status_code == 200
    doc = json.loads(set_terms.text)
    assert list(doc) == ["loan", "prepayments", "guarantees", "total", "guaranteed",
                         "set_at", "set_by"]
    assert doc["loan"] is None and doc["guarantees"] == []
    assert doc["total"] == eur("1000.50")  # 700.00 + 300.50, no loan
    assert doc["guaranteed"] == eur("0.00")
    assert list(doc["prepayments"][0]) == ["gas_id", "gas_name", "amount", "product", "unit",
                                           "unit_price", "expires_on", "on_expiry"]
    funding = {"id": new_id(), "date": "2026-03-01"}
    first = api.post(f"/api/requests/{rid}/funding", funding)
    again = api.post(f"/api/requests/{rid}/funding", funding)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    instruments = json.loads(first.text)["instruments"]
    # no loan_id or loan key
    assert list(instruments) == ["prepayment_ids", "guarantee_ids", "prepayments",
                                 "guarantees"]
    assert len(instruments["prepayment_ids"]) == 2 and instruments["guarantee_ids"] == []
    assert [list(p) for p in instruments["prepayments"]] == [
        ["id", "reference", "gas_id", "gas_name", "amount"]] * 2
    assert instruments["guarantees"] == []
    # The GAS sees the outcome without the insiders' keys.
    assert keys(api.get(f"/api/requests/{rid}", "gas").text) == REQUEST_KEYS


def test_replayed_commands_answer_the_same_bytes(api: Api) -> None:
    body = {"id": new_id(), "producer_id": api.parties["producer"],
            "amount": eur("5000.00"), "purpose": "a cold room", "instrument": "loan",
            "term_months": 12, "gas_ids": [api.parties["gas"]]}
    created = api.post("/api/requests", body, "producer")
    assert created.status_code == 201
    assert api.post("/api/requests", body, "producer").content == created.content
    rid = body["id"]
    move = {"id": new_id(), "to": "withdrawn"}
    moved = api.post(f"/api/requests/{rid}/transitions", move, "producer")
    assert moved.status_code == 200 and json.loads(moved.text)["status"] == "withdrawn"
    # Replayed after the state moved on: the first answer, not a 409.
    assert api.post(f"/api/requests/{rid}/transitions", move, "producer").content \
        == moved.content
    interest = {"id": new_id(), "kind": "prepayment", "amount": eur("100.00")}
    refused = api.post(f"/api/requests/{rid}/interests", interest, "gas")
    assert refused.status_code == 409 and refused.json()["code"] == "closed"


def test_limit_out_of_range_is_the_use_cases_422(api: Api) -> None:
    rid = submit(api)["id"]
    for path in ("/api/requests?limit=0", "/api/requests/todo?limit=501",
                 f"/api/requests/{rid}/interests?limit=0"):
        r = api.get(path)
        assert r.status_code == 422, path
        assert r.json()["errors"] == [{"field": "limit", "message": "must be between 1 and 500"}]
    # The role comes before the limit on the officers' list.
    assert api.get("/api/requests/todo?limit=0", "gas").status_code == 403


def schema_and_warnings(engine: Engine) -> tuple[dict[str, Any], list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = create_app(Settings(database_url="unused", secret_key="k" * 48), engine=engine)
        schema = app.openapi_schema.to_schema()
    messages = [str(w.message) for w in caught
                if issubclass(w.category, LitestarDeprecationWarning)]
    return schema, messages


def test_no_deprecated_parameter_styles_in_request_handlers(engine: Engine) -> None:
    _, messages = schema_and_warnings(engine)
    # Litestar names a handler by its path inside the controller and its function name.
    labels = tuple(f"[paths='{path}', handler='{name}']"
                   for name, handler in vars(RequestController).items()
                   if isinstance(handler, HTTPRouteHandler) for path in handler.paths)
    assert len(labels) == 14
    assert [m for m in messages if m.startswith(labels)] == []


def test_openapi_states_shapes_and_refusals(engine: Engine) -> None:
    schema, _ = schema_and_warnings(engine)
    paths = schema["paths"]
    expected = {
        ("post", "/api/requests"): {"201", "400", "401", "403", "413", "422"},
        ("get", "/api/requests"): {"200", "401", "422"},
        ("get", "/api/requests/todo"): {"200", "401", "403", "422"},
        ("get", "/api/requests/{request_id}"): {"200", "401", "404", "422"},
        ("post", "/api/requests/{request_id}/transitions"):
            {"200", "400", "401", "403", "404", "409", "413", "422"},
        ("put", "/api/requests/{request_id}/assessment"):
            {"200", "400", "401", "403", "404", "413", "422"},
        ("get", "/api/requests/{request_id}/assessment"): {"200", "401", "403", "404"},
        ("put", "/api/requests/{request_id}/terms"):
            {"200", "400", "401", "403", "404", "409", "413", "422"},
        ("get", "/api/requests/{request_id}/terms"): {"200", "401", "403", "404"},
        ("post", "/api/requests/{request_id}/funding"):
            {"200", "400", "401", "403", "404", "409", "413", "422"},
        ("post", "/api/requests/{request_id}/interests"):
            {"201", "400", "401", "403", "404", "409", "413", "422"},
        ("get", "/api/requests/{request_id}/interests"): {"200", "401", "404", "422"},
    }
    for (method, path), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (method, path, set(responses))
        for status in statuses - {"200", "201"}:
            assert list(responses[status]["content"]) == ["application/problem+json"]
        ok = responses["201" if "201" in statuses else "200"]
        assert "$ref" in ok["content"]["application/json"]["schema"], (method, path)
    withdraw = paths["/api/requests/{request_id}/interests/{kind}"]["delete"]["responses"]
    assert {"204", "400", "401", "403", "404", "409", "422"} <= set(withdraw)
    assert "`closed`" in withdraw["409"]["description"]
    conflicts = paths["/api/requests/{request_id}/funding"]["post"]["responses"]["409"]
    for code in ("idempotency_conflict", "invalid_transition", "insufficient_funds",
                 "coverage_below_minimum", "loan_limit_exceeded"):
        assert f"`{code}`" in conflicts["description"]
    request = schema["components"]["schemas"]["RequestOut"]
    assert request["properties"]["status"]["enum"] == list(STATUSES)
    assert request["properties"]["instrument"]["enum"] == ["loan", "prepayment", "mixed"]
    # Absent for GAS users, so not required; everything else always answers.
    assert set(request["required"]) == set(REQUEST_KEYS)
    limit = [p for p in paths["/api/requests"]["get"]["parameters"] if p["name"] == "limit"]
    assert (limit[0]["schema"]["minimum"], limit[0]["schema"]["maximum"]) == (1, 500)
