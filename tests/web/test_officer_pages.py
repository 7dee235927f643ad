"""The officer's desk: Scrivania, the portfolio and the allocation plan.

Figures are compared with the application layer's and with the portfolio workbook's,
computed on their own."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from service.app import arrears, matching, prepayments, requests
from service.app.auth import Principal
from service.app.clock import today
from service.app.common import MoneyIn
from service.app.demo import demo_id
from service.app.errors import NotFound
from service.app.loans import list_repayments
from service.app.prepayments import PrepaymentIn
from service.db.tables import funding_requests, parties
from service.web.formatting import euro
from tests.web.conftest import Web
from tests.web.pages import parse

OFFICER = Principal("officer", "officer", None)
OFFICER_PAGES = ["/", "/portafoglio", "/portafoglio?as_of=2026-06-30", "/piano",
                 "/report", "/soggetti"]


def ctx_of(web: Web) -> Any:
    return web.client.app.state.ctx


def party_id(web: Web, name: str) -> str:
    found: str = ctx_of(web).read(lambda conn: conn.execute(
        select(parties.c.id).where(parties.c.name == name)).scalar_one())
    return found


def text(value: str) -> str:
    """Page text as written: entities decoded, no-break spaces as spaces."""
    return html.unescape(value).replace("\xa0", " ")


def money_text(amount: Any) -> str:
    return euro(amount).replace("\xa0", " ")


def percent_text(fraction: float | None) -> str:
    if fraction is None:
        return "n/d"
    value = (Decimal(str(fraction)) * 100).quantize(Decimal("0.01"))
    return f"{value:,.2f}".replace(",", "x").replace(".", ",").replace("x", ".") + "%"


# -- who may see the desk -------------------------------------------------------------------

@pytest.mark.parametrize("user", ["officer", "admin"])
def test_every_desk_page_renders_for_officers_and_admins(web: Web, user: str) -> None:
    web.login(user)
    for path in OFFICER_PAGES:
        r = web.get(path)
        assert r.status_code == 200, (path, r.text[:1000])
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["server-timing"].startswith("app;dur=")
        assert ' style="' not in r.text, path  # the CSP allows no inline style


@pytest.mark.parametrize("user", ["caseificio", "gas.gasabile"])
def test_producers_and_gas_get_404_on_the_desk(web: Web, user: str) -> None:
    web.login("officer")
    some_party = re.search(r'href="/soggetti/([0-9a-f-]{36})"', web.page("/soggetti").html)
    assert some_party
    web.client.cookies.clear()
    home = web.login(user)
    assert home.h1 != "Scrivania"
    for path in ["/portafoglio", "/portafoglio?as_of=bad", "/piano", "/piano?calcola=1",
                 "/piano.xlsx", "/soggetti", f"/soggetti/{some_party.group(1)}",
                 "/report/portfolio.xlsx", "/report/arrears.csv"]:
        r = web.get(path)
        assert r.status_code == 404, (user, path, r.status_code)
    # A post needs the form's CSRF token; with it, the plan still answers 404.
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', web.page("/").html)
    assert csrf
    r = web.client.post("/piano/applica", data={"csrf_token": csrf.group(1),
                                                "request_id": str(uuid.uuid4())})
    assert r.status_code == 404


# -- Scrivania ----------------------------------------------------------------------------

def test_scrivania_lists_the_todo_with_counts_and_links(web: Web) -> None:
    ctx = ctx_of(web)
    # An open prepayment expiring in ten days, and one well beyond the 30-day window.
    caseificio, gas = (party_id(web, "Caseificio Val Taleggio"),
                       party_id(web, "GAS Gasabile Milano Isola"))
    soon = (today() + timedelta(days=10)).isoformat()
    _, made = prepayments.open_prepayment(ctx, OFFICER, PrepaymentIn(
        producer_id=caseificio, gas_id=gas, amount=MoneyIn("500.00", "EUR"),
        product="Taleggio DOP", unit="kg", unit_price=MoneyIn("16.00", "EUR"),
        expires_on=soon, on_expiry="refund"))
    web.login("officer")
    page = web.page("/")
    assert page.h1 == "Scrivania"
    body = text(page.html)
    todo = requests.officer_todo(ctx, OFFICER, None)
    for key, title in [("waiting_review", "Richieste da esaminare"),
                       ("info_provided", "Informazioni fornite"),
                       ("in_review", "In esame da me"),
                       ("to_fund", "Approvate da finanziare")]:
        section = getattr(todo, key)
        assert f'<span class="count">{section.count}</span> {title}' in body
        assert f"{title} ({section.count})" in body
        for item in section.items:
            assert f'<a href="/richieste/{item.id}">{item.reference}</a>' in body
    late = arrears.list_arrears(ctx, OFFICER, None, None, None, None, None).items
    assert late
    for item in late:
        row = re.search(rf'<a class="ref" href="/prestiti/{item.loan_id}">{item.reference}</a>'
                        rf"<br>{re.escape(item.borrower_name)}</td>\s*"
                        rf'<td class="num">(\d+)</td><td class="num">([^<]+)</td>', body)
        assert row, item.reference
        assert int(row.group(1)) == item.days_past_due
        assert row.group(2) == money_text(item.overdue_amount)
    # Expiring prepayments: the new one only (the demo's expire in March 2027).
    assert f'<a href="/prefinanziamenti/{made.id}">{made.reference}</a>' in body
    assert body.count('href="/prefinanziamenti/') == 1
    assert '<span class="count">1</span> Prefinanziamenti in scadenza' in body
    assert money_text("500.00") in body


# -- the portfolio ------------------------------------------------------------------------

def _figures(page_html: str) -> dict[str, str]:
    return {text(k): text(v) for k, v in re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>",
                                                    page_html)}


def _workbook_summary(web: Web, as_of: str) -> tuple[dict[str, tuple[Any, Any, Any]], Any]:
    r = web.get(f"/report/portfolio.xlsx?as_of={as_of}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(BytesIO(r.content))
    rows = {row[0]: row[1:4] for row in wb["Sintesi"].iter_rows(min_row=2, values_only=True)}
    return rows, wb


@pytest.mark.parametrize("as_of", ["2026-06-30", "2026-12-06", "2025-01-01"])
def test_portfolio_figures_equal_the_workbook(web: Web, as_of: str) -> None:
    web.login("officer")
    page = web.page(f"/portafoglio?as_of={as_of}")
    assert page.h1 == "Portafoglio"
    assert page.form("Mostra").field_by_label("Alla data").value == as_of
    figures = _figures(page.html)
    summary, wb = _workbook_summary(web, as_of)

    def amount(name: str) -> str:
        return money_text(Decimal(str(summary[name][0] or 0)))

    def ratio(name: str) -> str:
        return percent_text(summary[name][1])

    assert figures["Portafoglio in essere"] == amount("Portafoglio lordo")
    assert figures["PAR30"] == ratio("PAR30")
    assert figures["PAR90"] == ratio("PAR90")
    assert figures["Tasso di perdita"] == ratio("Tasso di perdita")
    assert figures["Accantonamento per perdite"] == amount("Accantonamento per perdite")
    assert figures["Copertura del rischio"] == \
        ratio("Copertura del rischio (accantonamento / PAR30)")
    assert figures["Copertura garanzie del PAR30"] == ratio("Copertura garanzie del PAR30")
    body = text(page.html)
    assert f"{summary['Prestiti attivi'][2]} prestiti attivi" in body
    # The aging table is the workbook's aging sheet.
    for bucket, loans, outstanding, share, _rate, allowance in wb["Anzianità scaduto"] \
            .iter_rows(min_row=2, max_row=6, values_only=True):
        cells = (rf'<th scope="row">{bucket}</th><td class="num">{loans}</td>\s*'
                 rf'<td class="num">{re.escape(money_text(Decimal(str(outstanding))))}</td>'
                 rf'<td class="num">{re.escape(percent_text(share))}</td>')
        assert re.search(cells, body), bucket
        assert money_text(Decimal(str(allowance))) in body
    # The loans table: the workbook's loans, by reference.
    loans = [row for row in wb["Prestiti"].iter_rows(min_row=2, values_only=True)
             if row[0] != "Totale"]
    for row in loans:
        # References and names first, the loan's id last (the printed layout).
        assert f'<a href="/prestiti/{row[-1]}">{row[0]}</a>' in body
    assert body.count('href="/prestiti/') == len(loans)
    assert f'href="/report/portfolio.xlsx?as_of={as_of}"' in body


def test_portfolio_and_desk_follow_a_repayment_recorded_after_they_were_seen(
        web: Web) -> None:
    """The figures behind both pages are kept between writes: the repayment's principal
    leaves the portfolio, and the desk no longer lists a loan it brought up to date."""
    web.login("officer")
    as_of = today().isoformat()
    before = _figures(web.page(f"/portafoglio?as_of={as_of}").html)
    desk_before = web.page("/").html
    loan = demo_id("loan:taleggio")
    assert f'href="/prestiti/{loan}"' in desk_before  # late in the demo
    page = web.page(f"/prestiti/{loan}")
    r = web.submit(page, "Registra rimborso", {"Importo": "1.234,50"}, follow=False)
    assert r.status_code == 303
    ctx = web.client.app.state.ctx
    paid = next(i for i in list_repayments(ctx, OFFICER, loan, None, 100, None).items
                if i.id in r.headers["location"])
    after = _figures(web.page(f"/portafoglio?as_of={as_of}").html)
    expected = (Decimal(before["Portafoglio in essere"].replace(" €", "").replace(".", "")
                        .replace(",", ".")) - Decimal(paid.allocation.principal.amount))
    assert after["Portafoglio in essere"] == euro(expected).replace("\xa0", " ")
    assert f'href="/prestiti/{loan}"' not in web.page("/").html


def test_portfolio_chart_is_svg_with_a_text_alternative(web: Web) -> None:
    web.login("officer")
    body = web.page("/portafoglio?as_of=2026-06-30").html
    svg = re.search(r"<svg[^>]*>.*?</svg>", body, re.S)
    assert svg
    tag = svg.group(0)
    assert 'role="img"' in tag and 'aria-labelledby="aging-title aging-desc"' in tag
    assert '<title id="aging-title">' in tag and '<desc id="aging-desc">' in tag
    desc = text(re.search(r"<desc[^>]*>(.*?)</desc>", tag, re.S).group(1))  # type: ignore[union-attr]
    assert "oltre 90 giorni: 29.537,80 € · 2 prestiti" in desc
    # Current on 30 June: the Taleggio loan (10,793.63 left after 15 installments) and
    # the Latteria's, in its interest-only months (17,266.53).
    assert "In regola: 28.060,16 € · 2 prestiti" in desc
    bars = re.findall(r'<rect x="0" y="\d+" width="(\d+)" height="18" fill="(#[0-9a-f]{6})"',
                      tag)
    coloured = [(int(w), f) for w, f in bars if f != "#e8ecf0"]
    # The largest bucket fills the width; the current one is in proportion.
    assert (400, "#6d1b1b") in coloured
    assert (round(28060.16 / 29537.80 * 400), "#1b7f3b") in coloured
    assert "style=" not in tag
    assert "<caption>Anzianità dello scaduto al 30/06/2026</caption>" in body


def test_portfolio_bad_date_is_said_beside_the_field(web: Web) -> None:
    web.login("officer")
    r = web.get("/portafoglio?as_of=2026-02-30")
    assert r.status_code == 422
    page = parse(r.text)
    assert page.form("Mostra").field_by_label("Alla data").value == "2026-02-30"
    assert 'id="as_of-error" role="alert"' in r.text
    assert "Indicatori" not in r.text


def test_portfolio_loans_are_paginated(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    from service.web import portfolio_pages

    monkeypatch.setattr(portfolio_pages, "PAGE_SIZE", 2)
    web.login("officer")
    first = web.page("/portafoglio?as_of=2026-12-06")
    assert first.html.count('href="/prestiti/') == 2
    assert "Pagina successiva" in first.text
    nxt = re.search(r'href="(/portafoglio\?as_of=2026-12-06&amp;pagina=2)"', first.html)
    assert nxt
    second = web.page(html.unescape(nxt.group(1)))
    assert second.html.count('href="/prestiti/') == 2  # four loans disbursed
    assert "Pagina precedente" in second.text and "Pagina successiva" not in second.text


# -- the plan -----------------------------------------------------------------------------

def _plan(web: Web) -> tuple[Any, Any]:
    """The plan page computed with its default choice, and the API's plan."""
    web.login("officer")
    page = web.page("/piano")
    form = page.form("Calcola il piano")
    boxes = [f for f in form.fields if f.kind == "checkbox"]
    expected = {r.id for r in ctx_of(web).read(lambda conn: matching.plan_rows(conn, None))}
    assert {b.value for b in boxes} == expected and all(b.checked for b in boxes)
    assert form.method == "get" and form.action == "/piano"
    r = web.client.get(form.action, params=form.data())
    assert r.status_code == 200, r.text[:2000]
    return parse(r.text), matching.post_plan(ctx_of(web), OFFICER, None)


