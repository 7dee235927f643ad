"""API fuzzing: schemathesis generates requests for every operation of the app's own
OpenAPI document (`/schema/openapi.json`) and sends them as each role (admin, officer,
producer, GAS user) to the app made in-process on a fresh database (SQLite, and
PostgreSQL when configured). No answer may be a 5xx, and every answer must carry a
status code the document lists for that operation and a body matching its schema.

Bounded: FILIERA_FUZZ_EXAMPLES examples per operation and role (default 8)."""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Api, eur, make_party

EXAMPLES = int(os.environ.get("FILIERA_FUZZ_EXAMPLES", "8"))
# Every operation documents the refusals it can give: answers are held to the
# document's own status codes. FILIERA_FUZZ_STRICT_STATUS=0 accepts, beside them, any
# refusal the contract defines for every operation (API.md, "Conventions": 400, 401,
# 403, 404, 405, 409, 413, 415, 422, 429) when it is a problem document saying that
# status (for an operation whose document lags behind).
STRICT = os.environ.get("FILIERA_FUZZ_STRICT_STATUS", "1") != "0"
CONTRACT_REFUSALS = frozenset({400, 401, 403, 404, 405, 409, 413, 415, 422, 429})
CHECKS = [not_a_server_error, response_schema_conformance,
          *([status_code_conformance] if STRICT else [])]


def status_failure(document: dict[str, Any], operation: Any, response: Any) -> str | None:
    """Why this status is not one the operation may answer (None when it is)."""
    listed = document["paths"][operation.path][operation.method.lower()]["responses"]
    status = response.status_code
    if str(status) in listed or "default" in listed:
        return None
    if status not in CONTRACT_REFUSALS:
        return f"status {status} neither documented ({', '.join(listed)}) nor a refusal"
    body = response.json() if response.content else None
    if not (response.headers.get("content-type", "").startswith("application/problem+json")
            and isinstance(body, dict) and body.get("status") == status):
        return f"refusal {status} is not a problem document saying {status}"
    return None


def make_world(api: Api) -> dict[str, str]:
    """Real resources of every kind, so that half the cases name ids that exist and get
    past the 404 into the rules (random ids alone stay shallow)."""
    lender = make_party(api, "lender", "Mag Fuzz")
    pool = api.ok(api.get(f"/api/pools?lender_id={lender}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool}/deposits", {"amount": eur("90000.00"),
                                                        "date": "2026-01-02"}), 201)
    terms = {"principal": eur("20000.00"), "annual_rate": "4.00", "term_months": 24,
             "method": "french", "frequency": "monthly", "disbursement_date": "2026-01-15",
             "borrower_id": api.parties["producer"], "lender_id": lender}
    loan = api.ok(api.post("/api/loans", terms), 201)["id"]
    api.ok(api.post(f"/api/loans/{loan}/disbursement", {"date": "2026-01-15"}))
    api.ok(api.put(f"/api/parties/{api.parties['gas']}/pledge-capacity",
                   {"amount": eur("5000.00")}))
    guarantee = api.ok(api.post("/api/guarantees", {
        "loan_id": loan, "guarantor_id": api.parties["gas"], "amount": eur("1000.00")}),
        201)["id"]
    prepayment = api.ok(api.post("/api/prepayments", {
        "producer_id": api.parties["producer"], "gas_id": api.parties["gas"],
        "amount": eur("500.00"), "product": "Taleggio", "unit": "kg",
        "unit_price": eur("12.50"), "expires_on": "2026-12-31", "on_expiry": "refund"}),
        201)["id"]
    fund = api.ok(api.get("/api/funds"))["items"][0]["id"]
    request = api.ok(api.post("/api/requests", {
        "producer_id": api.parties["producer"], "amount": eur("30000.00"),
        "purpose": "a new cheese cellar", "instrument": "mixed", "term_months": 24},
        "producer"), 201)["id"]
    account = api.ok(api.post("/api/ledger/accounts", {"code": "fuzz", "currency": "EUR"}),
                     201)["id"]
    return {"party_id": api.parties["gas"], "lender_id": lender, "pool_id": pool,
            "loan_id": loan, "guarantee_id": guarantee, "prepayment_id": prepayment,
            "fund_id": fund, "request_id": request, "account_id": account,
            "name": "microcredit", "gas_id": api.parties["gas"],
            "producer_id": api.parties["producer"], "borrower_id": api.parties["producer"],
            "guarantor_id": api.parties["gas"], "member_id": api.parties["gas"],
            "earmark_producer_id": api.parties["producer"],
            "debit_account_id": account, "credit_account_id": account}


