"""The funding-request pages of a producer and of a GAS user (UI.md, "Producer" and
"GAS user"): filing a request, the list, the request's page, answering a request for
information, withdrawing, declaring and withdrawing interest. What a page records is
read back through the application layer."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec

from service.app import requests as app_requests
from service.app.auth import Principal
from service.app.demo import demo_id
from service.app.matching import get_opportunities
from service.app.parties import list_relationships
from service.app.requests import RequestIn, TransitionIn
from service.bootstrap import build_context
from service.settings import Settings
from tests.web.conftest import Web
from tests.web.pages import Page, parse

PRODUCER = Principal("caseificio", "producer", demo_id("Caseificio Val Taleggio"))
GAS = Principal("gas.gasabile", "gas", demo_id("GAS Gasabile Milano Isola"))
OFFICER = Principal("officer", "officer", demo_id("Mag2 Finance Milano"))
CAREMMA = demo_id("req:caremma")  # Cascina Caremma's request, naming Gasabile
CREMONESE = demo_id("req:cremonese")  # another producer's, not naming Gasabile
UUID_PATH = re.compile(r"^/richieste/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                       r"[0-9a-f]{12}$")


def app_ctx(web: Web) -> Any:
    """The application layer on the test's database, to read back what pages did."""
    return build_context(Settings("unused", "w" * 48), web.engine)


def text(page: Page) -> str:
    return page.text.replace("\xa0", " ")


def new_request(web: Web, **over: Any) -> Any:
    """A request of Caseificio Val Taleggio made through the application layer."""
    body: dict[str, Any] = {
        "producer_id": PRODUCER.party_id, "amount": {"amount": "9000.00", "currency": "EUR"},
        "purpose": "Nuova caldaia per il caseificio", "instrument": "mixed",
        "term_months": 24, "gas_ids": [GAS.party_id], **over}
    _, out = app_requests.submit_request(app_ctx(web), PRODUCER,
                                         msgspec.convert(body, RequestIn))
    return out


def move(web: Web, rid: str, to: str, note: str = "", who: Principal = OFFICER) -> None:
    app_requests.move_request(app_ctx(web), who, rid, TransitionIn(to=to, note=note))


# -- filing a request ------------------------------------------------------------------------


def test_new_request_form_lists_the_gas_that_buy_from_the_producer(web: Web) -> None:
    web.login("caseificio")
    page = web.page("/richieste/nuova")
    assert page.h1 == "Nuova richiesta di finanziamento"
    form = page.form("Invia richiesta")
    for label in ("Importo richiesto", "Strumento", "Scopo", "Durata (mesi)",
                  "Serve entro il"):
        form.field_by_label(label)
    assert [t for _, t in form.field_by_label("Strumento").options] == [
        "Prestito", "Prefinanziamento dai GAS", "Misto"]
    assert form.field_by_label("Serve entro il").kind == "date"
    buyers = list_relationships(app_ctx(web), PRODUCER, None, PRODUCER.party_id, 500, None)
    names = {"GAS Gasabile Milano Isola", "GAS Navigli", "GAS Monza Centro",
             "GAS Sesto Solidale"}
    assert len(buyers.items) == len(names)
    for name in names:
        field = form.field_by_label(name)
        assert field.kind == "checkbox" and field.value in {r.gas_id for r in buyers.items}


def test_filing_a_request_records_it_once(web: Web) -> None:
    web.login("caseificio")
    page = web.page("/richieste/nuova")
    values = {"Importo richiesto": "12.500,00", "Strumento": "Misto",
              "Scopo": "Cella di stagionatura", "Durata (mesi)": "36",
              "Serve entro il": "2027-03-31", "GAS Navigli": "on"}
    r = web.submit(page, "Invia richiesta", values, follow=False)
    assert r.status_code == 303
    location = r.headers["location"]
    assert UUID_PATH.match(location), location
    shown = web.page(location)
    assert shown.h1.startswith("Richiesta RIC-")
    body = text(shown)
    assert "Operazione registrata" in body
    assert "12.500,00 €" in body and "Cella di stagionatura" in body and "Inviata" in body
    rid = location.rsplit("/", 1)[1]
    req = app_requests.read_request(app_ctx(web), PRODUCER, rid)
    assert (req.amount.amount, req.instrument, req.term_months, req.needed_by) == (
        "12500.00", "mixed", 36, "2027-03-31")
    assert req.gas_ids == [demo_id("GAS Navigli")] and req.status == "submitted"
    # The outcome is said once.
    assert "Operazione registrata" not in text(web.page(location))
    # The same form sent again: the same request, said so.
    r = web.submit(page, "Invia richiesta", values, follow=False)
    assert r.headers["location"] == location
    assert "Operazione già registrata" in text(web.page(location))
    mine = app_requests.list_requests(app_ctx(web), PRODUCER)
    assert [i.id for i in mine.items] == [rid]


