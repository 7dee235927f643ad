"""What the funding requests' and the plans' use cases read (the declared inputs of
service.app.requests, matching and plans): every bad field named at once, in the order the
fields are read, with the messages the pages translate; good input read into the values
stored."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from service.app.common import MoneyIn
from service.app.errors import Errors, Invalid
from service.app.inputs import Input
from service.app.matching import MAX_PLAN_REQUESTS, PlanChoice, PlanIn
from service.app.plans import ChosenPlan
from service.app.requests import (
    Assessment,
    AssessmentIn,
    BusinessIn,
    GuaranteePartIn,
    Interest,
    InterestIn,
    LoanPartIn,
    NewRequest,
    Package,
    PrepaymentPartIn,
    RequestFilters,
    RequestIn,
    RequestTermsIn,
    Transition,
    TransitionIn,
    Withdrawal,
    validate_request,
    validate_terms,
)

GAS = "6b1f0b5e-3a1c-4c1e-9f55-0d0f4a8c1a11"
PRODUCER = "9d2c7e4a-8b6f-4f3e-a1d2-5c4b3a291807"
LENDER = "3f0e8a52-6c1d-4b7a-9e2f-1a2b3c4d5e6f"
EUR = "EUR"


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILIERA_TODAY", "2026-12-06")


def refusals(read: type[Input], data: object) -> list[tuple[str, str]]:
    """The 422's (field, message) pairs, in order."""
    with pytest.raises(Invalid) as caught:
        read.read(data)
    return [(e["field"], e["message"]) for e in caught.value.errors]


def request(**changes: object) -> RequestIn:
    values: dict[str, object] = {
        "producer_id": PRODUCER, "amount": MoneyIn("5000.00", EUR), "purpose": "a tractor",
        "instrument": "loan", "term_months": 36}
    values.update(changes)
    return RequestIn(**values)  # type: ignore[arg-type]


def test_a_request_is_read_into_the_values_stored() -> None:
    client = str(uuid.uuid4())
    values = validate_request(request(
        id=client.upper(), purpose="  a tractor ", needed_by="2027-01-31",
        gas_ids=[GAS.upper()], social_notes="   ", environmental_notes=" pasture ",
        links=[" https://example.org/a "],
        business=BusinessIn(description=" cows ", revenue=MoneyIn("1800", EUR),
                            existing_debts=MoneyIn("0", EUR), workers=0,
                            hectares="35.50", certifications=[" organic "])))
    assert values == {
        "id": client, "producer_id": PRODUCER, "amount_minor": 500000, "currency": EUR,
        "purpose": "a tractor", "instrument": "loan", "term_months": 36,
        "needed_by": date(2027, 1, 31), "social_notes": None,
        "environmental_notes": "pasture", "links": ["https://example.org/a"],
        "gas_ids": [GAS],
        "business": {"description": "cows", "revenue": {"amount": "1800.00", "currency": EUR},
                     "costs": None, "existing_debts": {"amount": "0.00", "currency": EUR},
                     "workers": 0, "hectares": "35.50", "certifications": ["organic"]}}
    # A missing id is a new one; a request without business stores none.
    bare = validate_request(request())
    assert uuid.UUID(bare["id"]) and bare["business"] is None and bare["gas_ids"] == []


def test_a_request_names_every_bad_field_in_order() -> None:
    assert refusals(NewRequest, request(
        id="x", producer_id="y", amount=MoneyIn("1.234", EUR), purpose=" ",
        instrument="grant", term_months=601, needed_by="2026-02-30",
        gas_ids=[GAS, "bad", GAS.upper()],
        business=BusinessIn(hectares="1.23456", workers=100_001,
                            certifications=["", "c" * 65], description="d" * 5001,
                            revenue=MoneyIn("1", "USD")),
        social_notes="s" * 5001, links=["ftp://x", "https://a b"])) == [
        ("id", "'x' is not a UUID"),
        ("producer_id", "'y' is not a UUID"),
        ("amount.amount", "amount '1.234' has 3 decimals; EUR has 2"),
        ("purpose", "required, not blank"),
        ("instrument", "one of loan, prepayment, mixed"),
        ("term_months", "between 1 and 600"),
        ("needed_by", "'2026-02-30' is not a date YYYY-MM-DD"),
        ("gas_ids.1", "'bad' is not a UUID"),
        ("gas_ids.2", "listed twice"),
        ("business.hectares", "at most 4 decimals"),
        ("business.workers", "between 0 and 100000"),
        ("business.certifications.0", "1 to 64 characters, such as 'organic'"),
        ("business.certifications.1", "1 to 64 characters, such as 'organic'"),
        ("business.description", "at most 5000 characters"),
        ("business.revenue.currency", "instruments are in EUR"),
        ("social_notes", "at most 5000 characters"),
        ("links.0", "an http(s) address of at most 500 characters"),
        ("links.1", "an http(s) address of at most 500 characters")]


