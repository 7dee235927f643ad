"""The loan pages in Debian's Chromium: the officer's list and filters, a repayment and
its allocation, the write-off confirmation without JavaScript, the producer's view.

Reads use the session's shared live server; the journeys that write run on a server of
their own (a fresh copy of the demo database), so the shared demo data stays as it is."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.app.demo import demo_id
from tests.web.conftest import (
    ROOT,
    LiveServer,
    _free_port,
    axe_violations,
    browser_login,
    no_horizontal_scroll,
    screenshot,
)

TALEGGIO = demo_id("loan:taleggio")
MIELE = demo_id("loan:miele")
RISO = demo_id("loan:riso")


@pytest.fixture(scope="module")
def own_server(demo_template: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[LiveServer]:
    """``filiera serve`` on a copy of the demo database only these journeys write to."""
    var = tmp_path_factory.mktemp("loans-live")
    shutil.copyfile(demo_template, var / "filiera.db")
    port = _free_port()
    env = {**os.environ, "FILIERA_VAR_DIR": str(var), "FILIERA_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli.main", "serve", "--host",
                             "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield LiveServer(url, proc)
    finally:
        proc.terminate()
        proc.wait(10)


def context_on(browser: Any, server: LiveServer, *, phone: bool = False,
               javascript: bool = True) -> Any:
    if phone:
        return browser.new_context(base_url=server.url, locale="it-IT",
                                   viewport={"width": 375, "height": 740},
                                   device_scale_factor=2, is_mobile=True, has_touch=True,
                                   java_script_enabled=javascript)
    return browser.new_context(base_url=server.url, locale="it-IT",
                               viewport={"width": 1280, "height": 900},
                               java_script_enabled=javascript)


def form_of(page: Any, button: str) -> Any:
    """The form whose button reads ``button`` (two forms may share a field label)."""
    return page.locator("form").filter(
        has=page.get_by_role("button", name=button, exact=True))


def check_page(page: Any, name: str) -> None:
    screenshot(page, name)
    assert no_horizontal_scroll(page), f"{name} scrolls sideways"
    assert axe_violations(page) == []


def test_officer_filters_the_list(desktop: Any, phone: Any) -> None:
    for page, size in ((desktop, "desktop"), (phone, "phone")):
        browser_login(page, "officer")
        page.goto("/prestiti")
        assert page.locator("h1").inner_text() == "Prestiti"
        page.get_by_label("Stato", exact=True).select_option(label="Attivo")
        page.get_by_label("In ritardo", exact=True).check()
        page.get_by_role("button", name="Filtra", exact=True).click()
        page.wait_for_url(re.compile(r"status=active"))
        links = page.get_by_role("region", name="Elenco dei prestiti").get_by_role("link")
        assert links.all_inner_texts() == ["PRE-2026-0001", "PRE-2026-0002", "PRE-2026-0003"]
        check_page(page, f"prestiti-officer-{size}")


def test_officer_records_a_repayment_and_sees_the_allocation(browser: Any,
                                                            own_server: LiveServer) -> None:
    context = context_on(browser, own_server)
    page = context.new_page()
    try:
        browser_login(page, "officer")
        page.goto("/prestiti")
        page.get_by_role("link", name="PRE-2026-0001", exact=True).click()
        assert page.locator("h1").inner_text() == "Prestito PRE-2026-0001"
        form = form_of(page, "Registra rimborso")
        form.get_by_label("Importo", exact=True).fill("1.234,50")
        assert form.get_by_label("Riduci la rata", exact=True).is_checked()
        assert form.get_by_label("Data valuta", exact=True).input_value()
        form.get_by_role("button", name="Registra rimborso", exact=True).click()
        page.wait_for_url(re.compile(r"rimborso="))
        assert page.get_by_role("status").inner_text().startswith("Operazione registrata.")
        allocation = page.locator("section.allocation")
        text = " ".join(allocation.inner_text().split())
        assert "Rimborso di 1.234,50 €" in text
        for part in ("Penali (interessi di mora)", "Interessi", "Capitale",
                     "Rimborso anticipato", "Eccedenza"):
            assert part in text
        # The two overdue installments are paid: nothing is late any more.
        assert page.locator(".card", has_text="Giorni di ritardo").locator(
            ".figure").inner_text() == "0"
        check_page(page, "prestito-rimborso-desktop")
        # A wrong amount: the error beside the field, what was typed kept.
        form = form_of(page, "Registra rimborso")
        form.get_by_label("Importo", exact=True).fill("1.250")
        form.get_by_role("button", name="Registra rimborso", exact=True).click()
        assert "usa la virgola per i decimali" in form_of(page, "Registra rimborso").locator(
            ".error").inner_text()
        assert form_of(page, "Registra rimborso").get_by_label(
            "Importo", exact=True).input_value() == "1.250"
        check_page(page, "prestito-rimborso-errore-desktop")
    finally:
        context.close()
    context = context_on(browser, own_server, phone=True)
    page = context.new_page()
    try:
        browser_login(page, "officer")
        page.goto(f"/prestiti/{TALEGGIO}")
        check_page(page, "prestito-officer-phone")
    finally:
        context.close()


def test_write_off_confirmation_without_javascript(browser: Any,
                                                   own_server: LiveServer) -> None:
    context = context_on(browser, own_server, phone=True, javascript=False)
    page = context.new_page()
    try:
        browser_login(page, "officer")
        page.goto(f"/prestiti/{MIELE}")
        form = form_of(page, "Passa a perdita")
        form.get_by_label("Nota", exact=True).fill("Azienda chiusa dopo l'alluvione")
        form.get_by_role("button", name="Passa a perdita", exact=True).click()
        assert page.locator("h1").inner_text() == "Conferma passaggio a perdita"
        said = " ".join(page.locator("main").inner_text().split())
        assert "Il capitale residuo di 6.000,00 € passa al conto perdite" in said
        screenshot(page, "perdita-conferma-phone")  # axe needs JavaScript: see below
        page.get_by_role("button", name="Conferma passaggio a perdita", exact=True).click()
        page.wait_for_url(re.compile(rf"/prestiti/{MIELE}\?esito=registrata"))
        assert "Passato a perdita" in page.locator("main").inner_text()
        assert page.get_by_role("button", name="Passa a perdita").count() == 0
        screenshot(page, "perdita-fatto-phone")
    finally:
        context.close()


def test_write_off_confirmation_page_is_accessible(browser: Any,
                                                   own_server: LiveServer) -> None:
    """The same page with JavaScript on (axe runs in the page); Annulla writes nothing."""
    context = context_on(browser, own_server, phone=True)
    page = context.new_page()
    try:
        browser_login(page, "officer")
        page.goto(f"/prestiti/{RISO}")
        form = form_of(page, "Passa a perdita")
        form.get_by_label("Nota", exact=True).fill("Prova")
        form.get_by_role("button", name="Passa a perdita", exact=True).click()
        assert page.locator("h1").inner_text() == "Conferma passaggio a perdita"
        check_page(page, "perdita-conferma-axe-phone")
        page.get_by_role("link", name="Annulla", exact=True).click()
        assert page.locator("h1").inner_text() == "Prestito PRE-2026-0002"
        assert "Attivo" in page.locator("p.lead").inner_text()
    finally:
        context.close()


def test_producer_views_its_loan_and_the_statement_link(desktop: Any, phone: Any) -> None:
    for page, size in ((desktop, "desktop"), (phone, "phone")):
        browser_login(page, "caseificio")
        page.goto("/prestiti")
        check_page(page, f"prestiti-producer-{size}")
        page.get_by_role("link", name="PRE-2026-0001", exact=True).click()
        assert page.locator("h1").inner_text() == "Prestito PRE-2026-0001"
        link = page.get_by_role("link", name="Scarica l'estratto conto", exact=True)
        assert link.get_attribute("href") == (
            f"/report/loan-statement.xlsx?loan_id={TALEGGIO}")
        assert page.get_by_role("button", name="Registra rimborso").count() == 0
        assert page.get_by_role("region", name="Piano di rimborso").is_visible()
        check_page(page, f"prestito-producer-{size}")
