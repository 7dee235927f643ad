"""The funding-request pages of an officer (UI.md, "Officer (and admin)"): the list with
its filters, the workflow's buttons, **Valutazione**, **Condizioni** with **Usa i
suggerimenti**, and **Eroga** with its refusals said as what to change. What a page
records is read back through the application layer; refused forms write nothing."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from service.app import requests as app_requests
from service.app.categories import CategoryIn, set_category
from service.app.common import MoneyIn
from service.app.demo import demo_id
from service.app.errors import NotFound
from service.app.loans import read_loan
from service.app.matching import get_opportunities
from tests.web.conftest import Web
from tests.web.pages import Page, PageForm, parse
from tests.web.test_requests_pages import (
    CAREMMA,
    CREMONESE,
    OFFICER,
    app_ctx,
    move,
    new_request,
    text,
)

ORTI = demo_id("req:orti")  # under review, a loan of 8,000.00, assessed
BRIANZA = demo_id("req:brianza")  # Miele della Brianza's, information asked for
FRANCIACORTA = demo_id("req:franciacorta")  # approved, with terms ready to fund
LENDER = demo_id("Mag2 Finance Milano")
GASABILE = demo_id("GAS Gasabile Milano Isola")


def buttons(page: Page) -> list[str]:
    return [b for f in page.forms for b in f.buttons]


def terms_form(page: Page) -> PageForm:
    return page.form("Salva condizioni")


def field_value(form: PageForm, name: str) -> str:
    return next(f.value for f in form.fields if f.name == name)


def save_terms(web: Web, rid: str, by_name: dict[str, Any], follow: bool = True) -> Any:
    return web.submit(web.page(f"/richieste/{rid}"), "Salva condizioni", by_name=by_name,
                      follow=follow)


LOAN_8000 = {"importo": "8000,00", "tasso": "3,50", "durata": "48", "periodicita": "monthly",
             "metodo": "french", "preammortamento": "0", "finanziatore": LENDER,
             "fondo": "", "categoria": "microcredit"}


def approve(web: Web, rid: str) -> None:
    page = web.page(f"/richieste/{rid}")
    r = web.submit(page, "Approva", {"Nota": "delibera n. 15"})
    assert "Approvata" in text(parse(r.text))


@pytest.fixture
def officer(web: Web) -> Web:
    web.login("officer")
    return web


# -- the list --------------------------------------------------------------------------------


def test_officer_list_and_its_filters(officer: Web) -> None:
    page = officer.page("/richieste")
    form = page.form("Filtra")
    assert form.method == "get"
    assert [t for _, t in form.field_by_label("Stato").options] == [
        "Tutti gli stati", "Inviata", "In esame", "Informazioni richieste", "Approvata",
        "Respinta", "Ritirata", "Finanziata", "Chiusa"]
    assert "Cascina Caremma" in [t for _, t in form.field_by_label("Produttore").options]
    listed = re.findall(r'href="/richieste/([0-9a-f-]{36})"', page.html)
    assert listed == [FRANCIACORTA, BRIANZA, CREMONESE, ORTI, CAREMMA]  # newest first

    def shown(query: str) -> list[str]:
        return re.findall(r'href="/richieste/([0-9a-f-]{36})"',
                          officer.page(f"/richieste?{query}").html)

    assert shown("stato=under_review") == [ORTI]
    assert shown("stato=approved") == [FRANCIACORTA, CREMONESE]
    assert shown("stato=needs_info") == [BRIANZA]
    assert shown(f"produttore={demo_id('Cascina Caremma')}") == [CAREMMA]
    assert shown(f"stato=approved&produttore={demo_id('Cascina Caremma')}") == []
    assert "Nessuna richiesta corrisponde ai filtri." in text(
        officer.page(f"/richieste?stato=funded&produttore={demo_id('Cascina Caremma')}"))
    # The filter keeps what was chosen.
    kept = officer.page("/richieste?stato=under_review").form("Filtra")
    assert kept.field_by_label("Stato").value == "under_review"


# -- the workflow ----------------------------------------------------------------------------


def test_officer_moves_the_request_with_notes(officer: Web) -> None:
    page = officer.page(f"/richieste/{CAREMMA}")
    assert "Prendi in esame" in buttons(page) and "Approva" not in buttons(page)
    # Several forms have a field Nota: their ids differ.
    ids = re.findall(r'<textarea id="([^"]+)" name="nota"', page.html)
    assert len(ids) == len(set(ids)) >= 2
    r = officer.submit(page, "Prendi in esame", {"Nota": "Visita il 10/12"}, follow=False)
    assert r.status_code == 303
    shown = officer.page(r.headers["location"])
    assert "Operazione registrata" in text(shown) and "In esame" in text(shown)
    req = app_requests.read_request(app_ctx(officer), OFFICER, CAREMMA)
    assert isinstance(req.history, list)
    assert (req.status, req.history[-1].note, req.history[-1].by) == (
        "under_review", "Visita il 10/12", "officer")
    r = officer.submit(page, "Prendi in esame", {"Nota": "Visita il 10/12"})
    assert "Operazione già registrata" in text(parse(r.text))
    history = app_requests.read_request(app_ctx(officer), OFFICER, CAREMMA).history
    assert isinstance(history, list) and len(history) == len(req.history)

    page = officer.page(f"/richieste/{CAREMMA}")
    assert {"Chiedi informazioni", "Approva", "Respingi"} <= set(buttons(page))
    assert "Prendi in esame" not in buttons(page)
    # Approval needs an assessment: a sentence saying what to do, nothing changed.
    r = officer.submit(page, "Approva", {"Nota": "ok"}, follow=False)
    assert r.status_code == 409
    assert "serve prima la valutazione" in r.text
    assert app_requests.read_request(app_ctx(officer), OFFICER, CAREMMA).status == \
        "under_review"
    r = officer.submit(page, "Chiedi informazioni", {"Nota": "Il preventivo della serra"})
    assert "Informazioni richieste" in text(parse(r.text))
    page = officer.page(f"/richieste/{CAREMMA}")
    # An officer withdraws on the producer's behalf only with a reason.
    r = officer.submit(page, "Ritira la richiesta", {"Nota": ""}, follow=False)
    assert r.status_code == 422 and "Scrivi il motivo del ritiro" in r.text
    assert app_requests.read_request(app_ctx(officer), OFFICER, CAREMMA).status == \
        "needs_info"


def test_admin_has_the_officer_forms(web: Web) -> None:
    web.login("admin")
    page = web.page(f"/richieste/{ORTI}")
    assert {"Chiedi informazioni", "Approva", "Respingi", "Salva valutazione",
            "Salva condizioni", "Usa i suggerimenti"} <= set(buttons(page))


# -- assessment ------------------------------------------------------------------------------


def test_assessment_form(officer: Web) -> None:
    move(officer, CAREMMA, "under_review")
    page = officer.page(f"/richieste/{CAREMMA}")
    form = page.form("Salva valutazione")
    for label in ("Punteggio economico", "Punteggio sociale", "Note", "Data del sopralluogo",
                  "Data della delibera", "Riferimento del verbale"):
        form.field_by_label(label)
    r = officer.submit(page, "Salva valutazione", {"Punteggio economico": "11",
                                                   "Punteggio sociale": ""}, follow=False)
    assert r.status_code == 422
    assert "Un numero intero da 0 a 10." in r.text and "Indica il punteggio sociale" in r.text
    kept = parse(r.text).form("Salva valutazione")
    assert kept.field_by_label("Punteggio economico").value == "11"
    with pytest.raises(NotFound):
        app_requests.read_assessment(app_ctx(officer), OFFICER, CAREMMA)
    values = {"Punteggio economico": "6", "Punteggio sociale": "9",
              "Note": "Buon radicamento", "Data del sopralluogo": "2026-11-20",
              "Data della delibera": "2026-12-01", "Riferimento del verbale": "verbale n. 7"}
    r = officer.submit(page, "Salva valutazione", values)
    assert "Modifiche salvate." in text(parse(r.text)) and "7,50" in text(parse(r.text))
    saved = app_requests.read_assessment(app_ctx(officer), OFFICER, CAREMMA)
    assert (saved.economic_score, saved.social_score, saved.notes, saved.site_visit_date,
            saved.decision_date, saved.decision_reference, saved.score) == (
        6, 9, "Buon radicamento", "2026-11-20", "2026-12-01", "verbale n. 7", "7.50")
    # The same again adds no version and says so.
    r = officer.submit(page, "Salva valutazione", values)
    assert "Operazione già registrata" in text(parse(r.text))
    assert app_requests.read_assessment(app_ctx(officer), OFFICER, CAREMMA).assessed_at == \
        saved.assessed_at
    # The form shows the assessment in force.
    form = officer.page(f"/richieste/{CAREMMA}").form("Salva valutazione")
    assert form.field_by_label("Punteggio sociale").value == "9"


# -- terms -----------------------------------------------------------------------------------


def test_terms_form_fields(officer: Web) -> None:
    form = terms_form(officer.page(f"/richieste/{ORTI}"))
    for label in ("Tasso annuo (%)", "Durata (mesi)", "Periodicità", "Metodo",
                  "Periodi di preammortamento", "Spese", "Finanziatore", "Fondo", "Categoria",
                  "GAS", "Prodotto", "Unità", "Prezzo unitario", "Scadenza", "Alla scadenza",
                  "Garante"):
        form.field_by_label(label)
    assert "Data di erogazione" not in form.labels
    assert [t for _, t in form.field_by_label("Periodicità").options] == [
        "Mensile", "Trimestrale", "Semestrale", "Annuale"]
    assert [t for _, t in form.field_by_label("Metodo").options] == [
        "Rata costante (francese)", "Quota capitale costante (italiano)",
        "Rimborso unico a scadenza"]
    assert [t for _, t in form.field_by_label("Alla scadenza").options] == [
        "Rimborso", "Rinnovo", "Fondo di solidarietà"]
    assert ("", "Scegli il finanziatore") in form.field_by_label("Finanziatore").options
    assert (LENDER, "Mag2 Finance Milano") in form.field_by_label("Finanziatore").options
    html = officer.page(f"/richieste/{ORTI}").html
    assert "<legend>Prefinanziamento 1</legend>" in html
    assert "<legend>Garanzia 1</legend>" in html
    assert "<legend>Prefinanziamento 2</legend>" not in html


def test_use_the_suggestions_saves_nothing_then_save(officer: Web) -> None:
    ctx = app_ctx(officer)
    found = get_opportunities(ctx, OFFICER, ORTI, None).items
    loan = next(o for o in found if o.kind == "loan")
    page = officer.page(f"/richieste/{ORTI}")
    r = officer.submit(page, "Usa i suggerimenti", by_name={"azione": "suggerimenti"},
                       follow=False)
    assert r.status_code == 200
    shown = parse(r.text)
    assert "Condizioni compilate con i suggerimenti" in text(shown)
    form = terms_form(shown)
    assert field_value(form, "importo") == "8000,00" == \
        min(loan.suggested_amount.amount, "8000.00").replace(".", ",")
    assert field_value(form, "fondo") == loan.source_id
    assert field_value(form, "finanziatore") == LENDER
    # The lender's latest loan's rate: the Latteria's 3.75%.
    assert field_value(form, "tasso") == "3,75"
    with pytest.raises(NotFound):
        app_requests.read_terms(ctx, OFFICER, ORTI)
    # Salva condizioni from the suggested form.
    r = officer.client.post(form.action, data=form.data(by_name={"azione": "salva"}))
    assert r.status_code == 303
    assert "Modifiche salvate." in text(officer.page(r.headers["location"]))
    terms = app_requests.read_terms(ctx, OFFICER, ORTI)
    assert terms.loan is not None
    assert (terms.loan.principal.amount, terms.loan.annual_rate, terms.loan.term_months,
            terms.loan.lender_id, terms.loan.pool_id, terms.loan.category) == (
        "8000.00", "3.75", 48, LENDER, loan.source_id, "microcredit")
    assert terms.prepayments == [] and terms.guarantees == []
    # The saved terms fill the form; saving them again records nothing new.
    again = terms_form(officer.page(f"/richieste/{ORTI}"))
    assert field_value(again, "importo") == "8000,00"
    r = officer.client.post(again.action, data=again.data())
    assert "Operazione già registrata" in text(officer.page(r.headers["location"]))
    assert app_requests.read_terms(ctx, OFFICER, ORTI).set_at == terms.set_at
    # Approved, funded on the suggested terms.
    approve(officer, ORTI)
    r = officer.submit(officer.page(f"/richieste/{ORTI}"), "Eroga",
                       {"Data di erogazione": "2026-12-06"})
    assert "Finanziata" in text(parse(r.text))


def test_suggestions_fill_prepayments_from_the_gas_then_fund(officer: Web) -> None:
    """Caseificio Cremonese's approved demo request (a prepayment of 12,000.00): the GAS's
    prepayments, best first, until they cover it; never priced goods before, so each
    is a credit of its products counted in euro."""
    ctx = app_ctx(officer)
    gas = [o for o in get_opportunities(ctx, OFFICER, CREMONESE, None).items
           if o.kind == "prepayment"]
    assert gas
    r = officer.submit(officer.page(f"/richieste/{CREMONESE}"), "Usa i suggerimenti",
                       by_name={"azione": "suggerimenti"}, follow=False)
    assert r.status_code == 200
    form = terms_form(parse(r.text))
    assert field_value(form, "importo") == ""  # a prepayment request: no loan
    expected, left = [], Decimal("12000.00")
    for o in gas:
        amount = min(Decimal(o.suggested_amount.amount), left)
        if amount > 0:
            expected.append((o.source_id, amount))
            left -= amount
    for i, (source, amount) in enumerate(expected):
        assert field_value(form, f"pp{i}-gas") == source
        assert field_value(form, f"pp{i}-importo") == f"{amount:.2f}".replace(".", ",")
        assert field_value(form, f"pp{i}-prodotto") == "Formaggi, latticini"
        assert field_value(form, f"pp{i}-unita") == "euro di merce"
        assert field_value(form, f"pp{i}-prezzo") == "1,00"
        assert field_value(form, f"pp{i}-scadenza") == "2027-12-06"
        assert field_value(form, f"pp{i}-alla_scadenza") == "refund"
    assert f"<legend>Prefinanziamento {len(expected) + 1}</legend>" in r.text
    assert "credito in merce" in r.text
    with pytest.raises(NotFound):
        app_requests.read_terms(ctx, OFFICER, CREMONESE)
    r = officer.client.post(form.action, data=form.data(by_name={"azione": "salva"}))
    assert r.status_code == 303
    terms = app_requests.read_terms(ctx, OFFICER, CREMONESE)
    assert [(p.gas_id, Decimal(p.amount.amount)) for p in terms.prepayments] == expected
    assert terms.loan is None
    r = officer.submit(officer.page(f"/richieste/{CREMONESE}"), "Eroga",
                       {"Data di erogazione": "2026-12-06"})
    assert "Finanziata" in text(parse(r.text))
    # The service's own note in the history, in Italian with an Italian date.
    assert "finanziata il 06/12/2026" in text(parse(r.text))
    assert "funded on" not in r.text
    req = app_requests.read_request(ctx, OFFICER, CREMONESE)
    assert req.instruments is not None
    assert len(req.instruments.prepayment_ids) == len(expected)


def test_suggestions_when_no_pool_lends(officer: Web) -> None:
    """Caseificio Val Taleggio is in arrears: matching offers no loan, only guarantors.
    The suggestion still asks the loan of the lender's general pool, says so, and backs
    it with the guarantors up to matching's coverage (150%)."""
    ctx = app_ctx(officer)
    req = new_request(officer, instrument="loan", gas_ids=[],
                      amount={"amount": "6000.00", "currency": "EUR"})
    move(officer, req.id, "under_review")
    found = get_opportunities(ctx, OFFICER, req.id, None).items
    assert not [o for o in found if o.kind == "loan"]
    guarantors = [o for o in found if o.kind == "guarantee"]
    r = officer.submit(officer.page(f"/richieste/{req.id}"), "Usa i suggerimenti",
                       by_name={"azione": "suggerimenti"}, follow=False)
    form = terms_form(parse(r.text))
    assert (field_value(form, "importo"), field_value(form, "fondo"),
            field_value(form, "finanziatore")) == ("6000,00", "", LENDER)
    assert "Nessun fondo propone un prestito per questa richiesta" in text(parse(r.text))
    need, expected = Decimal("9000.00"), []
    for o in guarantors:
        amount = min(Decimal(o.suggested_amount.amount), need)
        if amount > 0:
            expected.append((o.source_id, f"{amount:.2f}".replace(".", ",")))
            need -= amount
    assert [(field_value(form, f"g{i}-garante"), field_value(form, f"g{i}-importo"))
            for i in range(len(expected))] == expected
    r = officer.client.post(form.action, data=form.data(by_name={"azione": "salva"}))
    assert r.status_code == 303
    terms = app_requests.read_terms(ctx, OFFICER, req.id)
    assert terms.loan is not None and terms.loan.pool_id is None
    assert len(terms.guarantees) == len(expected)


