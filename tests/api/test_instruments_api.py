"""Guarantees, prepayments, funds over HTTP; figures computed by hand in the tests."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from service.app.clock import today as clock_today
from tests.api.conftest import Api, eur, make_party


def d(x: str) -> Decimal:
    return Decimal(x)


def amt(m: dict[str, str]) -> Decimal:
    assert m["currency"] == "EUR"
    return Decimal(m["amount"])


def cent(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def setup_loan(api: Api, principal: str = "20000.00", deposit: str = "50000.00",
               **terms: Any) -> tuple[str, str, str]:
    lender_id = make_party(api, "lender", "Mag2 Finance Milano")
    pool_id = api.ok(api.get(f"/api/pools?lender_id={lender_id}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool_id}/deposits",
                    {"amount": eur(deposit), "date": "2026-01-02"}), 201)
    body = {"principal": eur(principal), "annual_rate": "4.00", "term_months": 24,
            "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-15",
            "borrower_id": api.parties["producer"], "lender_id": lender_id, **terms}
    loan_id = api.ok(api.post("/api/loans", body), 201)["id"]
    return lender_id, pool_id, loan_id


def capacity(api: Api, party: str, amount: str, who: str = "officer") -> dict[str, Any]:
    return api.ok(api.put(f"/api/parties/{party}/pledge-capacity",  # type: ignore[no-any-return]
                          {"amount": eur(amount)}, who))


def test_pledge_capacity_and_guarantee_lifecycle(api: Api) -> None:
    _, _, loan_id = setup_loan(api)
    gas = api.parties["gas"]
    assert api.ok(api.get(f"/api/parties/{gas}/pledge-capacity", "gas")) == {
        "amount": eur("0.00"), "pledged": eur("0.00"), "free": eur("0.00")}
    assert capacity(api, gas, "5000.00", "gas")["free"] == eur("5000.00")
    r = api.post("/api/guarantees", {"date": "2025-12-01", "loan_id": loan_id, "guarantor_id": gas,
                                     "amount": eur("5000.01")}, "gas")
    assert r.status_code == 409 and r.json()["code"] == "exceeds_capacity"
    g = api.ok(api.post("/api/guarantees", {"loan_id": loan_id, "guarantor_id": gas,
                                            "date": "2025-12-01",
                                            "amount": eur("3000.00")}, "gas"), 201)
    assert g["status"] == "active" and g["remaining"] == eur("3000.00")
    assert g["called_amount"] == eur("0.00")
    assert api.ok(api.get(f"/api/parties/{gas}/pledge-capacity", "gas")) == {
        "amount": eur("5000.00"), "pledged": eur("3000.00"), "free": eur("2000.00")}
    r = api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("2999.99")}, "gas")
    assert r.status_code == 409 and r.json()["code"] == "exceeds_capacity"
    assert capacity(api, gas, "3000.00")["free"] == eur("0.00")
    # Another GAS may not pledge on this GAS's behalf, nor read its capacity: it cannot
    # even see this GAS, so both are "not found" (404 before 403).
    r = api.post("/api/guarantees", {"date": "2025-12-01", "loan_id": loan_id, "guarantor_id": gas,
                                     "amount": eur("1.00")}, "other_gas")
    assert r.status_code == 404
    assert api.get(f"/api/parties/{gas}/pledge-capacity", "other_gas").status_code == 404
    cover = api.ok(api.get(f"/api/loans/{loan_id}/guarantees"))
    assert cover["coverage"] == "0.15"  # 3,000 / 20,000 before disbursement
    released = api.ok(api.post(f"/api/guarantees/{g['id']}/release", {}))
    assert released["status"] == "released"
    r = api.post(f"/api/guarantees/{g['id']}/release", {})
    assert r.status_code == 409 and r.json()["code"] == "already_released"
    assert api.ok(api.get(f"/api/parties/{gas}/pledge-capacity"))["pledged"] == eur("0.00")
    assert api.get(f"/api/guarantees/{g['id']}", "other_gas").status_code == 404
    assert api.get(f"/api/guarantees/{g['id']}", "producer").status_code == 200


def test_minimum_coverage_blocks_disbursement(api: Api) -> None:
    lender_id, _, loan_id = setup_loan(api, principal="10000.00")
    category = {"max_principal": eur("75000.00"), "max_term_months": 84,
                "frequencies": ["monthly", "quarterly"]}
    # A ratio, as coverage is shown: "150" would be 150 times the principal.
    r = api.put(f"/api/lenders/{lender_id}/categories/microcredit",
                {**category, "min_coverage": "150"})
    assert r.status_code == 422 and "1.50" in r.json()["errors"][0]["message"]
    api.ok(api.put(f"/api/lenders/{lender_id}/categories/microcredit",
                   {**category, "min_coverage": "1.50"}))
    gas = api.parties["gas"]
    capacity(api, gas, "20000.00")
    api.ok(api.post("/api/guarantees", {"loan_id": loan_id, "guarantor_id": gas,
                                        "date": "2025-12-01", "amount": eur("14999.99")}), 201)
    r = api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"})
    assert r.status_code == 409 and r.json()["code"] == "coverage_below_minimum"
    api.ok(api.post("/api/guarantees", {"loan_id": loan_id, "guarantor_id": gas,
                                        "date": "2025-12-01", "amount": eur("0.01")}), 201)
    assert api.ok(api.post(f"/api/loans/{loan_id}/disbursement",
                           {"date": "2026-01-15"}))["status"] == "active"


def test_prepayment_deliveries_and_close(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Its story runs into 2027: money that has moved is never dated after today.
    monkeypatch.setenv("FILIERA_TODAY", "2027-01-31")
    producer, gas = api.parties["producer"], api.parties["gas"]
    body = {"producer_id": producer, "gas_id": gas, "amount": eur("1000.00"),
            "product": "Taleggio DOP", "unit": "kg", "unit_price": eur("18.50"),
            "expires_on": "2026-12-31", "on_expiry": "rollover", "date": "2026-01-02"}
    p = api.ok(api.post("/api/prepayments", body, "gas"), 201)
    assert p["remaining"] == eur("1000.00") and p["status"] == "open"
    # 12.345 kg x 18.50 = 228.3825 -> 228.38 (half-even).
    p = api.ok(api.post(f"/api/prepayments/{p['id']}/deliveries",
                        {"date": "2026-02-01", "quantity": "12.345"}, "producer"))
    assert p["delivered_value"] == eur("228.38") and p["remaining"] == eur("771.62")
    for bad in ({"date": "2026-02-01", "quantity": 12.5},
                {"date": "2026-02-01", "quantity": "1.2345"},
                {"date": "2026-02-01", "quantity": "-1"},
                {"date": "2026-02-01", "quantity": "0.0"},
                {"date": "2026-02-01", "quantity": "0.000"}):
        assert api.post(f"/api/prepayments/{p['id']}/deliveries", bad).status_code == 422
    r = api.post(f"/api/prepayments/{p['id']}/deliveries",
                 {"date": "2026-03-01", "quantity": "41.71"})  # 771.635 > 771.62
    assert r.status_code == 409 and r.json()["code"] == "exceeds_prepayment"
    assert api.get(f"/api/prepayments/{p['id']}", "other_gas").status_code == 404
    assert api.get(f"/api/prepayments/{p['id']}", "other_producer").status_code == 404
    r = api.post(f"/api/prepayments/{p['id']}/close", {"date": "2026-12-31"}, "producer")
    assert r.status_code == 403
    r = api.post(f"/api/prepayments/{p['id']}/close",
                 {"date": "2026-12-31", "new_expires_on": "2026-12-31"}, "gas")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "new_expires_on"
    closed = api.ok(api.post(f"/api/prepayments/{p['id']}/close", {"date": "2026-12-31"},
                             "gas"))
    assert closed["remaining"] == eur("0.00") and closed["status"] == "closed"
    settlement = closed["settlement"]
    assert settlement["kind"] == "rollover" and settlement["amount"] == eur("771.62")
    new = api.ok(api.get(f"/api/prepayments/{settlement['new_prepayment_id']}", "gas"))
    assert new["paid"] == eur("771.62") and new["expires_on"] == "2027-12-31"
    r = api.post(f"/api/prepayments/{p['id']}/deliveries",
                 {"date": "2027-01-10", "quantity": "1"})
    assert r.status_code == 409 and r.json()["code"] == "closed"


def test_solidarity_close_and_contributions(api: Api, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2027-01-31")  # it closes on 2026-12-31
    producer, gas = api.parties["producer"], api.parties["gas"]
    p = api.ok(api.post("/api/prepayments", {"date": "2025-12-01",
        "producer_id": producer, "gas_id": gas, "amount": eur("300.00"), "product": "Riso",
        "unit": "kg", "unit_price": eur("3.00"), "expires_on": "2026-12-31",
        "on_expiry": "solidarity"}), 201)
    api.ok(api.post(f"/api/prepayments/{p['id']}/deliveries",
                    {"date": "2026-05-01", "quantity": "40"}))
    closed = api.ok(api.post(f"/api/prepayments/{p['id']}/close", {"date": "2026-12-31"}))
    assert closed["settlement"] == {"kind": "solidarity", "amount": eur("180.00")}
    # 0.50 EUR/kg on 300 kg = 150.00, earmarked for the producer.
    api.ok(api.post("/api/contributions", {
        "gas_id": gas, "amount": eur("150.00"), "date": "2026-06-01",
        "earmark_producer_id": producer,
        "basis": {"rate": eur("0.50"), "quantity": "300", "unit": "kg"}}, "gas"), 201)
    r = api.post("/api/contributions", {
        "gas_id": gas, "amount": eur("151.00"), "date": "2026-06-01",
        "basis": {"rate": eur("0.50"), "quantity": "300", "unit": "kg"}}, "gas")
    assert r.status_code == 422
    assert api.post("/api/contributions", {"gas_id": gas, "amount": eur("10.00"),
                                           "date": "2026-06-01"}, "other_gas").status_code == 404
    funds = api.ok(api.get("/api/funds", "gas"))["items"]
    assert len(funds) == 1
    assert funds[0]["balance"] == eur("330.00")
    assert funds[0]["earmarked"] == {producer: eur("150.00")}
    seen = api.ok(api.get("/api/funds", "producer"))["items"]
    assert seen[0]["earmarked"] == {producer: eur("150.00")}
    assert api.ok(api.get("/api/funds", "other_producer"))["items"] == []
    assert api.ok(api.get("/api/funds", "other_gas"))["items"][0]["balance"] == eur("0.00")
    fund_id = funds[0]["id"]
    # Paid out after the close that gave the fund its 180.00 (a payout dated before it
    # could not spend it). Another producer can use only the money not earmarked: 180.00.
    other = api.parties["other_producer"]
    r = api.post(f"/api/funds/{fund_id}/payouts", {"producer_id": other,
                                                   "amount": eur("180.01"),
                                                   "date": "2027-01-10", "kind": "grant"})
    assert r.status_code == 409 and r.json()["code"] == "insufficient_funds"
    pay = api.ok(api.post(f"/api/funds/{fund_id}/payouts", {
        "producer_id": producer, "amount": eur("200.00"), "date": "2027-01-10",
        "kind": "grant"}), 201)
    assert pay["from_earmark"] == eur("150.00") and pay["from_general"] == eur("50.00")
    fund = api.ok(api.get(f"/api/funds/{fund_id}"))
    assert fund["balance"] == eur("130.00") and fund["earmarked"] == {}
    r = api.post(f"/api/funds/{fund_id}/payouts", {"producer_id": producer,
                                                   "amount": eur("1.00"),
                                                   "date": "2027-01-10", "kind": "loss_cover"})
    assert r.status_code == 422
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_full_life_default_covered_by_guarantees_then_fund(api: Api) -> None:
    """A 20,000 EUR loan to a cheese maker, three GAS guaranteeing 30,000 (150%), two GAS
    prepaying cheese, surcharges into an earmarked fund, default of the remainder."""
    producer = api.parties["producer"]
    gas_a, gas_b = api.parties["gas"], api.parties["other_gas"]
    gas_c = make_party(api, "gas", "GAS Lambrate Solidale", households=31)
    lender_id, pool_id, loan_id = setup_loan(api, principal="20000.00", deposit="20000.00")
    pledges = {gas_a: "15000.00", gas_b: "10000.00", gas_c: "5000.00"}
    gids = {}
    for gas, amount in pledges.items():
        capacity(api, gas, amount)
        gids[gas] = api.ok(api.post("/api/guarantees", {"date": "2025-12-01",
            "loan_id": loan_id, "guarantor_id": gas, "amount": eur(amount)}), 201)["id"]
    assert api.ok(api.get(f"/api/loans/{loan_id}/guarantees"))["coverage"] == "1.50"
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    # Prepayments of cheese by two GAS, with deliveries over months.
    pre = {}
    for gas, amount in ((gas_a, "2400.00"), (gas_b, "1800.00")):
        pre[gas] = api.ok(api.post("/api/prepayments", {"date": "2025-12-01",
            "producer_id": producer, "gas_id": gas, "amount": eur(amount),
            "product": "Taleggio DOP", "unit": "kg", "unit_price": eur("16.00"),
            "expires_on": "2027-01-31", "on_expiry": "refund"}), 201)["id"]
    for month in ("02", "03", "04"):
        api.ok(api.post(f"/api/prepayments/{pre[gas_a]}/deliveries",
                        {"date": f"2026-{month}-05", "quantity": "25"}))
        api.ok(api.post(f"/api/prepayments/{pre[gas_b]}/deliveries",
                        {"date": f"2026-{month}-05", "quantity": "12.5"}))
    a = api.ok(api.get(f"/api/prepayments/{pre[gas_a]}"))
    b = api.ok(api.get(f"/api/prepayments/{pre[gas_b]}"))
    assert a["delivered_value"] == eur("1200.00") and a["remaining"] == eur("1200.00")
    assert b["delivered_value"] == eur("600.00") and b["remaining"] == eur("1200.00")
    # Surcharges of 0.50 EUR/kg into GAS A's fund, earmarked for the producer.
    for kg in ("300", "250"):
        api.ok(api.post("/api/contributions", {
            "gas_id": gas_a, "amount": eur(str(cent(d("0.50") * d(kg)))),
            "date": "2026-05-01", "earmark_producer_id": producer,
            "basis": {"rate": eur("0.50"), "quantity": kg, "unit": "kg"}}), 201)
    # Two installments paid, then default.
    loan = api.ok(api.get(f"/api/loans/{loan_id}"))
    installment = amt(loan["schedule"][0]["payment"])
    rate = d("0.04") / 12
    n = 24
    hand = cent(d("20000.00") * rate / (1 - (1 + rate) ** -n))
    assert installment == hand
    for due in ("2026-02-15", "2026-03-15"):
        api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                        {"amount": eur(str(installment)), "date": due}))
    balance = d("20000.00")
    for _ in range(2):
        balance -= installment - cent(balance * rate)
    loan = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-09-01"))
    assert amt(loan["outstanding_principal"]) == balance
    # Five installments (Apr..Aug) are overdue on Sept 1st.
    schedule = loan["schedule"]
    overdue = sum(amt(i["payment"]) for i in schedule[2:7])
    assert amt(loan["overdue_amount"]) == overdue
    # The oldest unpaid installment fell due on April 15th.
    assert loan["days_past_due"] == (date(2026, 9, 1) - date(2026, 4, 15)).days == 139
    # Call 6,000.00 on the guarantees, pro rata to remaining 15,000/10,000/5,000.
    call = api.ok(api.post(f"/api/loans/{loan_id}/guarantee-calls",
                           {"amount": eur("6000.00"), "date": "2026-09-01"}))
    parts = {c["guarantee_id"]: c["amount"] for c in call["calls"]}
    assert parts == {gids[gas_a]: eur("3000.00"), gids[gas_b]: eur("2000.00"),
                     gids[gas_c]: eur("1000.00")}
    g_a = api.ok(api.get(f"/api/guarantees/{gids[gas_a]}"))
    assert g_a["called_amount"] == eur("3000.00") and g_a["remaining"] == eur("12000.00")
    assert api.ok(api.get(f"/api/parties/{gas_a}/pledge-capacity")) == {
        "amount": eur("15000.00"), "pledged": eur("12000.00"), "free": eur("3000.00")}
    # The called money paid the overdue installments, then principal.
    loan = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-09-01"))
    assert amt(loan["overdue_amount"]) == 0
    after_call = amt(loan["outstanding_principal"])
    interest_due = sum(amt(i["interest"]) for i in schedule[2:7])
    assert after_call == balance - (d("6000.00") - interest_due)
    # Then the fund covers 275.00 (its earmark for this producer) of the loss.
    fund_id = api.ok(api.get(f"/api/funds?gas_id={gas_a}"))["items"][0]["id"]
    api.ok(api.post(f"/api/funds/{fund_id}/payouts", {
        "producer_id": producer, "amount": eur("275.00"), "date": "2026-09-02",
        "kind": "loss_cover", "loan_id": loan_id}), 201)
    loan = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-09-02"))
    assert amt(loan["outstanding_principal"]) == after_call - d("275.00")
    assert api.ok(api.get(f"/api/funds/{fund_id}"))["balance"] == eur("0.00")
    # The rest is written off: the loss account takes it.
    wo = api.ok(api.post(f"/api/loans/{loan_id}/write-off",
                         {"date": "2026-09-30", "note": "default after bad harvest"}))
    assert wo["status"] == "written_off"
    assert amt(wo["written_off_principal"]) == after_call - d("275.00")
    pool = api.ok(api.get(f"/api/pools/{pool_id}"))
    # Pool: 20,000 out; principal back from 2 installments, the call and the fund.
    returned = (d("20000.00") - balance) + (balance - after_call) + d("275.00")
    assert amt(pool["balance"]) == returned and pool["lent"] == eur("0.00")
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"] is True, report["problems"]
    _ = lender_id


def test_pledges_shrink_with_the_loan_when_the_officer_applies_the_rule(api: Api) -> None:
    _, _, loan_id = setup_loan(api, principal="10000.00", term_months=12)
    gas_a, gas_b = api.parties["gas"], api.parties["other_gas"]
    for gas, amount in ((gas_a, "9000.00"), (gas_b, "6000.00")):
        capacity(api, gas, "20000.00")
        api.ok(api.post("/api/guarantees", {"loan_id": loan_id, "guarantor_id": gas,
                                            "date": "2025-12-01", "amount": eur(amount)}), 201)
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    # 2,500.00 paid on Feb 15th: the installment, then installment 2 in advance, then
    # early principal; the pledges shrink by outstanding / 10,000.00.
    api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                    {"amount": eur("2500.00"), "date": "2026-02-15"}))
    outstanding = amt(api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-02-15"))
                      ["outstanding_principal"])
    body = api.ok(api.post(f"/api/loans/{loan_id}/guarantees/reduction",
                           {"date": "2026-02-16"}))
    total = cent(d("15000.00") * outstanding / d("10000.00"))
    amounts = [amt(g["amount"]) for g in body["items"]]
    assert sum(amounts) == total
    assert abs(amounts[0] - cent(total * 9 / 15)) <= d("0.01")
    assert body["coverage"] == str(cent(total / outstanding))
    assert api.ok(api.get(f"/api/parties/{gas_a}/pledge-capacity"))["pledged"] == \
        eur(str(amounts[0]))
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True


def test_releases_are_dated_and_coverage_as_of_counts_them_by_date(api: Api) -> None:
    _, _, loan_id = setup_loan(api, principal="1000.00")
    guarantors = [api.parties["gas"], api.parties["other_gas"], api.parties["other_producer"]]
    ids = []
    for party in guarantors:
        capacity(api, party, "1000.00")
        ids.append(api.ok(api.post("/api/guarantees", {"date": "2025-12-01", "loan_id": loan_id,
                                                       "guarantor_id": party,
                                                       "amount": eur("1000.00")}), 201)["id"])
    dated = api.ok(api.post(f"/api/guarantees/{ids[0]}/release", {"date": "2026-02-01"}))
    assert dated["released_on"] == "2026-02-01"
    undated = api.ok(api.post(f"/api/guarantees/{ids[1]}/release", {}))
    # Today as the service means it: the date in Europe/Rome (after 23:00 UTC in winter
    # it is already tomorrow there), not the machine's.
    assert undated["released_on"] == clock_today().isoformat()
    # Before disbursement coverage is remaining pledges over the principal (1000.00):
    # on 2026-01-20 all three pledges stood, today only the third does.
    early = api.ok(api.get(f"/api/loans/{loan_id}/guarantees?as_of=2026-01-20"))
    assert early["coverage"] == "3.00"
    assert [g["status"] for g in early["items"]] == ["active", "active", "active"]
    mid = api.ok(api.get(f"/api/loans/{loan_id}/guarantees?as_of=2026-02-01"))
    assert mid["coverage"] == "2.00"
    assert [g["status"] for g in mid["items"]] == ["released", "active", "active"]
    now = api.ok(api.get(f"/api/loans/{loan_id}/guarantees"))
    assert now["coverage"] == "1.00"
    assert [g["status"] for g in now["items"]] == ["released", "released", "active"]


def test_calls_count_by_their_date_and_never_pay_ahead(api: Api) -> None:
    # 300.00 at 12% a year, monthly, disbursed 2026-01-15: January's interest is 3.00,
    # due on 15 February.
    _, _, loan_id = setup_loan(api, principal="300.00", annual_rate="12.00", term_months=12)
    gas, other = api.parties["gas"], api.parties["other_gas"]
    ids = []
    for party, amount in ((gas, "300.00"), (other, "100.00")):
        capacity(api, party, amount)
        ids.append(api.ok(api.post("/api/guarantees", {"date": "2025-12-01",
            "loan_id": loan_id, "guarantor_id": party, "amount": eur(amount)}), 201)["id"])
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": "2026-01-15"}))
    # On 2026-01-20 nothing is due: a call pays principal only, never January's interest
    # ahead of its due date, so 303.00 (principal + that interest) is refused...
    r = api.post(f"/api/loans/{loan_id}/guarantee-calls",
                 {"amount": eur("303.00"), "date": "2026-01-20"})
    assert r.status_code == 409, r.text
    # ...while 300.00 is split 3:1 (225.00 and 75.00) and repays all the principal.
    calls = api.ok(api.post(f"/api/loans/{loan_id}/guarantee-calls",
                            {"amount": eur("300.00"), "date": "2026-01-20"}))["calls"]
    assert {c["guarantee_id"]: c["amount"] for c in calls} == {
        ids[0]: eur("225.00"), ids[1]: eur("75.00")}
    loan = api.ok(api.get(f"/api/loans/{loan_id}?as_of=2026-01-20"))
    assert loan["outstanding_principal"] == eur("0.00")
    assert loan["schedule"][0]["paid_interest"] == eur("0.00")
    assert loan["status"] == "active"  # the 3.00 of interest is still to come
    # Coverage by date: before the call 400.00 / 300.00; after it 100.00 remain.
    before = api.ok(api.get(f"/api/loans/{loan_id}/guarantees?as_of=2026-01-19"))
    assert before["coverage"] == "1.33"
    assert [g["remaining"] for g in before["items"]] == [eur("300.00"), eur("100.00")]
    assert [g["called_amount"] for g in before["items"]] == [eur("0.00"), eur("0.00")]
    after = api.ok(api.get(f"/api/loans/{loan_id}/guarantees?as_of=2026-01-20"))
    assert [g["remaining"] for g in after["items"]] == [eur("75.00"), eur("25.00")]
    assert [g["status"] for g in after["items"]] == ["active", "active"]


def test_a_delivery_worth_nothing_is_refused(api: Api) -> None:
    producer, gas = api.parties["producer"], api.parties["gas"]
    p = api.ok(api.post("/api/prepayments", {"date": "2025-12-01",
        "producer_id": producer, "gas_id": gas, "amount": eur("10.00"), "product": "uova",
        "unit": "pz", "unit_price": eur("0.01"), "expires_on": "2026-12-31",
        "on_expiry": "refund"}, "gas"), 201)
    # 0.4 x 0.01 = 0.004 -> 0.00 (half-even): nothing delivered, nothing recorded.
    r = api.post(f"/api/prepayments/{p['id']}/deliveries",
                 {"date": "2026-02-01", "quantity": "0.4"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quantity"
    assert api.ok(api.get(f"/api/prepayments/{p['id']}"))["deliveries"] == []
    # 0.6 x 0.01 = 0.006 -> 0.01.
    p2 = api.ok(api.post(f"/api/prepayments/{p['id']}/deliveries",
                         {"date": "2026-02-01", "quantity": "0.6"}))
    assert p2["delivered_value"] == eur("0.01")
    # A quantity worth more than any amount kept is refused as input, not a 500.
    r = api.post(f"/api/prepayments/{p['id']}/deliveries",
                 {"date": "2026-02-01", "quantity": "9" * 25 + ".999"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quantity"
    # 26 whole digits and more were a 500 (decimal.InvalidOperation; issue #15).
    for digits in (26, 27, 28):
        r = api.post(f"/api/prepayments/{p['id']}/deliveries",
                     {"date": "2026-02-01", "quantity": "1" * digits + ".5"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quantity"
    assert api.ok(api.get(f"/api/prepayments/{p['id']}"))["delivered_value"] == eur("0.01")


def test_a_gas_user_contributes_only_to_its_own_fund(api: Api) -> None:
    gas, other = api.parties["gas"], api.parties["other_gas"]
    other_fund = next(f["id"] for f in api.ok(api.get("/api/funds", "admin"))["items"]
                      if f["gas_id"] == other)
    r = api.post("/api/contributions", {"gas_id": gas, "fund_id": other_fund,
                                        "amount": eur("5.00"), "date": "2026-02-01"}, "gas")
    assert r.status_code == 404, r.text
    funds = {f["id"]: f for f in api.ok(api.get("/api/funds", "admin"))["items"]}
    assert funds[other_fund]["balance"] == eur("0.00")
    api.ok(api.post("/api/contributions", {"gas_id": gas, "amount": eur("5.00"),
                                           "date": "2026-02-01"}, "gas"), 201)