def test_new_request_errors_beside_the_fields_and_nothing_written(web: Web) -> None:
    web.login("caseificio")
    page = web.page("/richieste/nuova")
    r = web.submit(page, "Invia richiesta", {
        "Importo richiesto": "1.250", "Scopo": "", "Durata (mesi)": "due anni",
        "Serve entro il": "2027-02-30", "GAS Monza Centro": "on"}, follow=False)
    assert r.status_code == 422
    again = parse(r.text)
    body = text(again)
    assert "usa la virgola per i decimali" in body
    assert "Indica lo scopo del finanziamento." in body
    assert "Scrivi un numero intero, senza decimali." in body
    assert "Scrivi la data come gg/mm/aaaa." in body
    form = again.form("Invia richiesta")
    assert form.field_by_label("Importo richiesto").value == "1.250"
    assert form.field_by_label("Durata (mesi)").value == "due anni"
    assert form.field_by_label("GAS Monza Centro").checked
    assert not form.field_by_label("GAS Navigli").checked
    assert 'aria-invalid="true"' in r.text and 'role="alert"' in r.text
    assert app_requests.list_requests(app_ctx(web), PRODUCER).items == []
    r = web.submit(page, "Invia richiesta", {"Importo richiesto": "100", "Scopo": "x",
                                             "Durata (mesi)": "601"}, follow=False)
    assert r.status_code == 422 and "Da 1 a 600 mesi." in r.text


def test_only_producers_file_requests(web: Web) -> None:
    for user in ("officer", "gas.gasabile"):
        web.client.cookies.clear()
        web.login(user)
        assert web.get("/richieste/nuova").status_code == 404


# -- the producer's list and page ------------------------------------------------------------


def test_producer_list_in_italian_newest_first_and_paginated(web: Web) -> None:
    ids = [new_request(web, amount={"amount": f"{1000 + i}.00", "currency": "EUR"}).id
           for i in range(27)]
    move(web, ids[-1], "under_review")
    move(web, ids[-1], "needs_info", "Serve il bilancio")
    move(web, ids[-2], "withdrawn", who=PRODUCER)
    web.login("caseificio")
    page = web.page("/richieste")
    assert page.h1 == "Richieste di finanziamento"
    body = text(page)
    assert "Informazioni richieste" in body and "Ritirata" in body and "Inviata" in body
    assert "1.026,00 €" in body and "1.002,00 €" in body and "1.001,00 €" not in body
    links = re.findall(r'href="(/richieste/[0-9a-f-]{36})"', page.html)
    assert links[:2] == [f"/richieste/{ids[-1]}", f"/richieste/{ids[-2]}"]
    assert len(links) == 25
    assert "Cascina Caremma" not in body  # only its own requests
    nxt = re.search(r'href="([^"]*pagina=[^"]*)"', page.html)
    assert nxt is not None and "Pagina successiva" in body
    second = web.page(nxt.group(1).replace("&amp;", "&"))
    assert re.findall(r'href="/richieste/([0-9a-f-]{36})"', second.html) == [ids[1], ids[0]]


