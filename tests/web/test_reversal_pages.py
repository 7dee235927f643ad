"""Storna: beside a contribution (the GAS's) and a delivery (either side's), a form with
Motivo and Conferma storno; the reversed item stays listed and stops counting."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from service.app import funds, loans, prepayments
from service.app.auth import Principal
from tests.web.conftest import Web, axe_violations, browser_login, screenshot
from tests.web.pages import parse
from tests.web.test_gas_pages import CASEIFICIO, GAS, contributions, ctx_of, fund


def _contribute(web: Web, amount: str) -> funds.ContributionOut:
    page = web.page("/fondo")
    r = web.submit(page, "Registra contributo", {"Importo": amount, "Data": "2026-12-02"},
                   follow=False)
    assert r.status_code == 303
    return contributions(web)[-1]


def test_a_contribution_reversed_from_the_fund_page(web: Web) -> None:
    web.login("gas.gasabile")
    before = Decimal(fund(web).balance.amount)
    item = _contribute(web, "80,00")
    assert Decimal(fund(web).balance.amount) == before + 80
    fondo = web.page("/fondo")
    storna = fondo.form("Storna")  # the first Storna on the page
    assert storna.method == "get"
    forms = [f for f in fondo.forms if "Storna" in f.buttons]
    target = next(f for f in forms if f.action.endswith(str(item.id)))
    page = web.page(target.action + "?rif=" + item.reference)
    assert item.reference in page.text and "Motivo" in page.text
    # No reason: an Italian error beside Motivo, nothing reversed.
    r = web.submit(page, "Conferma storno", {"Motivo": ""}, follow=False)
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    assert Decimal(fund(web).balance.amount) == before + 80
    r = web.submit(page, "Conferma storno", {"Motivo": "importo sbagliato"}, follow=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/fondo?esito=")
    assert Decimal(fund(web).balance.amount) == before  # as if never recorded
    reversed_item = next(c for c in contributions(web) if c.id == item.id)
    assert reversed_item.reversed
    assert "Stornato" in web.page("/fondo").text
    # The same form posted again records nothing more.
    again = web.submit(page, "Conferma storno", {"Motivo": "importo sbagliato"}, follow=False)
    assert again.status_code in (303, 404)
    assert Decimal(fund(web).balance.amount) == before


def test_another_party_cannot_reach_the_reversal(web: Web) -> None:
    web.login("gas.gasabile")
    item = _contribute(web, "5,00")
    web.client.cookies.clear()
    web.login("caseificio")
    r = web.get(f"/storni/contributo/{item.id}?rif={item.reference}")
    assert r.status_code == 404
    assert web.get("/storni/nulla/123").status_code == 404


def test_a_delivery_reversed_by_the_producer_is_owed_again(web: Web) -> None:
    ctx = ctx_of(web)
    open_one = next(p for p in prepayments.list_prepayments(
        ctx, GAS, None, None, None, None, 50, None).items if p.status == "open")
    web.login("caseificio")
    page = web.page(f"/prefinanziamenti/{open_one.id}")
    r = web.submit(page, "Registra consegna", {"Data": "2026-12-03", "Quantità": "2"},
                   follow=False)
    assert r.status_code == 303
    after = prepayments.read_prepayment(ctx, CASEIFICIO, str(open_one.id))
    delivered = next(d for d in after.deliveries if str(d.date) == "2026-12-03")
    detail = parse(web.get(f"/prefinanziamenti/{open_one.id}").text)
    form = next(f for f in detail.forms if f.action.endswith(str(delivered.id)))
    page = web.page(form.action)
    r = web.submit(page, "Conferma storno", {"Motivo": "consegna registrata due volte"},
                   follow=False)
    assert r.status_code == 303
    final = prepayments.read_prepayment(ctx, CASEIFICIO, str(open_one.id))
    assert final.remaining == open_one.remaining  # owed again, to the cent


def test_storna_in_the_browser(desktop: Any) -> None:
    browser_login(desktop, "gas.gasabile")
    desktop.goto("/fondo")
    desktop.get_by_label("Importo", exact=True).fill("3,00")
    desktop.get_by_role("button", name="Registra contributo", exact=True).click()
    desktop.get_by_role("button", name="Storna", exact=True).last.click()
    desktop.get_by_label("Motivo", exact=True).fill("prova di storno")
    screenshot(desktop, "storno-desktop")
    assert axe_violations(desktop) == []
    desktop.get_by_role("button", name="Conferma storno", exact=True).click()
    assert "Stornato" in desktop.locator("main").inner_text()


def test_a_repayment_reversed_from_the_loan_page(web: Web) -> None:
    officer = Principal("officer", "officer", None)
    ctx = ctx_of(web)
    loan = next(item for item in loans.list_loans(
        ctx, officer, None, None, None, None, 50, None).items if item.status == "active")
    before = loans.read_loan(ctx, officer, str(loan.id), None)
    web.login("officer")
    page = web.page(f"/prestiti/{loan.id}")
    r = web.submit(page, "Registra rimborso", {"Importo": "100,00", "Data valuta": "2026-12-04"},
                   follow=False)
    assert r.status_code == 303
    detail = parse(web.get(f"/prestiti/{loan.id}").text)
    items = loans.list_repayments(ctx, officer, str(loan.id), None, 500, None).items
    new = next(i for i in items if str(i.date) == "2026-12-04" and not i.reversed)
    form = next(f for f in detail.forms if f.action.endswith(str(new.id)))
    page = web.page(f"{form.action}?rif={new.reference}")
    r = web.submit(page, "Conferma storno", {"Motivo": "pagamento di un altro prestito"},
                   follow=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"/prestiti/{loan.id}")
    after = loans.read_loan(ctx, officer, str(loan.id), None)
    assert after.outstanding_principal == before.outstanding_principal
    assert "Stornato" in web.page(f"/prestiti/{loan.id}").text
    # A producer sees no Storna on its loan.
    web.client.cookies.clear()
    web.login("caseificio")
    mine = loans.list_loans(ctx, officer, "ac020aa9-7632-5756-b55b-43ad94546e1c", None, None,
                            None, 5, None).items[0]
    assert "Storna" not in web.page(f"/prestiti/{mine.id}").text
