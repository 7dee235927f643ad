"""/prefinanziamenti: the producer's and the GAS's lists, one prepayment with the goods
still owed and its deliveries (Registra consegna, from either side), and a GAS's new
prepayment (Registra prefinanziamento)."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

from service.app import prepayments
from service.app.auth import Principal
from service.app.clock import today
from service.app.context import AppContext
from service.app.prepayments import PrepaymentOut
from service.web.formatting import euro, number
from tests.web.conftest import Web
from tests.web.pages import parse

GAS = Principal("gas.gasabile", "gas", "6d990696-2882-5a10-b31a-e7c567ff9393")
CASEIFICIO = Principal("caseificio", "producer", "ac020aa9-7632-5756-b55b-43ad94546e1c")


def ctx_of(web: Web) -> AppContext:
    ctx: AppContext = web.client.app.state.ctx
    return ctx


def by_reference(web: Web, reference: str) -> PrepaymentOut:
    items = prepayments.list_prepayments(ctx_of(web), CASEIFICIO, None, None, None, None,
                                         None, None, reference).items
    assert len(items) == 1
    return items[0]


def text_of(html: str) -> str:
    return parse(html).text.replace("\xa0", " ")


def error_beside(html: str, field_id: str) -> str:
    found = re.search(rf'<p class="error" id="{field_id}-error" role="alert">(.*?)</p>', html)
    assert found, f"no error beside {field_id}"
    return html_lib.unescape(found.group(1)).replace("\xa0", " ")


def test_each_side_lists_its_own_prepayments(web: Web) -> None:
    web.login("gas.gasabile")
    page = web.page("/prefinanziamenti")
    assert page.h1 == "Prefinanziamenti"
    shown = page.text.replace("\xa0", " ")
    assert "PRF-2026-0001" in shown and "PRF-2026-0002" not in shown
    assert "Caseificio Val Taleggio" in shown and "90 kg" in shown
    assert 'href="/prefinanziamenti/nuovo"' in page.html
    web.client.cookies.clear()
    web.login("caseificio")
    page = web.page("/prefinanziamenti")
    shown = page.text.replace("\xa0", " ")
    assert "PRF-2026-0001" in shown and "PRF-2026-0002" in shown
    assert "GAS Gasabile Milano Isola" in shown and "70 kg" in shown
    assert 'href="/prefinanziamenti/nuovo"' not in page.html
    totals = prepayments.list_prepayments(ctx_of(web), CASEIFICIO, None, None, None, None,
                                          None, None).totals
    assert "2.560,00 €" in shown and totals.remaining.amount == "2560.00"
    closed = web.page("/prefinanziamenti?stato=chiusi")
    assert "Nessun prefinanziamento chiuso." in closed.text


def test_a_prepayment_shows_the_goods_still_owed_and_its_deliveries(web: Web) -> None:
    item = by_reference(web, "PRF-2026-0001")
    web.login("gas.gasabile")
    page = web.page(f"/prefinanziamenti/{item.id}")
    assert page.h1 == "Prefinanziamento PRF-2026-0001"
    shown = page.text.replace("\xa0", " ")
    assert "Merce ancora da consegnare 90 kg" in shown
    assert "16,00 € per kg" in shown and "1.440,00 €" in shown
    for d in item.deliveries:
        assert f"{number(d.quantity)} kg {euro(d.value)}".replace("\xa0", " ") in shown
    form = page.form("Registra consegna")
    assert form.field_by_label("Data").kind == "date"
    assert form.field_by_label("Data").value == today().isoformat()
    form.field_by_label("Quantità")


def test_the_producer_records_a_delivery_and_the_gas_sees_it(web: Web) -> None:
    item = by_reference(web, "PRF-2026-0001")
    web.login("caseificio")
    r = web.submit(f"/prefinanziamenti/{item.id}", "Registra consegna",
                   {"Quantità": "12,5"}, follow=False)
    assert r.status_code == 303 and "esito=registrata" in r.headers["location"]
    after = by_reference(web, "PRF-2026-0001")
    assert len(after.deliveries) == len(item.deliveries) + 1
    new = after.deliveries[-1]
    assert (new.quantity, new.value.amount, new.date) == ("12.5", "200.00", today().isoformat())
    assert after.remaining.amount == "1240.00"
    web.client.cookies.clear()
    web.login("gas.gasabile")
    shown = text_of(web.get(f"/prefinanziamenti/{item.id}").text)
    assert "12,5 kg 200,00 €" in shown and "Merce ancora da consegnare 77,5 kg" in shown


def test_the_gas_records_a_delivery_and_the_producer_sees_it(web: Web) -> None:
    item = by_reference(web, "PRF-2026-0001")
    web.login("gas.gasabile")
    yesterday = (today() - timedelta(days=1)).isoformat()
    r = web.submit(f"/prefinanziamenti/{item.id}", "Registra consegna",
                   {"Data": yesterday, "Quantità": "3,125"})
    assert r.status_code == 200 and "Operazione registrata." in r.text
    new = by_reference(web, "PRF-2026-0001").deliveries[-1]
    assert (new.quantity, new.value.amount, new.date) == ("3.125", "50.00", yesterday)
    web.client.cookies.clear()
    web.login("caseificio")
    shown = text_of(web.get(f"/prefinanziamenti/{item.id}").text)
    assert "3,125 kg 50,00 €" in shown
    assert "86,875 kg" in text_of(web.get("/").text)


def test_a_delivery_worth_more_than_what_remains_is_refused(web: Web) -> None:
    item = by_reference(web, "PRF-2026-0001")
    web.login("caseificio")
    r = web.submit(f"/prefinanziamenti/{item.id}", "Registra consegna", {"Quantità": "91"})
    assert r.status_code == 409
    refusal = text_of(r.text)
    assert ("La consegna di 91 kg vale 1.456,00 €, più di quanto resta del "
            "prefinanziamento (1.440,00 €, cioè 90 kg): non è stata registrata.") in refusal
    form = parse(r.text).form("Registra consegna")
    assert form.field_by_label("Quantità").value == "91"
    assert by_reference(web, "PRF-2026-0001").deliveries == item.deliveries


def test_delivery_errors_stay_beside_their_fields(web: Web) -> None:
    item = by_reference(web, "PRF-2026-0001")
    web.login("gas.gasabile")
    tomorrow = (today() + timedelta(days=1)).isoformat()
    r = web.submit(f"/prefinanziamenti/{item.id}", "Registra consegna",
                   {"Data": tomorrow, "Quantità": "2"})
    assert r.status_code == 422
    assert error_beside(r.text, "date") == "La data non può essere successiva a oggi."
    r = web.submit(f"/prefinanziamenti/{item.id}", "Registra consegna", {"Quantità": "1.250"})
    assert r.status_code == 422
    assert "usa la virgola per i decimali" in error_beside(r.text, "quantity")
    assert parse(r.text).form("Registra consegna").field_by_label("Quantità").value == "1.250"
    r = web.submit(f"/prefinanziamenti/{item.id}", "Registra consegna", {"Quantità": "1,2345"})
    assert r.status_code == 422 and "3 decimali" in error_beside(r.text, "quantity")
    r = web.submit(f"/prefinanziamenti/{item.id}", "Registra consegna",
                   {"Data": "2020-01-01", "Quantità": "1"})
    assert r.status_code == 422
    assert "precedente al pagamento" in error_beside(r.text, "date")
    assert by_reference(web, "PRF-2026-0001").deliveries == item.deliveries


def test_a_replayed_delivery_records_once(web: Web) -> None:
    item = by_reference(web, "PRF-2026-0001")
    web.login("caseificio")
    page = web.page(f"/prefinanziamenti/{item.id}")
    first = web.submit(page, "Registra consegna", {"Quantità": "1"}, follow=False)
    again = web.submit(page, "Registra consegna", {"Quantità": "1"}, follow=False)
    assert "esito=registrata" in first.headers["location"]
    assert "esito=gia-registrata" in again.headers["location"]
    assert "Operazione già registrata" in text_of(web.get(again.headers["location"]).text)
    assert len(by_reference(web, "PRF-2026-0001").deliveries) == len(item.deliveries) + 1


def test_another_gas_prepayment_is_not_found(web: Web) -> None:
    other = by_reference(web, "PRF-2026-0002")
    assert other.gas_id != GAS.party_id
    web.login("gas.gasabile")
    assert web.get(f"/prefinanziamenti/{other.id}").status_code == 404
    assert web.get("/prefinanziamenti/not-a-uuid").status_code == 404
    own = by_reference(web, "PRF-2026-0001")
    page = web.page(f"/prefinanziamenti/{own.id}")
    form = page.form("Registra consegna")
    r = web.client.post(f"/prefinanziamenti/{other.id}/consegne",
                        data=form.data({"Quantità": "1"}))
    assert r.status_code == 404
    assert by_reference(web, "PRF-2026-0002").deliveries == other.deliveries


def test_the_new_prepayment_form_is_the_gas_users(web: Web) -> None:
    web.login("caseificio")
    assert web.get("/prefinanziamenti/nuovo").status_code == 404
    web.client.cookies.clear()
    web.login("gas.gasabile")
    page = web.page("/prefinanziamenti/nuovo")
    assert page.h1 == "Nuovo prefinanziamento"
    form = page.form("Registra prefinanziamento")
    producers = [t for v, t in form.field_by_label("Produttore").options if v]
    assert sorted(producers) == sorted(["Caseificio Val Taleggio", "Cascina Caremma",
                                        "Forno del Parco Sud",
                                        "Cantina Franciacorta Solidale"])
    assert [t for _, t in form.field_by_label("Alla scadenza").options] == \
        ["Rimborso", "Rinnovo", "Fondo di solidarietà"]
    assert form.field_by_label("Data").value == today().isoformat()
    assert form.field_by_label("Scadenza").kind == "date"


def test_the_gas_records_a_new_prepayment(web: Web) -> None:
    web.login("gas.gasabile")
    paid = (today() - timedelta(days=2)).isoformat()
    expires = (today() + timedelta(days=180)).isoformat()
    r = web.submit("/prefinanziamenti/nuovo", "Registra prefinanziamento", {
        "Produttore": "Cascina Caremma", "Importo": "1.200,00", "Prodotto": "Riso Carnaroli",
        "Unità": "kg", "Prezzo unitario": "4,80", "Data": paid, "Scadenza": expires,
        "Alla scadenza": "Fondo di solidarietà"}, follow=False)
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/prefinanziamenti/") and "esito=registrata" in location
    made = [p for p in prepayments.list_prepayments(ctx_of(web), GAS, None, None, None, None,
                                                    None, None).items
            if p.product == "Riso Carnaroli"]
    assert len(made) == 1
    p = made[0]
    assert location.startswith(f"/prefinanziamenti/{p.id}?")
    assert (p.amount.amount, p.unit, p.unit_price.amount, p.date, p.expires_on,
            p.on_expiry, p.gas_id, p.status) == ("1200.00", "kg", "4.80", paid, expires,
                                                 "solidarity", GAS.party_id, "open")
    shown = text_of(web.get(location).text)
    assert "Operazione registrata." in shown and "Merce ancora da consegnare 250 kg" in shown
    assert "Cascina Caremma" in shown and "Fondo di solidarietà" in shown


def test_new_prepayment_errors_keep_the_values_and_write_nothing(web: Web) -> None:
    web.login("gas.gasabile")
    count = len(prepayments.list_prepayments(ctx_of(web), GAS, None, None, None, None,
                                             None, None).items)
    r = web.submit("/prefinanziamenti/nuovo", "Registra prefinanziamento", {
        "Importo": "1.250", "Prodotto": "Miele", "Prezzo unitario": "",
        "Data": (today() + timedelta(days=1)).isoformat()})
    assert r.status_code == 422
    assert "Scegli il produttore" in error_beside(r.text, "producer")
    assert "usa la virgola" in error_beside(r.text, "amount")
    assert "unità" in error_beside(r.text, "unit")
    assert "prezzo unitario" in error_beside(r.text, "unit_price")
    assert "Indica la data" in error_beside(r.text, "expires_on")
    form = parse(r.text).form("Registra prefinanziamento")
    assert form.field_by_label("Prodotto").value == "Miele"
    assert form.field_by_label("Importo").value == "1.250"
    # The app's own check: a payment dated after today.
    r = web.submit("/prefinanziamenti/nuovo", "Registra prefinanziamento", {
        "Produttore": "Cascina Caremma", "Importo": "100,00", "Prodotto": "Miele",
        "Unità": "kg", "Prezzo unitario": "10,00",
        "Data": (today() + timedelta(days=1)).isoformat(),
        "Scadenza": (today() + timedelta(days=30)).isoformat()})
    assert r.status_code == 422
    assert error_beside(r.text, "date") == "La data non può essere successiva a oggi."
    assert parse(r.text).form("Registra prefinanziamento").field_by_label(
        "Produttore").value != ""
    assert len(prepayments.list_prepayments(ctx_of(web), GAS, None, None, None, None,
                                            None, None).items) == count


def test_a_replayed_new_prepayment_records_once(web: Web) -> None:
    web.login("gas.gasabile")
    page = web.page("/prefinanziamenti/nuovo")
    values = {"Produttore": "Forno del Parco Sud", "Importo": "300,00", "Prodotto": "Pane",
              "Unità": "kg", "Prezzo unitario": "6,00",
              "Scadenza": (today() + timedelta(days=60)).isoformat()}
    first = web.submit(page, "Registra prefinanziamento", values, follow=False)
    again = web.submit(page, "Registra prefinanziamento", values, follow=False)
    assert "esito=registrata" in first.headers["location"]
    assert "esito=gia-registrata" in again.headers["location"]
    assert first.headers["location"].split("?")[0] == again.headers["location"].split("?")[0]
    made = [p for p in prepayments.list_prepayments(ctx_of(web), GAS, None, None, None, None,
                                                    None, None).items if p.product == "Pane"]
    assert len(made) == 1


def test_officers_see_both_sides_of_a_prepayment(web: Web) -> None:
    item = by_reference(web, "PRF-2026-0002")
    web.login("officer")
    page = web.page(f"/prefinanziamenti/{item.id}")
    assert "GAS Navigli" in page.text and "Caseificio Val Taleggio" in page.text
    listing = web.page("/prefinanziamenti").text
    assert "PRF-2026-0001" in listing and "PRF-2026-0002" in listing
    assert web.get("/prefinanziamenti/nuovo").status_code == 404