def test_a_request_bounds_its_lists() -> None:
    many = [str(uuid.uuid4()) for _ in range(101)]
    assert refusals(NewRequest, request(
        gas_ids=many, links=["https://example.org"] * 21,
        business=BusinessIn(certifications=["organic"] * 21))) == [
        ("gas_ids", "at most 100 ids"),
        ("business.certifications", "at most 20"),
        ("links", "at most 20 links")]
    # At the bounds, all is well.
    values = validate_request(request(gas_ids=many[:100], term_months=600,
                                      business=BusinessIn(workers=100_000)))
    assert len(values["gas_ids"]) == 100 and values["term_months"] == 600


LOAN = {"principal": MoneyIn("20000.00", EUR), "annual_rate": "3.00", "term_months": 24,
        "method": "french", "frequency": "monthly", "grace_periods": 0}


def prepayment(**changes: object) -> PrepaymentPartIn:
    values: dict[str, object] = {
        "gas_id": GAS, "amount": MoneyIn("100.00", EUR), "product": " taleggio ",
        "unit": "kg", "unit_price": MoneyIn("12.50", EUR), "expires_on": "2027-03-01",
        "on_expiry": "refund"}
    values.update(changes)
    return PrepaymentPartIn(**values)  # type: ignore[arg-type]


def test_terms_are_read_into_the_package_stored() -> None:
    doc = validate_terms(RequestTermsIn(
        loan=LoanPartIn(**LOAN, lender_id=LENDER.upper()),  # type: ignore[arg-type]
        prepayments=[prepayment()],
        guarantees=[GuaranteePartIn(GAS, MoneyIn("10", EUR))]))
    assert doc == {
        "loan": {"lender_id": LENDER, "pool_id": None, "category": "microcredit",
                 "principal": {"amount": "20000.00", "currency": EUR},
                 "annual_rate": "3.00", "term_months": 24, "method": "french",
                 "frequency": "monthly", "grace_periods": 0,
                 # left to the funding's date, though checked from today
                 "disbursement_date": None, "first_due_date": None, "fees": None},
        "prepayments": [{"gas_id": GAS, "amount": {"amount": "100.00", "currency": EUR},
                         "product": "taleggio", "unit": "kg",
                         "unit_price": {"amount": "12.50", "currency": EUR},
                         "expires_on": "2027-03-01", "on_expiry": "refund"}],
        "guarantees": [{"guarantor_id": GAS,
                        "amount": {"amount": "10.00", "currency": EUR}}]}


def test_terms_name_every_bad_field_then_the_package_rules() -> None:
    assert refusals(Package, RequestTermsIn(
        loan=LoanPartIn(**{**LOAN, "term_months": 0},  # type: ignore[arg-type]
                        lender_id="l", pool_id="p", category=""),
        prepayments=[prepayment(expires_on="soon", on_expiry="keep", product=" ",
                                unit="u" * 33, gas_id="g", amount=MoneyIn("0", EUR),
                                unit_price=MoneyIn("1", "USD"))],
        guarantees=[GuaranteePartIn("z", MoneyIn("-1", EUR))])) == [
        ("loan.lender_id", "'l' is not a UUID"),
        ("loan.pool_id", "'p' is not a UUID"),
        ("loan.category", "1 to 64 characters"),
        ("loan.term_months", "must be positive"),
        ("prepayments.0.expires_on", "'soon' is not a date YYYY-MM-DD"),
        ("prepayments.0.on_expiry", "one of refund, rollover, solidarity"),
        ("prepayments.0.product", "1 to 200 characters"),
        ("prepayments.0.unit", "1 to 32 characters, such as 'kg'"),
        ("prepayments.0.gas_id", "'g' is not a UUID"),
        ("prepayments.0.amount.amount", "amount must be positive"),
        ("prepayments.0.unit_price.currency", "instruments are in EUR"),
        ("guarantees.0.guarantor_id", "'z' is not a UUID"),
        ("guarantees.0.amount.amount", "amount must be positive")]
    assert refusals(Package, RequestTermsIn()) == [
        ("loan", "a package has a loan, prepayments or both")]
    assert refusals(Package, RequestTermsIn(
        prepayments=[prepayment()] * 101,
        guarantees=[GuaranteePartIn(GAS, MoneyIn("1", EUR))])) == [
        ("guarantees", "guarantees back a loan: give the loan too"),
        ("prepayments", "at most 100")]


def test_a_transition_reads_its_target_and_note() -> None:
    move = Transition.read(TransitionIn(to="approved", note=" ok "))
    assert (move.to, move.note, move.id) == ("approved", " ok ", None)  # stripped when kept
    assert refusals(Transition, TransitionIn(to="open", note="n" * 5001, id="i")) == [
        ("id", "'i' is not a UUID"),
        ("to", "one of under_review, needs_info, submitted, approved, rejected, withdrawn"),
        ("note", "at most 5000 characters")]
    assert Transition.read(TransitionIn(to="rejected", note="n" * 5000)).note == "n" * 5000