def apply_data(form: Any, **by_name: str) -> dict[str, Any]:
    """The body a browser posts: every hidden ``richiesta`` of the form (the parser of
    the tests keeps one value per name)."""
    chosen = [f.value for f in form.fields if f.name == "richiesta"]
    return form.data(by_name={**by_name, "richiesta": chosen})


def test_plan_shows_what_the_api_computes(web: Web) -> None:
    page, plan = _plan(web)
    body = text(page.html)
    for rid, funded in plan.funded.items():
        section = body[body.index(f'id="piano-{rid}"'):]
        section = section[:section.index("</section>")]
        assert f"<dt>Finanziato</dt><dd>{money_text(funded)}</dd>" in section
        assert f"<dt>Scoperto</dt><dd>{money_text(plan.unfunded[rid])}</dd>" in section
        for a in plan.allocations:
            if a.request_id == rid:
                assert a.source_name in section
                assert money_text(a.amount) in section
        for limit in plan.binding.get(rid, []):
            # The limit in Italian: the GAS and the amount it can prepay.
            assert limit.code == "source_cap"
            assert "può plausibilmente prefinanziare questo produttore per 3.000,00 €" \
                in section
    total = sum(Decimal(m.amount) for m in plan.funded.values())
    assert f"<dt>Finanziato</dt><dd>{money_text(total)}</dd>" in body
    assert len([f for f in page.forms if "Applica alla richiesta" in f.buttons]) == \
        len(plan.funded)


