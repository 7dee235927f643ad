"""The report page's selects: made once per page and kept between writes
(report_pages.Options), they list what the database holds after any write and keep a
choice sent back with a refused form."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Web
from tests.web.pages import parse
from tests.web.test_officer_pages_reports import bearer, report_form


def producers_by_hand(web: Web, h: dict[str, str]) -> list[tuple[str, str]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = web.client.get(f"/api/parties?kind=producer&limit=200{cursor}", headers=h).json()
        items += page["items"]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    # Sorted by name as the page lists them (names are unique in the demo).
    return sorted(((p["id"], p["name"]) for p in items), key=lambda p: p[1])


def test_selects_list_every_producer_after_a_write_and_keep_a_choice(web: Web) -> None:
    web.login("officer")
    h = bearer(web, "officer")
    page = web.page("/report")
    with_producers = [f for f in page.forms if "Produttore" in f.labels]
    assert len(with_producers) >= 2  # the one list serves several forms
    for form in with_producers:
        assert form.field_by_label("Produttore").options == [
            ("", "Tutti i produttori"), *producers_by_hand(web, h)]
    # A producer added (a write) is on the next page; its name is escaped.
    r = web.client.post("/api/parties", headers=h, json={
        "kind": "producer", "name": "Forno <Rossi> & figli"})
    assert r.status_code == 201, r.text
    added = r.json()["id"]
    again = web.page("/report")
    for form in [f for f in again.forms if "Produttore" in f.labels]:
        options = form.field_by_label("Produttore").options
        assert options == [("", "Tutti i produttori"), *producers_by_hand(web, h)]
        assert (added, "Forno <Rossi> & figli") in options
        assert form.field_by_label("Produttore").value == ""  # nothing chosen
    assert "Forno &lt;Rossi&gt; &amp; figli" in again.html
    # A refused form comes back with its producer chosen; the other forms without one.
    r = web.get(f"/report/portfolio.xlsx?as_of=2026-02-30&producer_id={added}")
    assert r.status_code == 422
    refused = parse(r.text)
    assert report_form(refused, "portfolio").field_by_label("Produttore").value == added
    assert r.text.count(f'<option value="{added}" selected>') == 1
    others = [f for f in refused.forms if "Produttore" in f.labels
              and f.action != "/report/portfolio.xlsx"]
    assert others and all(f.field_by_label("Produttore").value == "" for f in others)
