"""Text takes no control or invisible formatting characters, on SQLite and PostgreSQL
alike; free text keeps its line breaks (CRLF as LF); everything is stored in NFC."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, eur, make_party


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1f", "\x7f", "\x85", "\u061c", "\u200e",
                                  "\u202e", "\u2066", "\u200b", "\u200d", "\u2060", "\ufeff",
                                  "\t", "\n", "\r"])
def test_a_name_with_a_control_or_invisible_character_is_refused(api: Api, char: str) -> None:
    before = api.ok(api.get("/api/parties?kind=gas&limit=500"))["items"]
    r = api.post("/api/parties", {"kind": "gas", "name": f"GAS{char}Isola", "households": 3})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["name"]
    assert api.ok(api.get("/api/parties?kind=gas&limit=500"))["items"] == before


def test_every_bad_text_field_is_named_even_in_lists(api: Api) -> None:
    r = api.post("/api/parties", {"kind": "producer", "name": "Ca\u202eseificio",
                                  "municipality": "Mi\x00lano", "categories": ["ok", "\u200b"]})
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["errors"]) == ["categories.1", "municipality",
                                                              "name"]


def test_free_text_keeps_its_lines_and_names_come_out_in_nfc(api: Api) -> None:
    lender = make_party(api, "lender", "Mag Te\u0301st")  # e + combining acute
    assert api.ok(api.get(f"/api/parties/{lender}"))["name"] == "Mag T\u00e9st"
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    dep = api.ok(api.post(f"/api/pools/{pool}/deposits", {
        "amount": eur("10.00"), "date": "2026-01-05",
        "note": "versamento\r\nsoci\tdi marzo \U0001F469\u200d\U0001F33E"}), 201)
    assert dep["note"] == "versamento\nsoci\tdi marzo \U0001F469\u200d\U0001F33E"
    r = api.post(f"/api/pools/{pool}/deposits", {"amount": eur("10.00"),
                                                  "date": "2026-01-05", "note": "a\x00b"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "note"


def test_query_parameters_are_checked_too(api: Api) -> None:
    r = api.get("/api/parties?kind=gas%00")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"


def test_transfer_codes_in_a_batch_are_named_by_index(api: Api) -> None:
    a = api.ok(api.post("/api/ledger/accounts", {"code": "a", "currency": "EUR"}), 201)["id"]
    b = api.ok(api.post("/api/ledger/accounts", {"code": "b", "currency": "EUR"}), 201)["id"]
    import uuid

    batch = [{"id": str(uuid.uuid4()), "debit_account_id": a, "credit_account_id": b,
              "amount": eur("1.00"), "code": code} for code in ("ok", "bad\x00")]
    r = api.post("/api/ledger/transfers", batch)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "1.code"