def test_terms_errors_beside_the_fields_and_nothing_written(officer: Web) -> None:
    r = save_terms(officer, ORTI, {
        **LOAN_8000, "tasso": "tre", "durata": "0",
        "pp0-gas": GASABILE, "pp0-importo": "500", "pp0-prezzo": "1.250",
        "g0-importo": "100"}, follow=False)
    assert r.status_code == 422
    page = parse(r.text)
    body = text(page)
    assert "Scrivi un numero" in body and "Deve essere almeno 1." in body
    assert "Indica il prodotto." in body and "usa la virgola per i decimali" in body
    assert "Indica il garante." in body
    form = terms_form(page)
    assert field_value(form, "tasso") == "tre" and field_value(form, "pp0-importo") == "500"
    # The errors sit in their fieldset: Prefinanziamento 1's Prodotto.
    assert 'id="c-pp0-prodotto-error"' in r.text and 'id="c-g0-garante-error"' in r.text
    with pytest.raises(NotFound):
        app_requests.read_terms(app_ctx(officer), OFFICER, ORTI)
    # The application's own refusals land beside their fields too.
    r = save_terms(officer, ORTI, {**LOAN_8000, "categoria": "nessuna",
                                   "g0-garante": demo_id("Orti di Brianza"),
                                   "g0-importo": "100"}, follow=False)
    assert r.status_code == 422, text(parse(r.text))
    assert "Il finanziatore non ha una categoria di prestito con questo nome." in r.text
    # A package with nothing in it.
    r = save_terms(officer, ORTI, {**LOAN_8000, "importo": ""}, follow=False)
    assert r.status_code == 422
    assert "Le condizioni comprendono un prestito, dei prefinanziamenti o entrambi" in r.text
    with pytest.raises(NotFound):
        app_requests.read_terms(app_ctx(officer), OFFICER, ORTI)


