"""The GAS treasurer's pages: the home (Il nostro GAS), /fondo with Registra contributo
(and the per-order helper), /garanzie with Aggiorna capacità; and the producer's home
(La mia azienda). Figures are compared with what the application layer says."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from service.app import funds, guarantees, loans, prepayments, requests
from service.app.auth import Principal
from service.app.clock import today
from service.app.common import MoneyIn
from service.app.context import AppContext
from service.app.requests import RequestIn
from service.web.formatting import euro
from tests.web.conftest import Web
from tests.web.pages import Page, parse

GAS = Principal("gas.gasabile", "gas", "6d990696-2882-5a10-b31a-e7c567ff9393")
CASEIFICIO = Principal("caseificio", "producer", "ac020aa9-7632-5756-b55b-43ad94546e1c")
SUPPLIERS = ["Caseificio Val Taleggio", "Cantina Franciacorta Solidale", "Cascina Caremma",
             "Forno del Parco Sud"]


def ctx_of(web: Web) -> AppContext:
    ctx: AppContext = web.client.app.state.ctx
    return ctx


def fund(web: Web) -> funds.FundOut:
    return funds.list_funds(ctx_of(web), GAS, None, None, None).items[0]


def contributions(web: Web) -> list[funds.ContributionOut]:
    return funds.list_contributions(ctx_of(web), GAS, None, None, 500, None).items


def e(value: Any) -> str:
    """An amount as the pages show it, with a plain space before the euro sign."""
    return euro(value).replace("\xa0", " ")


def text(page: Page) -> str:
    return page.text.replace("\xa0", " ")


def error_beside(html: str, field_id: str) -> str:
    found = re.search(rf'<p class="error" id="{field_id}-error" role="alert">(.*?)</p>', html)
    assert found, f"no error beside {field_id}"
    return html_lib.unescape(found.group(1)).replace("\xa0", " ")


# --- homes ------------------------------------------------------------------------------

def test_gas_home_shows_fund_prepayments_guarantees_and_requests(web: Web) -> None:
    page = web.login("gas.gasabile")
    assert page.h1 == "Il nostro GAS"
    shown = text(page)
    f = fund(web)
    assert e(f.balance) in shown and e(f.unearmarked) in shown
    # The earmark by the producer's name, not its id.
    assert f"Caseificio Val Taleggio {e(f.earmarked[CASEIFICIO.party_id or ''])}" in shown
    assert CASEIFICIO.party_id not in shown
    # The open prepayment with the goods still owed, in its unit: 1440.00 / 16.00 = 90 kg.
    open_items = prepayments.list_prepayments(ctx_of(web), GAS, None, None, "open", None,
                                              None, None).items
    assert [p.reference for p in open_items] == ["PRF-2026-0001"]
    assert "PRF-2026-0001" in shown and "90 kg" in shown and e("1440.00") in shown
    capacity = guarantees.read_pledge_capacity(ctx_of(web), GAS, GAS.party_id or "")
    assert e(capacity.free) in shown and e(capacity.amount) in shown
    asked = requests.list_requests(ctx_of(web), GAS).items
    assert asked
    for r in asked:
        assert f'href="/richieste/{r.id}"' in page.html and r.reference in shown
    assert "Inviata" in shown


def test_producer_home_shows_installment_arrears_goods_and_requests(web: Web) -> None:
    ctx = ctx_of(web)
    status, made = requests.submit_request(ctx, CASEIFICIO, RequestIn(
        producer_id=CASEIFICIO.party_id or "", amount=MoneyIn("8000.00", "EUR"),
        purpose="Nuova cella di stagionatura", instrument="loan", term_months=36))
    assert status == 201
    page = web.login("caseificio")
    assert page.h1 == "La mia azienda"
    shown = text(page)
    loan = loans.list_loans(ctx, CASEIFICIO, None, None, None, None, None, None).items[0]
    assert loan.next_installment is not None
    assert e(loan.next_installment.amount_due) in shown
    assert f"entro il {date_it(loan.next_installment.due_date)}" in shown
    assert e(loan.due_now) in shown and e(loan.overdue_amount) in shown
    assert f'href="/prestiti/{loan.id}"' in page.html
    # Goods still owed: 1440 / 16 = 90 kg and 1120 / 16 = 70 kg, each with its GAS's name.
    assert "90 kg" in shown and "70 kg" in shown and "GAS Gasabile Milano Isola" in shown
    assert f'href="/richieste/{made.id}"' in page.html
    assert f"{made.reference} {e('8000.00')} Nuova cella di stagionatura Inviata" in shown
    assert f"{e('150.00')} destinati a voi" in shown


def date_it(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{d}/{m}/{y}"


# --- /fondo -----------------------------------------------------------------------------

def test_fund_page_lists_contributions_and_offers_the_gas_producers(web: Web) -> None:
    web.login("gas.gasabile")
    page = web.page("/fondo")
    assert page.h1 == "Fondo di solidarietà"
    form = page.form("Registra contributo")
    for label in ("Importo", "Data", "Destinato a", "Nota", "Quantità", "Unità",
                  "Contributo per unità"):
        form.field_by_label(label)
    assert form.field_by_label("Data").kind == "date"
    assert form.field_by_label("Data").value == today().isoformat()
    options = [t for _, t in form.field_by_label("Destinato a").options]
    assert options[0] == "Nessuna destinazione"
    assert sorted(options[1:]) == sorted(SUPPLIERS)
    for c in contributions(web):
        assert c.reference in page.text


def test_a_contribution_of_1234_50_grows_the_fund_by_exactly_that(web: Web) -> None:
    web.login("gas.gasabile")
    before = Decimal(fund(web).balance.amount)
    r = web.submit("/fondo", "Registra contributo", {"Importo": "1.234,50",
                                                    "Nota": "Distribuzione di novembre"},
                   follow=False)
    assert r.status_code == 303 and "esito=registrata" in r.headers["location"]
    after = Decimal(fund(web).balance.amount)
    assert after - before == Decimal("1234.50")
    page = parse(web.get(r.headers["location"]).text)
    assert "Operazione registrata." in page.text
    assert e(after) in text(page)
    made = contributions(web)[-1]
    assert made.amount.amount == "1234.50" and made.earmark_producer_id is None
    assert made.note == "Distribuzione di novembre" and made.date == today().isoformat()


def test_a_contribution_earmarked_for_a_producer(web: Web) -> None:
    web.login("gas.gasabile")
    mark = CASEIFICIO.party_id or ""
    before = Decimal(fund(web).earmarked[mark].amount)
    page = web.page("/fondo")
    r = web.submit(page, "Registra contributo", {"Importo": "75,00",
                                                "Destinato a": "Caseificio Val Taleggio"})
    assert r.status_code == 200
    assert Decimal(fund(web).earmarked[mark].amount) - before == Decimal("75.00")
    assert contributions(web)[-1].earmark_producer_id == mark


def test_the_surcharge_helper_records_quantity_times_rate_as_the_basis(web: Web) -> None:
    web.login("gas.gasabile")
    before = Decimal(fund(web).balance.amount)
    r = web.submit("/fondo", "Registra contributo", {
        "Quantità": "120,5", "Unità": "kg", "Contributo per unità": "0,50"})
    assert r.status_code == 200 and "Operazione registrata." in r.text
    made = contributions(web)[-1]
    assert made.amount.amount == "60.25"
    assert made.basis is not None
    assert (made.basis.quantity, made.basis.unit, made.basis.rate.amount) == \
        ("120.5", "kg", "0.50")
    assert Decimal(fund(web).balance.amount) - before == Decimal("60.25")
    assert "120,5 kg × 0,50" in text(parse(r.text))
    # The amount typed as well, agreeing with the product: recorded too.
    r = web.submit("/fondo", "Registra contributo", {
        "Importo": "12,00", "Quantità": "24", "Unità": "litri",
        "Contributo per unità": "0,50"})
    assert r.status_code == 200
    assert contributions(web)[-1].basis is not None


def test_a_surcharge_disagreeing_with_the_amount_is_refused(web: Web) -> None:
    web.login("gas.gasabile")
    count = len(contributions(web))
    r = web.submit("/fondo", "Registra contributo", {
        "Importo": "70,00", "Quantità": "120,5", "Unità": "kg",
        "Contributo per unità": "0,50"})
    assert r.status_code == 422
    assert "non corrisponde a quantità per contributo per unità" in \
        error_beside(r.text, "amount").replace("\xa0", " ")
    assert "60,25 €" in error_beside(r.text, "amount").replace("\xa0", " ")
    form = parse(r.text).form("Registra contributo")
    assert form.field_by_label("Importo").value == "70,00"
    assert form.field_by_label("Quantità").value == "120,5"
    assert len(contributions(web)) == count


def test_a_half_filled_helper_names_what_is_missing(web: Web) -> None:
    web.login("gas.gasabile")
    count = len(contributions(web))
    r = web.submit("/fondo", "Registra contributo", {"Quantità": "10"})
    assert r.status_code == 422
    assert "unità" in error_beside(r.text, "unit")
    assert "contributo per unità" in error_beside(r.text, "rate")
    assert len(contributions(web)) == count


def test_contribution_errors_stay_beside_their_fields(web: Web) -> None:
    web.login("gas.gasabile")
    count = len(contributions(web))
    balance = fund(web).balance
    r = web.submit("/fondo", "Registra contributo", {"Importo": "1.250", "Nota": "Cassa"})
    assert r.status_code == 422
    assert "usa la virgola per i decimali" in error_beside(r.text, "amount")
    form = parse(r.text).form("Registra contributo")
    assert form.field_by_label("Importo").value == "1.250"
    assert form.field_by_label("Nota").value == "Cassa"
    tomorrow = (today() + timedelta(days=1)).isoformat()
    r = web.submit("/fondo", "Registra contributo", {"Importo": "10,00", "Data": tomorrow})
    assert r.status_code == 422
    assert error_beside(r.text, "date") == "La data non può essere successiva a oggi."
    assert parse(r.text).form("Registra contributo").field_by_label("Data").value == tomorrow
    r = web.submit("/fondo", "Registra contributo", {})
    assert r.status_code == 422
    assert "Indica l'importo" in error_beside(r.text, "amount")
    assert len(contributions(web)) == count and fund(web).balance == balance


def test_an_earmark_outside_the_list_is_refused(web: Web) -> None:
    web.login("gas.gasabile")
    count = len(contributions(web))
    page = web.page("/fondo")
    r = web.submit(page, "Registra contributo", {"Importo": "5,00"},
                   by_name={"earmark": "00000000-0000-4000-8000-000000000000"})
    assert r.status_code == 422 and "elenco" in error_beside(r.text, "earmark")
    assert len(contributions(web)) == count


def test_a_replayed_contribution_records_once(web: Web) -> None:
    web.login("gas.gasabile")
    page = web.page("/fondo")
    count = len(contributions(web))
    first = web.submit(page, "Registra contributo", {"Importo": "40,00"}, follow=False)
    again = web.submit(page, "Registra contributo", {"Importo": "40,00"}, follow=False)
    assert "esito=registrata" in first.headers["location"]
    assert "esito=gia-registrata" in again.headers["location"]
    shown = parse(web.get(again.headers["location"]).text)
    assert "Operazione già registrata Vedi l'operazione" in shown.text
    assert len(contributions(web)) == count + 1
    # The link shows what was recorded: that contribution alone.
    link = re.search(r'<a href="([^"]+)">Vedi l\'operazione</a>', shown.html)
    assert link
    made = contributions(web)[-1]
    only = text(parse(web.get(html_lib.unescape(link.group(1))).text))
    assert made.reference in only and f'id="c-{made.id}"' in web.get(
        html_lib.unescape(link.group(1))).text
    assert contributions(web)[0].reference not in only


def test_the_fund_is_the_gas_users_only(web: Web) -> None:
    web.login("caseificio")
    assert web.get("/fondo").status_code == 404
    assert web.get("/garanzie").status_code == 404
    web.client.cookies.clear()
    web.login("officer")
    assert web.get("/fondo").status_code == 404


# --- /garanzie --------------------------------------------------------------------------

def test_guarantees_page_lists_loan_producer_and_amounts(web: Web) -> None:
    web.login("gas.gasabile")
    page = web.page("/garanzie")
    assert page.h1 == "Garanzie"
    shown = text(page)
    items = guarantees.list_guarantees(ctx_of(web), GAS, None, None, None, None, None).items
    assert items
    for g in items:
        loan = loans.read_loan(ctx_of(web), GAS, g.loan_id, None)
        assert (f"{g.reference} {loan.reference} Caseificio Val Taleggio {e(g.amount)} "
                f"{e(g.called_amount)} {e(g.remaining)}") in shown
    assert "Attiva" in shown
    capacity = guarantees.read_pledge_capacity(ctx_of(web), GAS, GAS.party_id or "")
    assert e(capacity.free) in shown
    form = page.form("Aggiorna capacità")
    assert form.field_by_label("Capacità di garanzia").value == "15.000,00"


def test_the_gas_updates_its_pledge_capacity(web: Web) -> None:
    web.login("gas.gasabile")
    r = web.submit("/garanzie", "Aggiorna capacità", {"Capacità di garanzia": "20.000,00"},
                   follow=False)
    assert r.status_code == 303
    page = web.get(r.headers["location"])
    assert "Modifiche salvate." in page.text
    capacity = guarantees.read_pledge_capacity(ctx_of(web), GAS, GAS.party_id or "")
    assert capacity.amount.amount == "20000.00" and capacity.free.amount == "8000.00"
    assert e("8000.00") in page.text.replace("\xa0", " ")


def test_capacity_below_what_is_pledged_is_refused(web: Web) -> None:
    web.login("gas.gasabile")
    r = web.submit("/garanzie", "Aggiorna capacità", {"Capacità di garanzia": "1.000,00"})
    assert r.status_code == 409
    assert "non può scendere sotto quanto il GAS ha già impegnato" in r.text
    assert parse(r.text).form("Aggiorna capacità").field_by_label(
        "Capacità di garanzia").value == "1.000,00"
    r = web.submit("/garanzie", "Aggiorna capacità", {"Capacità di garanzia": "1.250"})
    assert r.status_code == 422
    assert "usa la virgola" in error_beside(r.text, "capacity")
    capacity = guarantees.read_pledge_capacity(ctx_of(web), GAS, GAS.party_id or "")
    assert capacity.amount.amount == "15000.00"
