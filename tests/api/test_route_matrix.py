"""The authorization matrix, generated from the app's route table (API.md, "Hardening").

Every route the Litestar app serves (the API, the pages, the documents), every method,
is asked by each role: nobody (no credentials), an admin, an officer, the producer and
the GAS that own the resources named in the path, and a producer and a GAS of their own
that do not (another party's ids). ``MATRIX`` says what each must get, keyed by
(method, route); a route missing from it, or an entry naming no route, fails the test,
so a new endpoint cannot escape. Beyond the table, whatever the route: never a 5xx, and
a producer or GAS user that does not own the world's resources never gets a 2xx whose
body names any of them (no 200 with another party's data).

``OK`` means "let through": not 401, 403 or 404 (a 409 or 422 about the state or the
body is the business's answer, past authorization). Pages answer 404 for 403 as well
(they never say a page exists to someone who may not see it) and send a visitor without
a session to the login page (303).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar.routes import HTTPRoute

from service.settings import Settings
from tests.api.conftest import PASSWORD, Api, eur, make_party

ROLES = ("anon", "admin", "officer", "producer", "gas", "oprod", "ogas")
USERS = {"admin": "admin", "officer": "officer", "producer": "producer", "gas": "gas",
         "oprod": "other_producer", "ogas": "other_gas"}
OK = "ok"
REFUSALS = (401, 403, 404)
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
DAY = "2026-12-01"
CSRF_SEED = "matrix-seed"


def exp(anon: Any = 401, admin: Any = OK, officer: Any = OK, producer: Any = OK,
        gas: Any = OK, oprod: Any = OK, ogas: Any = OK) -> dict[str, Any]:
    return {"anon": anon, "admin": admin, "officer": officer, "producer": producer,
            "gas": gas, "oprod": oprod, "ogas": ogas}


# Shapes that repeat.
ALL = exp()
PUBLIC = exp(anon=OK)
STAFF = exp(producer=403, gas=403, oprod=403, ogas=403)
STAFF_404 = exp(producer=404, gas=404, oprod=404, ogas=404)
ADMIN = exp(officer=403, producer=403, gas=403, oprod=403, ogas=403)
# A loan: its borrower and the GAS guaranteeing it read it; officers act on it.
LOAN_READ = exp(oprod=404, ogas=404)
LOAN_ACT = exp(producer=403, gas=403, oprod=404, ogas=404)
GAS_OWN = exp(producer=404, oprod=404, ogas=404)  # the GAS's own, officers'
PAGE = exp(anon=303)  # any user
PAGE_STAFF = exp(anon=303, producer=404, gas=404, oprod=404, ogas=404)
PRODUCER_PAGE = exp(anon=303, admin=404, officer=404, gas=404, ogas=404)
GAS_PAGE = exp(anon=303, admin=404, officer=404, producer=404, oprod=404)


@dataclass
class Case:
    url: str  # formatted with the world's ids
    expect: dict[str, Any]
    body: Callable[[dict[str, str]], Any] | None = None
    form: dict[str, str] | None = None  # a page post (CSRF token added)
    fresh_token: bool = False  # the request ends the session it uses
    per_role: dict[str, Any] = field(default_factory=dict)  # body by role (unique names)
    urls: dict[str, str] = field(default_factory=dict)  # url by role (one target each)
    before: Callable[[Api, dict[str, str]], None] | None = None  # before each role's turn


def gdxp_document() -> bytes:
    from tests.gdxp.conftest import document, encode, piva, product, supplier

    return encode(document([supplier("Cascina Bio", piva("1234567001"),
                                     [product("Mele", "0.84", "10")])]))


def loan_terms(w: dict[str, str]) -> dict[str, Any]:
    return {"principal": eur("1000.00"), "annual_rate": "3.00", "term_months": 12,
            "method": "french", "frequency": "monthly", "disbursement_date": "2026-11-15",
            "borrower_id": w["P"], "lender_id": w["L"]}


def prepayment_body(w: dict[str, str]) -> dict[str, Any]:
    return {"producer_id": w["P"], "gas_id": w["G"], "amount": eur("100.00"),
            "product": "Taleggio", "unit": "kg", "unit_price": eur("10.00"),
            "expires_on": "2027-06-30", "on_expiry": "refund", "date": DAY}


def request_body(w: dict[str, str]) -> dict[str, Any]:
    return {"producer_id": w["P"], "amount": eur("3000.00"), "purpose": "Nuova cella frigo",
            "instrument": "loan", "term_months": 24, "gas_ids": [w["G"]]}


LOAN = "/api/loans/{loan}"
REQ = "/api/requests/{request}"
PP = "/api/prepayments/{prepayment}"

# (method, route as the app's route table writes it) -> what each role gets. Destructive
# commands (releases, write-offs, reversals, closes, logout) come last: they run in this
# order and later rows still find what they name.
MATRIX: dict[tuple[str, str], Case] = {
    # -- public ---------------------------------------------------------------------------
    ("POST", "/api/auth/token"): Case("/api/auth/token", exp(
        anon=401, admin=401, officer=401, producer=401, gas=401, oprod=401, ogas=401),
        per_role={r: {"username": f"nobody-{r}", "password": "wrong-password!"}
                  for r in ROLES}),
    ("GET", "/health"): Case("/health", PUBLIC),
    ("GET", "/schema"): Case("/schema", PUBLIC),
    ("GET", "/schema/swagger"): Case("/schema/swagger", PUBLIC),
    ("GET", "/schema/openapi.json"): Case("/schema/openapi.json", PUBLIC),
    ("GET", "/schema/oauth2-redirect.html"): Case("/schema/oauth2-redirect.html", PUBLIC),
    # No such document: the same 404 for everybody, credentials or not.
    ("GET", "/schema/{path:str}"): Case("/schema/nothing-here", exp(
        anon=404, admin=404, officer=404, producer=404, gas=404, oprod=404, ogas=404)),
    ("GET", "/schema/assets/{file_path:path}"): Case("/schema/assets/swagger-ui.css", PUBLIC),
    ("GET", "/static/{file_path:path}"): Case("/static/filiera.css", PUBLIC),
    # -- the user itself ----------------------------------------------------------------
    ("GET", "/api/me"): Case("/api/me", ALL),
    ("POST", "/api/me/password"): Case("/api/me/password", exp(
        admin=422, officer=422, producer=422, gas=422, oprod=422, ogas=422),
        body=lambda w: {"current": "not-the-password", "new": "a-new-long-password"}),
    ("GET", "/api/audit"): Case("/api/audit", ADMIN),
    # -- parties ------------------------------------------------------------------------
    ("GET", "/api/parties"): Case("/api/parties", ALL),
    ("POST", "/api/parties"): Case("/api/parties", STAFF,
                                   body=lambda w: {"kind": "person", "name": "Socia"}),
    ("GET", "/api/parties/{party_id:str}"): Case("/api/parties/{P}", exp(oprod=404, ogas=404)),
    ("PATCH", "/api/parties/{party_id:str}"): Case(
        "/api/parties/{P}", exp(gas=403, oprod=404, ogas=404),
        body=lambda w: {"email": "caseificio@example.org"}),
    ("GET", "/api/relationships"): Case("/api/relationships", ALL),
    ("POST", "/api/relationships"): Case("/api/relationships", STAFF, body=lambda w: {
        "gas_id": w["G"], "producer_id": w["P"], "since": "2015-01-01",
        "annual_purchases": eur("3000.00")}),
    ("GET", "/api/parties/{party_id:str}/pledge-capacity"): Case(
        "/api/parties/{G}/pledge-capacity", GAS_OWN),
    ("PUT", "/api/parties/{party_id:str}/pledge-capacity"): Case(
        "/api/parties/{G}/pledge-capacity", GAS_OWN, body=lambda w: {"amount": eur("9000.00")}),
    # -- raw ledger ---------------------------------------------------------------------
    ("POST", "/api/ledger/accounts"): Case("/api/ledger/accounts", STAFF,
                                           body=lambda w: {"code": "x", "currency": "EUR"}),
    ("GET", "/api/ledger/accounts/{account_id:str}"): Case("/api/ledger/accounts/{account}",
                                                           STAFF_404),
    ("GET", "/api/ledger/transfers"): Case("/api/ledger/transfers", STAFF),
    ("POST", "/api/ledger/transfers"): Case("/api/ledger/transfers", STAFF, body=lambda w: [{
        "id": str(uuid.uuid4()), "debit_account_id": w["account"],
        "credit_account_id": w["account2"], "amount": eur("1.00"), "code": "m"}]),
    ("GET", "/api/ledger/verify"): Case("/api/ledger/verify", STAFF),
    # -- pools, shares, categories --------------------------------------------------------
    ("GET", "/api/pools"): Case("/api/pools", STAFF),
    ("POST", "/api/pools"): Case("/api/pools", STAFF,
                                 body=lambda w: {"lender_id": w["L"], "name": "Fondo B"}),
    ("GET", "/api/pools/{pool_id:str}"): Case("/api/pools/{pool}", STAFF_404),
    ("POST", "/api/pools/{pool_id:str}/deposits"): Case(
        "/api/pools/{pool}/deposits", STAFF_404,
        body=lambda w: {"amount": eur("1.00"), "date": DAY}),
    ("PUT", "/api/pools/{pool_id:str}/match-rule"): Case(
        "/api/pools/{pool}/match-rule", STAFF_404,
        body=lambda w: {"threshold": "0.50", "cap": eur("1000.00")}),
    ("GET", "/api/pools/{pool_id:str}/match-rule"): Case("/api/pools/{pool}/match-rule",
                                                         STAFF_404),
    ("DELETE", "/api/pools/{pool_id:str}/match-rule"): Case(
        "/api/pools/{pool}/match-rule", exp(officer=404, producer=404, gas=404, oprod=404,
                                            ogas=404)),  # the admin deleted it first
    ("GET", "/api/shares"): Case("/api/shares", exp(producer=403, oprod=403)),
    ("POST", "/api/shares"): Case("/api/shares", exp(producer=403, oprod=404, ogas=404),
                                  body=lambda w: {
        "member_id": w["G"], "lender_id": w["L"], "amount": eur("25.00"), "date": DAY}),
    # A lender's categories (its published limits) are read by everybody.
    ("GET", "/api/lenders/{lender_id:str}/categories/{name:str}"): Case(
        "/api/lenders/{L}/categories/microcredit", ALL),
    ("PUT", "/api/lenders/{lender_id:str}/categories/{name:str}"): Case(
        "/api/lenders/{L}/categories/agricolo", STAFF, body=lambda w: {
            "max_principal": eur("20000.00"), "max_term_months": 60,
            "frequencies": ["monthly"]}),
    # -- loans ----------------------------------------------------------------------------
    ("GET", "/api/loans"): Case("/api/loans", exp(gas=403, ogas=403)),
    ("POST", "/api/loans"): Case("/api/loans", STAFF, body=loan_terms),
    ("POST", "/api/loans/simulate"): Case("/api/loans/simulate", ALL, body=lambda w: {
        k: v for k, v in loan_terms(w).items() if k not in ("borrower_id", "lender_id")}),
    ("GET", "/api/loans/{loan_id:str}"): Case(LOAN, LOAN_READ),
    ("GET", "/api/loans/{loan_id:str}/repayments"): Case(LOAN + "/repayments", LOAN_READ),
    ("POST", "/api/loans/{loan_id:str}/repayments"): Case(
        LOAN + "/repayments", LOAN_ACT,
        body=lambda w: {"amount": eur("10.00"), "date": DAY}),
    ("POST", "/api/loans/{loan_id:str}/disbursement"): Case(
        LOAN + "/disbursement", LOAN_ACT, body=lambda w: {"date": "2026-01-15"}),
    ("POST", "/api/loans/{loan_id:str}/reschedule"): Case(
        LOAN + "/reschedule", LOAN_ACT,
        body=lambda w: {"date": DAY, "note": "proroga", "new_periods": 6}),
    ("GET", "/api/arrears"): Case("/api/arrears", STAFF),
    ("GET", "/api/guarantees"): Case("/api/guarantees", ALL),
    ("POST", "/api/guarantees"): Case("/api/guarantees", exp(producer=403, oprod=404,
                                                             ogas=404), body=lambda w: {
        "loan_id": w["loan"], "guarantor_id": w["G"], "amount": eur("10.00"), "date": DAY}),
    ("GET", "/api/guarantees/{guarantee_id:str}"): Case("/api/guarantees/{guarantee}",
                                                        exp(oprod=404, ogas=404)),
    ("GET", "/api/loans/{loan_id:str}/guarantees"): Case(LOAN + "/guarantees", LOAN_READ),
    ("GET", "/api/loans/{loan_id:str}/guarantee-calls"): Case(LOAN + "/guarantee-calls",
                                                              LOAN_READ),
    ("POST", "/api/loans/{loan_id:str}/guarantee-calls"): Case(
        LOAN + "/guarantee-calls", LOAN_ACT,
        body=lambda w: {"amount": eur("5.00"), "date": DAY}),
    ("POST", "/api/loans/{loan_id:str}/guarantees/reduction"): Case(
        LOAN + "/guarantees/reduction", LOAN_ACT, body=lambda w: {"date": DAY}),
    # -- prepayments, contributions, funds ------------------------------------------------
    ("GET", "/api/prepayments"): Case("/api/prepayments", ALL),
    ("POST", "/api/prepayments"): Case("/api/prepayments", exp(producer=403, oprod=404,
                                                               ogas=404),
                                       body=prepayment_body),
    ("GET", "/api/prepayments/{prepayment_id:str}"): Case(PP, exp(oprod=404, ogas=404)),
    ("POST", "/api/prepayments/{prepayment_id:str}/deliveries"): Case(
        PP + "/deliveries", exp(oprod=404, ogas=404),
        body=lambda w: {"date": DAY, "quantity": "1"}),
    ("GET", "/api/contributions"): Case("/api/contributions", ALL),
    ("POST", "/api/contributions"): Case("/api/contributions", exp(producer=403, oprod=404,
                                                                   ogas=404), body=lambda w: {
        "gas_id": w["G"], "amount": eur("20.00"), "date": DAY}),
    ("GET", "/api/funds"): Case("/api/funds", ALL),
    ("POST", "/api/funds"): Case("/api/funds", STAFF,
                                 body=lambda w: {"name": "Fondo rete", "owner_id": w["L"]}),
    ("GET", "/api/funds/{fund_id:str}"): Case("/api/funds/{fund}", GAS_OWN),
    ("GET", "/api/funds/{fund_id:str}/payouts"): Case("/api/funds/{fund}/payouts", GAS_OWN),
    ("POST", "/api/funds/{fund_id:str}/payouts"): Case(
        "/api/funds/{fund}/payouts", exp(producer=404, gas=403, oprod=404, ogas=404),
        body=lambda w: {"producer_id": w["P"], "amount": eur("1.00"), "date": DAY,
                        "kind": "grant"}),
    # -- funding requests and matching ----------------------------------------------------
    ("GET", "/api/requests"): Case("/api/requests", ALL),
    ("POST", "/api/requests"): Case("/api/requests", exp(gas=403, oprod=403, ogas=403),
                                    body=request_body),
    ("GET", "/api/requests/todo"): Case("/api/requests/todo", STAFF),
    ("GET", "/api/requests/{request_id:str}"): Case(REQ, exp(oprod=404, ogas=404)),
    ("PATCH", "/api/requests/{request_id:str}"): Case(
        REQ, exp(gas=403, oprod=404, ogas=404), body=lambda w: {"purpose": "Cella frigo"}),
    ("POST", "/api/requests/{request_id:str}/transitions"): Case(
        REQ + "/transitions", exp(producer=403, gas=403, oprod=404, ogas=404),
        body=lambda w: {"to": "under_review", "note": "in esame"}),
    ("GET", "/api/requests/{request_id:str}/assessment"): Case(
        REQ + "/assessment", exp(gas=403, oprod=404, ogas=404)),
    ("PUT", "/api/requests/{request_id:str}/assessment"): Case(
        REQ + "/assessment", exp(producer=403, gas=403, oprod=404, ogas=404),
        body=lambda w: {"economic_score": 7, "social_score": 8, "notes": "solida"}),
    ("GET", "/api/requests/{request_id:str}/terms"): Case(
        REQ + "/terms", exp(gas=403, oprod=404, ogas=404)),
    ("PUT", "/api/requests/{request_id:str}/terms"): Case(
        REQ + "/terms", exp(producer=403, gas=403, oprod=404, ogas=404), body=lambda w: {
            "loan": {k: v for k, v in loan_terms(w).items() if k != "borrower_id"}}),
    ("POST", "/api/requests/{request_id:str}/funding"): Case(
        REQ + "/funding", exp(producer=403, gas=403, oprod=404, ogas=404),
        body=lambda w: {"date": DAY}),
    ("GET", "/api/requests/{request_id:str}/interests"): Case(REQ + "/interests",
                                                              exp(oprod=404, ogas=404)),
    ("POST", "/api/requests/{request_id:str}/interests"): Case(
        REQ + "/interests", exp(producer=403, oprod=404, ogas=404),
        body=lambda w: {"kind": "guarantee", "amount": eur("50.00")},
        per_role={r: {"kind": "guarantee", "amount": eur("50.00"), "gas_id": "{G}"}
                  for r in ("admin", "officer")}),
    ("DELETE", "/api/requests/{request_id:str}/interests/{kind:str}"): Case(
        REQ + "/interests/guarantee?gas_id={G}", exp(producer=403, oprod=404, ogas=404),
        before=lambda api, w: api.ok(api.post(f"/api/requests/{w['request']}/interests", {
            "kind": "guarantee", "amount": eur("50.00")}, "gas"), 201)),
    ("GET", "/api/requests/{request_id:str}/opportunities"): Case(
        REQ + "/opportunities", exp(oprod=404, ogas=404)),
    ("POST", "/api/matching/plan"): Case("/api/matching/plan", STAFF, body=lambda w: {}),
    # -- reports, GDXP, books -------------------------------------------------------------
    ("GET", "/api/reports"): Case("/api/reports", ALL),
    ("GET", "/api/reports/{filename:str}"): Case(
        "/api/reports/loan-statement.csv?loan_id={loan}", exp(gas=403, oprod=404, ogas=403)),
    ("POST", "/api/imports/gdxp"): Case(
        "/api/imports/gdxp?gas_id={G}&dry_run=true", exp(producer=403, oprod=403, ogas=404),
        body=lambda w: gdxp_document()),
    ("GET", "/api/exports/gdxp"): Case("/api/exports/gdxp?gas_id={G}",
                                       exp(producer=403, oprod=404, ogas=404)),
    ("GET", "/api/books/closed-through"): Case("/api/books/closed-through", STAFF),
    ("PUT", "/api/books/closed-through"): Case(
        "/api/books/closed-through", ADMIN, body=lambda w: {"date": "2025-06-30"}),
    # -- pages ----------------------------------------------------------------------------
    ("GET", "/accedi"): Case("/accedi", PUBLIC),
    ("GET", "/"): Case("/", PAGE),
    ("GET", "/password"): Case("/password", PAGE),
    ("GET", "/simulatore"): Case("/simulatore", PAGE),
    ("GET", "/richieste"): Case("/richieste", PAGE),
    ("GET", "/richieste/nuova"): Case("/richieste/nuova", PRODUCER_PAGE),
    ("GET", "/richieste/{request_id:str}"): Case("/richieste/{request}",
                                                 exp(anon=303, oprod=404, ogas=404)),
    ("GET", "/prestiti"): Case("/prestiti", exp(anon=303, gas=404, ogas=404)),
    ("GET", "/prestiti/{loan_id:str}"): Case("/prestiti/{loan}",
                                             exp(anon=303, oprod=404, ogas=404)),
    ("GET", "/fondo"): Case("/fondo", GAS_PAGE),
    ("GET", "/prefinanziamenti"): Case("/prefinanziamenti", PAGE),
    ("GET", "/prefinanziamenti/nuovo"): Case("/prefinanziamenti/nuovo", GAS_PAGE),
    ("GET", "/prefinanziamenti/{prepayment_id:str}"): Case(
        "/prefinanziamenti/{prepayment}", exp(anon=303, oprod=404, ogas=404)),
    ("GET", "/garanzie"): Case("/garanzie", GAS_PAGE),
    ("GET", "/portafoglio"): Case("/portafoglio", PAGE_STAFF),
    ("GET", "/piano"): Case("/piano", PAGE_STAFF),
    ("GET", "/piano.xlsx"): Case("/piano.xlsx", PAGE_STAFF),
    ("GET", "/report"): Case("/report", PAGE),
    ("GET", "/report/{filename:str}"): Case("/report/loan-statement.csv?loan_id={loan}",
                                            exp(anon=303, gas=404, oprod=404, ogas=404)),
    ("GET", "/soggetti"): Case("/soggetti", PAGE_STAFF),
    ("GET", "/soggetti/{party_id:str}"): Case("/soggetti/{P}", PAGE_STAFF),
    # The guarantor GAS, which reads the loan, is shown the confirmation page too; its
    # post is refused (below, on a delivery: the same code path).
    ("GET", "/storni/{kind:str}/{rest:path}"): Case(
        "/storni/rimborso/{loan}/{repayment}?rif={repayment_ref}",
        exp(anon=303, oprod=404, ogas=404)),
    ("POST", "/richieste/nuova"): Case("/richieste/nuova", PRODUCER_PAGE, form={
        "importo": "2.000,00", "scopo": "Mungitrice", "strumento": "loan", "durata": "24"}),
    ("POST", "/richieste/{request_id:str}/stato"): Case(
        "/richieste/{request}/stato", exp(anon=303, producer=404, gas=404, oprod=404,
                                          ogas=404),
        form={"to": "needs_info", "note": "servono i bilanci"}),
    ("POST", "/richieste/{request_id:str}/valutazione"): Case(
        "/richieste/{request}/valutazione", exp(anon=303, producer=404, gas=404, oprod=404,
                                                ogas=404),
        form={"economico": "7", "sociale": "8", "note": "solida"}),
    ("POST", "/richieste/{request_id:str}/condizioni"): Case(
        "/richieste/{request}/condizioni", exp(anon=303, producer=422, gas=422, oprod=404,
                                               ogas=404), form={"azione": "salva"}),
    ("POST", "/richieste/{request_id:str}/erogazione"): Case(
        "/richieste/{request}/erogazione", exp(anon=303, producer=404, gas=404, oprod=404,
                                               ogas=404), form={"data": DAY}),
    ("POST", "/richieste/{request_id:str}/interesse"): Case(
        "/richieste/{request}/interesse", exp(anon=303, admin=404, officer=404, producer=404,
                                              oprod=404, ogas=404),
        form={"tipo": "prepayment", "importo": "100,00"}),
    ("POST", "/richieste/{request_id:str}/interesse/ritiro"): Case(
        "/richieste/{request}/interesse/ritiro", exp(anon=303, admin=404, officer=404,
                                                     producer=404, oprod=404, ogas=404),
        form={"tipo": "prepayment"}),
    ("POST", "/prestiti/{loan_id:str}/rimborsi"): Case(
        "/prestiti/{loan}/rimborsi", exp(anon=303, producer=404, gas=404, oprod=404,
                                         ogas=404), form={"amount": "10,00", "date": DAY}),
    ("POST", "/prestiti/{loan_id:str}/escussioni"): Case(
        "/prestiti/{loan}/escussioni", exp(anon=303, producer=404, gas=404, oprod=404,
                                           ogas=404), form={"amount": "1,00", "date": DAY}),
    ("POST", "/prestiti/{loan_id:str}/rinegoziazione"): Case(
        "/prestiti/{loan}/rinegoziazione", exp(anon=303, producer=404, gas=404, oprod=404,
                                               ogas=404), form={"date": DAY, "note": "x"}),
    ("POST", "/prestiti/{loan_id:str}/perdita"): Case(
        "/prestiti/{loan}/perdita", exp(anon=303, producer=404, gas=404, oprod=404,
                                        ogas=404), form={"date": DAY, "note": "x"}),
    ("POST", "/fondo"): Case("/fondo", exp(anon=303, admin=404, officer=404, producer=404,
                                           oprod=404),
                             form={"amount": "5,00", "date": DAY}),
    ("POST", "/prefinanziamenti/nuovo"): Case(
        "/prefinanziamenti/nuovo", exp(anon=303, admin=404, officer=404, producer=404,
                                       oprod=404),
        form={"producer_id": "{P}", "amount": "100,00", "product": "Taleggio", "unit": "kg",
              "unit_price": "10,00", "date": DAY, "expires_on": "2027-06-30",
              "on_expiry": "refund"}),
    ("POST", "/prefinanziamenti/{prepayment_id:str}/consegne"): Case(
        "/prefinanziamenti/{prepayment}/consegne", exp(anon=303, oprod=404, ogas=404),
        form={"date": DAY, "quantity": "1"}),
    ("POST", "/garanzie"): Case("/garanzie", exp(anon=303, admin=404, officer=404,
                                                 producer=404, oprod=404),
                                form={"capacity": "9.000,00"}),
    ("POST", "/piano/applica"): Case("/piano/applica", PAGE_STAFF,
                                     form={"request_id": "{request}", "as_of": DAY}),
    ("POST", "/soggetti/{party_id:str}/contatti"): Case(
        "/soggetti/{P}/contatti", exp(anon=303, producer=404, gas=404, oprod=404, ogas=404),
        form={"email": "caseificio@example.org"}),
    ("POST", "/password"): Case("/password", exp(
        anon=303, admin=422, officer=422, producer=422, gas=422, oprod=422, ogas=422),
        form={"current": "not-the-password", "new": "a-new-long-password"}),
    ("POST", "/accedi"): Case("/accedi", exp(
        anon=401, admin=401, officer=401, producer=401, gas=401, oprod=401, ogas=401),
        per_role={r: {"username": f"nobody-page-{r}", "password": "wrong"} for r in ROLES},
        form={}),
    # -- destructive, last ----------------------------------------------------------------
    ("POST", "/api/loans/{loan_id:str}/repayments/{repayment_id:str}/reversal"): Case(
        LOAN + "/repayments/{repayment}/reversal", LOAN_ACT,
        body=lambda w: {"reason": "errore"}),
    ("POST", "/api/loans/{loan_id:str}/guarantee-calls/{call_id:str}/reversal"): Case(
        LOAN + "/guarantee-calls/{call}/reversal", LOAN_ACT,
        body=lambda w: {"reason": "errore"}),
    ("POST", "/api/prepayments/{prepayment_id:str}/deliveries/{delivery_id:str}/reversal"):
        Case(PP + "/deliveries/{delivery}/reversal", exp(oprod=404, ogas=404),
             body=lambda w: {"reason": "errore"}),
    ("POST", "/api/contributions/{contribution_id:str}/reversal"): Case(
        "/api/contributions/{contribution}/reversal", exp(producer=404, oprod=404,
                                                          ogas=404),
        body=lambda w: {"reason": "errore"}),
    ("POST", "/api/funds/{fund_id:str}/payouts/{payout_id:str}/reversal"): Case(
        "/api/funds/{fund}/payouts/{payout}/reversal",
        exp(producer=404, gas=403, oprod=404, ogas=404), body=lambda w: {"reason": "errore"}),
    ("POST", "/storni/{kind:str}/{rest:path}"): Case(
        "/storni/consegna/{prepayment}/{delivery_admin}", exp(anon=303, oprod=404, ogas=404),
        urls={r: f"/storni/consegna/{{prepayment}}/{{delivery_{r}}}"
              for r in ("officer", "producer", "gas")},
        form={"reason": "errore"}),
    ("POST", "/prestiti/{loan_id:str}/perdita/conferma"): Case(
        "/prestiti/{loan2}/perdita/conferma", exp(anon=303, producer=404, gas=404,
                                                  oprod=404, ogas=404),
        form={"date": DAY, "note": "irrecuperabile"}),
    ("POST", "/api/loans/{loan_id:str}/write-off"): Case(
        "/api/loans/{loan2}/write-off", exp(producer=403, gas=404, oprod=404, ogas=404),
        body=lambda w: {"date": DAY, "note": "x"}),
    ("POST", "/api/guarantees/{guarantee_id:str}/release"): Case(
        "/api/guarantees/{guarantee}/release", exp(producer=403, gas=403, oprod=404,
                                                   ogas=404), body=lambda w: {"date": DAY}),
    ("POST", "/api/prepayments/{prepayment_id:str}/close"): Case(
        PP + "/close", exp(producer=403, oprod=404, ogas=404), body=lambda w: {"date": DAY}),
    ("POST", "/esci"): Case("/esci", exp(anon=303), form={}, fresh_token=True),
    ("POST", "/api/auth/logout"): Case("/api/auth/logout", ALL, fresh_token=True),
}


@pytest.fixture
def settings() -> Settings:
    """The API tests' settings, with room for the matrix's deliberate failed logins."""
    return Settings(database_url="unused", secret_key="test-secret-" + "x" * 40,
                    login_attempts_per_minute=50, login_failures_per_address=1000)


def route_table(api: Api) -> set[tuple[str, str]]:
    app = api.client.app
    return {(method, route.path) for route in app.routes if isinstance(route, HTTPRoute)
            for method in route.methods - SKIPPED_METHODS}


def build_world(api: Api) -> dict[str, str]:
    """Resources owned by the producer ``P`` and the GAS ``G`` (who buys from it), made
    as the officer; the other producer and GAS own none of them."""
    P, G = api.parties["producer"], api.parties["gas"]
    L = make_party(api, "lender", "Mag2 Finance Milano")
    pool = api.ok(api.get(f"/api/pools?lender_id={L}"))["items"][0]["id"]
    api.ok(api.post(f"/api/pools/{pool}/deposits", {"amount": eur("50000.00"),
                                                    "date": "2026-01-02"}), 201)
    api.ok(api.post("/api/relationships", {"gas_id": G, "producer_id": P,
                                           "since": "2015-01-01",
                                           "annual_purchases": eur("3000.00")}), 201)
    api.ok(api.put(f"/api/parties/{G}/pledge-capacity", {"amount": eur("5000.00")}))
    loans = []
    for _ in range(2):
        body = {**loan_terms({"P": P, "L": L}), "disbursement_date": "2026-01-15"}
        loan = api.ok(api.post("/api/loans", body), 201)["id"]
        loans.append(loan)
    loan, loan2 = loans
    guarantee = api.ok(api.post("/api/guarantees", {
        "loan_id": loan, "guarantor_id": G, "amount": eur("600.00"), "date": "2026-01-10"}),
        201)["id"]
    for each in loans:
        api.ok(api.post(f"/api/loans/{each}/disbursement", {"date": "2026-01-15"}))
    paid = api.ok(api.post(f"/api/loans/{loan}/repayments", {"amount": eur("100.00"),
                                                              "date": "2026-03-01"}))
    call = api.ok(api.post(f"/api/loans/{loan}/guarantee-calls", {
        "amount": eur("50.00"), "date": "2026-04-01"}))["call_id"]
    prepayment = api.ok(api.post("/api/prepayments", {**prepayment_body({"P": P, "G": G}),
                                                      "amount": eur("500.00"),
                                                      "date": "2026-02-01"}), 201)["id"]
    delivery = api.ok(api.post(f"/api/prepayments/{prepayment}/deliveries", {
        "date": "2026-03-01", "quantity": "2"}))["delivery"]["id"]
    fund = next(f["id"] for f in api.ok(api.get("/api/funds"))["items"] if f["gas_id"] == G)
    contribution = api.ok(api.post("/api/contributions", {
        "gas_id": G, "amount": eur("300.00"), "date": "2026-02-01"}), 201)["id"]
    payout = api.ok(api.post(f"/api/funds/{fund}/payouts", {
        "producer_id": P, "amount": eur("50.00"), "date": "2026-03-01", "kind": "grant"}),
        201)["id"]
    # One for each role that may reverse one through the page.
    deliveries = {f"delivery_{r}": api.ok(api.post(
        f"/api/prepayments/{prepayment}/deliveries",
        {"date": "2026-03-02", "quantity": "1"}))["delivery"]["id"]
        for r in ("admin", "officer", "producer", "gas")}
    request = api.ok(api.post("/api/requests", request_body({"P": P, "G": G}), "producer"),
                     201)["id"]
    api.ok(api.post(f"/api/requests/{request}/transitions", {"to": "under_review",
                                                             "note": "in esame"}))
    api.ok(api.put(f"/api/requests/{request}/assessment", {
        "economic_score": 7, "social_score": 8, "notes": "solida"}))
    api.ok(api.put(f"/api/requests/{request}/terms", {"loan": {
        k: v for k, v in loan_terms({"P": P, "L": L}).items() if k != "borrower_id"}}))
    accounts = [api.ok(api.post("/api/ledger/accounts", {"code": c, "currency": "EUR"}),
                       201)["id"] for c in ("cassa", "banca")]
    return {"P": P, "G": G, "L": L, "pool": pool, "loan": loan, "loan2": loan2,
            "guarantee": guarantee, "repayment": paid["repayment"]["id"],
            "repayment_ref": paid["repayment"]["reference"], "call": call,
            "prepayment": prepayment, "delivery": delivery, **deliveries, "fund": fund,
            "contribution": contribution, "payout": payout, "request": request,
            "account": accounts[0], "account2": accounts[1]}


def filled(value: Any, w: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**w)
    if isinstance(value, dict):
        return {k: filled(v, w) for k, v in value.items()}
    return value


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"csrf:" + CSRF_SEED.encode(),
                    hashlib.sha256).hexdigest()


def ask(api: Api, method: str, case: Case, role: str, w: dict[str, str], secret: str) -> Any:
    url = case.urls.get(role, case.url).format(**w)
    if case.before is not None and role != "anon":
        case.before(api, w)
    token = None
    if role != "anon":
        token = api.login(USERS[role]) if case.fresh_token else api.tokens[USERS[role]]
    jar = api.client.cookies
    jar.clear()
    if token and not url.startswith("/api/"):
        jar.set("filiera_session", token)
    if case.form is not None:  # a page post, as a browser sends it
        jar.set("filiera_csrf", CSRF_SEED)
        data = {k: v.format(**w) for k, v in {**case.form,
                                              **case.per_role.get(role, {})}.items()}
        data["csrf_token"] = csrf_token(secret)
        return api.client.request(method, url, data=data, follow_redirects=False)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if url.startswith("/api/") or url == "/health" or url.startswith("/schema"):
        body = filled(case.per_role[role], w) if role in case.per_role else (
            case.body(w) if case.body else None)
        if isinstance(body, bytes):
            return api.client.request(method, url, content=body, follow_redirects=False,
                                      headers={**headers, "Content-Type": "application/json"})
        return api.client.request(method, url, json=body, headers=headers,
                                  follow_redirects=False)
    return api.client.request(method, url, follow_redirects=False)


def outcome_ok(expected: Any, status: int) -> bool:
    if expected == OK:
        return status not in REFUSALS and status < 500
    return bool(status == expected)


def test_every_route_is_in_the_matrix(tmp_path: Any) -> None:
    """Checked against the app itself (no database needed): a new route without an
    entry, or an entry for a route that is gone, fails here first."""
    from service.http.app import create_app

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'routes.db'}",
                              secret_key="m" * 48))
    routes = {(method, route.path) for route in app.routes if isinstance(route, HTTPRoute)
              for method in route.methods - SKIPPED_METHODS}
    assert sorted(routes - MATRIX.keys()) == [], "routes without an entry in MATRIX"
    assert sorted(MATRIX.keys() - routes) == [], "MATRIX entries naming no route"


def test_authorization_matrix(api: Api, settings: Any) -> None:
    assert route_table(api) == set(MATRIX)
    w = build_world(api)
    # A lender publishes its categories: its id is not another party's secret.
    secrets = {k: v for k, v in w.items() if k not in ("repayment_ref", "L")}
    wrong: list[str] = []
    leaks: list[str] = []
    for (method, route), case in MATRIX.items():
        for role in ROLES:
            r = ask(api, method, case, role, w, settings.secret_key)
            expected = case.expect[role]
            if r.status_code >= 500 or not outcome_ok(expected, r.status_code):
                wrong.append(f"{method} {route} as {role}: {r.status_code}, expected "
                             f"{expected}: {r.text[:160]!r}")
            if role in ("oprod", "ogas") and 200 <= r.status_code < 300:
                named = [k for k, v in secrets.items() if v in r.text]
                if named:
                    leaks.append(f"{method} {route} as {role}: names {named}")
    assert not wrong, "\n".join(["", *wrong])
    assert not leaks, "\n".join(["", *leaks])


def test_a_password_is_never_accepted_in_place_of_a_token(api: Api) -> None:
    """The matrix's anonymous column sends nothing; a malformed or foreign credential
    is refused the same way."""
    for header in ("Bearer", f"Bearer {PASSWORD}", "Basic YWRtaW46YWRtaW4=",
                   f"Bearer {api.tokens['admin']}x"):
        assert api.client.get("/api/me", headers={"Authorization": header}).status_code \
            == 401
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", api.tokens["admin"])


def test_report_filters_naming_another_partys_ids_are_404(api: Api) -> None:
    """API.md: a report filter naming what the user may not see is a 404, as anywhere
    else; the owner gets its file."""
    w = build_world(api)
    for url, owner, other in [
        ("/api/reports/prepayments.csv?producer_id={P}", "gas", "other_gas"),
        ("/api/reports/prepayments.csv?gas_id={G}", "producer", "other_producer"),
        ("/api/reports/solidarity.csv?gas_id={G}", "gas", "other_gas"),
        ("/api/reports/loan-statement.csv?loan_id={loan}", "producer", "other_producer"),
    ]:
        assert api.get(url.format(**w), owner).status_code == 200, (url, owner)
        assert api.get(url.format(**w), other).status_code == 404, (url, other)
