"""``GET /api/audit``: every change of state, login, failed login, logout and 403, with
who, through which door, what and the outcome; a replay is not listed again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, eur, new_id


def entries(api: Api, **params: str) -> list[dict[str, Any]]:
    r = api.get("/api/audit", who="admin", params={"limit": "500", **params})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_a_contribution_is_listed_once_with_its_request_id(api: Api) -> None:
    body = {"id": new_id(), "gas_id": api.parties["gas"], "amount": eur("25.00"),
            "date": "2026-12-01"}
    r = api.client.post("/api/contributions", json=body,
                        headers={**api.headers("gas"), "X-Request-ID": "audit-1"})
    assert r.status_code == 201
    again = api.post("/api/contributions", body, who="gas")
    assert again.status_code == 201 and again.json() == r.json()  # a replay
    found = [e for e in entries(api, kind="contributions")
             if e["operation"] == "POST /api/contributions"]
    assert len(found) == 1
    entry = found[0]
    assert entry["actor"] == "gas" and entry["channel"] == "api"
    assert entry["outcome"] == 201 and body["id"] in entry["ids"]
    assert entry["http_request_id"] == "audit-1"
    assert entry["changes"] is None


def test_logins_failed_logins_logouts_and_403s(api: Api) -> None:
    bad = api.client.post("/api/auth/token", json={"username": "gas", "password": "nope"})
    assert bad.status_code == 401
    token = api.login("other_gas")
    assert api.client.post("/api/auth/logout",
                           headers={"Authorization": f"Bearer {token}"}).status_code == 204
    refused = api.post("/api/parties", {"kind": "gas", "name": "GAS X", "households": 3},
                       who="producer")
    assert refused.status_code == 403
    items = entries(api)
    logins = [(e["actor"], e["outcome"]) for e in items
              if e["operation"] == "POST /api/auth/token"]
    assert ("gas", 401) in logins and ("other_gas", 200) in logins
    assert any(e["operation"] == "POST /api/auth/logout" and e["actor"] == "other_gas"
               for e in items)
    assert any(e["operation"] == "POST /api/parties" and e["outcome"] == 403
               and e["actor"] == "producer" for e in items)
    # Oldest first.
    assert [e["at"] for e in items] == sorted(e["at"] for e in items)


def test_put_records_its_changes_and_reads_are_not_listed(api: Api) -> None:
    before = len(entries(api))
    api.ok(api.get("/api/parties"))
    api.ok(api.post("/api/loans/simulate", {
        "principal": eur("1000.00"), "annual_rate": "3", "term_months": 12,
        "method": "french", "frequency": "monthly", "disbursement_date": "2026-12-01"}))
    assert len(entries(api)) == before
    gas = api.parties["gas"]
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("500.00")}))
    put = [e for e in entries(api) if e["operation"].startswith("PUT ")]
    assert put[-1]["operation"] == "PUT /api/parties/{id}/pledge-capacity"
    assert put[-1]["changes"] == {"amount": {"amount": "500.00", "currency": "EUR"}}
    assert gas in put[-1]["ids"] and put[-1]["kind"] == "pledge-capacity"


def test_a_refused_command_is_not_a_change_of_state(api: Api) -> None:
    before = len(entries(api))
    r = api.post("/api/contributions", {"gas_id": api.parties["gas"], "amount": eur("-1.00"),
                                        "date": "2026-12-01"}, who="gas")
    assert r.status_code == 422
    assert len(entries(api)) == before


def test_only_admins_read_it_and_filters_apply(api: Api) -> None:
    r = api.get("/api/audit", who="officer")
    assert r.status_code == 403
    assert any(e["operation"] == "GET /api/audit" and e["outcome"] == 403
               for e in entries(api, actor="officer"))
    assert all(e["actor"] == "officer" for e in entries(api, actor="officer"))
    assert entries(api, **{"from": "2999-01-01"}) == []
    assert entries(api, to="2000-01-01") == []
    r = api.get("/api/audit", who="admin", params={"from": "yesterday"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "from"


def test_a_dropped_connection_is_retried_and_the_entry_written(
        api: Api, monkeypatch: Any) -> None:
    """The audit writer's connection dropped by the database (a terminated backend): the
    batch is written again on a fresh connection; the answer is the operation's own."""
    from sqlalchemy.exc import OperationalError

    from service.app import audit_writer

    real, failures = audit_writer.write_entries, [0]

    def flaky(conn: Any, batch: Any) -> None:
        if failures[0] < 2:
            failures[0] += 1
            raise OperationalError("INSERT INTO audit_log", {}, Exception("connection lost"))
        real(conn, batch)

    monkeypatch.setattr(audit_writer, "write_entries", flaky)
    body = {"kind": "person", "name": "Socia Audit"}
    r = api.post("/api/parties", body)
    assert r.status_code == 201 and failures[0] == 2
    monkeypatch.setattr(audit_writer, "write_entries", real)
    assert [e["ids"] for e in entries(api, kind="parties")
            if e["operation"] == "POST /api/parties"][-1] == [r.json()["id"]]


