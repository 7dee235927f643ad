"""References (PRE-2026-0001 ...): per kind and year recorded, gap-free, assigned inside
the recording transaction, shown in answers and lists, filtered by ``?reference=``."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from service.db.engine import write_tx
from service.db.tables import idempotency
from tests.api.conftest import Api, eur, make_party
from tests.api.test_instruments_api import capacity, setup_loan


def ref(kind: str, year: int, n: int) -> str:
    return f"{kind}-{year}-{n:04d}"  # the contract's form, written out independently


def only(api: Api, path: str, who: str = "officer") -> list[str]:
    return [i["reference"] for i in api.ok(api.get(path, who))["items"]]


def test_each_kind_counts_from_one_per_year_and_refusals_take_no_number(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    producer, gas = api.parties["producer"], api.parties["gas"]
    lender, pool_id, loan_a = setup_loan(api, principal="1200.00")
    loan_b = api.ok(api.post("/api/loans", {
        "principal": eur("600.00"), "annual_rate": "0.00", "term_months": 6,
        "method": "french", "frequency": "monthly", "disbursement_date": "2026-02-01",
        "borrower_id": producer, "lender_id": lender}), 201)
    assert loan_b["reference"] == ref("PRE", 2026, 2)
    assert api.ok(api.get(f"/api/loans/{loan_a}"))["reference"] == ref("PRE", 2026, 1)
    # A refused guarantee (over capacity) is rolled back with its number: the next one
    # recorded is still GAR-2026-0001.
    capacity(api, gas, "100.00", "gas")
    r = api.post("/api/guarantees", {"loan_id": loan_a, "guarantor_id": gas,
                                     "amount": eur("100.01")}, "gas")
    assert r.status_code == 409 and r.json()["code"] == "exceeds_capacity"
    g = api.ok(api.post("/api/guarantees", {"loan_id": loan_a, "guarantor_id": gas,
                                            "amount": eur("100.00"), "date": "2026-01-10"},
                        "gas"), 201)
    assert g["reference"] == ref("GAR", 2026, 1)
    api.ok(api.post(f"/api/loans/{loan_a}/disbursement", {"date": "2026-01-15"}))
    rep = [api.ok(api.post(f"/api/loans/{loan_a}/repayments",
                           {"amount": eur(a), "date": d}))
           for a, d in (("60.00", "2026-02-15"), ("10.00", "2026-02-10"))]
    assert [r["repayment"]["reference"] for r in rep] == [ref("RIM", 2026, 1),
                                                          ref("RIM", 2026, 2)]
    assert rep[0]["repayment"]["id"] != rep[1]["repayment"]["id"]
    # A refused repayment (before the disbursement) takes no number either.
    assert api.post(f"/api/loans/{loan_a}/repayments",
                    {"amount": eur("1.00"), "date": "2026-01-01"}).status_code == 422
    pre = api.ok(api.post("/api/prepayments", {
        "producer_id": producer, "gas_id": gas, "amount": eur("30.00"), "product": "Riso",
        "unit": "kg", "unit_price": eur("3.00"), "expires_on": "2026-12-31",
        "on_expiry": "solidarity", "date": "2026-03-01"}), 201)
    assert pre["reference"] == ref("PRF", 2026, 1)
    con = api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("50.00"),
                                                 "date": "2026-06-01"}, "gas"), 201)
    assert con["reference"] == ref("CON", 2026, 1)
    # Closing with a remainder for the fund records a contribution: CON-2026-0002.
    api.ok(api.post(f"/api/prepayments/{pre['id']}/close", {"date": "2026-07-01"}))
    fund_id = con["fund_id"]
    pay = api.ok(api.post(f"/api/funds/{fund_id}/payouts", {
        "producer_id": producer, "amount": eur("5.00"), "date": "2026-07-02",
        "kind": "grant"}), 201)
    assert pay["reference"] == ref("USC", 2026, 1)
    req = api.ok(api.post("/api/requests", {
        "producer_id": producer, "amount": eur("3000.00"), "purpose": "a cellar",
        "instrument": "loan", "term_months": 12, "gas_ids": [gas]}, "producer"), 201)
    assert req["reference"] == ref("RIC", 2026, 1)

    # The lists show them and filter by them.
    assert only(api, "/api/loans") == [ref("PRE", 2026, 1), ref("PRE", 2026, 2)]
    assert only(api, f"/api/loans?reference={ref('PRE', 2026, 2)}") == [ref("PRE", 2026, 2)]
    assert only(api, "/api/loans?reference=PRE-2026-0003") == []
    assert only(api, f"/api/guarantees?reference={ref('GAR', 2026, 1)}") == [
        ref("GAR", 2026, 1)]
    assert only(api, f"/api/prepayments?reference={ref('PRF', 2026, 1)}") == [
        ref("PRF", 2026, 1)]
    assert only(api, "/api/contributions") == [ref("CON", 2026, 1), ref("CON", 2026, 2)]
    assert only(api, f"/api/contributions?gas_id={gas}&fund_id={fund_id}"
                     f"&reference={ref('CON', 2026, 2)}") == [ref("CON", 2026, 2)]
    assert only(api, f"/api/contributions?gas_id={api.parties['other_gas']}"
                     f"&reference={ref('CON', 2026, 2)}") == []
    assert only(api, f"/api/funds/{fund_id}/payouts?reference={ref('USC', 2026, 1)}") == [
        ref("USC", 2026, 1)]
    assert only(api, f"/api/requests?reference={ref('RIC', 2026, 1)}") == [ref("RIC", 2026, 1)]
    # Value-date order: the 02-10 payment (RIM-0002) comes first.
    assert only(api, f"/api/loans/{loan_a}/repayments") == [ref("RIM", 2026, 2),
                                                            ref("RIM", 2026, 1)]
    assert only(api, f"/api/loans/{loan_a}/repayments?reference={ref('RIM', 2026, 1)}") == [
        ref("RIM", 2026, 1)]

    # A new year starts from 1 again, for each kind on its own.
    monkeypatch.setenv("FILIERA_TODAY", "2027-01-02")
    loan_c = api.ok(api.post("/api/loans", {
        "principal": eur("600.00"), "annual_rate": "0.00", "term_months": 6,
        "method": "french", "frequency": "monthly", "disbursement_date": "2027-02-01",
        "borrower_id": producer, "lender_id": lender}), 201)
    assert loan_c["reference"] == ref("PRE", 2027, 1)
    rep = api.ok(api.post(f"/api/loans/{loan_a}/repayments",
                          {"amount": eur("1.00"), "date": "2026-12-31"}))
    assert rep["repayment"]["reference"] == ref("RIM", 2027, 1)
    assert pool_id
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_concurrent_creates_never_share_or_skip_a_number(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parallel requests (on PostgreSQL really parallel transactions): the numbers given
    are exactly 1..n, each once."""
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    gas = api.parties["gas"]
    n = 12
    answers: list[Any] = []
    lock = threading.Lock()

    def contribute(k: int) -> None:
        r = api.post("/api/contributions", {"gas_id": gas, "amount": eur(f"{k + 1}.00"),
                                            "date": "2026-06-01"}, "gas")
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=contribute, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in answers] == [201] * n, [r.text for r in answers]
    given = sorted(r.json()["reference"] for r in answers)
    assert given == [ref("CON", 2026, k) for k in range(1, n + 1)]
    # Recording order is reference order: seq and number grow together.
    listed = api.ok(api.get("/api/contributions?limit=100", "gas"))["items"]
    assert [i["reference"] for i in listed] == given
    total = sum(k + 1 for k in range(n))
    fund = api.ok(api.get(f"/api/funds/{listed[0]['fund_id']}", "gas"))
    assert fund["balance"] == eur(f"{total}.00")
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_concurrent_loans_and_repayments_get_distinct_numbers(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")
    lender = make_party(api, "lender", "Mag Torino")
    pool_id = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool_id}/deposits",
                    {"amount": eur("90000.00"), "date": "2026-01-02"}), 201)
    body = {"principal": eur("1000.00"), "annual_rate": "0.00", "term_months": 10,
            "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-15",
            "borrower_id": api.parties["producer"], "lender_id": lender}
    created: list[Any] = []
    threads = [threading.Thread(target=lambda: created.append(api.post("/api/loans", body)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.json()["reference"] for r in created) == [
        ref("PRE", 2026, k) for k in range(1, 9)]
    loan_id = created[0].json()["id"]
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    paid: list[Any] = []
    threads = [threading.Thread(target=lambda d=d: paid.append(api.post(
        f"/api/loans/{loan_id}/repayments", {"amount": eur("10.00"),
                                              "date": f"2026-02-{d:02d}"})))
               for d in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in paid] == [200] * 8, [r.text for r in paid]
    assert sorted(r.json()["repayment"]["reference"] for r in paid) == [
        ref("RIM", 2026, k) for k in range(1, 9)]
    history = api.ok(api.get(f"/api/loans/{loan_id}/repayments"))["items"]
    assert len({h["reference"] for h in history}) == 8
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_an_answer_remembered_before_references_replays_as_it_was(api: Api) -> None:
    """A client id used before migration 0011 answers its stored answer (without
    ``reference``), byte for byte the same JSON, instead of failing to convert it."""
    engine = api.client.app.state.ctx.engine
    gas = api.parties["gas"]
    body = {"id": str(uuid.uuid4()), "gas_id": gas, "amount": eur("7.00"),
            "date": "2026-06-01"}
    first = api.ok(api.post("/api/contributions", body, "gas"), 201)
    old = {k: v for k, v in first.items() if k != "reference"}
    with write_tx(engine) as conn:
        conn.execute(update(idempotency).where(idempotency.c.id == body["id"])
                     .values(response=json.dumps(old)))
        assert conn.execute(select(idempotency.c.id)).first() is not None
    again = api.post("/api/contributions", body, "gas")
    assert again.status_code == 201 and again.json() == old