def test_plan_workbook_downloads_on_the_session(web: Web) -> None:
    page, plan = _plan(web)
    link = re.search(r'<a href="([^"]+)">Scarica il piano \(xlsx\)</a>', page.html)
    assert link
    r = web.get(html.unescape(link.group(1)))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in r.headers["content-disposition"]
    wb = load_workbook(BytesIO(r.content))
    sheet = wb["Richieste"]
    head = [c.value for c in sheet[1]]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] != "Totale"}
    assert set(rows) == set(plan.funded)
    for rid, funded in plan.funded.items():
        assert Decimal(str(rows[rid][head.index("Finanziato")])) == Decimal(funded.amount)
        assert rows[rid][head.index("Stato")] in ("in esame", "approvata")
    binding = [r[head.index("Limiti che fermano il resto")] for r in rows.values()]
    assert any(b and "può plausibilmente prefinanziare" in b for b in binding)


def test_plan_without_requests_says_so(web: Web) -> None:
    web.login("officer")
    r = web.get("/piano?calcola=1")
    assert r.status_code == 422
    assert "Scegli almeno una richiesta." in r.text
    r = web.get(f"/piano?calcola=1&richiesta={uuid.uuid4()}")
    assert r.status_code == 422 and "non si può più pianificare" in r.text


