"""``/simulatore``: the same figures as ``POST /api/loans/simulate``, checked against a
hand computation; Italian input; errors beside the fields."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy_financial as npf

from tests.web.conftest import Web, axe_violations, browser_login, no_horizontal_scroll, screenshot

FIELDS = {"Importo": "12.000,00", "Tasso annuo (%)": "4,5", "Durata (mesi)": "24",
          "Periodicità": "Mensile", "Metodo": "Rata costante (francese)",
          "Periodi di preammortamento": "0", "Spese": "",
          "Data di erogazione": "2026-12-06"}


def _get(web: Web, values: dict[str, str]) -> Any:
    page = web.page("/simulatore")
    form = page.form("Calcola")
    data = form.data(values)
    data["calcola"] = "1"
    return web.client.get("/simulatore", params=data)


def test_the_installment_is_the_annuity_formula(web: Web) -> None:
    web.login("caseificio")
    r = _get(web, FIELDS)
    assert r.status_code == 200, r.text[:500]
    # The annuity by hand: 12,000 at 4.5%/12 over 24 months, rounded to the cent.
    i = Decimal("0.045") / 12
    payment = Decimal(12000) * i / (1 - (1 + i) ** -24)
    expected = payment.quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    assert abs(float(expected) - float(-npf.pmt(0.045 / 12, 24, 12000))) < 0.01
    text = r.text.replace("\xa0", " ")
    assert f"{expected:,.2f} €".replace(",", "X").replace(".", ",").replace("X", ".") in text
    assert "06/01/2027" in text and "06/12/2028" in text  # one month on, 24 months on
    assert "<th scope=\"col\" class=\"num\">Quota interessi</th>" in r.text


def test_the_page_agrees_with_the_api(web: Web) -> None:
    web.login("officer")
    r = _get(web, {**FIELDS, "Spese": "150", "Metodo": "Quota capitale costante (italiano)",
                   "Periodicità": "Trimestrale"})
    assert r.status_code == 200
    token = web.client.post("/api/auth/token", json={
        "username": "officer", "password": "officer-demo-2026"}).json()["access_token"]
    api = web.client.post("/api/loans/simulate", headers={"Authorization": f"Bearer {token}"},
                          json={"principal": {"amount": "12000.00", "currency": "EUR"},
                                "annual_rate": "4.5", "term_months": 24,
                                "method": "italian", "frequency": "quarterly",
                                "disbursement_date": "2026-12-06",
                                "fees": {"amount": "150.00", "currency": "EUR"}}).json()
    apr = Decimal(api["apr"]).quantize(Decimal("0.01"))
    assert f"{apr}%".replace(".", ",") in r.text
    for item in api["installments"]:
        cents = Decimal(item["payment"]["amount"])
        shown = f"{cents:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
        assert shown in r.text


def test_errors_are_beside_their_fields_in_italian(web: Web) -> None:
    web.login("gas.gasabile")
    r = _get(web, {**FIELDS, "Importo": "1.250", "Durata (mesi)": "dieci"})
    assert r.status_code == 422
    assert "usa la virgola per i decimali" in r.text
    assert "Scrivi un numero intero" in r.text
    assert 'value="1.250"' in r.text  # what was typed is kept
    r = _get(web, {**FIELDS, "Durata (mesi)": "7", "Periodicità": "Trimestrale"})
    assert r.status_code == 422 and 'id="durata-error"' in r.text


def test_simulator_in_the_browser(desktop: Any, phone: Any) -> None:
    for page, size in ((desktop, "desktop"), (phone, "phone")):
        browser_login(page, "caseificio")
        page.goto("/simulatore")
        page.get_by_label("Importo", exact=True).fill("5.000")
        page.get_by_label("Tasso annuo (%)", exact=True).fill("3")
        page.get_by_label("Durata (mesi)", exact=True).fill("12")
        page.get_by_label("Periodicità", exact=True).select_option(label="Mensile")
        page.get_by_label("Metodo", exact=True).select_option(
            label="Rata costante (francese)")
        page.get_by_role("button", name="Calcola", exact=True).click()
        assert page.get_by_text("usa la virgola per i decimali").is_visible()
        page.get_by_label("Importo", exact=True).fill("5.000,00")
        page.get_by_role("button", name="Calcola", exact=True).click()
        # 5,000 at 3% over 12 months: 423.47 a month (annuity formula, to the cent).
        assert float(-npf.pmt(0.03 / 12, 12, 5000)) == pytest_approx(423.47)
        assert "423,47" in page.locator("#rata").inner_text()
        screenshot(page, f"simulatore-{size}")
        assert no_horizontal_scroll(page)
        assert axe_violations(page) == []


def pytest_approx(value: float) -> Any:
    import pytest

    return pytest.approx(value, abs=0.005)