def test_an_assessment_reads_scores_dates_and_reference() -> None:
    given = Assessment.read(AssessmentIn(0, 10, site_visit_date="2026-02-10",
                                         decision_reference="  CdA 2026/07 "))
    assert (given.economic_score, given.social_score, given.site_visit_date,
            given.decision_date, given.decision_reference) == (
        0, 10, date(2026, 2, 10), None, "CdA 2026/07")
    assert Assessment.read(AssessmentIn(5, 5, decision_reference=" ")).decision_reference \
        is None
    assert refusals(Assessment, AssessmentIn(
        11, -1, notes="n" * 5001, site_visit_date="2026-13-01", decision_date="x",
        decision_reference="r" * 201)) == [
        ("economic_score", "an integer from 0 to 10"),
        ("social_score", "an integer from 0 to 10"),
        ("notes", "at most 5000 characters"),
        ("site_visit_date", "'2026-13-01' is not a date YYYY-MM-DD"),
        ("decision_date", "'x' is not a date YYYY-MM-DD"),
        ("decision_reference", "at most 200 characters")]


def test_interest_and_its_withdrawal_read_the_kind() -> None:
    interest = Interest.read(InterestIn("guarantee", MoneyIn("3000", EUR), note="  ",
                                        gas_id=GAS.upper()))
    assert (interest.kind, interest.amount, interest.note, interest.gas_id) == (
        "guarantee", 300000, None, GAS)
    assert refusals(Interest, InterestIn("grant", MoneyIn("0", EUR), id="i", gas_id="g",
                                         note="n" * 5001)) == [
        ("id", "'i' is not a UUID"), ("gas_id", "'g' is not a UUID"),
        ("kind", "one of prepayment, guarantee"), ("amount.amount", "amount must be positive"),
        ("note", "at most 5000 characters")]
    errors = Errors()
    asked = Withdrawal.read_into({"kind": "prepayment", "gas_id": None}, errors)
    assert (asked.kind, asked.gas_id, errors.items) == ("prepayment", None, [])
    assert refusals(Withdrawal, {"kind": "grant", "gas_id": "g"}) == [
        ("gas_id", "'g' is not a UUID"), ("kind", "one of prepayment, guarantee")]


def test_request_filters_are_read_from_the_query() -> None:
    where = RequestFilters.read({
        "status": "submitted,under_review", "instrument": "mixed",
        "producer_id": PRODUCER.upper(), "created_from": "2026-01-01",
        "amount_min": "5000", "amount_max": "12000.5"})
    assert (where.statuses, where.instrument, where.producer_id, where.gas_id,
            where.created_from, where.created_to, where.amount_min, where.amount_max) == (
        ["submitted", "under_review"], "mixed", PRODUCER, None, date(2026, 1, 1), None,
        500000, 1200050)
    assert RequestFilters.read({}).statuses == []
    bad = refusals(RequestFilters, {
        "status": "submitted,open", "instrument": "grant", "producer_id": "p",
        "gas_id": "g", "created_from": "yesterday", "created_to": "2026-02-30",
        "amount_min": "1e3", "amount_max": "-1"})
    assert [field for field, _ in bad] == [
        "status", "instrument", "producer_id", "gas_id", "created_from", "created_to",
        "amount_min", "amount_max"]
    assert bad[0][1].startswith("one or more (comma-separated) of submitted, ")
    assert bad[1][1] == "one of loan, prepayment, mixed"


def test_hectares_keep_the_decimals_given() -> None:
    business = validate_request(request(business=BusinessIn(hectares="0")))["business"]
    assert business is not None and business["hectares"] == str(Decimal("0"))


def test_a_plan_reads_its_requests_and_day_at_once() -> None:
    everything = PlanChoice.read(PlanIn())
    assert (everything.request_ids, everything.as_of) == (None, None)
    chosen = PlanChoice.read(PlanIn(request_ids=[GAS.upper(), PRODUCER], as_of="2026-03-01"))
    assert (chosen.request_ids, chosen.as_of) == ([GAS, PRODUCER], date(2026, 3, 1))
    assert PlanChoice.read(PlanIn(request_ids=[])).request_ids == []  # an empty plan
    assert refusals(PlanChoice, PlanIn(request_ids=["x", GAS], as_of="2026-13-01")) == [
        ("request_ids.0", "'x' is not a UUID"),
        ("as_of", "'2026-13-01' is not a date YYYY-MM-DD")]
    too_many = [GAS] * (MAX_PLAN_REQUESTS + 1)
    assert refusals(PlanChoice, PlanIn(request_ids=too_many)) == [
        ("request_ids", f"at most {MAX_PLAN_REQUESTS}")]


def test_the_plan_page_must_choose_a_request_when_it_lists_them() -> None:
    assert ChosenPlan.read({"request_ids": None, "as_of": None}).request_ids is None
    assert refusals(ChosenPlan, {"request_ids": [], "as_of": "2026-03-01"}) == [
        ("request_ids", "choose at least one request")]
    assert refusals(ChosenPlan, {"request_ids": ("y",), "as_of": "x"}) == [
        ("request_ids.0", "'y' is not a UUID"), ("as_of", "'x' is not a date YYYY-MM-DD")]
