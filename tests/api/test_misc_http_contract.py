"""The raw ledger, auth, matching and reports as typed, documented operations: what the
OpenAPI document says about them, and the JSON shapes that depend on null-vs-absent."""

from __future__ import annotations

import sqlite3
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import create_engine

from service.app.context import AppContext
from service.app.health import check_health
from service.db.engine import make_engine
from service.http.app import create_app
from service.settings import Settings
from tests.api.conftest import Api, eur, new_id

MY_HANDLERS = ("token", "me", "health", "create_account", "get_account", "create_transfers",
               "list_transfers", "verify", "get_opportunities", "post_plan", "list_reports",
               "get_report")
PROBLEM = "application/problem+json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def schema_of(api: Api) -> dict[str, Any]:
    document: dict[str, Any] = api.client.get("/schema/openapi.json").json()
    return document


def ok_schema(document: dict[str, Any], path: str, method: str) -> str:
    """The component name of an operation's 2xx JSON body."""
    responses = document["paths"][path][method]["responses"]
    status = "201" if "201" in responses else "200"
    ref: str = responses[status]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


def test_login_and_health_are_public_in_the_document(api: Api) -> None:
    document = schema_of(api)
    assert document["security"] == [{"bearer": []}]
    assert document["paths"]["/health"]["get"]["security"] == []
    assert document["paths"]["/api/auth/token"]["post"]["security"] == []
    # every other operation inherits the bearer requirement
    assert "security" not in document["paths"]["/api/me"]["get"]
    assert "security" not in document["paths"]["/api/ledger/verify"]["get"]
    # and they are public in fact
    assert api.client.get("/health").status_code == 200
    login = document["paths"]["/api/auth/token"]["post"]["responses"]
    assert {"401", "422", "429"} <= set(login)
    assert list(login["429"]["content"]) == [PROBLEM]
    health = document["paths"]["/health"]["get"]["responses"]
    assert set(health) == {"200", "503"}


def test_every_operation_answers_a_named_record(api: Api) -> None:
    document = schema_of(api)
    expected = {
        ("/api/auth/token", "post"): "TokenOut",
        ("/api/me", "get"): "MeOut",
        ("/health", "get"): "HealthOut",
        ("/api/ledger/accounts", "post"): "AccountOut",
        ("/api/ledger/accounts/{account_id}", "get"): "AccountOut",
        ("/api/ledger/transfers", "post"): "TransferResults",
        ("/api/ledger/transfers", "get"): "TransferPage",
        ("/api/ledger/verify", "get"): "VerifyOut",
        ("/api/requests/{request_id}/opportunities", "get"): "Opportunities",
        ("/api/matching/plan", "post"): "PlanOut",
        ("/api/reports", "get"): "ReportCatalog",
    }
    assert {key: ok_schema(document, *key) for key in expected} == expected
    components = document["components"]["schemas"]
    # enumerated values are listed (written out here from API.md, not from the code)
    result = components["TransferResultOut"]["properties"]["result"]["$ref"].rsplit("/", 1)[1]
    assert set(components[result]["enum"]) == {
        "created", "exists", "exists_with_different_fields", "linked_event_failed",
        "exceeds_credits", "exceeds_debits", "account_not_found", "currency_mismatch",
        "accounts_must_be_different", "pending_not_found", "pending_already_posted",
        "pending_already_voided", "pending_expired", "exceeds_pending_amount",
        "account_closed", "linked_event_chain_open", "overflows_debits",
        "overflows_credits"}
    assert components["MeOut"]["properties"]["role"]["enum"] == [
        "admin", "officer", "producer", "gas"]
    assert components["OpportunityOut"]["properties"]["kind"]["enum"] == [
        "prepayment", "loan", "guarantee", "solidarity"]
    assert components["AccountOut"]["properties"]["id"]["format"] == "uuid"
    # the key that is absent unless a match rule suggests the item is not required
    assert "match_rule_pool_id" not in components["OpportunityOut"]["required"]


def test_refusals_are_documented_as_problems(api: Api) -> None:
    paths = schema_of(api)["paths"]
    create = paths["/api/ledger/accounts"]["post"]["responses"]
    assert {"400", "401", "403", "409", "413", "422"} <= set(create)
    assert "`idempotency_conflict`" in create["409"]["description"]
    assert {"401", "403", "422"} <= set(paths["/api/ledger/transfers"]["post"]["responses"])
    assert {"401", "404", "422"} <= set(
        paths["/api/requests/{request_id}/opportunities"]["get"]["responses"])
    assert "403" in paths["/api/matching/plan"]["post"]["responses"]
    for status in ("401", "403", "404", "422"):
        content = paths["/api/reports/{filename}"]["get"]["responses"][status]["content"]
        assert list(content) == [PROBLEM]


