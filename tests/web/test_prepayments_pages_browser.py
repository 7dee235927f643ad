"""Prepayments in Debian's Chromium: a GAS records a new prepayment, the producer records
a delivery on a phone, the GAS sees it; every producer page on a desktop and a phone.

The live server is shared by the whole session: the journey works on a prepayment it
creates itself (a product name of its own)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from service.app.clock import today
from tests.web.conftest import axe_violations, browser_login, no_horizontal_scroll, screenshot


def test_a_delivery_recorded_by_the_producer_is_seen_by_the_gas(desktop: Any,
                                                                 phone: Any) -> None:
    product = f"Taleggio stagionato {uuid.uuid4().hex[:6]}"
    browser_login(desktop, "gas.gasabile")
    desktop.goto("/prefinanziamenti/nuovo")
    desktop.get_by_label("Produttore", exact=True).select_option(label="Caseificio Val Taleggio")
    desktop.get_by_label("Importo", exact=True).fill("160,00")
    desktop.get_by_label("Prodotto", exact=True).fill(product)
    desktop.get_by_label("Unità", exact=True).fill("kg")
    desktop.get_by_label("Prezzo unitario", exact=True).fill("16,00")
    desktop.get_by_label("Scadenza", exact=True).fill(
        (today() + timedelta(days=90)).isoformat())
    desktop.get_by_label("Alla scadenza", exact=True).select_option(label="Rimborso")
    desktop.get_by_role("button", name="Registra prefinanziamento", exact=True).click()
    desktop.wait_for_url("**esito=registrata**")
    assert desktop.locator("#owed").inner_text() == "10 kg"
    detail = desktop.url.split("?")[0]

    browser_login(phone, "caseificio")
    phone.goto("/prefinanziamenti?stato=aperti")
    phone.get_by_role("row").filter(has_text=product).get_by_role("link").click()
    assert phone.url.split("?")[0] == detail
    phone.get_by_label("Quantità", exact=True).fill("2,5")
    phone.get_by_role("button", name="Registra consegna", exact=True).click()
    phone.wait_for_url("**esito=registrata**")
    assert phone.get_by_text("Operazione registrata.").is_visible()
    assert phone.locator("#owed").inner_text() == "7,5 kg"
    screenshot(phone, "producer-prefinanziamento-consegna-phone")
    assert no_horizontal_scroll(phone)
    assert axe_violations(phone) == []

    desktop.goto(detail)
    assert desktop.locator("#owed").inner_text() == "7,5 kg"
    row = desktop.get_by_role("row").filter(has_text="2,5 kg")
    assert row.count() == 1 and "40,00" in row.inner_text()


def test_a_delivery_worth_more_than_what_remains_says_why(desktop: Any) -> None:
    browser_login(desktop, "caseificio")
    desktop.goto("/prefinanziamenti?stato=aperti")
    desktop.get_by_role("link", name="PRF-2026-0002").click()
    desktop.get_by_label("Quantità", exact=True).fill("100000")
    desktop.get_by_role("button", name="Registra consegna", exact=True).click()
    assert desktop.get_by_text("non è stata registrata").is_visible()
    assert desktop.get_by_label("Quantità", exact=True).input_value() == "100000"
    screenshot(desktop, "producer-consegna-rifiutata-desktop")
    assert axe_violations(desktop) == []


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_producer_page(desktop: Any, phone: Any, size: str) -> None:
    page = desktop if size == "desktop" else phone
    browser_login(page, "caseificio")
    page.goto("/prefinanziamenti")
    detail = page.get_by_role("link", name="PRF-2026-0002").first.get_attribute("href")
    pages = [("/", "La mia azienda", "producer-home"),
             ("/prefinanziamenti", "Prefinanziamenti", "producer-prefinanziamenti"),
             (detail, "Prefinanziamento PRF-2026-0002", "producer-prefinanziamento")]
    for path, heading, name in pages:
        page.goto(path)
        assert page.locator("h1").inner_text() == heading
        screenshot(page, f"{name}-{size}")
        assert no_horizontal_scroll(page), f"{path} scrolls sideways on {size}"
        assert axe_violations(page) == [], path