def test_a_try_again_after_a_commit_whose_answer_was_lost_lists_the_event_once(
        api: Api, monkeypatch: Any) -> None:
    """The audit batch committed, but the connection dropped before the database said so
    (an OperationalError from COMMIT): the writer tries again, and each entry is still
    listed once (written only if its key is absent)."""
    from collections.abc import Iterator
    from contextlib import contextmanager

    from sqlalchemy import Connection, Engine
    from sqlalchemy.exc import OperationalError

    from service.app import audit_writer

    real_tx, lost = audit_writer.write_tx, [0]

    @contextmanager
    def committed_then_lost(engine: Engine) -> Iterator[Connection]:
        with real_tx(engine) as conn:
            yield conn
        if lost[0] == 0:  # the batch is in the database; its caller hears it was not
            lost[0] += 1
            raise OperationalError("COMMIT", {}, Exception("server closed the connection "
                                                           "unexpectedly"),
                                   connection_invalidated=True)

    monkeypatch.setattr(audit_writer, "write_tx", committed_then_lost)
    r = api.post("/api/parties", {"kind": "person", "name": "Socia Una Volta"})
    assert r.status_code == 201 and lost[0] == 1, r.text
    monkeypatch.setattr(audit_writer, "write_tx", real_tx)
    party = r.json()["id"]
    listed = [e for e in entries(api, kind="parties") if party in e["ids"]]
    assert len(listed) == 1, listed
    assert listed[0]["operation"] == "POST /api/parties" and listed[0]["outcome"] == 201


def test_an_entry_that_cannot_be_written_leaves_the_answer_json(
        api: Api, monkeypatch: Any, caplog: Any) -> None:
    """Never a plain-text 500 after the operation committed: its own answer goes out
    (a retry would only replay it) and the failure is logged with who did what."""
    from sqlalchemy.exc import OperationalError

    from service.app import audit_writer

    def broken(conn: Any, batch: Any) -> None:
        raise OperationalError("INSERT INTO audit_log", {}, Exception("database is down"))

    monkeypatch.setattr(audit_writer, "write_entries", broken)
    monkeypatch.setattr(audit_writer, "RETRY_PAUSES", (0.0,))
    r = api.client.post("/api/parties", json={"kind": "person", "name": "Socia"},
                        headers={**api.headers("officer"), "X-Request-ID": "lost-1"})
    assert r.status_code == 201 and r.headers["content-type"].startswith("application/json")
    party = r.json()["id"]
    assert api.ok(api.get(f"/api/parties/{party}"))["name"] == "Socia"
    assert any("audit entry not written for POST /api/parties" in rec.getMessage()
               and "officer" in rec.getMessage() and "lost-1" in rec.getMessage()
               for rec in caplog.records)


def test_a_patch_that_changes_nothing_records_nothing(api: Api) -> None:
    """API.md: "a PATCH that changes nothing answers 200 and records nothing"; a PATCH
    that changes something lists what it changed as stored (the phone in E.164)."""
    party = api.parties["gas"]

    def patches() -> list[dict[str, Any]]:
        return [e for e in entries(api, kind="parties")
                if e["operation"] == "PATCH /api/parties/{id}"]

    assert api.client.patch(f"/api/parties/{party}", json={},
                            headers=api.headers("officer")).status_code == 200
    assert patches() == []
    r = api.client.patch(f"/api/parties/{party}", json={"phone": "02 7654 3210"},
                         headers=api.headers("officer"))
    assert r.status_code == 200 and r.json()["phone"] == "+390276543210"
    (entry,) = patches()
    assert entry["changes"] == {"phone": "+390276543210"} and party in entry["ids"]
    # The same phone again, written another way: nothing changes, nothing is recorded.
    again = api.client.patch(f"/api/parties/{party}", json={"phone": "+39 02 7654 3210"},
                             headers=api.headers("officer"))
    assert again.status_code == 200 and len(patches()) == 1