def test_apply_writes_the_requests_allocations_into_its_terms(web: Web) -> None:
    page, plan = _plan(web)
    ctx = ctx_of(web)
    by_request: dict[str, list[Any]] = {}
    for a in plan.allocations:
        by_request.setdefault(a.request_id, []).append(a)
    for rid, items in by_request.items():
        if rid != demo_id("req:franciacorta"):  # the demo's one request with terms
            with pytest.raises(NotFound):
                requests.read_terms(ctx, OFFICER, rid)
        form = next(f for f in page.forms if "Applica alla richiesta" in f.buttons
                    and any(x.name == "request_id" and x.value == rid for x in f.fields))
        r = web.client.post(form.action, data=apply_data(form))
        assert r.status_code == 303 and r.headers["location"] == \
            f"/richieste/{rid}?esito=salvato"
        terms = requests.read_terms(ctx, OFFICER, rid)
        loans = [a for a in items if a.kind == "loan"]
        gas = [a for a in items if a.kind == "prepayment"]
        if loans:
            assert terms.loan is not None
            assert terms.loan.principal.amount == loans[0].amount.amount
            assert terms.loan.pool_id == loans[0].source_id
        else:
            assert terms.loan is None
        assert [(p.gas_id, p.amount.amount) for p in terms.prepayments] == \
            [(a.source_id, a.amount.amount) for a in gas]
        assert terms.set_by == "officer"
    # Applied twice, the same terms add no version.
    form = next(f for f in page.forms if "Applica alla richiesta" in f.buttons)
    rid = next(x.value for x in form.fields if x.name == "request_id")
    before = requests.read_terms(ctx, OFFICER, rid).set_at
    assert web.client.post(form.action, data=apply_data(form)).status_code == 303
    assert requests.read_terms(ctx, OFFICER, rid).set_at == before


