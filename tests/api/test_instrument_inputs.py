"""The refusals the instruments' bodies give field by field (funds, pools, shares,
categories, closed books, reversals): each bad field named with its reason, the rules
between fields only on fields that could be read, and the body's values as read (a
name without its surrounding spaces)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, eur, make_party, new_id
from tests.api.test_every_bad_field import named

TODAY = "2026-12-06"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", TODAY)


def contribution(api: Api, **changes: Any) -> Any:
    body = {"gas_id": api.parties["gas"], "amount": eur("150.00"), "date": "2026-06-01",
            "basis": {"rate": eur("0.50"), "quantity": "300", "unit": "kg"}, **changes}
    return api.post("/api/contributions", body)


def test_a_contribution_is_compared_with_its_basis_once_every_field_was_read(api: Api
                                                                            ) -> None:
    assert named(contribution(api, amount=eur("151.00"))) == {
        "amount": "the basis gives 150.00 EUR (0.50 x 300 kg)"}
    # A basis that cannot be read is named, and nothing is compared with it ...
    errors = named(contribution(api, amount=eur("151.00"), basis={
        "rate": eur("0.505"), "quantity": "300.0001", "unit": "kg"}))
    assert set(errors) == {"basis.rate.amount", "basis.quantity"}
    assert errors["basis.quantity"] == "at most 3 decimals"
    # ... nor while another field is bad.
    assert set(named(contribution(api, amount=eur("151.00"), gas_id="x"))) == {"gas_id"}
    made = api.ok(contribution(api, basis={"rate": eur("0.5"), "quantity": "300.0",
                                           "unit": "kg"}), 201)
    assert made["basis"] == {"rate": eur("0.50"), "quantity": "300.0", "unit": "kg"}
    assert made["amount"] == eur("150.00")


def test_a_loss_cover_names_its_loan(api: Api) -> None:
    path = f"/api/funds/{new_id()}/payouts"  # no such fund: the 422 comes first
    body = {"producer_id": api.parties["producer"], "amount": eur("10.00"),
            "date": "2026-06-01", "kind": "loss_cover"}
    assert named(api.post(path, body)) == {"loan_id": "a loss cover names the loan it covers"}
    assert named(api.post(path, {**body, "loan_id": "x"})) == {"loan_id": "'x' is not a UUID"}
    assert named(api.post(path, {**body, "kind": "gift"})) == {
        "kind": "either 'grant' or 'loss_cover'"}
    assert api.post(path, {**body, "kind": "grant"}).status_code == 404


def test_names_are_one_to_two_hundred_characters_kept_without_spaces(api: Api) -> None:
    lender = make_party(api, "lender", "Mag2 Finance Milano")
    fund = {"name": "  ", "owner_id": lender}
    assert named(api.post("/api/funds", fund)) == {"name": "1 to 200 characters"}
    assert named(api.post("/api/funds", {**fund, "name": "f" * 201, "owner_id": "y"})) == {
        "name": "1 to 200 characters", "owner_id": "'y' is not a UUID"}
    made = api.ok(api.post("/api/funds", {**fund, "name": " Fondo comune "}), 201)
    assert made["name"] == "Fondo comune"
    pool = {"lender_id": lender, "name": "", "max_loan": eur("0.00")}
    errors = named(api.post("/api/pools", pool))
    assert errors["name"] == "must be 1 to 200 characters"
    assert set(errors) == {"name", "max_loan.amount"}
    made = api.ok(api.post("/api/pools", {"lender_id": lender, "name": " Fondo Isola "}), 201)
    assert made["name"] == "Fondo Isola" and made["max_loan"] is None


def test_a_match_rule_threshold_is_a_fraction(api: Api) -> None:
    path = f"/api/pools/{new_id()}/match-rule"  # no such pool: the 422 comes first
    fraction = "a fraction of the request between 0 and 1, e.g. \"0.75\""
    assert named(api.put(path, {"threshold": "1.5", "cap": eur("100.00")})) == {
        "threshold": fraction}
    errors = named(api.put(path, {"threshold": "2.00001", "cap": eur("100.00"),
                                  "budget": eur("-1.00")}))
    assert errors == {"threshold": "at most 4 decimals",
                      "budget.amount": "amount must be positive"}
    assert api.put(path, {"threshold": "1", "cap": eur("100.00")}).status_code == 404


def test_a_category_names_each_bad_limit(api: Api) -> None:
    lender = make_party(api, "lender", "Mag2 Finance Milano")
    path = f"/api/lenders/{lender}/categories/piccoli"
    good = {"max_principal": eur("5000.00"), "max_term_months": 36,
            "frequencies": ["monthly"], "late_interest_rate": "2.5",
            "min_coverage": "1.50", "share_multiple": "10"}
    errors = named(api.put(path, {**good, "max_term_months": 1201, "frequencies": [],
                                  "min_coverage": "100.5", "share_multiple": "1.23456",
                                  "usury_threshold": "101"}))
    assert errors == {
        "max_term_months": "between 1 and 1200",
        "frequencies": "a non-empty list of monthly, quarterly, semiannual, annual",
        "min_coverage": "a ratio such as \"1.50\" (150% of the principal), at most 100",
        "share_multiple": "at most 4 decimals",
        "usury_threshold": "a yearly percentage of at most 100"}
    assert set(named(api.put(path, {**good, "frequencies": ["monthly", "daily"],
                                    "max_term_months": 0}))) == {
        "frequencies", "max_term_months"}
    assert set(named(api.put(f"/api/lenders/{lender}/categories/{'c' * 65}", good))) == {
        "name"}
    saved = api.ok(api.put(path, good))
    assert (saved["max_term_months"], saved["frequencies"], saved["late_interest_rate"],
            saved["min_coverage"], saved["share_multiple"]) == (
        36, ["monthly"], "2.50", "1.50", "10")


def test_the_books_close_only_days_that_have_passed(api: Api) -> None:
    path = "/api/books/closed-through"
    assert named(api.put(path, {"date": "2026-12-07"}, "admin")) == {
        "date": "after today (2026-12-06): only days that have passed can be closed"}
    assert named(api.put(path, {"date": "2026-02-30"}, "admin")) == {
        "date": "'2026-02-30' is not a date YYYY-MM-DD"}
    assert api.ok(api.put(path, {"date": TODAY}, "admin")) == {"closed_through": TODAY}


def test_a_reversal_reason_is_kept_without_spaces_up_to_2000_characters(api: Api) -> None:
    made = api.ok(contribution(api), 201)
    path = f"/api/contributions/{made['id']}/reversal"
    assert named(api.post(path, {"reason": "x" * 2001, "id": "z"})) == {
        "reason": "at most 2000 characters", "id": "'z' is not a UUID"}
    done = api.ok(api.post(path, {"reason": "  entered twice \n"}))
    assert done["contribution"]["reversal"]["reason"] == "entered twice"


def test_a_share_names_every_bad_field(api: Api) -> None:
    errors = named(api.post("/api/shares", {
        "member_id": "m", "lender_id": "l", "amount": eur("0.00"), "date": "2026-12-07"}))
    assert set(errors) == {"member_id", "lender_id", "amount.amount", "date"}
