"""Several lenders on one service, on the officers' pages: the pages call the same use
cases as the API, so an officer bound to a lender sees its lender's loans on
**Prestiti**, **Portafoglio** and **Report** only (another lender's loan: the Italian
404 page), plans with its lender's pools only, and is told in a sentence on the form
when a request is another lender's (403, nothing recorded). The demo has one lender
(Mag2, whose officer is ``officer``); the tests add a second with an officer of its own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from service.app import requests as app_requests
from service.app.auth import Principal, create_user
from service.app.demo import demo_id
from service.app.requests import RequestIn
from service.db.engine import write_tx
from tests.web.conftest import Web
from tests.web.pages import parse
from tests.web.test_requests_pages import app_ctx, move, new_request, text

MAG2 = demo_id("Mag2 Finance Milano")
ORTI = demo_id("req:orti")  # under review by the demo officer (Mag2's), assessed
PASSWORD = "venezia-password-2026"
VENEZIA_OFFICER = "officer.venezia"


@dataclass(frozen=True)
class Second:
    lender: str
    pool: str
    loan: str
    reference: str


def _api(web: Web, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    token = web.client.post("/api/auth/token", json={
        "username": "admin", "password": "admin-demo-2026"}).json()["access_token"]
    r = web.client.request(method, path, json=body,
                           headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture
def second(web: Web) -> Second:
    """Mag Venezia: a lender with money in its pool, a loan to a demo producer, and an
    officer bound to it."""
    lender = _api(web, "POST", "/api/parties", {"kind": "lender", "name": "Mag Venezia"},
                  201)["id"]
    pool = _api(web, "GET", f"/api/pools?lender_id={lender}")["items"][0]["id"]
    _api(web, "POST", f"/api/pools/{pool}/deposits",
         {"amount": {"amount": "40000.00", "currency": "EUR"}, "date": "2026-06-01"}, 201)
    loan = _api(web, "POST", "/api/loans", {
        "principal": {"amount": "3000.00", "currency": "EUR"}, "annual_rate": "5.00",
        "term_months": 12, "method": "french", "frequency": "monthly",
        "disbursement_date": "2026-06-15", "borrower_id": demo_id("Cascina Caremma"),
        "lender_id": lender}, 201)
    _api(web, "POST", f"/api/loans/{loan['id']}/disbursement", {"date": "2026-06-15"})
    with write_tx(web.engine) as conn:
        create_user(conn, VENEZIA_OFFICER, PASSWORD, "officer", lender)
    return Second(lender, pool, loan["id"], loan["reference"])


def mag2_loans(web: Web) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = _api(
        web, "GET", f"/api/loans?lender_id={MAG2}&limit=200")["items"]
    assert items
    return items


def as_user(web: Web, username: str, password: str | None = None) -> Web:
    web.client.cookies.clear()
    web.login(username, password)
    return web


def test_a_bound_officers_pages_show_its_lenders_loans_only(web: Web, second: Second
                                                            ) -> None:
    theirs = mag2_loans(web)
    as_user(web, VENEZIA_OFFICER, PASSWORD)
    prestiti = text(web.page("/prestiti"))
    assert second.reference in prestiti
    assert not any(loan["reference"] in prestiti for loan in theirs)
    r = web.get(f"/prestiti/{theirs[0]['id']}")
    assert r.status_code == 404 and "Pagina non trovata" in r.text
    assert second.reference in text(web.page(f"/prestiti/{second.loan}"))

    portafoglio = text(web.page("/portafoglio"))
    assert second.reference in portafoglio
    assert not any(loan["reference"] in portafoglio for loan in theirs)
    report = web.page("/report").text
    assert second.reference in report
    assert not any(loan["reference"] in report for loan in theirs)

    # The demo officer (Mag2's) sees Mag2's loans and not Venezia's, on the same day's
    # portfolio (kept figures are kept per lender).
    as_user(web, "officer")
    portafoglio = text(web.page("/portafoglio"))
    assert second.reference not in portafoglio
    assert all(loan["reference"] in portafoglio for loan in theirs
               if loan["status"] in ("active", "repaid", "written_off"))
    assert web.get(f"/prestiti/{second.loan}").status_code == 404
    # An admin sees both lenders' loans.
    as_user(web, "admin")
    prestiti = text(web.page("/prestiti"))
    assert second.reference in prestiti and theirs[0]["reference"] in prestiti


def test_another_lenders_officer_is_told_on_the_request_forms(web: Web, second: Second
                                                              ) -> None:
    ctx = app_ctx(web)
    admin = Principal("admin", "admin", None)
    before = app_requests.read_request(ctx, admin, ORTI)
    assert before.lender_id == MAG2
    as_user(web, VENEZIA_OFFICER, PASSWORD)
    page = web.page(f"/richieste/{ORTI}")  # every officer sees every request
    assert "In carico a Mag2 Finance Milano" in re.sub(r"\s+", " ", text(page))
    # The lenders offered in the terms are its own only.
    lenders = page.form("Salva condizioni").field_by_label("Finanziatore").options
    assert [value for value, _ in lenders if value] == [second.lender]

    r = web.submit(page, "Salva valutazione", {"Punteggio economico": "2",
                                               "Punteggio sociale": "3"}, follow=False)
    assert r.status_code == 403
    refused = text(parse(r.text))
    assert "in carico a un altro finanziatore" in refused
    after = app_requests.read_request(ctx, admin, ORTI)
    assert after.assessment == before.assessment  # nothing recorded
    r = web.submit(page, "Respingi", {"Nota": "non per noi"}, follow=False)
    assert r.status_code == 403
    assert "in carico a un altro finanziatore" in text(parse(r.text))
    assert app_requests.read_request(ctx, admin, ORTI).status == "under_review"


def test_the_first_bound_officer_to_review_a_request_takes_it(web: Web, second: Second
                                                              ) -> None:
    ctx = app_ctx(web)
    admin = Principal("admin", "admin", None)
    req = new_request(web)
    venezia = Principal(VENEZIA_OFFICER, "officer", second.lender)
    move(web, req.id, "under_review", who=venezia)
    assert app_requests.read_request(ctx, admin, req.id).lender_id == second.lender
    as_user(web, "officer")  # Mag2's
    page = web.page(f"/richieste/{req.id}")
    assert "In carico a Mag Venezia" in re.sub(r"\s+", " ", text(page))
    r = web.submit(page, "Salva valutazione", {"Punteggio economico": "7",
                                               "Punteggio sociale": "8"}, follow=False)
    assert r.status_code == 403
    assert "in carico a un altro finanziatore" in text(parse(r.text))
    # Its own officer saves it.
    as_user(web, VENEZIA_OFFICER, PASSWORD)
    r = web.submit(web.page(f"/richieste/{req.id}"), "Salva valutazione",
                   {"Punteggio economico": "7", "Punteggio sociale": "8"}, follow=False)
    assert r.status_code == 303, r.text[:500]


def venezia_request(web: Web, second: Second) -> str:
    """A request of Orti di Brianza (no loan, never late) that Venezia's officer took
    under review: Venezia's."""
    _, out = app_requests.submit_request(app_ctx(web), Principal("admin", "admin", None),
                                         msgspec.convert({
        "producer_id": demo_id("Orti di Brianza"),
        "amount": {"amount": "4000.00", "currency": "EUR"},
        "purpose": "Serra fredda per le insalate", "instrument": "loan",
        "term_months": 24}, RequestIn))
    move(web, out.id, "under_review",
         who=Principal(VENEZIA_OFFICER, "officer", second.lender))
    rid: str = out.id
    return rid


