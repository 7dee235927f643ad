"""Corrections of funds and prepayments: contributions, payouts and deliveries recorded by
mistake are reversed, never edited or deleted (API.md, "Corrections").

A reversed item stays listed with ``reversed: true``; every as-of figure is as if it had
never been recorded, which each test checks against a twin built without it; the
journal keeps both and still verifies."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, eur, new_id

TODAY = "2026-12-06"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", TODAY)


def reverse(api: Api, path: str, reason: str = "recorded twice by mistake",
            who: str = "officer", **extra: Any) -> Any:
    return api.post(f"{path}/reversal", {"reason": reason, **extra}, who)


def conflict(response: Any, code: str) -> None:
    assert response.status_code == 409, response.text
    assert response.json()["code"] == code


def verified(api: Api) -> None:
    report = api.ok(api.get("/api/ledger/verify"))
    assert report["ok"], report["problems"]


def contribute(api: Api, amount: str, on: str, who: str = "gas", gas: str = "gas",
               **extra: Any) -> dict[str, Any]:
    body = {"gas_id": api.parties[gas], "amount": eur(amount), "date": on, **extra}
    made: dict[str, Any] = api.ok(api.post("/api/contributions", body, who), 201)
    return made


def fund_of(api: Api, gas: str = "gas", as_of: str = TODAY, who: str = "officer"
            ) -> dict[str, Any]:
    items = api.ok(api.get(f"/api/funds?gas_id={api.parties[gas]}&as_of={as_of}", who))
    fund: dict[str, Any] = items["items"][0]
    return fund


# -- contributions --------------------------------------------------------------------------


def test_a_reversed_contribution_counts_as_never_made(api: Api) -> None:
    first = contribute(api, "100.00", "2026-03-01")
    contribute(api, "50.00", "2026-04-01")
    key = new_id()
    answer = api.ok(reverse(api, f"/api/contributions/{first['id']}", "entered twice",
                            who="gas", id=key))
    assert answer["contribution"]["id"] == first["id"]
    assert answer["contribution"]["reversed"] is True
    assert answer["contribution"]["reversal"]["reason"] == "entered twice"
    assert answer["contribution"]["reversal"]["by"] == "gas"
    assert answer["contribution"]["reversal"]["id"] == key
    assert answer["fund"]["balance"] == eur("50.00")
    # As of any day, the fund is as if it had never been made.
    assert fund_of(api, as_of="2026-03-15")["balance"] == eur("0.00")
    assert fund_of(api, as_of="2026-04-01")["balance"] == eur("50.00")
    assert fund_of(api)["balance"] == eur("50.00")
    # It stays listed, marked; the other one is not.
    listed = api.ok(api.get(f"/api/contributions?gas_id={api.parties['gas']}"))["items"]
    assert [(c["amount"]["amount"], c["reversed"]) for c in listed] == [
        ("100.00", True), ("50.00", False)]
    assert listed[0]["reversal"] == answer["contribution"]["reversal"]
    assert "reversal" not in listed[1]
    # The same command again answers as the first time; another one is refused.
    again = reverse(api, f"/api/contributions/{first['id']}", "entered twice", who="gas",
                    id=key)
    assert again.status_code == 200 and again.json() == answer
    conflict(reverse(api, f"/api/contributions/{first['id']}", who="gas"),
             "already_reversed")
    conflict(reverse(api, f"/api/contributions/{first['id']}", "other words", who="gas",
                     id=key), "idempotency_conflict")
    verified(api)


def test_an_earmarked_contribution_reversed_leaves_the_earmark(api: Api) -> None:
    producer = api.parties["producer"]
    marked = contribute(api, "80.00", "2026-02-01", earmark_producer_id=producer)
    contribute(api, "30.00", "2026-02-02", earmark_producer_id=producer)
    answer = api.ok(reverse(api, f"/api/contributions/{marked['id']}"))
    assert answer["fund"]["earmarked"] == {producer: eur("30.00")}
    assert fund_of(api, as_of="2026-02-01")["earmarked"] == {}
    verified(api)


def test_reversing_a_contribution_already_paid_out_is_insufficient_funds(api: Api) -> None:
    first = contribute(api, "100.00", "2026-03-01")
    fund = fund_of(api)
    api.ok(api.post(f"/api/funds/{fund['id']}/payouts", {
        "producer_id": api.parties["producer"], "amount": eur("80.00"),
        "date": "2026-03-10", "kind": "grant"}), 201)
    # Money that came in later covers today's balance, not the days in between.
    contribute(api, "100.00", "2026-03-20")
    before = fund_of(api)
    r = reverse(api, f"/api/contributions/{first['id']}")
    conflict(r, "insufficient_funds")
    assert "2026-03-10" in r.json()["detail"]
    assert fund_of(api) == before
    listed = api.ok(api.get(f"/api/contributions?gas_id={api.parties['gas']}"))["items"]
    assert not any(c["reversed"] for c in listed)
    # The later one was not spent: it may go.
    later = listed[1]["id"]
    assert api.ok(reverse(api, f"/api/contributions/{later}"))["fund"]["balance"] == \
        eur("20.00")
    verified(api)


def test_who_may_reverse_a_contribution(api: Api) -> None:
    producer = api.parties["producer"]
    mine = contribute(api, "10.00", "2026-03-01", earmark_producer_id=producer)
    other = contribute(api, "10.00", "2026-03-01", who="other_gas", gas="other_gas")
    path = f"/api/contributions/{mine['id']}"
    assert reverse(api, path, who="other_gas").status_code == 404
    assert reverse(api, path, who="other_producer").status_code == 404
    assert reverse(api, path, who="producer").status_code == 403  # it sees its earmark
    assert reverse(api, f"/api/contributions/{other['id']}", who="gas").status_code == 404
    assert reverse(api, f"/api/contributions/{new_id()}").status_code == 404
    assert reverse(api, "/api/contributions/not-an-id").status_code == 404
    assert reverse(api, path, who=None).status_code == 401  # type: ignore[arg-type]
    # The body first: an empty reason is a 422, even for what the caller may not see.
    for body in ({"reason": ""}, {"reason": "  \n "}, {}, {"reason": "x", "id": "nope"},
                 {"reason": "x", "date": "2026-03-01"}):
        r = api.post(f"{path}/reversal", body, "other_gas")
        assert r.status_code == 422, (body, r.text)
    r = api.post(f"{path}/reversal", {"reason": ""})
    assert [e["field"] for e in r.json()["errors"]] == ["reason"]
    # The officer may, for any GAS.
    assert api.ok(reverse(api, path))["contribution"]["reversed"] is True


def test_a_prepayment_remainder_is_not_reversed_alone(api: Api) -> None:
    prepayment = api.ok(api.post("/api/prepayments", {
        "producer_id": api.parties["producer"], "gas_id": api.parties["gas"],
        "amount": eur("200.00"), "product": "taleggio", "unit": "kg",
        "unit_price": eur("10.00"), "expires_on": "2027-01-31", "on_expiry": "solidarity",
        "date": "2026-02-01"}), 201)
    api.ok(api.post(f"/api/prepayments/{prepayment['id']}/close", {"date": "2026-05-01"}))
    (remainder,) = api.ok(api.get(f"/api/contributions?gas_id={api.parties['gas']}"))["items"]
    assert remainder["source"] == "prepayment"
    conflict(reverse(api, f"/api/contributions/{remainder['id']}"), "closed")


# -- payouts -----------------------------------------------------------------------------------


def test_a_reversed_grant_comes_back_into_the_fund(api: Api) -> None:
    producer = api.parties["producer"]
    contribute(api, "100.00", "2026-03-01", earmark_producer_id=producer)
    contribute(api, "100.00", "2026-03-01")
    fund = fund_of(api)
    payout = api.ok(api.post(f"/api/funds/{fund['id']}/payouts", {
        "producer_id": producer, "amount": eur("150.00"), "date": "2026-04-01",
        "kind": "grant"}), 201)
    assert payout["from_earmark"] == eur("100.00") and payout["reversed"] is False
    answer = api.ok(reverse(api, f"/api/funds/{fund['id']}/payouts/{payout['id']}"))
    assert answer["payout"]["reversed"] is True and "loan" not in answer
    assert answer["fund"]["balance"] == eur("200.00")
    assert answer["fund"]["earmarked"] == {producer: eur("100.00")}
    assert fund_of(api, as_of="2026-04-01")["balance"] == eur("200.00")
    listed = api.ok(api.get(f"/api/funds/{fund['id']}/payouts"))["items"]
    assert [p["reversed"] for p in listed] == [True]
    conflict(reverse(api, f"/api/funds/{fund['id']}/payouts/{payout['id']}"),
             "already_reversed")
    # The money is there again: the same grant may be paid.
    api.ok(api.post(f"/api/funds/{fund['id']}/payouts", {
        "producer_id": producer, "amount": eur("200.00"), "date": "2026-04-02",
        "kind": "grant"}), 201)
    verified(api)


def test_who_may_reverse_a_payout(api: Api) -> None:
    producer = api.parties["producer"]
    contribute(api, "100.00", "2026-03-01", earmark_producer_id=producer)
    fund = fund_of(api)
    payout = api.ok(api.post(f"/api/funds/{fund['id']}/payouts", {
        "producer_id": producer, "amount": eur("10.00"), "date": "2026-04-01",
        "kind": "grant"}), 201)
    path = f"/api/funds/{fund['id']}/payouts/{payout['id']}"
    assert reverse(api, path, who="gas").status_code == 403  # sees its fund
    assert reverse(api, path, who="producer").status_code == 403  # sees its earmark
    assert reverse(api, path, who="other_gas").status_code == 404
    assert reverse(api, path, who="other_producer").status_code == 404
    other_fund = fund_of(api, gas="other_gas")
    assert reverse(api, f"/api/funds/{other_fund['id']}/payouts/{payout['id']}"
                   ).status_code == 404
    assert reverse(api, f"/api/funds/{fund['id']}/payouts/{new_id()}").status_code == 404
    assert api.ok(reverse(api, path))["payout"]["reversed"] is True


# -- deliveries -------------------------------------------------------------------------------


def prepay(api: Api, amount: str = "500.00", on: str = "2026-02-01") -> str:
    made = api.ok(api.post("/api/prepayments", {
        "producer_id": api.parties["producer"], "gas_id": api.parties["gas"],
        "amount": eur(amount), "product": "taleggio", "unit": "kg",
        "unit_price": eur("12.50"), "expires_on": "2027-01-31", "on_expiry": "refund",
        "date": on}), 201)
    prepayment_id: str = made["id"]
    return prepayment_id


def deliver(api: Api, prepayment_id: str, quantity: str, on: str, who: str = "officer"
            ) -> str:
    delivery_id = new_id()
    answer = api.ok(api.post(f"/api/prepayments/{prepayment_id}/deliveries",
                             {"id": delivery_id, "date": on, "quantity": quantity}, who))
    assert answer["delivery"]["id"] == delivery_id and answer["delivery"]["reversed"] is False
    assert answer["delivery"]["date"] == on and answer["delivery"]["quantity"] == quantity
    return delivery_id


def test_a_reversed_delivery_is_owed_in_goods_again(api: Api) -> None:
    pid = prepay(api)
    twin = prepay(api)
    wrong = deliver(api, pid, "8", "2026-03-01")
    deliver(api, pid, "4", "2026-03-15")
    deliver(api, twin, "4", "2026-03-15")
    answer = api.ok(reverse(api, f"/api/prepayments/{pid}/deliveries/{wrong}",
                            "the crate went to another GAS", who="producer"))
    assert answer["delivery"]["id"] == wrong and answer["delivery"]["reversed"] is True
    assert answer["delivery"]["value"] == eur("100.00")
    assert answer["delivery"]["reversal"]["by"] == "producer"
    prepayment = answer["prepayment"]
    assert prepayment == api.ok(api.get(f"/api/prepayments/{pid}"))
    other = api.ok(api.get(f"/api/prepayments/{twin}"))
    for field in ("paid", "delivered_value", "remaining", "status"):
        assert prepayment[field] == other[field], field
    assert prepayment["remaining"] == eur("450.00")
    assert [d["reversed"] for d in prepayment["deliveries"]] == [True, False]
    # What remains may be delivered again, to the last cent.
    deliver(api, pid, "36", "2026-04-01", who="gas")
    assert api.ok(api.get(f"/api/prepayments/{pid}"))["remaining"] == eur("0.00")
    conflict(reverse(api, f"/api/prepayments/{pid}/deliveries/{wrong}"), "already_reversed")
    verified(api)


def test_the_prepayments_report_leaves_a_reversed_delivery_out(api: Api) -> None:
    pid = prepay(api)
    wrong = deliver(api, pid, "8", "2026-03-01")
    deliver(api, pid, "2", "2026-03-02")
    api.ok(reverse(api, f"/api/prepayments/{pid}/deliveries/{wrong}"))
    r = api.get(f"/api/reports/prepayments.csv?as_of={TODAY}")
    assert r.status_code == 200, r.text
    assert "25.00" in r.text and "125.00" not in r.text


def test_deliveries_of_a_closed_prepayment_stay(api: Api) -> None:
    pid = prepay(api)
    delivered = deliver(api, pid, "8", "2026-03-01")
    api.ok(api.post(f"/api/prepayments/{pid}/close", {"date": "2026-04-01"}))
    conflict(reverse(api, f"/api/prepayments/{pid}/deliveries/{delivered}"), "closed")
    assert api.ok(api.get(f"/api/prepayments/{pid}"))["deliveries"][0]["reversed"] is False


def test_who_may_reverse_a_delivery(api: Api) -> None:
    pid = prepay(api)
    other = prepay(api)
    delivered = deliver(api, pid, "1", "2026-03-01")
    path = f"/api/prepayments/{pid}/deliveries/{delivered}"
    assert reverse(api, path, who="other_gas").status_code == 404
    assert reverse(api, path, who="other_producer").status_code == 404
    assert reverse(api, f"/api/prepayments/{other}/deliveries/{delivered}").status_code == 404
    assert reverse(api, f"/api/prepayments/{pid}/deliveries/{new_id()}").status_code == 404
    assert api.post(f"{path}/reversal", {"reason": " "}, "gas").status_code == 422
    assert api.ok(reverse(api, path, who="gas"))["delivery"]["reversed"] is True


def test_the_openapi_document_lists_the_reversals(api: Api) -> None:
    paths = api.ok(api.get("/schema/openapi.json", who=None))["paths"]
    for path in ("/api/contributions/{contribution_id}/reversal",
                 "/api/funds/{fund_id}/payouts/{payout_id}/reversal",
                 "/api/prepayments/{prepayment_id}/deliveries/{delivery_id}/reversal",
                 "/api/loans/{loan_id}/repayments/{repayment_id}/reversal",
                 "/api/loans/{loan_id}/guarantee-calls/{call_id}/reversal"):
        operation = paths[path]["post"]
        assert {"200", "404", "409", "422"} <= set(operation["responses"]), path
        assert "already_reversed" in operation["responses"]["409"]["description"], path
    assert "get" in paths["/api/loans/{loan_id}/guarantee-calls"]


def test_a_producer_sees_no_earmark_made_of_reversed_money(api: Api) -> None:
    producer = api.parties["producer"]
    marked = contribute(api, "40.00", "2026-02-01", earmark_producer_id=producer)
    fund = fund_of(api)
    assert api.ok(api.get(f"/api/funds/{fund['id']}", "producer"))["balance"] == eur("40.00")
    api.ok(reverse(api, f"/api/contributions/{marked['id']}"))
    assert api.get(f"/api/funds/{fund['id']}", "producer").status_code == 404
