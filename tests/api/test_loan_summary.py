"""The loan summary (next installment, due now, paid total), the overdue filters of
``GET /api/loans``, the arrears list and the repayment history, against worked examples.

The loans lend at 0%, 12 monthly installments of 1200.00 / 12 = 100.00 from 2026-02-15:
every figure below is that arithmetic, written out by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Api, eur, make_party
from tests.api.test_instruments_api import capacity

ZERO = eur("0.00")


def lender_with_money(api: Api, name: str = "Mag2 Finance Milano") -> str:
    lender = make_party(api, "lender", name)
    pool_id = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool_id}/deposits",
                    {"amount": eur("50000.00"), "date": "2026-01-02"}), 201)
    return lender


def loan(api: Api, lender: str, *, disbursed: str | None = "2026-01-15",
         borrower: str = "producer", principal: str = "1200.00") -> dict[str, Any]:
    body = {"principal": eur(principal), "annual_rate": "0.00", "term_months": 12,
            "method": "french", "frequency": "monthly",
            "disbursement_date": disbursed or "2026-01-15",
            "borrower_id": api.parties[borrower], "lender_id": lender}
    made: dict[str, Any] = api.ok(api.post("/api/loans", body), 201)
    if disbursed:
        api.ok(api.post(f"/api/loans/{made['id']}/disbursement", {"date": disbursed}))
    return made


def pay(api: Api, loan_id: str, amount: str, on: str) -> Any:
    return api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                           {"amount": eur(amount), "date": on}))


def on(api: Api, loan_id: str, day: str) -> Any:
    return api.ok(api.get(f"/api/loans/{loan_id}?as_of={day}"))


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")


def test_next_installment_due_now_and_paid_total(api: Api) -> None:
    lender = lender_with_money(api)
    lid = loan(api, lender)["id"]
    pay(api, lid, "100.00", "2026-02-15")
    pay(api, lid, "40.00", "2026-03-20")  # 40.00 of the 100.00 due on 2026-03-15

    before = on(api, lid, "2026-02-14")
    assert before["next_installment"] == {"number": 1, "due_date": "2026-02-15",
                                          "amount_due": eur("100.00")}
    assert before["due_now"] == ZERO and before["paid_total"] == ZERO

    due_day = on(api, lid, "2026-03-15")  # installment 2 falls due that day, unpaid
    assert due_day["due_now"] == eur("100.00") and due_day["overdue_amount"] == ZERO
    assert due_day["next_installment"] == {"number": 3, "due_date": "2026-04-15",
                                           "amount_due": eur("100.00")}
    assert due_day["paid_total"] == eur("100.00")

    late = on(api, lid, "2026-03-20")  # 100.00 - 40.00 still owed of installment 2
    assert late["overdue_amount"] == eur("60.00") and late["days_past_due"] == 5
    assert late["due_now"] == eur("60.00")
    assert late["paid_total"] == eur("140.00")
    assert late["next_installment"]["number"] == 3

    # Paying 1100.00 on 2026-04-01 settles the 60.00 late and the 1000.00 of principal
    # left (1200.00 - 100.00 - 40.00 - 60.00); 40.00 is excess, never counted as paid.
    done = pay(api, lid, "1100.00", "2026-04-01")
    assert done["allocation"]["excess"] == eur("40.00")
    after = on(api, lid, "2026-04-01")
    assert after["status"] == "repaid" and after["next_installment"] is None
    assert after["due_now"] == ZERO and after["paid_total"] == eur("1200.00")
    # The command's answer shows the same summary as a read of the same day.
    assert done["loan"]["paid_total"] == on(api, lid, "2026-12-06")["paid_total"]

    approved = loan(api, lender, disbursed=None)
    assert approved["next_installment"] is None
    assert approved["due_now"] == ZERO and approved["paid_total"] == ZERO
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_overdue_and_min_days_past_due_filters(api: Api) -> None:
    lender = lender_with_money(api)
    late = loan(api, lender)  # nothing paid: 100.00 late from 2026-02-15
    on_time = loan(api, lender)
    for month in (2, 3):
        pay(api, on_time["id"], "100.00", f"2026-{month:02d}-15")
    approved = loan(api, lender, disbursed=None)

    def ids(query: str) -> list[str]:
        return [i["id"] for i in api.ok(api.get(f"/api/loans?{query}"))["items"]]

    # As of 2026-03-20: installments of 02-15 and 03-15 unpaid -> 200.00, 33 days
    # (2026-02-15 to 2026-03-20: 13 + 20).
    day = "as_of=2026-03-20"
    assert ids(f"{day}&overdue=true") == [late["id"]]
    assert ids(f"{day}&overdue=false") == [on_time["id"], approved["id"]]
    assert ids(f"{day}&min_days_past_due=33") == [late["id"]]
    assert ids(f"{day}&min_days_past_due=34") == []
    assert ids(f"{day}&overdue=true&min_days_past_due=0") == [late["id"]]
    row = api.ok(api.get(f"/api/loans?{day}&overdue=true"))["items"][0]
    assert row["overdue_amount"] == eur("200.00") and row["days_past_due"] == 33
    # Before anything fell due nothing is late.
    assert ids("as_of=2026-02-15&overdue=true") == []
    # Paging through a filtered list: one at a time, nothing lost or repeated.
    first = api.ok(api.get(f"/api/loans?{day}&overdue=false&limit=1"))
    second = api.ok(api.get(f"/api/loans?{day}&overdue=false&limit=1"
                            f"&cursor={first['next_cursor']}"))
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [on_time["id"],
                                                                     approved["id"]]
    assert second["next_cursor"] is None
    for bad in ("overdue=yes", "overdue=TRUE", "min_days_past_due=-1",
                "min_days_past_due=two"):
        r = api.get(f"/api/loans?{bad}")
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["errors"][0]["field"] == bad.split("=")[0]


def test_arrears_list_order_guarantors_and_written_off(api: Api) -> None:
    lender = lender_with_money(api)
    other_lender = lender_with_money(api, "Mag Verona")
    gas, other_gas = api.parties["gas"], api.parties["other_gas"]
    old = loan(api, lender)  # due 02-15: on 2026-04-20, 3 x 100.00 late, 64 days
    newer = loan(api, lender, disbursed="2026-02-15")  # due 03-15: 2 x 100.00, 36 days
    same_days = loan(api, lender, borrower="other_producer", principal="2400.00")
    elsewhere = loan(api, other_lender)
    for lid in (old["id"], newer["id"], same_days["id"], elsewhere["id"]):
        assert lid
    capacity(api, gas, "900.00", "gas")
    capacity(api, other_gas, "900.00", "other_gas")
    for who, party, amount in (("gas", gas, "300.00"), ("gas", gas, "200.00"),
                               ("other_gas", other_gas, "150.00")):
        # Signed before the day the arrears are asked for (a pledge counts from its date).
        api.ok(api.post("/api/guarantees", {"loan_id": old["id"], "guarantor_id": party,
                                            "amount": eur(amount), "date": "2026-01-10"},
                        who), 201)
    day = "2026-04-20"
    items = api.ok(api.get(f"/api/arrears?as_of={day}&lender_id={lender}"))["items"]
    # Most days late first (64, 64, 36); on equal days the larger amount (2400.00 / 12 =
    # 200.00 an installment, 3 late = 600.00) before 300.00.
    assert [i["loan_id"] for i in items] == [same_days["id"], old["id"], newer["id"]]
    assert [(i["overdue_amount"], i["days_past_due"]) for i in items] == [
        (eur("600.00"), 64), (eur("300.00"), 64), (eur("200.00"), 36)]
    first = items[1]
    assert first["reference"] == old["reference"]
    assert first["borrower_id"] == api.parties["producer"]
    assert first["borrower_name"] == "Caseificio Val Taleggio"
    # The two guarantees of GAS Gasabile add up; guarantors by name.
    assert first["guarantors"] == [
        {"id": gas, "name": "GAS Gasabile Milano Isola", "remaining": eur("500.00"),
         "email": None, "phone": None, "pec": None, "address": None},
        {"id": other_gas, "name": "GAS Navigli", "remaining": eur("150.00"),
         "email": None, "phone": None, "pec": None, "address": None}]
    everyone = api.ok(api.get(f"/api/arrears?as_of={day}"))["items"]
    assert {i["loan_id"] for i in everyone} == {same_days["id"], old["id"], newer["id"],
                                               elsewhere["id"]}
    # Ties on days and amount: the smaller reference number first.
    tied = [i["loan_id"] for i in everyone if i["overdue_amount"] == eur("300.00")]
    assert tied == [old["id"], elsewhere["id"]]

    api.ok(api.post(f"/api/loans/{newer['id']}/write-off", {"date": "2026-04-01",
                                                            "note": "gone"}))
    assert newer["id"] not in [i["loan_id"] for i in api.ok(api.get(
        f"/api/arrears?as_of={day}&lender_id={lender}"))["items"]]
    with_lost = api.ok(api.get(
        f"/api/arrears?as_of={day}&lender_id={lender}&include_written_off=true"))["items"]
    assert newer["id"] in [i["loan_id"] for i in with_lost]
    # Before the write-off it was an ordinary late loan.
    assert newer["id"] in [i["loan_id"] for i in api.ok(api.get(
        f"/api/arrears?as_of=2026-03-31&lender_id={lender}"))["items"]]

    assert api.get("/api/arrears", "producer").status_code == 403
    assert api.get("/api/arrears", "gas").status_code == 403
    r = api.get("/api/arrears?include_written_off=maybe")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "include_written_off"
    # Every bad filter is named in one answer.
    r = api.get("/api/arrears?as_of=2026-02-30&lender_id=nope&include_written_off=yes")
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {
        "as_of", "lender_id", "include_written_off"}
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_repayment_history_splits_as_the_value_date_replay(api: Api) -> None:
    lender = lender_with_money(api)
    lid = loan(api, lender)["id"]
    first = pay(api, lid, "100.00", "2026-03-15")  # late for 02-15: pays installment 1
    assert first["allocation"]["principal"] == eur("100.00")
    assert first["repayment"]["reference"].startswith("RIM-2026-")
    # A back-dated payment for 02-15 is recorded later: in the value-date replay it pays
    # installment 1, and the 03-15 payment now pays installment 2 instead.
    back = pay(api, lid, "100.00", "2026-02-15")
    history = api.ok(api.get(f"/api/loans/{lid}/repayments"))
    assert history["next_cursor"] is None
    items = history["items"]
    assert [(i["id"], i["date"], i["amount"]) for i in items] == [
        (back["repayment"]["id"], "2026-02-15", eur("100.00")),
        (first["repayment"]["id"], "2026-03-15", eur("100.00"))]
    for item in items:
        assert item["allocation"] == {"penalty": ZERO, "interest": ZERO,
                                      "principal": eur("100.00"), "excess": ZERO}
        assert item["recorded_by"] == "officer" and item["reversed"] is False
        assert item["recorded_at"].endswith("Z") or "+" in item["recorded_at"]
    assert [i["reference"] for i in items] == [back["repayment"]["reference"],
                                               first["repayment"]["reference"]]
    # Paying 1100.00 on a balance of 1000.00: 100.00 excess, in the history too.
    pay(api, lid, "1100.00", "2026-04-01")
    last = api.ok(api.get(f"/api/loans/{lid}/repayments?limit=2"))
    assert len(last["items"]) == 2 and last["next_cursor"]
    rest = api.ok(api.get(f"/api/loans/{lid}/repayments?limit=2"
                          f"&cursor={last['next_cursor']}"))["items"]
    assert rest[0]["allocation"]["excess"] == eur("100.00")
    assert rest[0]["allocation"]["principal"] == eur("1000.00")
    # Who sees the loan sees its history; others get 404.
    assert api.ok(api.get(f"/api/loans/{lid}/repayments", "producer"))["items"]
    assert api.get(f"/api/loans/{lid}/repayments", "other_producer").status_code == 404
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


START = date(2026, 1, 15)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# Payments are dated no later than 2026-12-01: money is recorded once it has moved.
@given(payments=st.lists(st.tuples(st.integers(1, 60_000), st.integers(0, 320)),
                         min_size=1, max_size=5),
       look=st.lists(st.integers(0, 420), min_size=1, max_size=3))
def test_summary_invariants_on_random_payments(api: Api, payments: list[tuple[int, int]],
                                               look: list[int]) -> None:
    """At 0% without late interest every euro paid dated on or before the day pays
    principal until the 1200.00 are repaid: paid_total = min(sum paid, 1200.00) and
    outstanding = 1200.00 - paid_total; due_now is the overdue amount plus the unpaid
    part of an installment due that day; references are RIM-2026-0001.. in order."""
    lid = loan(api, lender_with_money(api, f"Mag {len(payments)}-{look[0]}"))["id"]
    answered = []
    for cents, days in payments:
        when = START + timedelta(days=days)
        answered.append(pay(api, lid, f"{cents // 100}.{cents % 100:02d}", when.isoformat()))
    refs = sorted(a["repayment"]["reference"] for a in answered)
    assert len(set(refs)) == len(refs) and all(r.startswith("RIM-2026-") for r in refs)
    numbers = sorted(int(r.rsplit("-", 1)[1]) for r in refs)
    assert numbers == list(range(numbers[0], numbers[0] + len(refs)))
    for offset in look:
        day = START + timedelta(days=offset)
        got = on(api, lid, day.isoformat())
        paid = sum(c for c, d in payments if START + timedelta(days=d) <= day)
        total = min(paid, 120_000)
        assert Decimal(got["paid_total"]["amount"]) == Decimal(total) / 100
        assert Decimal(got["outstanding_principal"]["amount"]) == Decimal(120_000 - total) / 100
        due_today = sum(Decimal(i["payment"]["amount"]) - Decimal(i["paid_principal"]["amount"])
                        - Decimal(i["paid_interest"]["amount"])
                        for i in got["schedule"] if i["due_date"] == day.isoformat())
        assert Decimal(got["due_now"]["amount"]) == (
            Decimal(got["overdue_amount"]["amount"]) + due_today)
        nxt = got["next_installment"]
        later = [i for i in got["schedule"] if i["due_date"] > day.isoformat()
                 and i["status"] != "paid"]
        if total == 120_000 or not later:  # repaid, or every installment already due
            assert nxt is None
        else:
            assert nxt is not None and nxt["number"] == later[0]["number"]
            assert nxt["due_date"] == later[0]["due_date"]
    history = api.ok(api.get(f"/api/loans/{lid}/repayments?limit=100"))["items"]
    assert sum(Decimal(h["amount"]["amount"]) for h in history) == Decimal(
        sum(c for c, _ in payments)) / 100
    principal = sum(Decimal(h["allocation"]["principal"]["amount"]) for h in history)
    assert principal == Decimal(min(sum(c for c, _ in payments), 120_000)) / 100
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True
