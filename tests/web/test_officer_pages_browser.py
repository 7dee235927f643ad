"""The officer's desk in Debian's Chromium: Scrivania, portfolio, plan, reports, parties;
desktop and phone screenshots, axe, no sideways scroll on a 375-pixel phone."""

from __future__ import annotations

import csv
import io
import re
from io import BytesIO
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from tests.web.conftest import axe_violations, browser_login, no_horizontal_scroll, screenshot


def _check(page: Any, name: str, size: str) -> None:
    screenshot(page, f"officer-{name}-{size}")
    assert no_horizontal_scroll(page), f"{name} scrolls sideways on {size}"
    assert axe_violations(page) == [], name


def test_scrivania_leads_to_a_linked_item(desktop: Any) -> None:
    browser_login(desktop, "officer")
    assert desktop.locator("h1").inner_text() == "Scrivania"
    link = desktop.locator("#ritardi + .table-box a").first
    href = link.get_attribute("href")
    assert href and re.fullmatch(r"/prestiti/[0-9a-f-]{36}", href)
    link.click()
    desktop.wait_for_url(f"**{href}")


def test_portfolio_for_a_past_date(desktop: Any) -> None:
    browser_login(desktop, "officer")
    desktop.goto("/portafoglio")
    desktop.get_by_label("Alla data", exact=True).fill("2026-06-30")
    desktop.get_by_role("button", name="Mostra", exact=True).click()
    desktop.wait_for_url("**/portafoglio?as_of=2026-06-30")
    assert "Situazione al 30/06/2026" in desktop.locator("main").inner_text()
    chart = desktop.get_by_role("img", name=re.compile("Capitale residuo per fascia"))
    assert chart.is_visible()
    link = desktop.get_by_role("link", name="Scarica il portafoglio (xlsx)")
    assert link.get_attribute("href") == "/report/portfolio.xlsx?as_of=2026-06-30"


def test_plan_computed_and_its_workbook(desktop: Any, tmp_path: Path) -> None:
    browser_login(desktop, "officer")
    desktop.goto("/piano")
    boxes = desktop.get_by_role("checkbox")
    assert boxes.count() >= 1 and all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    desktop.get_by_role("button", name="Calcola il piano", exact=True).click()
    desktop.wait_for_url("**/piano?**")
    assert desktop.get_by_role("button", name="Applica alla richiesta").count() == boxes.count()
    with desktop.expect_download() as info:
        desktop.get_by_role("link", name="Scarica il piano (xlsx)").click()
    target = tmp_path / "piano.xlsx"
    info.value.save_as(target)
    wb = load_workbook(BytesIO(target.read_bytes()))
    assert {"Allocazioni", "Richieste"} <= set(wb.sheetnames)


def test_report_form_downloads_a_csv(desktop: Any, tmp_path: Path) -> None:
    browser_login(desktop, "officer")
    desktop.goto("/report")
    form = desktop.locator('form[action="/report/arrears.xlsx"]')
    form.get_by_label("Alla data", exact=True).fill("2026-12-06")
    with desktop.expect_download() as info:
        form.get_by_role("button", name="Scarica csv", exact=True).click()
    assert info.value.suggested_filename == "arrears_2026-12-06.csv"
    target = tmp_path / "arrears.csv"
    info.value.save_as(target)
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 4 and "Giorni di ritardo" in rows[0]


def test_every_desk_page_on_desktop_and_phone(desktop: Any, phone: Any) -> None:
    for page, size in ((desktop, "desktop"), (phone, "phone")):
        browser_login(page, "officer")
        _check(page, "scrivania", size)
        page.goto("/portafoglio?as_of=2026-06-30")
        _check(page, "portafoglio", size)
        page.goto("/piano")
        page.get_by_role("button", name="Calcola il piano", exact=True).click()
        page.wait_for_url("**/piano?**")
        _check(page, "piano", size)
        page.goto("/report")
        _check(page, "report", size)
        page.goto("/soggetti")
        _check(page, "soggetti", size)
        page.get_by_role("link", name="Caseificio Val Taleggio").click()
        page.wait_for_url("**/soggetti/*")
        _check(page, "soggetto-produttore", size)
        page.goto("/soggetti?tipo=gas")
        page.get_by_role("link", name="GAS Gasabile Milano Isola").click()
        page.wait_for_url("**/soggetti/*")
        _check(page, "soggetto-gas", size)


def test_the_contact_fields_of_a_party_look_like_every_other_field(desktop: Any,
                                                                    phone: Any) -> None:
    """Email and PEC (type=email) and Telefono (type=tel) are drawn as the text fields
    beside them are: the same border, padding and width, on desktop and phone."""
    looks = """els => els.map(e => { const s = getComputedStyle(e);
        return [e.type, s.borderTopWidth, s.borderTopStyle, s.borderTopColor,
                s.paddingLeft, e.getBoundingClientRect().width]; })"""
    for page, size in ((desktop, "desktop"), (phone, "phone")):
        browser_login(page, "officer")
        page.goto("/soggetti")
        page.get_by_role("link", name="Caseificio Val Taleggio").click()
        page.wait_for_url("**/soggetti/*")
        form = page.locator("form").filter(
            has=page.get_by_role("button", name="Salva contatti", exact=True))
        page.get_by_label("Telefono", exact=True).scroll_into_view_if_needed()
        screenshot(page, f"officer-soggetto-contatti-{size}")
        fields = form.locator("input:not([type=hidden])").evaluate_all(looks)
        assert sorted({f[0] for f in fields}) == ["email", "tel", "text"], fields
        assert {tuple(f[1:]) for f in fields} == {tuple(fields[-1][1:])}, fields
        assert fields[-1][1:4] == ["2px", "solid", "rgb(92, 111, 130)"]