def test_apply_refusals_write_nothing(web: Web) -> None:
    page, plan = _plan(web)
    ctx = ctx_of(web)
    form = next(f for f in page.forms if "Applica alla richiesta" in f.buttons)
    rid = next(x.value for x in form.fields if x.name == "request_id")
    # Without the CSRF token: refused, nothing written.
    data = apply_data(form)
    data.pop("csrf_token")
    assert web.client.post(form.action, data=data).status_code == 403
    with pytest.raises(NotFound):
        requests.read_terms(ctx, OFFICER, rid)
    # A submitted request is in no plan: the page says so beside the plan, nothing written.
    submitted = requests.list_requests(ctx, OFFICER, status="submitted").items[0]
    r = web.client.post(form.action, data=apply_data(form, request_id=submitted.id))
    assert r.status_code == 422
    assert "non fa parte del piano" in r.text and "Applica alla richiesta" in r.text
    with pytest.raises(NotFound):
        requests.read_terms(ctx, OFFICER, submitted.id)
    # A request that left the plannable states since the plan was computed.
    ctx.write(lambda conn: conn.execute(update(funding_requests).where(
        funding_requests.c.id == rid).values(status="rejected")))
    r = web.client.post(form.action, data=apply_data(form))
    assert r.status_code == 422 and "ricalcola il piano" in r.text
    with pytest.raises(NotFound):
        requests.read_terms(ctx, OFFICER, rid)
    assert plan.funded  # the plan had requests to apply