def test_producer_request_page_answer_and_withdraw(web: Web) -> None:
    req = new_request(web, needed_by="2027-01-15")
    move(web, req.id, "under_review", "visita fissata")
    move(web, req.id, "needs_info", "Mandateci il bilancio 2025")
    web.login("caseificio")
    page = web.page(f"/richieste/{req.id}")
    body = text(page)
    assert "9.000,00 €" in body and "Nuova caldaia per il caseificio" in body
    assert "Informazioni richieste" in body and "15/01/2027" in body
    assert "Mandateci il bilancio 2025" in body and "officer" in body  # the history
    assert "Opportunità di finanziamento" in body
    for button in ("Prendi in esame", "Chiedi informazioni", "Approva", "Respingi",
                   "Salva valutazione", "Salva condizioni", "Usa i suggerimenti", "Eroga",
                   "Dichiara interesse"):
        assert button not in [b for f in page.forms for b in f.buttons], button
    # An empty answer is refused beside the field.
    r = web.submit(page, "Rispondi e reinvia", {"Risposta": "  "}, follow=False)
    assert r.status_code == 422 and "Indica la risposta." in r.text
    assert app_requests.read_request(app_ctx(web), PRODUCER, req.id).status == "needs_info"
    form_page = web.page(f"/richieste/{req.id}")
    r = web.submit(form_page, "Rispondi e reinvia", {"Risposta": "Allegato il bilancio"},
                   follow=False)
    assert r.status_code == 303
    shown = web.page(r.headers["location"])
    assert "Operazione registrata" in text(shown)
    after = app_requests.read_request(app_ctx(web), PRODUCER, req.id)
    assert after.status == "submitted"
    assert isinstance(after.history, list)
    last = after.history[-1]
    assert (last.from_status, last.to_status, last.note, last.by) == (
        "needs_info", "submitted", "Allegato il bilancio", "caseificio")
    # Sent again: recorded once.
    r = web.submit(form_page, "Rispondi e reinvia", {"Risposta": "Allegato il bilancio"})
    assert "Operazione già registrata" in text(parse(r.text))
    again = app_requests.read_request(app_ctx(web), PRODUCER, req.id).history
    assert isinstance(again, list) and len(again) == len(after.history)
    # Inviata: no answer any more, but it may be withdrawn.
    page = web.page(f"/richieste/{req.id}")
    assert "Rispondi e reinvia" not in page.html
    r = web.submit(page, "Ritira la richiesta", follow=True)
    assert "Ritirata" in text(parse(r.text))
    assert app_requests.read_request(app_ctx(web), PRODUCER, req.id).status == "withdrawn"
    assert "Ritira la richiesta" not in web.page(f"/richieste/{req.id}").html


def test_producer_sees_opportunities_of_its_request(web: Web) -> None:
    req = new_request(web)
    web.login("caseificio")
    body = text(web.page(f"/richieste/{req.id}"))
    found = get_opportunities(app_ctx(web), PRODUCER, req.id, None).items
    assert found
    for o in found:
        amount = Decimal(o.suggested_amount.amount)
        assert f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") \
            + " €" in body
        assert o.source_name and o.source_name in body
    assert "Prefinanziamento di un GAS" in body and "famiglie" in body


def test_a_request_the_user_may_not_see_answers_404(web: Web) -> None:
    web.login("caseificio")
    for path in (f"/richieste/{CAREMMA}", "/richieste/not-a-uuid",
                 f"/richieste/{demo_id('nothing')}"):
        assert web.get(path).status_code == 404, path
    web.client.cookies.clear()
    web.login("gas.gasabile")
    assert web.get(f"/richieste/{CREMONESE}").status_code == 404
    assert web.get(f"/richieste/{CAREMMA}").status_code == 200


def test_a_post_on_another_producers_request_is_404_and_writes_nothing(web: Web) -> None:
    mine = new_request(web)
    web.login("caseificio")
    form = web.page(f"/richieste/{mine.id}").form("Ritira la richiesta")
    r = web.client.post(f"/richieste/{CAREMMA}/stato", data=form.data())
    assert r.status_code == 404
    assert app_requests.read_request(app_ctx(web), OFFICER, CAREMMA).status == "submitted"
    r = web.client.post(f"/richieste/{CAREMMA}/valutazione", data={
        **form.data(), "economico": "1", "sociale": "1"})
    assert r.status_code == 404
    assert app_requests.read_request(app_ctx(web), OFFICER, CAREMMA).assessment is None
    # Without the CSRF token nothing happens either.
    r = web.client.post(f"/richieste/{mine.id}/stato", data={"to": "withdrawn"})
    assert r.status_code == 403
    assert app_requests.read_request(app_ctx(web), PRODUCER, mine.id).status == "submitted"


# -- a GAS user ------------------------------------------------------------------------------


def test_gas_list_shows_the_requests_naming_it(web: Web) -> None:
    web.login("gas.gasabile")
    page = web.page("/richieste")
    shown = set(re.findall(r'href="/richieste/([0-9a-f-]{36})"', page.html))
    expected = {r.id for r in app_requests.list_requests(app_ctx(web), GAS).items}
    # Cascina Caremma's, and Cantina Franciacorta Solidale's (approved).
    assert shown == expected == {CAREMMA, demo_id("req:franciacorta")}
    assert "Cascina Caremma" in text(page) and "Inviata" in text(page)


