"""Funding requests over HTTP: the workflow, who may do what, terms and funding."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.api.conftest import Api, eur, make_party, new_id

LOAN = {"principal": eur("20000.00"), "annual_rate": "3.00", "term_months": 24,
        "method": "french", "frequency": "monthly", "grace_periods": 0,
        "disbursement_date": "2026-03-01"}


def submit(api: Api, who: str = "producer", **over: Any) -> dict[str, Any]:
    body = {"producer_id": api.parties["producer"], "amount": eur("30000.00"),
            "purpose": "a new cheese cellar", "instrument": "mixed", "term_months": 24,
            "needed_by": "2026-04-30", "gas_ids": [api.parties["gas"]], **over}
    result: dict[str, Any] = api.ok(api.post("/api/requests", body, who), 201)
    return result


def move(api: Api, rid: str, to: str, who: str = "officer", note: str = "",
         status: int = 200) -> Any:
    r = api.post(f"/api/requests/{rid}/transitions", {"to": to, "note": note}, who)
    assert r.status_code == status, (to, who, r.text)
    return r.json()


def assess(api: Api, rid: str, who: str = "officer", **over: Any) -> Any:
    body = {"economic_score": 7, "social_score": 8, "notes": "sound plan", **over}
    return api.put(f"/api/requests/{rid}/assessment", body, who)


def at_status(api: Api, status: str) -> str:
    """A fresh request brought to ``status`` by the moves the workflow allows."""
    rid: str = submit(api)["id"]
    path = {
        "submitted": [],
        "under_review": ["under_review"],
        "needs_info": ["under_review", "needs_info"],
        "approved": ["under_review", "approved"],
        "rejected": ["under_review", "rejected"],
        "withdrawn": ["withdrawn"],
    }[status]
    for to in path:
        if to == "approved":
            assert assess(api, rid).status_code == 200
        move(api, rid, to, "producer" if to == "withdrawn" else "officer")
    assert api.ok(api.get(f"/api/requests/{rid}"))["status"] == status
    return rid


def lender_with_money(api: Api, amount: str) -> tuple[str, str]:
    lender_id = make_party(api, "lender", "Mag2 Finance Milano")
    pool_id = api.ok(api.get(f"/api/pools?lender_id={lender_id}"))["items"][0]["id"]
    if amount:
        api.ok(api.post(f"/api/pools/{pool_id}/deposits",
                        {"amount": eur(amount), "date": "2026-01-10"}), 201)
    return lender_id, pool_id


def prepayment_terms(gas_id: str, amount: str) -> dict[str, Any]:
    return {"gas_id": gas_id, "amount": eur(amount), "product": "taleggio", "unit": "kg",
            "unit_price": eur("12.50"), "expires_on": "2027-03-01", "on_expiry": "refund"}


# -- submission and visibility ------------------------------------------------------------


def test_submit_with_business_description_and_who_sees_it(api: Api) -> None:
    req = submit(api, business={
        "description": "cheese from 40 cows", "revenue": eur("180000.00"),
        "costs": eur("150000.00"), "existing_debts": eur("0"), "workers": 4,
        "hectares": "35.5", "certifications": ["organic"]},
        social_notes="two young workers hired", environmental_notes="pasture only",
        links=["https://example.org/caseificio"])
    assert req["status"] == "submitted" and req["amount"] == eur("30000.00")
    assert req["business"]["revenue"] == eur("180000.00")
    assert req["business"]["existing_debts"] == eur("0.00")
    assert req["business"]["hectares"] == "35.5"
    assert req["gas_ids"] == [api.parties["gas"]] and req["instruments"] is None
    assert req["assessment"] is None and req["terms"] is None
    [created] = req["history"]
    assert created["from_status"] is None and created["to_status"] == "submitted"
    assert created["by"] == "producer"
    rid = req["id"]
    # The named GAS sees the request, without assessment, terms or history.
    seen = api.ok(api.get(f"/api/requests/{rid}", "gas"))
    assert seen["purpose"] == "a new cheese cellar"
    assert "history" not in seen and "assessment" not in seen and "terms" not in seen
    for who in ("other_gas", "other_producer"):
        assert api.get(f"/api/requests/{rid}", who).status_code == 404
        assert api.ok(api.get("/api/requests", who))["items"] == []
    assert [i["id"] for i in api.ok(api.get("/api/requests", "gas"))["items"]] == [rid]
    assert api.get("/api/requests/not-a-uuid").status_code == 404
    assert api.get(f"/api/requests/{new_id()}").status_code == 404
    # An officer submits on a producer's behalf; the history names the officer.
    on_behalf = submit(api, "officer", producer_id=api.parties["other_producer"])
    assert on_behalf["history"][0]["by"] == "officer"


def test_submit_refusals(api: Api) -> None:
    producer = api.parties["producer"]
    base = {"producer_id": producer, "amount": eur("5000.00"), "purpose": "a tractor",
            "instrument": "loan", "term_months": 36}
    for bad, field in [({"amount": {"amount": 5000, "currency": "EUR"}}, "amount"),
                       ({"amount": eur("5000.001")}, "amount"),
                       ({"instrument": "grant"}, "instrument"),
                       ({"term_months": 0}, "term_months"),
                       ({"purpose": "  "}, "purpose"),
                       ({"needed_by": "2026-02-30"}, "needed_by"),
                       ({"gas_ids": ["x"]}, "gas_ids.0"),
                       ({"business": {"workers": 2.5}}, "business.workers"),
                       ({"links": ["ftp://x"]}, "links.0")]:
        r = api.post("/api/requests", {**base, **bad}, "producer")
        assert r.status_code == 422, (bad, r.text)
        assert any(e["field"].startswith(field) for e in r.json()["errors"]), (bad, r.json())
    r = api.post("/api/requests", {**base, "colour": "red"}, "producer")
    assert r.status_code == 422 and "colour" in r.json()["detail"]
    r = api.post("/api/requests", {**base, "producer_id": new_id()})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "producer_id"
    r = api.post("/api/requests", {**base, "gas_ids": [api.parties["other_producer"]]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "gas_ids.0"
    other = {**base, "producer_id": api.parties["other_producer"]}
    assert api.post("/api/requests", other, "producer").status_code == 403
    assert api.post("/api/requests", base, "gas").status_code == 403
    assert api.post("/api/requests", base, None).status_code == 401
    assert api.ok(api.get("/api/requests"))["items"] == []


# -- the state machine over HTTP -----------------------------------------------------------

# (status, to, who, note, expected code, expected `allowed` on a 409)
WORKFLOW = [
    ("submitted", "under_review", "officer", "", 200, None),
    ("submitted", "withdrawn", "producer", "", 200, None),
    ("submitted", "withdrawn", "officer", "asked by phone", 200, None),
    ("submitted", "withdrawn", "officer", "  ", 409, ["under_review", "withdrawn"]),
    ("submitted", "approved", "officer", "", 409, ["under_review", "withdrawn"]),
    ("submitted", "approved", "producer", "", 403, None),
    ("submitted", "under_review", "gas", "", 403, None),
    ("submitted", "under_review", "other_producer", "", 404, None),
    ("submitted", "under_review", "other_gas", "", 404, None),
    ("under_review", "needs_info", "officer", "send the lease", 200, None),
    ("under_review", "rejected", "admin", "", 200, None),
    ("under_review", "approved", "officer", "", 409, ["needs_info", "approved", "rejected"]),
    ("under_review", "withdrawn", "producer", "", 409, ["needs_info", "approved", "rejected"]),
    ("needs_info", "submitted", "producer", "lease attached", 200, None),
    ("needs_info", "submitted", "officer", "", 403, None),
    ("needs_info", "withdrawn", "producer", "", 200, None),
    ("needs_info", "under_review", "officer", "", 409, ["submitted", "withdrawn"]),
    ("approved", "rejected", "officer", "", 409, []),
    ("approved", "withdrawn", "producer", "", 409, []),
    ("rejected", "under_review", "officer", "", 409, []),
    ("withdrawn", "submitted", "producer", "", 409, []),
]


def test_workflow_table_over_http(api: Api) -> None:
    for status, to, who, note, code, allowed in WORKFLOW:
        rid = at_status(api, status)
        before = api.ok(api.get(f"/api/requests/{rid}"))
        r = api.post(f"/api/requests/{rid}/transitions", {"to": to, "note": note}, who)
        case = (status, to, who)
        assert r.status_code == code, (case, r.text)
        after = api.ok(api.get(f"/api/requests/{rid}"))
        if code == 200:
            assert after["status"] == to, case
            last = after["history"][-1]
            assert (last["from_status"], last["to_status"], last["by"]) == (status, to, who)
            assert last["note"] == (note.strip() or None)
            assert after["history"][:-1] == before["history"], case
        else:
            assert after == before, case  # a refusal changes nothing
        if code == 409:
            assert r.json()["code"] == "invalid_transition", case
            assert r.json()["allowed"] == allowed, case


def test_approval_needs_an_assessment(api: Api) -> None:
    rid = at_status(api, "under_review")
    r = api.post(f"/api/requests/{rid}/transitions", {"to": "approved", "note": ""})
    assert r.status_code == 409 and "assessment" in r.json()["detail"]
    assert assess(api, rid).status_code == 200
    assert move(api, rid, "approved")["status"] == "approved"


def test_order_of_refusals(api: Api) -> None:
    rid = at_status(api, "submitted")
    # 422 first: a bad body answers 422 even where the user would get a 404.
    r = api.post(f"/api/requests/{rid}/transitions", {"to": "funded", "note": ""},
                 "other_producer")
    assert r.status_code == 422
    r = assess(api, rid, "other_gas", economic_score=11)
    assert r.status_code == 422
    # 404 before 403 and 409: the move is refused by role and by state, but the
    # request is not the other producer's.
    assert move(api, rid, "approved", "other_producer", status=404)
    assert assess(api, rid, "other_gas").status_code == 404
    # 403 before 409: the GAS sees the request, its role may not act.
    assert move(api, rid, "approved", "gas", status=403)
    assert assess(api, rid, "gas").status_code == 403
    assert assess(api, rid, "producer").status_code == 403
    r = api.put(f"/api/requests/{rid}/terms",
                {"prepayments": [prepayment_terms(api.parties["gas"], "100.00")]}, "producer")
    assert r.status_code == 403
    assert api.post(f"/api/requests/{rid}/funding", {"date": "2026-03-01"},
                    "producer").status_code == 403
    # 409 last: officers may act, the status refuses.
    r = api.put(f"/api/requests/{rid}/terms",
                {"prepayments": [prepayment_terms(api.parties["gas"], "100.00")]})
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    r = api.post(f"/api/requests/{rid}/funding", {"date": "2026-03-01"})
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    assert r.json()["allowed"] == ["under_review", "withdrawn"]
    # Approved without terms: funding is refused, saying so.
    rid = at_status(api, "approved")
    r = api.post(f"/api/requests/{rid}/funding", {"date": "2026-03-01"})
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    assert "terms" in r.json()["detail"]


# -- assessment and terms -------------------------------------------------------------------


def test_assessment(api: Api) -> None:
    rid = at_status(api, "under_review")
    for bad in ({"economic_score": 11}, {"social_score": -1}, {"economic_score": 7.5},
                {"economic_score": True}, {"decision_date": "tomorrow"}):
        r = assess(api, rid, **bad)
        assert r.status_code == 422, (bad, r.text)
    body = api.ok(assess(api, rid, economic_score=6, social_score=9,
                         site_visit_date="2026-02-10", decision_reference="CdA 2026/07"))
    # Equal weight: (6 + 9) / 2.
    assert body["score"] == "7.50" and body["assessed_by"] == "officer"
    assert body["site_visit_date"] == "2026-02-10" and body["decision_date"] is None
    again = api.ok(assess(api, rid, economic_score=6, social_score=9,
                          site_visit_date="2026-02-10", decision_reference="CdA 2026/07"))
    assert again == body  # same body: no new version, same answer
    seen = api.ok(api.get(f"/api/requests/{rid}", "producer"))
    assert seen["assessment"] == body and seen["status"] == "under_review"
    assert api.ok(api.get(f"/api/requests/{rid}/assessment", "producer")) == body
    assert api.get(f"/api/requests/{rid}/assessment", "gas").status_code == 403
    changed = api.ok(assess(api, rid, economic_score=5, social_score=8, notes="revised"))
    assert changed["score"] == "6.50" and changed["notes"] == "revised"


def test_terms_validation(api: Api) -> None:
    lender_id, _ = lender_with_money(api, "")
    rid = at_status(api, "under_review")
    gas = api.parties["gas"]
    cases = [
        ({}, "loan"),
        ({"guarantees": [{"guarantor_id": gas, "amount": eur("10.00")}],
          "prepayments": [prepayment_terms(gas, "100.00")]}, "guarantees"),
        ({"loan": {**LOAN, "lender_id": lender_id, "term_months": 0}}, "loan.term_months"),
        ({"loan": {**LOAN, "lender_id": new_id()}}, "loan.lender_id"),
        ({"loan": {**LOAN, "lender_id": lender_id, "category": "housing"}}, "loan.category"),
        ({"prepayments": [{**prepayment_terms(gas, "100.00"), "on_expiry": "keep"}]},
         "prepayments.0.on_expiry"),
        ({"prepayments": [prepayment_terms(api.parties["producer"], "100.00")]},
         "prepayments.0.gas_id"),
        ({"loan": {**LOAN, "lender_id": lender_id},
          "guarantees": [{"guarantor_id": api.parties["producer"], "amount": eur("1.00")}]},
         "guarantees.0.guarantor_id"),
    ]
    for body, field in cases:
        r = api.put(f"/api/requests/{rid}/terms", body)
        assert r.status_code == 422, (body, r.text)
        assert any(e["field"] == field for e in r.json()["errors"]), (field, r.json())
    r = api.put(f"/api/requests/{rid}/terms",
                {"loan": {**LOAN, "lender_id": lender_id, "borrower_id": gas}})
    assert r.status_code == 422 and "borrower_id" in r.json()["detail"]
    assert api.ok(api.get(f"/api/requests/{rid}"))["terms"] is None


# -- the whole path -------------------------------------------------------------------------


def test_full_path_to_funding_with_retries(api: Api) -> None:
    lender_id, pool_id = lender_with_money(api, "50000.00")
    gas, other_gas = api.parties["gas"], api.parties["other_gas"]
    for party, capacity in ((gas, "15000.00"), (other_gas, "10000.00")):
        api.ok(api.put(f"/api/parties/{party}/pledge-capacity", {"amount": eur(capacity)}))

    def twice(path: str, body: dict[str, Any], who: str, status: int = 200) -> Any:
        """Send a command, then the same again: the answer is the same and nothing
        changes (the request's history stays as the first call left it)."""
        first = api.ok(api.post(path, body, who), status)
        snapshot = api.ok(api.get(f"/api/requests/{first['id']}"))
        assert api.ok(api.post(path, body, who), status) == first
        assert api.ok(api.get(f"/api/requests/{first['id']}")) == snapshot
        return first

    create = {"id": new_id(), "producer_id": api.parties["producer"],
              "amount": eur("30000.00"), "purpose": "a new cheese cellar",
              "instrument": "mixed", "term_months": 24, "gas_ids": [gas, other_gas]}
    req = twice("/api/requests", create, "producer", 201)
    rid = req["id"]
    assert len(api.ok(api.get("/api/requests"))["items"]) == 1

    def step(to: str, who: str, note: str = "") -> Any:
        return twice(f"/api/requests/{rid}/transitions",
                     {"id": new_id(), "to": to, "note": note}, who)

    step("under_review", "officer")
    step("needs_info", "officer", "please send the cellar's quote")
    todo = api.ok(api.get("/api/requests/todo"))
    assert todo["in_review"]["count"] == 0 and todo["waiting_review"]["count"] == 0
    step("submitted", "producer", "quote attached")
    todo = api.ok(api.get("/api/requests/todo"))
    assert [i["id"] for i in todo["info_provided"]["items"]] == [rid]
    assert todo["waiting_review"]["count"] == 0
    step("under_review", "officer")
    assert [i["id"] for i in api.ok(api.get("/api/requests/todo"))["in_review"]["items"]] \
        == [rid]
    assert api.ok(api.get("/api/requests/todo", "admin"))["in_review"]["count"] == 0
    assessment = api.ok(assess(api, rid, economic_score=7, social_score=8,
                               decision_date="2026-02-20"))
    assert api.ok(assess(api, rid, economic_score=7, social_score=8,
                         decision_date="2026-02-20")) == assessment
    step("approved", "officer", "board meeting of 20 February")
    assert [i["id"] for i in api.ok(api.get("/api/requests/todo"))["to_fund"]["items"]] \
        == [rid]

    terms = {"loan": {**LOAN, "lender_id": lender_id},
             "prepayments": [prepayment_terms(gas, "6000.00"),
                             prepayment_terms(other_gas, "4000.00")],
             "guarantees": [{"guarantor_id": gas, "amount": eur("12000.00")},
                            {"guarantor_id": other_gas, "amount": eur("8000.00")}]}
    set_terms = api.ok(api.put(f"/api/requests/{rid}/terms", terms))
    assert set_terms["total"] == eur("30000.00")
    assert set_terms["guaranteed"] == eur("20000.00")
    assert api.ok(api.put(f"/api/requests/{rid}/terms", terms)) == set_terms
    assert api.ok(api.get(f"/api/requests/{rid}/terms", "producer")) == set_terms

    funding = {"id": new_id(), "date": "2026-03-01"}
    funded = twice(f"/api/requests/{rid}/funding", funding, "officer")
    assert funded["status"] == "funded" and funded["funded_on"] == "2026-03-01"
    instruments = funded["instruments"]
    assert len(instruments["prepayment_ids"]) == 2 and len(instruments["guarantee_ids"]) == 2
    r = api.post(f"/api/requests/{rid}/funding", {**funding, "date": "2026-03-02"})
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict"
    r = api.post(f"/api/requests/{rid}/funding", {"id": new_id(), "date": "2026-03-01"})
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"
    r = api.put(f"/api/requests/{rid}/terms", terms)
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"

    # The ledger holds exactly the approved package, once.
    loan = api.ok(api.get(f"/api/loans/{instruments['loan_id']}"))
    assert loan["status"] == "active" and loan["principal"] == eur("20000.00")
    assert loan["borrower_id"] == api.parties["producer"] and loan["lender_id"] == lender_id
    assert loan["request_id"] == rid
    assert loan["outstanding_principal"] == eur("20000.00")
    assert len(api.ok(api.get(f"/api/loans?borrower_id={api.parties['producer']}"))["items"]) \
        == 1
    pool = api.ok(api.get(f"/api/pools/{pool_id}"))
    assert pool["balance"] == eur("30000.00") and pool["lent"] == eur("20000.00")
    prepaid = [api.ok(api.get(f"/api/prepayments/{p}")) for p in instruments["prepayment_ids"]]
    assert [(p["gas_id"], p["paid"], p["remaining"], p["status"]) for p in prepaid] == [
        (gas, eur("6000.00"), eur("6000.00"), "open"),
        (other_gas, eur("4000.00"), eur("4000.00"), "open")]
    assert all(p["producer_id"] == api.parties["producer"] and p["request_id"] == rid
               for p in prepaid)
    pledges = [api.ok(api.get(f"/api/guarantees/{g}")) for g in instruments["guarantee_ids"]]
    assert [(g["guarantor_id"], g["amount"], g["status"]) for g in pledges] == [
        (gas, eur("12000.00"), "active"), (other_gas, eur("8000.00"), "active")]
    # The answer names what it made as people do: references, and names beside ids.
    name = {p: api.ok(api.get(f"/api/parties/{p}"))["name"] for p in (lender_id, gas, other_gas)}
    assert instruments["loan"] == {
        "id": loan["id"], "reference": loan["reference"], "lender_id": lender_id,
        "lender_name": name[lender_id], "principal": eur("20000.00")}
    assert loan["reference"].startswith("PRE-2026-")
    assert instruments["prepayments"] == [
        {"id": p["id"], "reference": p["reference"], "gas_id": p["gas_id"],
         "gas_name": name[p["gas_id"]], "amount": p["amount"]} for p in prepaid]
    assert [p["reference"][:9] for p in instruments["prepayments"]] == ["PRF-2026-"] * 2
    assert instruments["guarantees"] == [
        {"id": g["id"], "reference": g["reference"], "guarantor_id": g["guarantor_id"],
         "guarantor_name": name[g["guarantor_id"]], "amount": g["amount"]} for g in pledges]
    assert [g["reference"][:9] for g in instruments["guarantees"]] == ["GAR-2026-"] * 2
    # The package's prepayments were paid and its pledges signed on the funding day.
    assert {p["date"] for p in prepaid} == {g["date"] for g in pledges} == {"2026-03-01"}
    cover = api.ok(api.get(f"/api/loans/{instruments['loan_id']}/guarantees"))
    assert cover["coverage"] == "1.00"  # 20,000.00 pledged over 20,000.00 outstanding
    capacity = api.ok(api.get(f"/api/parties/{gas}/pledge-capacity"))
    assert capacity["pledged"] == eur("12000.00") and capacity["free"] == eur("3000.00")
    assert api.ok(api.get("/api/ledger/verify"))["ok"] is True

    history = api.ok(api.get(f"/api/requests/{rid}", "producer"))["history"]
    assert [(h["from_status"], h["to_status"], h["by"]) for h in history] == [
        (None, "submitted", "producer"), ("submitted", "under_review", "officer"),
        ("under_review", "needs_info", "officer"), ("needs_info", "submitted", "producer"),
        ("submitted", "under_review", "officer"), ("under_review", "approved", "officer"),
        ("approved", "funded", "officer")]
    assert history[2]["note"] == "please send the cellar's quote"
    assert api.ok(api.get("/api/requests/todo"))["to_fund"]["count"] == 0
    # The GAS sees the outcome, not the history.
    seen = api.ok(api.get(f"/api/requests/{rid}", "other_gas"))
    assert seen["status"] == "funded" and seen["instruments"] == instruments


def test_funding_is_all_or_nothing(api: Api) -> None:
    lender_id, pool_id = lender_with_money(api, "")
    gas = api.parties["gas"]
    api.ok(api.put(f"/api/parties/{gas}/pledge-capacity", {"amount": eur("5000.00")}))
    rid = at_status(api, "approved")
    terms = {"loan": {**LOAN, "lender_id": lender_id},
             "prepayments": [prepayment_terms(gas, "1000.00")],
             "guarantees": [{"guarantor_id": gas, "amount": eur("5000.00")}]}
    api.ok(api.put(f"/api/requests/{rid}/terms", terms))
    before = api.ok(api.get(f"/api/requests/{rid}"))
    funding = {"id": new_id(), "date": "2026-03-01"}

    def nothing_changed() -> None:
        assert api.ok(api.get(f"/api/requests/{rid}")) == before
        assert api.ok(api.get("/api/loans"))["items"] == []
        assert api.ok(api.get("/api/prepayments"))["items"] == []
        assert api.ok(api.get(f"/api/parties/{gas}/pledge-capacity"))["pledged"] == \
            eur("0.00")
        assert api.ok(api.get(f"/api/pools/{pool_id}"))["balance"] == eur("0.00")

    # The pool is empty: the disbursement fails after the loan and its guarantee.
    r = api.post(f"/api/requests/{rid}/funding", funding)
    assert r.status_code == 409 and r.json()["code"] == "insufficient_funds"
    nothing_changed()
    api.ok(api.post(f"/api/pools/{pool_id}/deposits",
                    {"amount": eur("20000.00"), "date": "2026-01-10"}), 201)
    # A guarantee beyond the guarantor's capacity.
    api.ok(api.put(f"/api/requests/{rid}/terms", {
        **terms, "guarantees": [{"guarantor_id": gas, "amount": eur("5000.01")}]}))
    before = api.ok(api.get(f"/api/requests/{rid}"))
    r = api.post(f"/api/requests/{rid}/funding", funding)
    assert r.status_code == 409 and r.json()["code"] == "exceeds_capacity"
    assert api.ok(api.get(f"/api/requests/{rid}")) == before
    assert api.ok(api.get("/api/loans"))["items"] == []
    # Terms outside the loan category.
    api.ok(api.put(f"/api/requests/{rid}/terms", {
        **terms, "loan": {**LOAN, "lender_id": lender_id, "frequency": "annual",
                          "term_months": 24}}))
    r = api.post(f"/api/requests/{rid}/funding", funding)
    assert r.status_code == 409 and r.json()["code"] == "loan_limit_exceeded"
    # Fixed terms; the refused id may be sent again.
    api.ok(api.put(f"/api/requests/{rid}/terms", terms))
    funded = api.ok(api.post(f"/api/requests/{rid}/funding", funding))
    assert funded["status"] == "funded"
    assert api.ok(api.get(f"/api/pools/{pool_id}"))["balance"] == eur("0.00")


def test_closed_when_loan_repaid_and_prepayments_closed(api: Api) -> None:
    lender_id, _ = lender_with_money(api, "5000.00")
    gas = api.parties["gas"]
    rid = at_status(api, "approved")
    loan_terms = {**LOAN, "principal": eur("1200.00"), "term_months": 12,
                  "lender_id": lender_id}
    api.ok(api.put(f"/api/requests/{rid}/terms", {
        "loan": loan_terms, "prepayments": [prepayment_terms(gas, "500.00")]}))
    funded = api.ok(api.post(f"/api/requests/{rid}/funding", {"date": "2026-03-01"}))
    loan_id = funded["instruments"]["loan_id"]
    [prepayment_id] = funded["instruments"]["prepayment_ids"]
    # More than the whole debt on the first due date: the loan is repaid.
    paid = api.ok(api.post(f"/api/loans/{loan_id}/repayments",
                           {"amount": eur("2000.00"), "date": "2026-04-01"}))
    assert paid["loan"]["status"] == "repaid"
    assert Decimal(paid["allocation"]["excess"]["amount"]) > 0
    assert api.ok(api.get(f"/api/requests/{rid}"))["status"] == "funded"
    api.ok(api.post(f"/api/prepayments/{prepayment_id}/deliveries",
                    {"date": "2026-05-01", "quantity": "8"}))
    api.ok(api.post(f"/api/prepayments/{prepayment_id}/close", {"date": "2026-06-01"}))
    req = api.ok(api.get(f"/api/requests/{rid}", "producer"))
    assert req["status"] == "closed"
    last = req["history"][-1]
    assert (last["from_status"], last["to_status"], last["by"]) == \
        ("funded", "closed", "system")
    assert prepayment_id in last["note"]


# -- GAS interest ---------------------------------------------------------------------------


def test_gas_declares_interest(api: Api) -> None:
    gas = api.parties["gas"]
    rid = submit(api)["id"]
    body = {"id": new_id(), "kind": "prepayment", "amount": eur("2000.00"),
            "note": "after the summer"}
    first = api.ok(api.post(f"/api/requests/{rid}/interests", body, "gas"), 201)
    assert first["gas_id"] == gas and first["amount"] == eur("2000.00")
    assert api.ok(api.post(f"/api/requests/{rid}/interests", body, "gas"), 201) == first
    r = api.post(f"/api/requests/{rid}/interests", {**body, "amount": eur("1.00")}, "gas")
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict"
    r = api.post(f"/api/requests/{rid}/interests", {**body, "kind": "grant"}, "gas")
    assert r.status_code == 422
    assert api.post(f"/api/requests/{rid}/interests", {"kind": "guarantee",
                    "amount": eur("1.00")}, "other_gas").status_code == 404
    assert api.post(f"/api/requests/{rid}/interests", {"kind": "guarantee",
                    "amount": eur("1.00")}, "producer").status_code == 403
    r = api.post(f"/api/requests/{rid}/interests", {"kind": "guarantee",
                 "amount": eur("1.00")})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "gas_id"
    api.ok(api.post(f"/api/requests/{rid}/interests", {
        "kind": "guarantee", "amount": eur("3000.00"),
        "gas_id": api.parties["other_gas"]}), 201)
    assert len(api.ok(api.get(f"/api/requests/{rid}/interests", "producer"))["items"]) == 2
    mine = api.ok(api.get(f"/api/requests/{rid}/interests", "gas"))["items"]
    assert [i["id"] for i in mine] == [first["id"]]
    move(api, rid, "withdrawn", "producer")
    r = api.post(f"/api/requests/{rid}/interests", {"kind": "guarantee",
                 "amount": eur("1.00")}, "gas")
    assert r.status_code == 409 and r.json()["code"] == "closed"


def test_interest_of_a_kind_is_replaced_and_withdrawn(api: Api) -> None:
    """API.md, "Declared interest": one current interest per GAS and kind, with the
    GAS's name; ``DELETE .../interests/{kind}`` withdraws it; matching reads the current
    one only."""
    gas = api.parties["gas"]
    rid = submit(api)["id"]
    path = f"/api/requests/{rid}/interests"
    first = api.ok(api.post(path, {"kind": "prepayment", "amount": eur("2000.00")}, "gas"),
                   201)
    assert first["gas_name"] == "GAS Gasabile Milano Isola" and first["at"]
    second = api.ok(api.post(path, {"kind": "prepayment", "amount": eur("2500.00")}, "gas"),
                    201)
    api.ok(api.post(path, {"kind": "guarantee", "amount": eur("900.00")}, "gas"), 201)
    items = api.ok(api.get(path, "producer"))["items"]
    assert [(i["id"], i["kind"], i["amount"], i["gas_name"]) for i in items] == [
        (second["id"], "prepayment", eur("2500.00"), "GAS Gasabile Milano Isola"),
        (items[1]["id"], "guarantee", eur("900.00"), "GAS Gasabile Milano Isola")]
    reasons = [r for o in api.ok(api.get(f"/api/requests/{rid}/opportunities"))["items"]
               if o["source_id"] == gas for r in o["reasons"]]
    assert "declared interest in prepaying 2,500.00 EUR" in reasons

    # Who may withdraw: not the producer, not another GAS (it does not see the request).
    assert api.client.delete(f"{path}/prepayment",
                             headers=api.headers("producer")).status_code == 403
    assert api.client.delete(f"{path}/prepayment",
                             headers=api.headers("other_gas")).status_code == 404
    r = api.client.delete(f"{path}/grant", headers=api.headers("gas"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"
    r = api.client.delete(f"{path}/prepayment", headers=api.headers("officer"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "gas_id"

    r = api.client.delete(f"{path}/prepayment", headers=api.headers("gas"))
    assert r.status_code == 204 and not r.content
    assert api.client.delete(f"{path}/prepayment",
                             headers=api.headers("gas")).status_code == 404
    assert [i["kind"] for i in api.ok(api.get(path, "gas"))["items"]] == ["guarantee"]
    # An officer withdraws for a GAS.
    r = api.client.delete(f"{path}/guarantee?gas_id={gas}", headers=api.headers("officer"))
    assert r.status_code == 204
    assert api.ok(api.get(path))["items"] == []
    # A request that is no longer open keeps its interests as they were.
    api.ok(api.post(path, {"kind": "guarantee", "amount": eur("100.00")}, "gas"), 201)
    move(api, rid, "withdrawn", "producer")
    r = api.client.delete(f"{path}/guarantee", headers=api.headers("gas"))
    assert r.status_code == 409 and r.json()["code"] == "closed"
    assert len(api.ok(api.get(path))["items"]) == 1


# -- lists ----------------------------------------------------------------------------------


def test_list_filters_sort_and_cursor(api: Api) -> None:
    amounts = ["5000.00", "12000.00", "800.00", "12000.00", "30000.00"]
    ids = [submit(api, amount=eur(a), needed_by=None if i == 2 else f"2026-0{i + 4}-01")["id"]
           for i, a in enumerate(amounts)]
    move(api, ids[1], "under_review")
    other = submit(api, "officer", producer_id=api.parties["other_producer"], gas_ids=[])

    def listed(query: str, who: str = "officer") -> list[str]:
        return [i["id"] for i in api.ok(api.get(f"/api/requests?{query}", who))["items"]]

    assert listed("") == [*ids, other["id"]]
    assert listed("status=under_review") == [ids[1]]
    assert listed("status=submitted,under_review&producer_id="
                  + api.parties["other_producer"]) == [other["id"]]
    assert listed("amount_min=5000&amount_max=12000.00") == [ids[0], ids[1], ids[3]]
    assert listed("sort=-created_at&limit=2") == [other["id"], ids[4]]
    assert listed(f"gas_id={api.parties['gas']}") == ids
    assert listed("created_from=2000-01-01&created_to=2000-12-31") == []
    assert listed("created_from=2000-01-01") == [*ids, other["id"]]
    assert listed("", "producer") == ids
    # Walk by amount, largest first, two at a time; ties keep creation order reversed.
    seen: list[str] = []
    cursor = None
    while True:
        q = "sort=-amount&limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = api.ok(api.get(f"/api/requests?{q}", "producer"))
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [ids[4], ids[3], ids[1], ids[0], ids[2]]
    # needed_by ascending, requests without one last.
    assert listed("sort=needed_by", "producer") == [ids[0], ids[1], ids[3], ids[4], ids[2]]
    for bad in ("sort=purpose", "status=open", "amount_min=1e3", "limit=0",
                "created_from=yesterday", "cursor=abc"):
        assert api.get(f"/api/requests?{bad}").status_code == 422, bad
    assert api.get("/api/requests/todo", "producer").status_code == 403


def test_list_names_every_bad_filter_at_once(api: Api) -> None:
    r = api.get("/api/requests?status=submitted,open&instrument=grant&producer_id=p"
                "&gas_id=g&created_from=yesterday&created_to=2026-02-30&amount_min=1e3"
                "&amount_max=-1")
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [
        "status", "instrument", "producer_id", "gas_id", "created_from", "created_to",
        "amount_min", "amount_max"]


def test_an_officers_interest_names_the_missing_gas_beside_the_bad_fields(api: Api
                                                                          ) -> None:
    rid = submit(api)["id"]
    r = api.post(f"/api/requests/{rid}/interests",
                 {"kind": "grant", "amount": eur("0"), "note": " "})
    assert r.status_code == 422, r.text
    assert [(e["field"], e["message"]) for e in r.json()["errors"]] == [
        ("kind", "one of prepayment, guarantee"), ("amount.amount", "amount must be positive"),
        ("gas_id", "required when an officer records a GAS's interest")]
    r = api.client.delete(f"/api/requests/{rid}/interests/grant?gas_id=g",
                          headers=api.headers("officer"))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["gas_id", "kind"]


def test_terms_leave_the_disbursement_date_to_the_funding(api: Api) -> None:
    """API.md: the terms' ``disbursement_date`` is optional, the funding's ``date``
    supplies it, and the schedule runs from that day."""
    lender_id, _ = lender_with_money(api, "20000.00")
    rid = at_status(api, "approved")
    loan = {k: v for k, v in LOAN.items() if k != "disbursement_date"}
    loan.update(principal=eur("12000.00"), term_months=12, lender_id=lender_id)
    bad = api.put(f"/api/requests/{rid}/terms",
                  {"loan": {**loan, "disbursement_date": "2026-02-30"}})
    assert bad.status_code == 422 and "loan.disbursement_date" in bad.text
    assert "terms" not in api.ok(api.get(f"/api/requests/{rid}")) or \
        api.ok(api.get(f"/api/requests/{rid}"))["terms"] is None
    terms = api.ok(api.put(f"/api/requests/{rid}/terms", {"loan": loan}))
    assert terms["loan"]["disbursement_date"] is None
    assert api.ok(api.get(f"/api/requests/{rid}"))["terms"]["loan"][
        "disbursement_date"] is None

    funded = api.ok(api.post(f"/api/requests/{rid}/funding", {"date": "2026-03-10"}))
    made = api.ok(api.get(f"/api/loans/{funded['instruments']['loan_id']}"))
    assert made["disbursement_date"] == "2026-03-10" and made["status"] == "active"
    schedule = made["schedule"]
    assert [i["due_date"] for i in schedule[:3]] == ["2026-04-10", "2026-05-10",
                                                      "2026-06-10"]
    # The French installment by hand: P r / (1 - (1 + r)^-n), r = 3% / 12, to the cent.
    r = Decimal("0.03") / 12
    payment = (Decimal("12000") * r / (1 - (1 + r) ** -12)).quantize(Decimal("0.01"))
    assert schedule[0]["payment"] == eur(str(payment)) == eur("1016.32")
    assert schedule[0]["interest"] == eur("30.00")
    assert sum(Decimal(i["principal"]["amount"]) for i in schedule) == Decimal("12000.00")
