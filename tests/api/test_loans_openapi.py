"""The lending operations' OpenAPI: typed answers, every refusal they can give documented
as problem details, and handlers declared without deprecated parameter styles."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.exceptions import LitestarDeprecationWarning
from sqlalchemy import Engine

from service.db.engine import make_engine
from service.http import loans as loans_http
from service.http.app import create_app
from service.settings import Settings

BODY = {"400", "401", "413", "422"}
REPLAY = "idempotency_conflict"
CLOSED = "period_closed"  # operations valued in a closed period

# (method, path) -> (success status, answer schema, refusals, 409 codes), from API.md and
# the order of refusals: 401 always, 400/413/422 with a body, 404 for a path the caller
# may not see, 403 for a role that may not act.
OPERATIONS: dict[tuple[str, str], tuple[str, str | None, set[str], set[str]]] = {
    # 404: another lender's, for an officer bound to a lender.
    ("post", "/api/pools"): ("201", "PoolOut", BODY | {"403", "404", "409"}, {REPLAY}),
    ("get", "/api/pools"): ("200", "PoolPage", {"400", "401", "403", "422"}, set()),
    ("get", "/api/pools/{pool_id}"): ("200", "PoolOut", {"400", "401", "404"}, set()),
    ("put", "/api/pools/{pool_id}/match-rule"): ("200", "MatchRuleOut", BODY | {"404"}, set()),
    ("get", "/api/pools/{pool_id}/match-rule"): ("200", "MatchRuleOut", {"400", "401", "404"},
                                                 set()),
    ("delete", "/api/pools/{pool_id}/match-rule"): ("204", None, {"400", "401", "404"}, set()),
    ("post", "/api/pools/{pool_id}/deposits"): ("201", "DepositOut", BODY | {"404", "409"},
                                                {REPLAY, CLOSED}),
    ("post", "/api/shares"): ("201", "ShareOut", BODY | {"403", "404", "409"},
                              {REPLAY, CLOSED}),
    ("get", "/api/shares"): ("200", "SharePage", {"400", "401", "403", "422"}, set()),
    ("put", "/api/lenders/{lender_id}/categories/{name}"): (
        "200", "CategoryOut", BODY | {"403", "404"}, set()),
    ("get", "/api/lenders/{lender_id}/categories/{name}"): (
        "200", "CategoryOut", {"400", "401", "404"}, set()),
    ("post", "/api/loans/simulate"): ("200", "SimulationOut", BODY, set()),
    ("post", "/api/loans"): ("201", "LoanOut", BODY | {"403", "404", "409"}, {
        REPLAY, "loan_limit_exceeded", "usury_threshold_exceeded"}),
    ("get", "/api/loans"): ("200", "LoanPage", {"400", "401", "403", "422"}, set()),
    ("get", "/api/loans/{loan_id}/repayments"): ("200", "RepaymentPage",
                                                 {"400", "401", "404", "422"}, set()),
    ("get", "/api/arrears"): ("200", "ArrearsPage", {"400", "401", "403", "422"}, set()),
    ("get", "/api/loans/{loan_id}"): ("200", "LoanOut", {"400", "401", "404", "422"}, set()),
    ("post", "/api/loans/{loan_id}/disbursement"): (
        "200", "LoanOut", BODY | {"403", "404", "409"},
        {REPLAY, "already_disbursed", "coverage_below_minimum", "insufficient_funds", CLOSED}),
    ("post", "/api/loans/{loan_id}/repayments"): (
        "200", "RepaymentOut", BODY | {"403", "404", "409"},
        {REPLAY, "loan_not_active", "insufficient_funds", CLOSED}),
    ("post", "/api/loans/{loan_id}/reschedule"): (
        "200", "LoanOut", BODY | {"403", "404", "409"},
        {REPLAY, "loan_not_active", "insufficient_funds", CLOSED}),
    ("post", "/api/loans/{loan_id}/write-off"): (
        "200", "LoanOut", BODY | {"403", "404", "409"},
        {REPLAY, "loan_not_active", "insufficient_funds", CLOSED}),
    ("post", "/api/loans/{loan_id}/repayments/{repayment_id}/reversal"): (
        "200", "RepaymentReversalOut", BODY | {"403", "404", "409"},
        {REPLAY, "already_reversed", "insufficient_funds", "exceeds_capacity", CLOSED}),
}


def settings() -> Settings:
    return Settings(database_url="unused", secret_key="test-secret-" + "x" * 40)


@pytest.fixture(scope="module")
def engine_for_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Building the app and its document reads no table: one engine serves every case."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('schema') / 'unused.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def schema(engine_for_schema: Engine) -> dict[str, Any]:
    app = create_app(settings(), engine=engine_for_schema)
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return document


@pytest.mark.parametrize(("method", "path"), sorted(OPERATIONS))
def test_each_operation_documents_its_answer_and_refusals(
        schema: dict[str, Any], method: str, path: str) -> None:
    status, answer, refusals, codes = OPERATIONS[(method, path)]
    responses = schema["paths"][path][method]["responses"]
    assert {s for s in responses if not s.startswith("2")} == refusals
    for s in refusals:
        assert set(responses[s]["content"]) == {"application/problem+json"}
    ok = responses[status]
    if answer is None:
        assert "content" not in ok
    else:
        assert ok["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{answer}"}
    conflict = responses.get("409", {}).get("description", "")
    named = set(re.findall(r"`([a-z_]+)`", conflict.rpartition("says which")[2]))
    assert named == codes


def test_a_loan_documents_its_formats_and_values(schema: dict[str, Any]) -> None:
    loan = schema["components"]["schemas"]["LoanOut"]["properties"]
    assert loan["id"] == {"type": "string", "format": "uuid"}
    assert loan["status"]["enum"] == ["approved", "active", "repaid", "written_off"]
    assert loan["frequency"]["enum"] == ["monthly", "quarterly", "semiannual", "annual"]
    assert loan["as_of"] == {"type": "string", "format": "date"}
    assert loan["principal"] == {"$ref": "#/components/schemas/Money"}
    statuses = [p for p in schema["paths"]["/api/loans"]["get"]["parameters"]
                if p["name"] == "status"]
    assert list(statuses[0]["schema"]["enum"]) == ["approved", "active", "repaid", "written_off"]


def test_the_lending_handlers_use_no_deprecated_parameter_style(engine_for_schema: Engine
                                                                 ) -> None:
    mine = {(handler.paths.copy().pop(), name)
            for controller in loans_http.HANDLERS
            for name in dir(controller)
            if (handler := getattr(controller, name)) is not None
            and hasattr(handler, "paths") and hasattr(handler, "http_methods")}
    assert len(mine) == sum(1 for _ in OPERATIONS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_app(settings(), engine=engine_for_schema)
    named = set()
    for w in caught:
        m = re.match(r"\[paths='([^']*)', handler='([^']*)'\]", str(w.message))
        if issubclass(w.category, LitestarDeprecationWarning) and m:
            named.add((m.group(1), m.group(2)))
    assert not named & mine