def test_a_request_edit_that_changes_nothing_records_nothing(api: Api) -> None:
    from tests.api.test_requests_api import submit

    req = submit(api)
    path = f"/api/requests/{req['id']}"

    def edits() -> list[dict[str, Any]]:
        return [e for e in entries(api, kind="requests")
                if e["operation"] == "PATCH /api/requests/{id}"]

    same = api.client.patch(path, json={"purpose": req["purpose"]},
                            headers=api.headers("producer"))
    assert same.status_code == 200 and edits() == []
    changed = api.client.patch(path, json={"amount": eur("31000.00")},
                               headers=api.headers("producer"))
    assert changed.status_code == 200
    (entry,) = edits()
    assert entry["changes"] == {"amount": eur("31000.00")} and req["id"] in entry["ids"]


def test_raw_transfers_list_the_transfers_they_posted(api: Api) -> None:
    accounts = []
    for code in ("cash", "bank"):
        body = {"id": new_id(), "code": f"audit:{code}", "currency": "EUR"}
        accounts.append(api.ok(api.post("/api/ledger/accounts", body), 201)["id"])
    posted, refused = new_id(), new_id()
    r = api.post("/api/ledger/transfers", [
        {"id": posted, "debit_account_id": accounts[0], "credit_account_id": accounts[1],
         "amount": eur("10.00"), "code": "test"},
        {"id": refused, "debit_account_id": accounts[0], "credit_account_id": accounts[0],
         "amount": eur("10.00"), "code": "test"}])
    assert r.status_code == 200, r.text
    results = {x["id"]: x["result"] for x in r.json()["results"]}
    assert results[posted] == "created" and results[refused] != "created"
    (entry,) = [e for e in entries(api) if e["operation"] == "POST /api/ledger/transfers"]
    assert posted in entry["ids"] and refused not in entry["ids"]


