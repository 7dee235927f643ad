"""Guarantees, prepayments and funds as layers: the use cases run without HTTP, the OpenAPI
document states each operation's answer and refusals, and no handler uses a parameter
style Litestar deprecates."""

from __future__ import annotations

import warnings
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.exceptions import LitestarDeprecationWarning
from sqlalchemy import Engine

from service.app import funds, guarantees, parties, prepayments
from service.app.auth import Principal
from service.app.common import MoneyIn
from service.app.errors import Conflict, Forbidden, NotFound
from service.bootstrap import build_context
from service.http import funds as http_funds
from service.http import guarantees as http_guarantees
from service.http import prepayments as http_prepayments
from service.http.app import create_app, provide_ctx, provide_principal
from service.settings import Settings

OFFICER = Principal("officer", "officer", None)


def eur(amount: str) -> MoneyIn:
    return MoneyIn(amount, "EUR")


def cents(money: Any) -> int:
    assert money.currency == "EUR"
    return int(Decimal(money.amount) * 100)


def new_party(ctx: Any, kind: str, name: str, **extra: Any) -> str:
    _, party = parties.create_party(ctx, OFFICER, parties.PartyIn(kind=kind, name=name, **extra))
    return party.id


def test_funds_and_prepayments_without_http(engine: Engine, settings: Settings) -> None:
    """What a web page or the CLI would call: the same rules, records instead of JSON."""
    ctx = build_context(settings, engine)
    gas = new_party(ctx, "gas", "GAS Isola", households=30)
    producer = new_party(ctx, "producer", "Cascina", categories=["ortaggi"])
    other = new_party(ctx, "producer", "Caseificio", categories=["formaggi"])
    gas_user = Principal("gas", "gas", gas)
    # 120.00 earmarked for the producer, 80.00 for anyone: a 150.00 grant takes the
    # earmark first (120.00), then 30.00 of the rest.
    funds.contribute_to_fund(ctx, gas_user, funds.ContributionIn(
        gas_id=gas, amount=eur("120.00"), date="2026-02-01", earmark_producer_id=producer))
    status, plain = funds.contribute_to_fund(ctx, gas_user, funds.ContributionIn(
        gas_id=gas, amount=eur("80.00"), date="2026-02-02"))
    assert status == 201 and plain.source == "gas" and plain.basis is None
    status, paid = funds.pay_out(ctx, OFFICER, plain.fund_id, funds.PayoutIn(
        producer_id=producer, amount=eur("150.00"), date="2026-03-01", kind="grant"))
    assert status == 201
    assert (cents(paid.from_earmark), cents(paid.from_general)) == (12000, 3000)
    fund = funds.read_fund(ctx, gas_user, plain.fund_id)
    assert cents(fund.balance) == 20000 - 15000
    assert cents(fund.unearmarked) == 8000 - 3000
    assert fund.earmarked == {}  # the earmark is spent, and a zero earmark is not shown
    # The other producer's earmark is never used for it: only 50.00 remain unearmarked.
    with pytest.raises(Conflict) as refused:
        funds.pay_out(ctx, OFFICER, plain.fund_id, funds.PayoutIn(
            producer_id=other, amount=eur("50.01"), date="2026-03-02", kind="grant"))
    assert refused.value.code == "insufficient_funds"
    with pytest.raises(Forbidden):  # visible to the GAS, but only officers pay out
        funds.pay_out(ctx, gas_user, plain.fund_id, funds.PayoutIn(
            producer_id=other, amount=eur("1.00"), date="2026-03-02", kind="grant"))
    # A prepayment of 100.00 at 2.50/kg: 12.5 kg are worth 31.25; a refund returns 68.75.
    _, pre = prepayments.open_prepayment(ctx, gas_user, prepayments.PrepaymentIn(
        producer_id=producer, gas_id=gas, amount=eur("100.00"), product="Patate", unit="kg",
        unit_price=eur("2.50"), expires_on="2026-12-31", on_expiry="refund",
        date="2026-01-01"))
    _, delivered = prepayments.deliver(ctx, Principal("p", "producer", producer), pre.id,
                                       prepayments.DeliveryIn(date="2026-04-01",
                                                              quantity="12.5"))
    assert cents(delivered.delivered_value) == 3125 and cents(delivered.remaining) == 6875
    _, closed = prepayments.close_prepayment(ctx, gas_user, pre.id,
                                             prepayments.CloseIn(date="2026-05-01"))
    assert closed.settlement is not None and closed.settlement.kind == "refund"
    assert cents(closed.settlement.amount) == 6875 and cents(closed.remaining) == 0
    assert closed.settlement.new_prepayment_id is msgspec.UNSET
    page = prepayments.list_prepayments(ctx, gas_user, None, None, None, None, None, None)
    assert (cents(page.totals.paid), cents(page.totals.remaining)) == (10000, 0)
    other_gas = new_party(ctx, "gas", "GAS Navigli", households=10)
    with pytest.raises(NotFound):  # another GAS's user does not see it at all
        prepayments.read_prepayment(ctx, Principal("g2", "gas", other_gas), pre.id)