def test_report_download_documents_its_media_types(api: Api) -> None:
    ok = schema_of(api)["paths"]["/api/reports/{filename}"]["get"]["responses"]["200"]
    assert set(ok["content"]) == {XLSX, "text/csv", "application/vnd.apache.parquet",
                                  "application/pdf"}
    for media in ok["content"].values():
        assert media["schema"] == {"type": "string", "format": "binary"}
    # what is sent is what is documented
    r = api.get("/api/reports/portfolio.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    r = api.get("/api/reports/portfolio.xlsx")
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    assert r.content[:2] == b"PK"  # a zip container, as XLSX is
    r = api.get("/api/reports/portfolio.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content[:5] == b"%PDF-"


def test_report_catalog_keys_and_scope(api: Api) -> None:
    officer = api.ok(api.get("/api/reports?lang=en"))
    assert list(officer) == ["items", "next_cursor", "common_parameters"]
    assert officer["next_cursor"] is None
    keys = ["name", "title", "description", "parameters", "formats", "urls", "streaming"]
    assert all(list(item) == keys for item in officer["items"])
    statement = next(i for i in officer["items"] if i["name"] == "loan-statement")
    assert statement["urls"] == {"xlsx": "/api/reports/loan-statement.xlsx",
                                 "csv": "/api/reports/loan-statement.csv",
                                 "parquet": "/api/reports/loan-statement.parquet",
                                 "pdf": "/api/reports/loan-statement.pdf"}
    assert [list(p) for p in statement["parameters"]] == [
        ["name", "kind", "required", "description"]] * len(statement["parameters"])
    common = {p["name"]: p for p in officer["common_parameters"]}
    assert list(common["lang"]) == ["name", "kind", "values", "required", "description"]
    assert common["lang"]["values"] == ["it", "en"]
    assert "values" not in common["italian"] and "values" not in common["sheet"]
    assert common["sheet"]["description"].startswith("CSV and Parquet")
    producer = api.ok(api.get("/api/reports", "producer"))
    mine = next(i for i in producer["items"] if i["name"] == "loan-statement")
    assert list(mine) == [*keys, "scope"]
    assert mine["scope"] == {"producer_id": api.parties["producer"]}
    assert "producer_id" not in [p["name"] for p in mine["parameters"]]
    assert api.get("/api/reports?lang=de").status_code == 422


def test_ledger_records_round_trip(api: Api) -> None:
    a, b = new_id(), new_id()
    first = api.ok(api.post("/api/ledger/accounts", {"id": a, "code": "cash",
                                                     "currency": "EUR"}), 201)
    assert first["flags"] == [] and first["party_id"] is None
    assert first["balance"] == {"amount": "0.00", "currency": "EUR"}
    # a replay answers exactly as the first time
    again = api.post("/api/ledger/accounts", {"id": a, "code": "cash", "currency": "EUR"})
    assert again.status_code == 201 and again.json() == first
    api.ok(api.post("/api/ledger/accounts", {
        "id": b, "code": "bank", "currency": "EUR",
        "flags": ["debits_must_not_exceed_credits"]}), 201)
    t1, t2 = new_id(), new_id()
    results = api.ok(api.post("/api/ledger/transfers", [
        {"id": t1, "debit_account_id": a, "credit_account_id": b, "amount": eur("12.34")},
        {"id": t2, "debit_account_id": b, "credit_account_id": a, "amount": eur("99.00")},
    ]))
    assert results == {"results": [{"id": t1, "result": "created"},
                                   {"id": t2, "result": "exceeds_credits"}]}
    account = api.ok(api.get(f"/api/ledger/accounts/{b}"))
    assert account["flags"] == ["debits_must_not_exceed_credits"]
    assert account["credits_posted"] == eur("12.34")
    # credit-normal here: balance = credits - debits for this account
    assert account["balance"]["amount"] in ("12.34", "-12.34")
    page = api.ok(api.get(f"/api/ledger/transfers?account_id={a}"))
    assert [t["id"] for t in page["items"]] == [t1] and page["next_cursor"] is None
    transfer = page["items"][0]
    assert transfer["amount"] == eur("12.34") and transfer["flags"] == []
    assert transfer["pending_id"] is None and transfer["value_date"] is None
    assert transfer["timestamp"].endswith("Z")
    verify = api.ok(api.get("/api/ledger/verify"))
    assert list(verify) == ["ok", "transfers", "accounts", "problems", "head"] and verify["ok"]
    assert list(verify["head"]) == ["count", "hash"]
    assert verify["head"]["count"] == verify["transfers"]


def test_health_answers_503_when_the_database_is_gone(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "filiera.db"
    ctx = cast(AppContext, SimpleNamespace(engine=create_engine(f"sqlite:///{missing}")))
    status, body = check_health(ctx)
    assert status == 503 and body.status == "error" and body.database


def test_health_answers_at_once_while_another_process_holds_the_write_lock(
        tmp_path: Path) -> None:
    """The health check reads: it neither waits behind a writer (SQLite's BEGIN
    IMMEDIATE would, the busy timeout long, then answer 503) nor keeps a connection."""
    path = tmp_path / "filiera.db"
    engine = make_engine(f"sqlite:///{path}", sqlite_busy_timeout_ms=3000)
    ctx = cast(AppContext, SimpleNamespace(engine=engine))
    assert check_health(ctx)[0] == 200  # the file exists, in WAL mode
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        status, body = check_health(ctx)
        assert (status, body.database) == (200, "ok")
        assert time.monotonic() - started < 1
        assert engine.pool.checkedout() == 0  # given back on return
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()


def test_building_the_app_warns_about_none_of_these_handlers(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}",
                        secret_key="test-secret-" + "x" * 40)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_app(settings)
    named = [str(w.message) for w in caught
             if any(f"handler='{name}'" in str(w.message) for name in MY_HANDLERS)]
    assert named == []