def test_gas_declares_replaces_and_withdraws_interest(web: Web) -> None:
    web.login("gas.gasabile")
    page = web.page(f"/richieste/{CAREMMA}")
    body = text(page)
    assert "Storia della richiesta" not in body and "Salva valutazione" not in body
    form = page.form("Dichiara interesse")
    assert [t for _, t in form.field_by_label("Tipo").options] == ["Prefinanziamento",
                                                                  "Garanzia"]
    # Errors beside the fields, nothing written.
    r = web.submit(page, "Dichiara interesse", {"Tipo": "Garanzia", "Importo": "zero"},
                   follow=False)
    assert r.status_code == 422 and "Scrivi un numero" in r.text
    assert parse(r.text).form("Dichiara interesse").field_by_label("Importo").value == "zero"
    ctx = app_ctx(web)
    assert app_requests.list_interests(ctx, GAS, CAREMMA, None, None).items == []

    r = web.submit(page, "Dichiara interesse", {"Tipo": "Prefinanziamento",
                                                "Importo": "1.500,00"})
    assert "Operazione registrata" in text(parse(r.text))
    [first] = app_requests.list_interests(ctx, GAS, CAREMMA, None, None).items
    assert (first.kind, first.amount.amount, first.gas_id) == ("prepayment", "1500.00",
                                                              GAS.party_id)
    # The same form again: once.
    r = web.submit(page, "Dichiara interesse", {"Tipo": "Prefinanziamento",
                                                "Importo": "1.500,00"})
    assert "Operazione già registrata" in text(parse(r.text))
    # A second declaration of the same kind replaces the first.
    page = web.page(f"/richieste/{CAREMMA}")
    web.submit(page, "Dichiara interesse", {"Tipo": "Prefinanziamento", "Importo": "2000"})
    [second] = app_requests.list_interests(ctx, GAS, CAREMMA, None, None).items
    assert second.amount.amount == "2000.00" and second.id != first.id
    page = web.page(f"/richieste/{CAREMMA}")
    assert "2.000,00 €" in text(page) and "1.500,00 €" not in text(page)
    # The producer's and officers' view of the request lists it.
    # Ritira interesse beside it.
    withdraw = page.form("Ritira interesse")
    r = web.client.post(withdraw.action, data=withdraw.data())
    assert r.status_code == 303
    assert "Operazione registrata" in text(web.page(r.headers["location"]))
    assert app_requests.list_interests(ctx, GAS, CAREMMA, None, None).items == []
    r = web.client.post(withdraw.action, data=withdraw.data())
    assert "Operazione già registrata" in text(web.page(r.headers["location"]))
    assert "Ritira interesse" not in web.page(f"/richieste/{CAREMMA}").html


def test_interest_on_a_closed_request_is_refused_in_italian(web: Web) -> None:
    web.login("gas.gasabile")
    page = web.page(f"/richieste/{CAREMMA}")
    move(web, CAREMMA, "withdrawn", "il produttore rinuncia")
    r = web.submit(page, "Dichiara interesse", {"Tipo": "Garanzia", "Importo": "500"},
                   follow=False)
    assert r.status_code == 409
    assert "La richiesta non è più aperta" in r.text
    assert app_requests.list_interests(app_ctx(web), GAS, CAREMMA, None, None).items == []


def test_producer_and_officer_see_the_interest_of_the_gas(web: Web) -> None:
    web.login("gas.gasabile")
    web.submit(web.page(f"/richieste/{CAREMMA}"), "Dichiara interesse",
               {"Tipo": "Garanzia", "Importo": "750"})
    web.client.cookies.clear()
    web.login("officer")
    body = text(web.page(f"/richieste/{CAREMMA}"))
    assert "Interesse dei GAS" in body
    assert "GAS Gasabile Milano Isola Garanzia 750,00 €" in body


def test_a_form_sent_again_with_other_values_records_nothing_more(web: Web) -> None:
    web.login("caseificio")
    page = web.page("/richieste/nuova")
    values = {"Importo richiesto": "3000", "Scopo": "Siero", "Durata (mesi)": "12"}
    r = web.submit(page, "Invia richiesta", values, follow=False)
    first = r.headers["location"]
    r = web.submit(page, "Invia richiesta", {**values, "Importo richiesto": "3500"},
                   follow=False)
    assert r.status_code == 409 and "Operazione già registrata" in r.text
    assert [i.id for i in app_requests.list_requests(app_ctx(web), PRODUCER).items] == [
        first.rsplit("/", 1)[1]]