def test_guarantee_capacity_without_http(engine: Engine, settings: Settings) -> None:
    ctx = build_context(settings, engine)
    gas = new_party(ctx, "gas", "GAS Isola", households=30)
    gas_user = Principal("gas", "gas", gas)
    out = guarantees.set_pledge_capacity(ctx, gas_user, gas, guarantees.CapacityIn(
        eur("2500.00")))
    assert (cents(out.amount), cents(out.pledged), cents(out.free)) == (250000, 0, 250000)
    with pytest.raises(NotFound):  # a producer's user does not even see the GAS
        guarantees.read_pledge_capacity(ctx, Principal("p", "producer", None), gas)


# Each operation of the feature: its success status and answer, the refusals it documents
# (401 always), and the 409 codes it names. Written from API.md, not from the code.
OPERATIONS: list[tuple[str, str, str, str, set[int], tuple[str, ...]]] = [
    ("put", "/api/parties/{party_id}/pledge-capacity", "200", "CapacityOut",
     {400, 403, 404, 409, 413, 422}, ("exceeds_capacity",)),
    ("get", "/api/parties/{party_id}/pledge-capacity", "200", "CapacityOut", {404}, ()),
    ("post", "/api/guarantees", "201", "GuaranteeOut", {400, 403, 404, 409, 413, 422},
     ("idempotency_conflict", "exceeds_capacity", "loan_not_active")),
    ("get", "/api/guarantees", "200", "GuaranteePage", {422}, ()),
    ("get", "/api/guarantees/{guarantee_id}", "200", "GuaranteeOut", {404}, ()),
    ("post", "/api/guarantees/{guarantee_id}/release", "200", "GuaranteeOut",
     {400, 403, 404, 409, 413, 422}, ("idempotency_conflict", "already_released")),
    ("post", "/api/loans/{loan_id}/guarantee-calls", "200", "CallOut",
     {400, 403, 404, 409, 413, 422}, ("idempotency_conflict", "loan_not_active",
                                      "exceeds_capacity")),
    ("post", "/api/loans/{loan_id}/guarantees/reduction", "200", "LoanGuaranteesOut",
     {400, 403, 404, 409, 413, 422}, ("idempotency_conflict", "loan_not_active")),
    ("get", "/api/loans/{loan_id}/guarantees", "200", "LoanGuaranteesOut", {404, 422}, ()),
    ("post", "/api/prepayments", "201", "PrepaymentOut", {400, 403, 404, 409, 413, 422},
     ("idempotency_conflict",)),
    ("get", "/api/prepayments", "200", "PrepaymentPage", {422}, ()),
    ("get", "/api/prepayments/{prepayment_id}", "200", "PrepaymentOut", {404}, ()),
    ("post", "/api/prepayments/{prepayment_id}/deliveries", "200", "DeliveredOut",
     {400, 404, 409, 413, 422}, ("idempotency_conflict", "closed", "exceeds_prepayment")),
    ("post", "/api/prepayments/{prepayment_id}/close", "200", "PrepaymentOut",
     {400, 403, 404, 409, 413, 422}, ("idempotency_conflict", "closed")),
    ("post", "/api/contributions", "201", "ContributionOut", {400, 403, 404, 409, 413, 422},
     ("idempotency_conflict",)),
    ("get", "/api/contributions", "200", "ContributionPage", {422}, ()),
    ("get", "/api/funds", "200", "FundPage", {422}, ()),
    ("post", "/api/funds", "201", "FundOut", {400, 403, 409, 413, 422},
     ("idempotency_conflict",)),
    ("get", "/api/funds/{fund_id}", "200", "FundOut", {404}, ()),
    ("post", "/api/funds/{fund_id}/payouts", "201", "PayoutOut",
     {400, 403, 404, 409, 413, 422}, ("idempotency_conflict", "insufficient_funds",
                                      "loan_not_active")),
    ("get", "/api/funds/{fund_id}/payouts", "200", "PayoutPage", {404, 422}, ()),
    # Corrections (API.md, "Corrections").
    ("get", "/api/loans/{loan_id}/guarantee-calls", "200", "CallPage", {404, 422}, ()),
    ("post", "/api/loans/{loan_id}/guarantee-calls/{call_id}/reversal", "200",
     "CallReversalOut", {400, 403, 404, 409, 413, 422},
     ("idempotency_conflict", "already_reversed", "insufficient_funds", "exceeds_capacity")),
    ("post", "/api/prepayments/{prepayment_id}/deliveries/{delivery_id}/reversal", "200",
     "DeliveryReversalOut", {400, 404, 409, 413, 422},
     ("idempotency_conflict", "already_reversed", "closed")),
    ("post", "/api/contributions/{contribution_id}/reversal", "200",
     "ContributionReversalOut", {400, 403, 404, 409, 413, 422},
     ("idempotency_conflict", "already_reversed", "insufficient_funds")),
    ("post", "/api/funds/{fund_id}/payouts/{payout_id}/reversal", "200",
     "PayoutReversalOut", {400, 403, 404, 409, 413, 422},
     ("idempotency_conflict", "already_reversed", "insufficient_funds")),
]


