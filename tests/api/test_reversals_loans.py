"""Corrections on loans: a repayment, a loss cover or a guarantee call reversed counts as
never recorded from its own value date (API.md, "Corrections").

Each happy path builds a twin loan where the reversed operation was never recorded and
compares the two loans' pages, as of several days; the error paths check the 404s,
403s and 409s and that a refusal changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import Api, eur, make_party, new_id
from tests.api.test_requests_api import at_status

TODAY = "2026-12-06"
POOL = Decimal("20000.00")
# What differs between two loans that are otherwise the same.
OWN = ("id", "reference", "created_at", "request_id")
DAYS = ("2026-02-10", "2026-02-15", "2026-03-01", "2026-03-20", "2026-06-30", TODAY)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", TODAY)


def reverse(api: Api, path: str, reason: str = "recorded by mistake", who: str = "officer",
            **extra: Any) -> Any:
    return api.post(f"{path}/reversal", {"reason": reason, **extra}, who)


def conflict(response: Any, code: str) -> None:
    assert response.status_code == 409, response.text
    assert response.json()["code"] == code


def verified(api: Api) -> None:
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"], report["problems"]


def lender_with_money(api: Api, amount: str = "20000.00") -> tuple[str, str]:
    lender = make_party(api, "lender", f"Mag {new_id()[:8]}")
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool}/deposits",
                    {"amount": eur(amount), "date": "2026-01-02"}), 201)
    return lender, pool


def new_loan(api: Api, lender: str, principal: str = "1200.00", rate: str = "6.00",
             on: str = "2026-01-15", borrower: str = "producer") -> str:
    loan_id: str = api.ok(api.post("/api/loans", {
        "principal": eur(principal), "annual_rate": rate, "term_months": 12,
        "method": "french", "frequency": "monthly", "disbursement_date": on,
        "borrower_id": api.parties[borrower], "lender_id": lender}), 201)["id"]
    api.ok(api.post(f"/api/loans/{loan_id}/disbursement", {"date": on}))
    return loan_id


def pay(api: Api, loan_id: str, amount: str, on: str, **extra: Any) -> str:
    repayment_id = new_id()
    api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                    {"id": repayment_id, "amount": eur(amount), "date": on, **extra}))
    return repayment_id


def page(api: Api, loan_id: str, day: str) -> dict[str, Any]:
    loan = api.ok(api.get(f"/api/loans/{loan_id}?as_of={day}"))
    return {k: v for k, v in loan.items() if k not in OWN}


def same_loans(api: Api, loan_id: str, twin_id: str) -> None:
    for day in DAYS:
        assert page(api, loan_id, day) == page(api, twin_id, day), day


def splits(api: Api, loan_id: str) -> list[tuple[str, Any, bool]]:
    items = api.ok(api.get(f"/api/loans/{loan_id}/repayments"))["items"]
    return [(i["date"], i["allocation"], i["reversed"]) for i in items]


def pool_balance(api: Api, pool: str) -> Any:
    return api.ok(api.get(f"/api/pools/{pool}"))["balance"]


def outstanding(api: Api, loan_id: str) -> Decimal:
    return Decimal(page(api, loan_id, TODAY)["outstanding_principal"]["amount"])


# -- repayments --------------------------------------------------------------------------------


def test_a_reversed_back_dated_repayment_leaves_the_loan_as_if_never_recorded(api: Api
                                                                             ) -> None:
    lender, pool = lender_with_money(api)
    loan, twin = new_loan(api, lender), new_loan(api, lender)
    later = pay(api, loan, "150.00", "2026-03-15")
    pay(api, twin, "150.00", "2026-03-15")
    # Recorded afterwards, dated before: it changed how the later one split.
    wrong = pay(api, loan, "120.00", "2026-02-15")
    assert splits(api, loan)[1][1] != splits(api, twin)[0][1]
    key = new_id()
    answer = api.ok(reverse(api, f"/api/loans/{loan}/repayments/{wrong}", "the bank "
                            "returned the transfer", id=key))
    item = answer["repayment"]
    assert (item["id"], item["date"], item["amount"]) == (wrong, "2026-02-15", eur("120.00"))
    assert item["reversed"] is True and item["reversal"]["reason"] == \
        "the bank returned the transfer"
    assert item["reversal"]["by"] == "officer" and item["reversal"]["id"] == key
    assert item["allocation"] == {"penalty": eur("0.00"), "interest": eur("0.00"),
                                  "principal": eur("0.00"), "excess": eur("0.00")}
    assert {k: v for k, v in answer["loan"].items() if k not in OWN} == page(api, twin, TODAY)
    same_loans(api, loan, twin)
    # The later repayment splits as in the twin; the reversed one stays listed.
    listed = api.ok(api.get(f"/api/loans/{loan}/repayments"))["items"]
    assert [(i["id"], i["reversed"]) for i in listed] == [(wrong, True), (later, False)]
    assert listed[1]["allocation"] == splits(api, twin)[0][1]
    assert "reversal" not in listed[1] and listed[0]["reversal"] == item["reversal"]
    # Replays answer alike; a second reversal is refused.
    again = reverse(api, f"/api/loans/{loan}/repayments/{wrong}", "the bank returned the "
                    "transfer", id=key)
    assert again.status_code == 200 and again.json() == answer
    conflict(reverse(api, f"/api/loans/{loan}/repayments/{wrong}"), "already_reversed")
    # The pool holds what neither loan still owes: the reversed principal went back.
    assert pool_balance(api, pool) == eur(f"{POOL - 2 * outstanding(api, twin):.2f}")
    verified(api)


def test_reversing_every_repayment_gives_the_loan_back_its_schedule(api: Api) -> None:
    lender, pool = lender_with_money(api)
    loan, twin = new_loan(api, lender), new_loan(api, lender)
    before = pool_balance(api, pool)
    paid = [pay(api, loan, "103.28", "2026-02-15"), pay(api, loan, "500.00", "2026-03-10"),
            pay(api, loan, "80.00", "2026-02-20", early_repayment="shorten_term")]
    for rid in reversed(paid[1:]):
        api.ok(reverse(api, f"/api/loans/{loan}/repayments/{rid}"))
    api.ok(reverse(api, f"/api/loans/{loan}/repayments/{paid[0]}"))
    same_loans(api, loan, twin)
    assert page(api, loan, TODAY)["paid_total"] == eur("0.00")
    assert pool_balance(api, pool) == before
    verified(api)


def test_reversing_the_payoff_reopens_the_loan_its_guarantees_and_its_request(api: Api
                                                                              ) -> None:
    lender, _ = lender_with_money(api)
    gas = api.parties["gas"]
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("1000.00")}))
    rid = at_status(api, "approved")
    api.ok(api.put(f"/api/requests/{rid}/terms", {
        "loan": {"principal": eur("1200.00"), "annual_rate": "6.00", "term_months": 12,
                 "method": "french", "frequency": "monthly", "lender_id": lender,
                 "disbursement_date": "2026-01-15"},
        "guarantees": [{"guarantor_id": gas, "amount": eur("600.00")}]}))
    funded = api.ok(api.post(f"/api/requests/{rid}/funding", {"date": "2026-01-15"}))
    loan = funded["instruments"]["loan_id"]
    (guarantee,) = funded["instruments"]["guarantee_ids"]
    twin = new_loan(api, lender)
    pay(api, loan, "103.28", "2026-02-15")
    pay(api, twin, "103.28", "2026-02-15")
    payoff = pay(api, loan, "1200.00", "2026-03-10")
    assert api.ok(api.get(f"/api/loans/{loan}"))["status"] == "repaid"
    assert api.ok(api.get(f"/api/guarantees/{guarantee}"))["status"] == "released"
    assert api.ok(api.get(f"/api/requests/{rid}"))["status"] == "closed"
    assert api.ok(api.get(f"/api/parties/{gas}/pledge-capacity"))["free"] == eur("1000.00")

    answer = api.ok(reverse(api, f"/api/loans/{loan}/repayments/{payoff}"))
    assert answer["loan"]["status"] == "active"
    same_loans(api, loan, twin)
    g = api.ok(api.get(f"/api/guarantees/{guarantee}"))
    assert (g["status"], g["released_on"], g["remaining"]) == ("active", None, eur("600.00"))
    assert api.ok(api.get(f"/api/parties/{gas}/pledge-capacity")) == {
        "amount": eur("1000.00"), "pledged": eur("600.00"), "free": eur("400.00")}
    on_loan = api.ok(api.get(f"/api/loans/{loan}/guarantees?as_of=2026-04-01"))
    assert [i["status"] for i in on_loan["items"]] == ["active"]
    request = api.ok(api.get(f"/api/requests/{rid}"))
    assert request["status"] == "funded"
    last = request["history"][-1]
    assert (last["from_status"], last["to_status"], last["by"]) == ("closed", "funded",
                                                                   "officer")
    assert loan in last["note"]
    verified(api)

    # Repaid again: released again (new transfers), and reopened again by a reversal.
    payoff = pay(api, loan, "1200.00", "2026-03-12")
    assert api.ok(api.get(f"/api/guarantees/{guarantee}"))["status"] == "released"
    assert api.ok(api.get(f"/api/requests/{rid}"))["status"] == "closed"
    api.ok(reverse(api, f"/api/loans/{loan}/repayments/{payoff}"))
    assert api.ok(api.get(f"/api/guarantees/{guarantee}"))["status"] == "active"
    assert api.ok(api.get(f"/api/requests/{rid}"))["status"] == "funded"
    verified(api)


def test_a_guarantee_released_by_an_officer_stays_released(api: Api) -> None:
    lender, _ = lender_with_money(api)
    gas = api.parties["gas"]
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("1000.00")}))
    loan = new_loan(api, lender)
    guarantee = api.ok(api.post("/api/guarantees", {"loan_id": loan, "guarantor_id": gas,
                                                    "amount": eur("500.00"),
                                                    "date": "2026-01-10"}), 201)["id"]
    api.ok(api.post(f"/api/guarantees/{guarantee}/release", {"date": "2026-02-01"}))
    payoff = pay(api, loan, "1300.00", "2026-03-01")
    api.ok(reverse(api, f"/api/loans/{loan}/repayments/{payoff}"))
    assert api.ok(api.get(f"/api/guarantees/{guarantee}"))["status"] == "released"
    verified(api)


def test_no_capacity_left_to_pledge_again_refuses_the_reversal(api: Api) -> None:
    lender, _ = lender_with_money(api)
    gas = api.parties["gas"]
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("500.00")}))
    loan = new_loan(api, lender)
    guarantee = api.ok(api.post("/api/guarantees", {"loan_id": loan, "guarantor_id": gas,
                                                    "amount": eur("500.00"),
                                                    "date": "2026-01-10"}), 201)["id"]
    payoff = pay(api, loan, "1300.00", "2026-03-01")
    # The capacity freed by the payoff is gone meanwhile.
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("100.00")}))
    before = (page(api, loan, TODAY), api.ok(api.get(f"/api/loans/{loan}/repayments")),
              api.ok(api.get(f"/api/guarantees/{guarantee}")))
    conflict(reverse(api, f"/api/loans/{loan}/repayments/{payoff}"), "exceeds_capacity")
    after = (page(api, loan, TODAY), api.ok(api.get(f"/api/loans/{loan}/repayments")),
             api.ok(api.get(f"/api/guarantees/{guarantee}")))
    assert after == before and before[0]["status"] == "repaid"
    # With the capacity back, the same reversal goes through.
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("500.00")}))
    assert api.ok(reverse(api, f"/api/loans/{loan}/repayments/{payoff}"))["loan"][
        "status"] == "active"
    verified(api)


def test_principal_lent_again_refuses_the_reversal(api: Api) -> None:
    lender, pool = lender_with_money(api, "1200.00")
    loan = new_loan(api, lender)
    early = pay(api, loan, "1000.00", "2026-02-01")  # 994.00 of principal back
    other = api.ok(api.post("/api/loans", {
        "principal": eur("900.00"), "annual_rate": "6.00", "term_months": 12,
        "method": "french", "frequency": "monthly", "disbursement_date": "2026-02-05",
        "borrower_id": api.parties["other_producer"], "lender_id": lender}), 201)["id"]
    api.ok(api.post(f"/api/loans/{other}/disbursement", {"date": "2026-02-05"}))
    # Money deposited afterwards covers today, not 2026-02-05 to 2026-06-01.
    api.ok(api.post(f"/api/pools/{pool}/deposits",
                    {"amount": eur("5000.00"), "date": "2026-06-01"}), 201)
    before = (page(api, loan, TODAY), pool_balance(api, pool))
    r = reverse(api, f"/api/loans/{loan}/repayments/{early}")
    conflict(r, "insufficient_funds")
    assert "2026-02-05" in r.json()["detail"]
    assert (page(api, loan, TODAY), pool_balance(api, pool)) == before
    assert splits(api, loan)[0][2] is False


def test_who_may_reverse_a_repayment(api: Api) -> None:
    lender, _ = lender_with_money(api)
    loan, other = new_loan(api, lender), new_loan(api, lender, borrower="other_producer")
    paid = pay(api, loan, "100.00", "2026-02-15")
    path = f"/api/loans/{loan}/repayments/{paid}"
    assert reverse(api, path, who="producer").status_code == 403  # the borrower sees it
    assert reverse(api, path, who="other_producer").status_code == 404
    assert reverse(api, path, who="gas").status_code == 404
    assert reverse(api, f"/api/loans/{other}/repayments/{paid}").status_code == 404
    assert reverse(api, f"/api/loans/{loan}/repayments/{new_id()}").status_code == 404
    assert reverse(api, f"/api/loans/{new_id()}/repayments/{paid}").status_code == 404
    assert api.post(f"{path}/reversal", {"reason": ""}).status_code == 422
    assert api.post(f"{path}/reversal", {"reason": "x", "extra": 1}).status_code == 422
    assert api.ok(reverse(api, path, who="admin"))["repayment"]["reversed"] is True


# -- loss cover --------------------------------------------------------------------------------


def test_a_reversed_loss_cover_gives_the_fund_its_money_back(api: Api) -> None:
    lender, _ = lender_with_money(api)
    loan, twin = new_loan(api, lender), new_loan(api, lender)
    producer = api.parties["producer"]
    api.ok(api.post("/api/contributions", {"gas_id": api.parties["gas"],
                                           "amount": eur("300.00"), "date": "2026-01-05",
                                           "earmark_producer_id": producer}), 201)
    api.ok(api.post("/api/contributions", {"gas_id": api.parties["gas"],
                                           "amount": eur("300.00"), "date": "2026-01-05"}),
           201)
    fund = api.ok(api.get(f"/api/funds?gas_id={api.parties['gas']}"))["items"][0]
    pay(api, loan, "50.00", "2026-02-15")
    pay(api, twin, "50.00", "2026-02-15")
    cover = api.ok(api.post(f"/api/funds/{fund['id']}/payouts", {
        "producer_id": producer, "amount": eur("400.00"), "date": "2026-03-20",
        "kind": "loss_cover", "loan_id": loan}), 201)
    assert page(api, loan, TODAY) != page(api, twin, TODAY)
    answer = api.ok(reverse(api, f"/api/funds/{fund['id']}/payouts/{cover['id']}"))
    assert answer["payout"]["reversed"] is True
    assert answer["fund"]["balance"] == eur("600.00")
    assert answer["fund"]["earmarked"] == {producer: eur("300.00")}
    assert {k: v for k, v in answer["loan"].items() if k not in OWN} == page(api, twin, TODAY)
    same_loans(api, loan, twin)
    verified(api)


# -- guarantee calls ----------------------------------------------------------------------------


def guaranteed_loan(api: Api, lender: str, *amounts: str) -> tuple[str, list[str]]:
    loan = new_loan(api, lender)
    ids = []
    for i, amount in enumerate(amounts):
        gas = api.parties["gas" if i == 0 else "other_gas"]
        api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("2000.00")}))
        ids.append(api.ok(api.post("/api/guarantees", {
            "loan_id": loan, "guarantor_id": gas, "amount": eur(amount),
            "date": "2026-01-10"}), 201)["id"])
    return loan, ids


def test_a_reversed_guarantee_call_counts_as_never_made(api: Api) -> None:
    lender, pool = lender_with_money(api)
    loan, guarantees = guaranteed_loan(api, lender, "600.00", "300.00")
    twin = new_loan(api, lender)
    pay(api, loan, "103.28", "2026-02-15")
    pay(api, twin, "103.28", "2026-02-15")
    before = [api.ok(api.get(f"/api/guarantees/{g}")) for g in guarantees]
    capacity = api.ok(api.get(f"/api/parties/{api.parties['gas']}/pledge-capacity"))
    call_id = new_id()
    call = api.ok(api.post(f"/api/loans/{loan}/guarantee-calls",
                           {"id": call_id, "amount": eur("300.00"), "date": "2026-04-20"}))
    assert call["call_id"] == call_id == call["id"]
    assert [c["amount"] for c in call["calls"]] == [eur("200.00"), eur("100.00")]
    pay(api, loan, "50.00", "2026-05-15")
    pay(api, twin, "50.00", "2026-05-15")

    answer = api.ok(reverse(api, f"/api/loans/{loan}/guarantee-calls/{call_id}",
                            "the guarantors had not been asked"))
    assert answer["call"]["call_id"] == call_id and answer["call"]["reversed"] is True
    assert answer["call"]["calls"] == call["calls"]
    assert answer["call"]["reversal"]["reason"] == "the guarantors had not been asked"
    assert {k: v for k, v in answer["loan"].items() if k not in OWN} == page(api, twin, TODAY)
    same_loans(api, loan, twin)
    after = [api.ok(api.get(f"/api/guarantees/{g}")) for g in guarantees]
    assert after == before
    assert api.ok(api.get(f"/api/parties/{api.parties['gas']}/pledge-capacity")) == capacity
    on_loan = api.ok(api.get(f"/api/loans/{loan}/guarantees?as_of=2026-05-01"))
    assert [i["called_amount"] for i in on_loan["items"]] == [eur("0.00"), eur("0.00")]
    listed = api.ok(api.get(f"/api/loans/{loan}/guarantee-calls"))["items"]
    assert [(c["id"], c["date"], c["amount"], c["reversed"]) for c in listed] == [
        (call_id, "2026-04-20", eur("300.00"), True)]
    conflict(reverse(api, f"/api/loans/{loan}/guarantee-calls/{call_id}"), "already_reversed")
    assert pool_balance(api, pool) == eur(f"{POOL - 2 * outstanding(api, twin):.2f}")
    # The guarantees may be called again for the whole of what they pledge.
    again = api.ok(api.post(f"/api/loans/{loan}/guarantee-calls",
                            {"amount": eur("900.00"), "date": "2026-06-01"}))
    assert [c["amount"] for c in again["calls"]] == [eur("600.00"), eur("300.00")]
    assert [c["reversed"] for c in api.ok(api.get(
        f"/api/loans/{loan}/guarantee-calls"))["items"]] == [True, False]
    verified(api)


def test_a_call_that_repaid_the_loan_reversed_reopens_it(api: Api) -> None:
    lender, _ = lender_with_money(api)
    loan, (called, other) = guaranteed_loan(api, lender, "1300.00", "200.00")
    call = api.ok(api.post(f"/api/loans/{loan}/guarantee-calls",
                           {"amount": eur("1100.00"), "date": "2026-02-15"}))
    pay(api, loan, "200.00", "2026-02-16")  # the rest: repaid, the pledges left released
    assert api.ok(api.get(f"/api/loans/{loan}"))["status"] == "repaid"
    assert {api.ok(api.get(f"/api/guarantees/{g}"))["status"] for g in (called, other)} == {
        "released"}
    answer = api.ok(reverse(api, f"/api/loans/{loan}/guarantee-calls/{call['id']}"))
    assert answer["loan"]["status"] == "active"
    for g, amount in ((called, "1300.00"), (other, "200.00")):
        got = api.ok(api.get(f"/api/guarantees/{g}"))
        assert (got["status"], got["called_amount"], got["remaining"]) == (
            "active", eur("0.00"), eur(amount))
    verified(api)


def test_who_sees_and_may_reverse_a_call(api: Api) -> None:
    lender, _ = lender_with_money(api)
    loan, _ = guaranteed_loan(api, lender, "600.00", "300.00")
    call = api.ok(api.post(f"/api/loans/{loan}/guarantee-calls",
                           {"amount": eur("90.00"), "date": "2026-04-20"}))
    path = f"/api/loans/{loan}/guarantee-calls/{call['id']}"
    assert reverse(api, path, who="gas").status_code == 403  # a guarantor sees the loan
    assert reverse(api, path, who="producer").status_code == 403  # the borrower too
    assert reverse(api, path, who="other_producer").status_code == 404
    assert reverse(api, f"/api/loans/{loan}/guarantee-calls/{new_id()}").status_code == 404
    other, _ = guaranteed_loan(api, lender, "100.00")
    assert reverse(api, f"/api/loans/{other}/guarantee-calls/{call['id']}").status_code == 404
    assert api.post(f"{path}/reversal", {"reason": ""}).status_code == 422
    # The list: whoever sees the loan; a guarantor only its own parts.
    assert [c["amount"] for c in api.ok(api.get(
        f"/api/loans/{loan}/guarantee-calls", "gas"))["items"]] == [eur("60.00")]
    assert [c["amount"] for c in api.ok(api.get(
        f"/api/loans/{loan}/guarantee-calls", "producer"))["items"]] == [eur("90.00")]
    assert api.get(f"/api/loans/{loan}/guarantee-calls", "other_producer").status_code == 404
    assert api.ok(reverse(api, path))["call"]["reversed"] is True


def test_a_reversed_recovery_after_a_write_off_counts_as_never_received(api: Api) -> None:
    lender, _ = lender_with_money(api)
    loan, twin = new_loan(api, lender), new_loan(api, lender)
    for loan_id in (loan, twin):
        pay(api, loan_id, "103.28", "2026-02-15")
        api.ok(api.post(f"/api/loans/{loan_id}/write-off",
                        {"date": "2026-06-01", "note": "the farm closed"}))
    recovered = pay(api, loan, "300.00", "2026-07-01")
    assert page(api, loan, TODAY)["paid_total"] != page(api, twin, TODAY)["paid_total"]
    answer = api.ok(reverse(api, f"/api/loans/{loan}/repayments/{recovered}"))
    assert answer["loan"]["status"] == "written_off"
    same_loans(api, loan, twin)
    verified(api)