def test_a_raw_transfer_batch_commits_its_entry_with_the_transfers(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry of a raw transfer batch is written by the ledger's group-commit writer in
    the batch's own transaction (the audit writer never sees it), and is the entry the
    audit door writes for any request: once, with who, the request id, the outcome and
    the transfers created; a batch all refused still answers 200 and is listed, with no
    ids; a batch the database could not take (503) is not."""
    from sqlalchemy.exc import OperationalError

    accounts = []
    for code in ("cash", "bank"):
        body = {"id": new_id(), "code": f"audit:{code}", "currency": "EUR"}
        accounts.append(api.ok(api.post("/api/ledger/accounts", body), 201)["id"])
    ctx = api.client.app.state.ctx
    through_writer: list[str] = []
    real_submit = ctx.audit.submit
    monkeypatch.setattr(ctx.audit, "submit", lambda entry: (
        through_writer.append(entry.operation), real_submit(entry))[1])

    def transfer(debit: str, credit: str) -> dict[str, Any]:
        return {"id": new_id(), "debit_account_id": debit, "credit_account_id": credit,
                "amount": eur("1.00"), "code": "test"}

    posted = [transfer(accounts[0], accounts[1]), transfer(accounts[1], accounts[0])]
    r = api.client.post("/api/ledger/transfers", json=posted,
                        headers={**api.headers("officer"), "X-Request-ID": "raw-1"})
    assert [x["result"] for x in api.ok(r)["results"]] == ["created", "created"]
    refused = [transfer(accounts[0], accounts[0])]
    r = api.client.post("/api/ledger/transfers", json=refused,
                        headers={**api.headers("officer"), "X-Request-ID": "raw-2"})
    assert api.ok(r)["results"] == [{"id": refused[0]["id"],
                                     "result": "accounts_must_be_different"}]
    with monkeypatch.context() as patch:
        patch.setattr(ctx.store, "submit_many_batch", lambda *a, **k: (_ for _ in ()).throw(
            OperationalError("BEGIN", {}, Exception("server closed the connection"))))
        r = api.client.post("/api/ledger/transfers", json=[transfer(*accounts)],
                            headers={**api.headers("officer"), "X-Request-ID": "raw-3"})
        assert r.status_code == 503, r.text
    found = [e for e in entries(api) if e["operation"] == "POST /api/ledger/transfers"]
    assert [{k: v for k, v in e.items() if k != "at"} for e in found] == [
        {"actor": "officer", "channel": "api", "operation": "POST /api/ledger/transfers",
         "kind": "ledger", "ids": [t["id"] for t in posted], "changes": None,
         "outcome": 200, "http_request_id": "raw-1"},
        {"actor": "officer", "channel": "api", "operation": "POST /api/ledger/transfers",
         "kind": "ledger", "ids": [], "changes": None, "outcome": 200,
         "http_request_id": "raw-2"}]
    assert "POST /api/ledger/transfers" not in through_writer


def test_a_gdxp_import_lists_what_it_created(api: Api) -> None:
    from tests.api.test_gdxp_api import gdxp_file, send

    answer = api.ok(send(api, gdxp_file(), f"?gas_id={api.parties['gas']}"))
    made = [p["id"] for p in answer["producers"]["created"]] + [
        r["id"] for r in answer["relationships"]["created"]]
    assert len(made) == 3
    (entry,) = [e for e in entries(api) if e["operation"] == "POST /api/imports/gdxp"]
    assert sorted(entry["ids"]) == sorted(made)


def test_a_batch_of_entries_is_one_insert_that_skips_keys_already_written(
        engine: Any) -> None:
    """The audit writer's batch goes to the database as one statement (on PostgreSQL a
    statement an entry was a round trip each), each entry with its own time; an entry
    whose key is already there is skipped, the others written."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import event, select

    from service.app.audit_writer import AuditEntry, write_entries
    from service.db.engine import write_tx
    from service.db.tables import audit_log

    at = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    batch = [(AuditEntry(actor=f"user{i}", channel="api", operation=f"POST /api/x/{i}",
                         kind="x", ids=[f"id{i}", f"id{i}"], outcome=201),
              at + timedelta(seconds=i)) for i in range(5)]
    statements: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if "audit_log" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        with write_tx(engine) as conn:
            write_entries(conn, batch[:2])
        with write_tx(engine) as conn:
            write_entries(conn, batch)  # the first two again: skipped, not doubled
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 2, statements  # one INSERT (or executemany) a batch
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.kind == "x")
                            .order_by(audit_log.c.seq)).all()
    assert [r.actor for r in rows] == [f"user{i}" for i in range(5)]
    assert [r.ids for r in rows] == [f'["id{i}"]' for i in range(5)]
    assert [r.at.replace(tzinfo=UTC) if r.at.tzinfo is None else r.at for r in rows] == [
        at + timedelta(seconds=i) for i in range(5)]


def _ids_as_parsed_whole(path_params: dict[str, object], body: bytes) -> list[str]:
    """What the audit took from an answer when it parsed it whole with ``json``."""
    import json
    import re

    uuid_like = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                           r"[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
    ids = [str(v) for v in path_params.values() if isinstance(v, str) and uuid_like.match(v)]
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        if isinstance(answer.get("id"), str):
            ids.append(answer["id"])
        for key, value in answer.items():
            if isinstance(value, dict) and isinstance(value.get("id"), str) and key != "loan":
                ids.append(value["id"])
            elif key == "call_id" and isinstance(value, str):
                ids.append(value)
    return ids


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[1, 2]", b'"text"', b"null", b"{}",
    b'{"id": "a", "loan": {"id": "l", "schedule": [{"id": "x"}]}, '
    b'"repayment": {"id": "r", "reference": "R-1"}, "allocation": {"penalty": 1}}',
    b'{"id": 7, "call_id": "c", "guarantee": {"id": 3}, "fund": {"id": "f"}, '
    b'"payout": {"x": {"id": "deep"}}, "party_id": "p", "items": [{"id": "i"}]}',
    b'{"call_id": 5, "other": {"id": null}, "id": "z"}',
    b'{ "id" : "spaced" , "fund" : { "id" : "f2" } }',
])
def test_audited_ids_are_those_the_whole_answer_names(body: bytes) -> None:
    from service.http.audit import _ids

    params = {"loan_id": "0b6f1c4e-8a43-4d8e-9d1e-2a7c1f3e5b6a", "n": 3}
    assert _ids(params, body) == _ids_as_parsed_whole(params, body)