@pytest.fixture
def built(engine: Engine, settings: Settings) -> dict[str, Any]:
    """The whole app's OpenAPI document."""
    schema: dict[str, Any] = create_app(settings, engine=engine).openapi_schema.to_schema()
    return schema


@pytest.mark.parametrize(("method", "path", "status", "answer", "refusals", "codes"),
                         OPERATIONS)
def test_each_operation_documents_its_answer_and_refusals(
        built: dict[str, Any], method: str, path: str, status: str,
        answer: str, refusals: set[int], codes: tuple[str, ...]) -> None:
    schema = built
    operation = schema["paths"][path][method]
    responses = operation["responses"]
    # Litestar adds its own 400 to any operation with parameters (see the report).
    assert set(responses) - {"400"} == {status} | {str(s) for s in refusals - {400} | {401}}
    assert responses[status]["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{answer}"}
    for code in refusals | {401}:
        problem = responses[str(code)]["content"]
        assert list(problem) == ["application/problem+json"]
    if codes:
        described = responses["409"]["description"]
        assert all(f"`{c}`" in described for c in codes), described


def test_enumerations_are_documented(built: dict[str, Any]) -> None:
    schemas = built["components"]["schemas"]
    assert schemas["GuaranteeOut"]["properties"]["status"]["enum"] == [
        "active", "released", "called"]
    assert schemas["PrepaymentOut"]["properties"]["on_expiry"]["enum"] == [
        "refund", "rollover", "solidarity"]
    assert schemas["PayoutOut"]["properties"]["kind"]["enum"] == ["grant", "loss_cover"]
    # The producer's view of a fund leaves out what is not its own.
    assert set(schemas["FundOut"]["required"]) == {"id", "name", "gas_id", "gas_name",
                                                   "balance", "earmarked", "earmarks"}
    status = [p for p in built["paths"]["/api/prepayments"]["get"]["parameters"]
              if p["name"] == "status"]
    assert status[0]["schema"]["enum"] == ["open", "closed"]


def test_no_handler_of_the_feature_uses_a_deprecated_style() -> None:
    """Litestar 3 refuses what Litestar 2 deprecates: an app of only this feature's
    controllers builds (and documents itself) with every deprecation an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", LitestarDeprecationWarning)
        app = Litestar(route_handlers=[*http_guarantees.HANDLERS, *http_prepayments.HANDLERS,
                                       *http_funds.HANDLERS],
                       dependencies={"ctx": Provide(provide_ctx, sync_to_thread=False),
                                     "principal": Provide(provide_principal,
                                                          sync_to_thread=False)})
        paths = app.openapi_schema.to_schema()["paths"]
    assert len([op for item in paths.values() for op in item]) == len(OPERATIONS)
