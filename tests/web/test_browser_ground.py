"""The login page and each home in Debian's Chromium: keyboard only, a phone, axe."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import (
    DEMO,
    axe_violations,
    browser_login,
    no_horizontal_scroll,
    screenshot,
)


def test_login_by_keyboard_only(desktop: Any) -> None:
    desktop.goto("/accedi")
    for _ in range(6):  # the skip link and the brand come first
        desktop.keyboard.press("Tab")
        if desktop.evaluate("document.activeElement.id") == "username":
            break
    assert desktop.evaluate("document.activeElement.id") == "username"
    desktop.keyboard.type("officer")
    desktop.keyboard.press("Tab")
    desktop.keyboard.type(DEMO["officer"])
    desktop.keyboard.press("Enter")
    desktop.wait_for_url(lambda url: "/accedi" not in url)
    assert desktop.locator("h1").inner_text() == "Scrivania"


def test_wrong_credentials_in_the_browser(desktop: Any) -> None:
    desktop.goto("/accedi")
    desktop.get_by_label("Nome utente", exact=True).fill("officer")
    desktop.get_by_label("Password", exact=True).fill("sbagliata")
    desktop.get_by_role("button", name="Accedi", exact=True).click()
    assert desktop.get_by_text("Nome utente o password non validi").is_visible()
    assert desktop.url.endswith("/accedi")


@pytest.mark.parametrize(("user", "heading"), [("officer", "Scrivania"),
                                               ("caseificio", "La mia azienda"),
                                               ("gas.gasabile", "Il nostro GAS")])
def test_each_home_on_desktop_and_phone(desktop: Any, phone: Any, user: str,
                                        heading: str) -> None:
    for page, size in ((desktop, "desktop"), (phone, "phone")):
        browser_login(page, user)
        assert page.locator("h1").inner_text() == heading
        assert page.get_by_role("button", name="Esci", exact=True).is_visible()
        screenshot(page, f"home-{user}-{size}")
        assert no_horizontal_scroll(page), f"{user} home scrolls sideways on {size}"
        assert axe_violations(page) == []
        page.get_by_role("button", name="Esci", exact=True).click()
        page.wait_for_url("**/accedi")
        page.goto("/")
        assert page.url.endswith("/accedi")


def test_login_page_is_accessible(phone: Any) -> None:
    phone.goto("/accedi")
    screenshot(phone, "accedi-phone")
    assert no_horizontal_scroll(phone)
    assert axe_violations(phone) == []