def candidates(page: Any) -> set[str]:
    return {f.value for form in page.forms for f in form.fields if f.name == "richiesta"}


def test_a_bound_officers_plan_lends_from_its_lenders_pools(web: Web, second: Second
                                                            ) -> None:
    ctx = app_ctx(web)
    from service.app.plans import compute_plan

    mag2 = Principal("officer", "officer", MAG2)
    venezia = Principal(VENEZIA_OFFICER, "officer", second.lender)
    admin = Principal("admin", "admin", None)
    theirs = venezia_request(web, second)

    def planned(who: Principal) -> dict[str, set[str]]:
        """Each request of the default plan, with the pools lending to it."""
        view = compute_plan(ctx, who, None)
        return {r.candidate.id: {a.source_name for a in r.allocations if a.kind == "loan"}
                for r in view.requests}

    # Each bound officer plans its lender's requests (the demo's reviewed ones are
    # Mag2's), lent from its lender's pools; an admin plans them all.
    assert planned(venezia) == {theirs: {"Mag Venezia - fondo generale"}}
    ours = planned(mag2)
    assert ORTI in ours and theirs not in ours
    assert set().union(*ours.values()) == {"Mag2 Finance Milano - fondo generale"}
    assert set(planned(admin)) == set(ours) | {theirs}
    as_user(web, VENEZIA_OFFICER, PASSWORD)
    assert candidates(web.page("/piano")) == {theirs}
    piano = text(web.page(f"/piano?calcola=1&richiesta={theirs}"))
    assert "Mag Venezia - fondo generale" in piano
    assert "Mag2 Finance Milano - fondo generale" not in piano
    as_user(web, "officer")
    assert candidates(web.page("/piano")) == set(ours)


def test_planning_another_lenders_request_is_refused(web: Web, second: Second) -> None:
    from tests.web.test_officer_pages import apply_data

    ctx = app_ctx(web)
    admin = Principal("admin", "admin", None)
    before = app_requests.read_request(ctx, admin, ORTI).terms
    theirs = venezia_request(web, second)
    as_user(web, VENEZIA_OFFICER, PASSWORD)
    # ORTI is Mag2's: named in the address, the plan is refused in a sentence.
    r = web.get(f"/piano?calcola=1&richiesta={ORTI}")
    assert r.status_code == 403
    assert "in carico a un altro finanziatore" in text(parse(r.text))
    # Its own plan's form posted for ORTI (as a crafted page would): refused, no terms.
    page = web.page(f"/piano?calcola=1&richiesta={theirs}")
    form = next(f for f in page.forms if "Applica alla richiesta" in f.buttons)
    data = apply_data(form)
    data.update(request_id=ORTI, richiesta=[ORTI])
    r = web.client.post(form.action, data=data)
    assert r.status_code == 403
    assert "in carico a un altro finanziatore" in text(parse(r.text))
    assert app_requests.read_request(ctx, admin, ORTI).terms == before
