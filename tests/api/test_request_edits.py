"""Editing a funding request (API.md, "Editing a request"): a JSON merge patch of the
request's own fields, by the producer while ``submitted`` or ``needs_info`` and by an
officer while ``submitted``, ``under_review`` or ``needs_info``; the history records each
edit with what it changed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, eur, new_id
from tests.api.test_requests_api import at_status, submit

TODAY = "2026-12-06"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", TODAY)


def patch(api: Api, rid: str, body: Any, who: str = "producer") -> Any:
    return api.client.patch(f"/api/requests/{rid}", json=body, headers=api.headers(who))


def edits(api: Api, rid: str) -> list[dict[str, Any]]:
    history = api.ok(api.get(f"/api/requests/{rid}"))["history"]
    return [h for h in history if h["from_status"] == h["to_status"]]


def invalid_fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return sorted(e["field"] for e in response.json()["errors"])


def test_the_producer_edits_its_submitted_request_and_the_history_says_what_changed(
        api: Api) -> None:
    rid = submit(api)["id"]
    answer = api.ok(patch(api, rid, {"amount": eur("25000"), "purpose": "a bigger cellar",
                                     "needed_by": "2027-01-31"}))
    assert answer["amount"] == eur("25000.00")
    assert answer["purpose"] == "a bigger cellar"
    assert answer["needed_by"] == "2027-01-31"
    assert answer["status"] == "submitted"
    assert api.ok(api.get(f"/api/requests/{rid}")) == answer
    (entry,) = edits(api, rid)
    assert entry["from_status"] == entry["to_status"] == "submitted"
    assert entry["by"] == "producer"
    assert entry["changes"] == {
        "amount": {"from": eur("30000.00"), "to": eur("25000.00")},
        "purpose": {"from": "a new cheese cellar", "to": "a bigger cellar"},
        "needed_by": {"from": "2026-04-30", "to": "2027-01-31"}}
    # Status moves carry no changes.
    assert "changes" not in answer["history"][0]


def test_a_patch_that_changes_nothing_records_nothing(api: Api) -> None:
    rid = submit(api)["id"]
    before = api.ok(api.get(f"/api/requests/{rid}"))
    assert api.ok(patch(api, rid, {})) == before
    assert api.ok(patch(api, rid, {"amount": eur("30000.00"), "instrument": "mixed",
                                   "purpose": "a new cheese cellar"})) == before
    assert edits(api, rid) == []


def test_merge_patch_semantics(api: Api) -> None:
    rid = submit(api, business={"description": "cheese from 40 cows", "workers": 4,
                                "revenue": eur("180000.00")},
                 social_notes="a cooperative", links=["https://example.org"])["id"]
    gas, other = api.parties["gas"], api.parties["other_gas"]
    # null clears an optional field; business merges field by field.
    answer = api.ok(patch(api, rid, {"social_notes": None, "needed_by": None,
                                     "business": {"workers": 5, "revenue": None},
                                     "gas_ids": [gas, other]}))
    assert answer["social_notes"] is None and answer["needed_by"] is None
    assert answer["business"]["description"] == "cheese from 40 cows"
    assert answer["business"]["workers"] == 5
    assert answer["business"]["revenue"] is None
    assert answer["gas_ids"] == [gas, other]
    assert answer["links"] == ["https://example.org"]
    (entry,) = edits(api, rid)
    assert set(entry["changes"]) == {"social_notes", "needed_by", "business", "gas_ids"}
    assert entry["changes"]["gas_ids"] == {"from": [gas], "to": [gas, other]}
    assert entry["changes"]["social_notes"] == {"from": "a cooperative", "to": None}
    # The GAS added now sees the request.
    assert api.get(f"/api/requests/{rid}", "other_gas").status_code == 200
    answer = api.ok(patch(api, rid, {"gas_ids": None, "links": None}, "officer"))
    assert answer["gas_ids"] == [] and answer["links"] == []
    assert len(edits(api, rid)) == 2


def test_invalid_patches_name_every_bad_field_and_change_nothing(api: Api) -> None:
    rid = submit(api)["id"]
    before = api.ok(api.get(f"/api/requests/{rid}"))
    assert invalid_fields(patch(api, rid, {"id": new_id(), "status": "approved",
                                           "producer_id": api.parties["other_producer"]})
                          ) == ["id", "producer_id", "status"]
    assert invalid_fields(patch(api, rid, {"amount": None, "purpose": None,
                                           "instrument": None, "term_months": None})
                          ) == ["amount", "instrument", "purpose", "term_months"]
    assert invalid_fields(patch(api, rid, {"amount": 12, "term_months": "12",
                                           "gas_ids": "x"})
                          ) == ["amount", "gas_ids", "term_months"]
    assert invalid_fields(patch(api, rid, {"amount": eur("-5"), "instrument": "gift",
                                           "term_months": 0, "needed_by": "2026-02-30",
                                           "purpose": " ", "gas_ids": ["nope"],
                                           "business": {"workers": -1}})
                          ) == ["amount.amount", "business.workers", "gas_ids.0", "instrument",
                                "needed_by", "purpose", "term_months"]
    assert invalid_fields(patch(api, rid, {"business": {"color": "red"}})) == ["business"]
    # A GAS that does not exist is a 422 once the request is found.
    assert invalid_fields(patch(api, rid, {"gas_ids": [new_id()]})) == ["gas_ids.0"]
    # 422 comes before 404 and 403.
    assert patch(api, new_id(), {"amount": 1}).status_code == 422
    assert patch(api, rid, {"amount": 1}, "gas").status_code == 422
    assert api.ok(api.get(f"/api/requests/{rid}")) == before


def test_who_may_edit_and_when(api: Api) -> None:
    rid = submit(api)["id"]
    body = {"purpose": "changed"}
    assert patch(api, new_id(), body).status_code == 404
    assert patch(api, rid, body, "other_producer").status_code == 404
    assert patch(api, rid, body, "other_gas").status_code == 404
    assert patch(api, rid, body, "gas").status_code == 403  # it sees the request
    assert api.ok(patch(api, rid, body, "officer"))["purpose"] == "changed"
    assert api.ok(patch(api, rid, {"purpose": "by admin"}, "admin"))["purpose"] == "by admin"

    review = at_status(api, "under_review")
    r = patch(api, review, body)
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "invalid_transition"
    assert "allowed" in r.json()
    assert api.ok(patch(api, review, body, "officer"))["purpose"] == "changed"

    info = at_status(api, "needs_info")
    assert api.ok(patch(api, info, {"term_months": 36}))["term_months"] == 36
    assert api.ok(patch(api, info, {"term_months": 30}, "officer"))["term_months"] == 30
    assert [e["by"] for e in edits(api, info)] == ["producer", "officer"]

    for status in ("approved", "rejected", "withdrawn"):
        rid = at_status(api, status)
        for who in ("producer", "officer"):
            r = patch(api, rid, body, who)
            assert r.status_code == 409, (status, who, r.text)
            assert r.json()["code"] == "invalid_transition"
        assert edits(api, rid) == []


def test_the_patch_is_documented(api: Api) -> None:
    paths = api.ok(api.client.get("/schema/openapi.json"))["paths"]
    operation = paths["/api/requests/{request_id}"]["patch"]
    responses = operation["responses"]
    assert {s for s in responses if not s.startswith("2")} == {
        "400", "401", "403", "404", "409", "413", "422"}
    assert "`invalid_transition`" in responses["409"]["description"]
