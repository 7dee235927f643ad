"""The GAS treasurer in Debian's Chromium: a contribution by keyboard only, and every
GAS page on a desktop and a phone (screenshots, no sideways scroll, axe clean).

The live server is shared by the whole session: figures are compared before and after,
never as absolute values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.web.conftest import axe_violations, browser_login, no_horizontal_scroll, screenshot


def euro_value(text: str) -> Decimal:
    """``1.784,50 €`` -> Decimal('1784.50')."""
    digits = text.replace("€", "").replace("\xa0", "").replace(" ", "").strip()
    return Decimal(digits.replace(".", "").replace(",", "."))


def test_a_contribution_by_keyboard_grows_the_balance_by_exactly_that(desktop: Any) -> None:
    browser_login(desktop, "gas.gasabile")
    desktop.goto("/garanzie")
    capacity = desktop.get_by_role("form", name="Aggiorna capacità")
    assert capacity.get_by_label("Capacità di garanzia").count() == 1
    desktop.goto("/fondo")
    assert desktop.get_by_role("form", name="Registra contributo").count() == 1
    before = euro_value(desktop.locator("#fund-balance").inner_text())
    for _ in range(40):
        desktop.keyboard.press("Tab")
        if desktop.evaluate("document.activeElement.id") == "amount":
            break
    assert desktop.evaluate("document.activeElement.id") == "amount"
    desktop.keyboard.type("1.234,50")
    desktop.keyboard.press("Tab")  # Data: today by default; Tab crosses its day, month, year
    assert desktop.evaluate("document.activeElement.id") == "date"
    for _ in range(6):
        desktop.keyboard.press("Tab")
        if desktop.evaluate("document.activeElement.id") != "date":
            break
    assert desktop.evaluate("document.activeElement.id") == "earmark"
    desktop.keyboard.press("Tab")
    desktop.keyboard.type("Cassa della distribuzione")
    desktop.keyboard.press("Enter")
    desktop.wait_for_url("**esito=registrata**")
    assert desktop.get_by_text("Operazione registrata.").is_visible()
    after = euro_value(desktop.locator("#fund-balance").inner_text())
    assert after - before == Decimal("1234.50")
    assert desktop.get_by_role("cell", name="Cassa della distribuzione").count() >= 1
    assert axe_violations(desktop) == []


def test_a_refused_contribution_in_the_browser(phone: Any) -> None:
    browser_login(phone, "gas.gasabile")
    phone.goto("/fondo")
    before = phone.locator("#fund-balance").inner_text()
    phone.get_by_label("Importo", exact=True).fill("1.250")
    phone.get_by_role("button", name="Registra contributo", exact=True).click()
    assert phone.get_by_text("usa la virgola per i decimali").is_visible()
    assert phone.get_by_label("Importo", exact=True).input_value() == "1.250"
    assert phone.locator("#fund-balance").inner_text() == before
    phone.get_by_label("Importo", exact=True).focus()
    screenshot(phone, "gas-fondo-errore-phone")
    assert no_horizontal_scroll(phone)
    assert axe_violations(phone) == []


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_gas_page(desktop: Any, phone: Any, size: str) -> None:
    page = desktop if size == "desktop" else phone
    browser_login(page, "gas.gasabile")
    page.goto("/prefinanziamenti")
    detail = page.get_by_role("link", name="PRF-2026-0001").first.get_attribute("href")
    pages = [("/", "Il nostro GAS", "gas-home"), ("/fondo", "Fondo di solidarietà", "gas-fondo"),
             ("/prefinanziamenti", "Prefinanziamenti", "gas-prefinanziamenti"),
             ("/prefinanziamenti/nuovo", "Nuovo prefinanziamento", "gas-prefinanziamento-nuovo"),
             (detail, "Prefinanziamento PRF-2026-0001", "gas-prefinanziamento"),
             ("/garanzie", "Garanzie", "gas-garanzie")]
    for path, heading, name in pages:
        page.goto(path)
        assert page.locator("h1").inner_text() == heading
        screenshot(page, f"{name}-{size}")
        assert no_horizontal_scroll(page), f"{path} scrolls sideways on {size}"
        assert axe_violations(page) == [], path
