"""The funding-request pages in Debian's Chromium, by UI.md's labels and buttons: a
producer files a request and answers a request for information; an officer reviews,
assesses, fills the terms from the suggestions, approves and funds; a GAS declares and
withdraws interest. Each page on a desktop and a 375-pixel phone, looked at by axe.

The live server's database is shared by the session: each journey files the request it
works on (or, for the GAS, leaves the demo request as it found it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from service.app.demo import demo_id
from tests.web.conftest import (
    LiveServer,
    axe_violations,
    browser_login,
    no_horizontal_scroll,
    screenshot,
)

REQUEST_URL = re.compile(r"/richieste/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                         r"[0-9a-f]{12}$")


@pytest.fixture
def second(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """Another person's browser (the officer, while the producer uses ``desktop``)."""
    context = browser.new_context(base_url=live_server.url, locale="it-IT",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def check_page(page: Any, name: str) -> None:
    """Screenshot, no sideways scrolling, no serious or critical axe violation."""
    screenshot(page, name)
    assert no_horizontal_scroll(page), f"{name} scrolls sideways"
    assert axe_violations(page) == [], name


def form_of(page: Any, button: str) -> Any:
    return page.locator("form", has=page.get_by_role("button", name=button, exact=True))


def click(page: Any, button: str) -> None:
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()


def file_request(page: Any, amount: str, instrument: str, purpose: str,
                 gas: str | None = None) -> str:
    page.goto("/richieste/nuova")
    page.get_by_label("Importo richiesto", exact=True).fill(amount)
    page.get_by_label("Strumento", exact=True).select_option(label=instrument)
    page.get_by_label("Scopo", exact=True).fill(purpose)
    page.get_by_label("Durata (mesi)", exact=True).fill("24")
    if gas:
        page.get_by_label(gas, exact=True).check()
    click(page, "Invia richiesta")
    page.wait_for_url(REQUEST_URL)
    return str(page.url)


def test_producer_files_a_request_and_answers_the_officer(desktop: Any, second: Any,
                                                          phone: Any) -> None:
    browser_login(desktop, "caseificio")
    desktop.goto("/richieste/nuova")
    assert desktop.locator("h1").inner_text() == "Nuova richiesta di finanziamento"
    check_page(desktop, "richieste-nuova-desktop")
    url = file_request(desktop, "7.500,00", "Misto", "Nuova zangola per il burro",
                       gas="GAS Navigli")
    assert desktop.get_by_text("Operazione registrata").is_visible()
    assert desktop.get_by_text("7.500,00 €").first.is_visible()
    assert desktop.locator(".req-lead").inner_text().startswith("Inviata")

    # The officer takes it under review and asks for information, on the officer's page.
    browser_login(second, "officer")
    second.goto(url)
    form_of(second, "Prendi in esame").get_by_label("Nota", exact=True).fill("Visita")
    click(second, "Prendi in esame")
    form_of(second, "Chiedi informazioni").get_by_label("Nota", exact=True).fill(
        "Serve il preventivo della zangola")
    click(second, "Chiedi informazioni")
    assert second.locator(".req-lead").inner_text().startswith("Informazioni richieste")

    desktop.goto(url)
    assert desktop.get_by_text("Serve il preventivo della zangola").first.is_visible()
    assert desktop.get_by_role("button", name="Ritira la richiesta").is_visible()
    check_page(desktop, "richiesta-produttore-desktop")
    desktop.get_by_label("Risposta", exact=True).fill("Preventivo di 7.400 euro allegato")
    click(desktop, "Rispondi e reinvia")
    assert desktop.get_by_text("Operazione registrata").is_visible()
    assert desktop.locator(".req-lead").inner_text().startswith("Inviata")
    assert desktop.get_by_role("cell", name="Preventivo di 7.400 euro allegato").is_visible()
    assert desktop.get_by_role("button", name="Rispondi e reinvia").count() == 0

    desktop.goto("/richieste")
    check_page(desktop, "richieste-produttore-desktop")

    browser_login(phone, "caseificio")
    for path, name in (("/richieste", "richieste-produttore-phone"),
                       ("/richieste/nuova", "richieste-nuova-phone"),
                       (url, "richiesta-produttore-phone")):
        phone.goto(path)
        check_page(phone, name)


def test_officer_reviews_assesses_sets_terms_approves_and_funds(desktop: Any,
                                                                phone: Any) -> None:
    """Cascina Caremma's demo request (mixed, 15,000.00, naming two GAS), from Inviata
    to Finanziata."""
    page = desktop
    browser_login(page, "officer")
    page.goto("/richieste")
    page.get_by_label("Stato", exact=True).select_option(label="Inviata")
    click(page, "Filtra")
    assert "stato=submitted" in page.url
    check_page(page, "richieste-officer-desktop")
    page.get_by_role("row", name=re.compile("Cascina Caremma")).get_by_role("link").click()
    page.wait_for_url(REQUEST_URL)
    url = page.url
    check_page(page, "richiesta-officer-inviata-desktop")
    click(page, "Prendi in esame")
    assert page.locator(".req-lead").inner_text().startswith("In esame")

    # The forms UI.md names are found by their names, as a browser test finds them.
    for name in ("Valutazione", "Condizioni", "Chiedi informazioni"):
        assert page.get_by_role("form", name=name).count() == 1, name
    valutazione = page.get_by_role("form", name="Valutazione")
    assert valutazione.get_by_role("button", name="Salva valutazione").count() == 1
    valutazione.get_by_label("Punteggio economico", exact=True).fill("8")
    valutazione.get_by_label("Punteggio sociale", exact=True).fill("9")
    valutazione.get_by_label("Note", exact=True).fill("Bilanci in ordine")
    click(page, "Salva valutazione")
    assert page.get_by_text("Modifiche salvate.").is_visible()

    click(page, "Usa i suggerimenti")
    assert page.get_by_text("Nulla è stato ancora salvato").is_visible()
    terms = form_of(page, "Salva condizioni")
    loan = terms.get_by_role("group", name="Prestito")
    # The named GAS prepay (3,550.00 and 3,100.00), the pool lends the rest.
    assert loan.get_by_label("Importo", exact=True).input_value() == "8350,00"
    # The rate of the lender's latest loan (the Latteria's).
    assert loan.get_by_label("Tasso annuo (%)", exact=True).input_value() == "3,75"
    assert loan.get_by_label("Finanziatore", exact=True).input_value() == \
        demo_id("Mag2 Finance Milano")
    for n, (gas, amount) in enumerate((("GAS Lambrate Solidale", "3550,00"),
                                       ("GAS Gasabile Milano Isola", "3100,00")), 1):
        part = terms.get_by_role("group", name=f"Prefinanziamento {n}")
        assert part.get_by_label("GAS", exact=True).input_value() == demo_id(gas)
        assert part.get_by_label("Importo", exact=True).input_value() == amount
        part.get_by_label("Prodotto", exact=True).fill("Cassetta di verdura")
        part.get_by_label("Unità", exact=True).fill("cassetta")
        part.get_by_label("Prezzo unitario", exact=True).fill("25,00")
    guarantee = terms.get_by_role("group", name="Garanzia 1")
    assert guarantee.get_by_label("Garante", exact=True).input_value() == \
        demo_id("GAS Gasabile Milano Isola")
    check_page(page, "richiesta-condizioni-suggerite-desktop")
    click(page, "Salva condizioni")
    assert page.get_by_text("Modifiche salvate.").is_visible()
    assert page.get_by_text("Condizioni in vigore").is_visible()

    form_of(page, "Approva").get_by_label("Nota", exact=True).fill("Delibera n. 21")
    click(page, "Approva")
    assert page.locator(".req-lead").inner_text().startswith("Approvata")
    erogazione = form_of(page, "Eroga")
    assert erogazione.get_by_label("Data di erogazione", exact=True).input_value() == \
        "2026-12-06"
    check_page(page, "richiesta-officer-approvata-desktop")
    click(page, "Eroga")
    assert page.get_by_text("Operazione registrata").is_visible()
    assert page.locator(".req-lead").inner_text().startswith("Finanziata")
    assert page.get_by_role("link", name="il prestito").is_visible()
    assert page.get_by_role("link", name="il prefinanziamento 2").is_visible()

    browser_login(phone, "officer")
    phone.goto(url)
    check_page(phone, "richiesta-officer-finanziata-phone")
    phone.goto(f"/richieste/{demo_id('req:orti')}")
    check_page(phone, "richiesta-officer-in-esame-phone")
    phone.goto("/richieste")
    check_page(phone, "richieste-officer-phone")


def test_gas_declares_and_withdraws_interest(desktop: Any, second: Any, phone: Any) -> None:
    browser_login(second, "caseificio")
    url = file_request(second, "4000", "Prefinanziamento dai GAS", "Forme di taleggio",
                       gas="GAS Gasabile Milano Isola")
    for page, size in ((desktop, "desktop"), (phone, "phone")):
        browser_login(page, "gas.gasabile")
        page.goto("/richieste")
        check_page(page, f"richieste-gas-{size}")
        page.goto(url)
        page.get_by_label("Tipo", exact=True).select_option(label="Garanzia")
        page.get_by_label("Importo", exact=True).fill("650")
        click(page, "Dichiara interesse")
        assert page.get_by_text("Operazione registrata").is_visible()
        assert page.get_by_role("cell", name="650,00 €").is_visible()
        check_page(page, f"richiesta-gas-{size}")
        click(page, "Ritira interesse")
        assert page.get_by_text("Non avete dichiarato interesse").is_visible()