# Well-formed values for fields the document types only as strings (no formats yet).
WELL_FORMED: dict[str, Any] = {
    "date": "2026-03-01", "since": "2026-01-01", "expires_on": "2026-12-31",
    "disbursement_date": "2026-03-01", "needed_by": "2026-06-30",
    "annual_rate": "4.00", "currency": "EUR"}


# Numbers that are well formed but of any size: where overflows and rounding live.
AMOUNTS = st.from_regex(r"\A-?[0-9]{1,24}(\.[0-9]{1,3})?\Z")
QUANTITIES = st.from_regex(r"\A[0-9]{1,30}(\.[0-9]{1,4})?\Z")


def with_known_ids(case: Any, world: dict[str, str], amount: str = "10.00",
                   quantity: str = "1.500") -> None:
    """Point the case's path, query and body ids at real resources, and give its money
    and dates a valid form, so the case reaches the rules behind the input checks."""
    for params in (case.path_parameters, case.query):
        for key in list(params or {}):
            if key in world:
                params[key] = world[key]

    def fix(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                fix(item)
        elif isinstance(node, dict):
            for key in list(node):  # the document does not forbid unknown fields yet
                if not re.fullmatch(r"[a-z][a-z_]*", key):
                    del node[key]
            if set(node) >= {"amount", "currency"}:
                node.clear()
                node.update(amount=amount, currency="EUR")
            for key, value in list(node.items()):
                if key == "id":
                    node[key] = str(uuid.uuid4())
                elif key in world and key != "name":
                    node[key] = world[key]
                elif key == "quantity" and isinstance(value, str):
                    node[key] = quantity
                elif key in WELL_FORMED and isinstance(value, str):
                    node[key] = WELL_FORMED[key]
                else:
                    fix(value)

    fix(case.body)


def fuzz_operation(api: Api, role: str, document: dict[str, Any], operation: Any,
                   statuses: Counter[int], world: dict[str, str]) -> list[str]:
    """Failures (one line and a reproducing request each) for one operation."""
    failures: list[str] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],  # no shrinking: report, go on
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), known=st.booleans(),
           amount=st.one_of(st.just("10.00"), AMOUNTS),
           quantity=st.one_of(st.just("1.500"), QUANTITIES))
    def run(case: Any, known: bool, amount: str, quantity: str) -> None:
        if known:
            with_known_ids(case, world, amount, quantity)
        kwargs = case.as_transport_kwargs(base_url=str(api.client.base_url),
                                          headers=api.headers(role))
        kwargs.pop("cookies", None)
        if isinstance(kwargs.get("data"), bytes | str):  # raw bodies go as content in httpx
            kwargs["content"] = kwargs.pop("data")
        response = api.client.request(**kwargs)
        statuses[response.status_code] += 1
        titles: list[str] = []
        try:
            case.validate_response(response, checks=CHECKS, headers=api.headers(role))
        except FailureGroup as group:  # collected: every failing operation is reported
            titles = sorted({f.title for f in group.exceptions})
        if (why := status_failure(document, operation, response)) is not None:
            titles.append(why)
        if titles:
            failures.append(f"{operation.method.upper()} {operation.path} as {role}: "
                            f"{response.status_code} {'; '.join(titles)}\n    "
                            f"{case.as_curl_command(headers={})}")

    run()
    return failures


SESSION_ENDING = {"/api/auth/logout", "/api/me/password"}


@pytest.mark.parametrize("role", ["admin", "officer", "producer", "gas"])
def test_openapi_operations_as_each_role(api: Api, role: str) -> None:
    document = api.ok(api.get("/schema/openapi.json", None))
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    world = make_world(api)
    tried = 0
    results = list(schema.get_all_operations())
    # Logging out or changing the password ends the role's token: fuzz those last, so
    # every other operation runs with a live token.
    results.sort(key=lambda r: not isinstance(r, Err) and r.ok().path in SESSION_ENDING)
    for result in results:
        if isinstance(result, Err):  # an operation the document describes unusably
            failures.append(f"invalid operation in the document: {result.err()}")
            continue
        operation = result.ok()
        failures += fuzz_operation(api, role, document, operation, statuses, world)
        tried += 1
    print(f"{role}: {tried} operations, {statuses.total()} cases, {dict(sorted(statuses.items()))}")
    assert tried > 50, tried  # the document lists the whole API
    assert not failures, "\n".join(failures[:40])