def test_the_producer_sees_the_terms_but_no_form(web: Web) -> None:
    req = new_request(web)
    move(web, req.id, "under_review")
    web.login("officer")
    save_terms(web, req.id, {**LOAN_8000, "pp0-gas": GASABILE, "pp0-importo": "1000",
                             "pp0-prodotto": "Taleggio DOP", "pp0-unita": "kg",
                             "pp0-prezzo": "16,00", "pp0-scadenza": "2027-06-30",
                             "pp0-alla_scadenza": "rollover"})
    web.client.cookies.clear()
    web.login("caseificio")
    page = web.page(f"/richieste/{req.id}")
    body = text(page)
    assert "Condizioni proposte" in body
    assert "Totale finanziato 9.000,00 €" in body and "3,50%" in body
    assert "GAS Gasabile Milano Isola 1.000,00 € Taleggio DOP (kg) 16,00 € 30/06/2027 Rinnovo" \
        in body
    assert "Salva condizioni" not in buttons(page)


# -- funding ---------------------------------------------------------------------------------


def test_funding_refusals_say_what_to_change_then_fund(officer: Web) -> None:
    ctx = app_ctx(officer)
    set_category(ctx, OFFICER, LENDER, "garantito", CategoryIn(
        max_principal=MoneyIn("20000.00", "EUR"), max_term_months=60,
        frequencies=["monthly"], min_coverage="0.50", usury_threshold="6.00"))
    save_terms(officer, ORTI, {**LOAN_8000, "importo": "30000", "categoria": "garantito"})
    approve(officer, ORTI)
    page = officer.page(f"/richieste/{ORTI}")
    assert page.form("Eroga").field_by_label("Data di erogazione").value == "2026-12-06"

    def fund(expect: str, day: str = "2026-12-06") -> None:
        r = officer.submit(officer.page(f"/richieste/{ORTI}"), "Eroga",
                           {"Data di erogazione": day}, follow=False)
        assert r.status_code in (409, 422), r.status_code
        assert expect in text(parse(r.text))
        assert app_requests.read_request(ctx, OFFICER, ORTI).status == "approved"

    fund("Il prestito supera i limiti della sua categoria o del fondo")
    save_terms(officer, ORTI, {**LOAN_8000, "categoria": "garantito", "tasso": "9"})
    fund("Il TAEG del prestito supera la soglia d'usura della categoria: abbassa il tasso")
    save_terms(officer, ORTI, {**LOAN_8000, "categoria": "garantito"})
    fund("Le garanzie non raggiungono la copertura minima della categoria di prestito: "
         "aggiungi una garanzia")
    save_terms(officer, ORTI, {**LOAN_8000, "categoria": "garantito",
                               "g0-garante": GASABILE, "g0-importo": "5000"})
    fund("Un garante non ha abbastanza capacità di garanzia libera")
    fund("La data non può essere successiva a oggi.", "2026-12-07")
    # Two guarantors: 3,000.00 of Gasabile's free capacity and 1,000.00 of Navigli's.
    save_terms(officer, ORTI, {**LOAN_8000, "categoria": "garantito",
                               "g0-garante": GASABILE, "g0-importo": "3000",
                               "g1-garante": demo_id("GAS Navigli"), "g1-importo": "1000"})
    # The form of the page shows one empty guarantee after the saved ones.
    html = officer.page(f"/richieste/{ORTI}").html
    assert "<legend>Garanzia 3</legend>" in html and "<legend>Garanzia 4</legend>" not in html
    page = officer.page(f"/richieste/{ORTI}")
    r = officer.submit(page, "Eroga", {"Data di erogazione": "2026-12-05"}, follow=False)
    assert r.status_code == 303
    shown = officer.page(r.headers["location"])
    assert "Operazione registrata" in text(shown) and "Finanziata" in text(shown)
    req = app_requests.read_request(ctx, OFFICER, ORTI)
    assert req.status == "funded" and req.funded_on == "2026-12-05"
    assert req.instruments is not None and isinstance(req.instruments.loan_id, str)
    loan = read_loan(ctx, OFFICER, req.instruments.loan_id, None)
    assert (loan.principal.amount, loan.status, loan.category) == ("8000.00", "active",
                                                                   "garantito")
    assert len(req.instruments.guarantee_ids) == 2
    assert f'href="/prestiti/{req.instruments.loan_id}"' in shown.html
    # Sent again: funded once.
    r = officer.submit(page, "Eroga", {"Data di erogazione": "2026-12-05"})
    assert "Operazione già registrata" in text(parse(r.text))
    # Funded: no more forms of the workflow or the terms.
    done = officer.page(f"/richieste/{ORTI}")
    for button in ("Eroga", "Salva condizioni", "Approva"):
        assert button not in buttons(done)
