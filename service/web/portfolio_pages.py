"""``/portafoglio``: the loan portfolio's quality as of a day, with its aging chart.

The figures come from ``service.app.portfolio`` (the portfolio report's own positions
and metrics), so they equal ``portfolio.xlsx`` for the same day. The chart is an SVG
drawn here, on the server, with presentation attributes only (the CSP allows no inline
style) and a table beside it as its text alternative.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from urllib.parse import urlencode

from litestar import get
from litestar.params import FromQuery
from litestar.response import Template

from reports.portfolio import AGING_BUCKETS, BUCKET_LABELS, BucketFigures
from service.app import portfolio
from service.app.clock import today
from service.app.errors import Invalid
from service.web.core import AnyRequest, Form, absorb, ctx_of, principal_of, render
from service.web.formatting import euro

PAGE_SIZE = 50
# Bar colours from current to over 90 days late: each at least 3:1 against white.
BUCKET_FILLS = {"current": "#1b7f3b", "1-30": "#7a6300", "31-60": "#b35900",
                "61-90": "#b3261e", "90+": "#6d1b1b"}
CHART_WIDTH = 400
ROW_HEIGHT = 50


@dataclass(frozen=True)
class Bar:
    label: str
    text: str  # amount and loans, beside the label
    fill: str
    y: int  # top of the row
    width: int  # of the bar, in viewBox units


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    description: str


def _cents(value: int) -> Decimal:
    return Decimal(value) / 100


def aging_chart(buckets: tuple[BucketFigures, ...]) -> Chart:
    """One horizontal bar per aging bucket, its length the bucket's outstanding
    principal over the largest bucket's."""
    largest = max((b.outstanding_cents for b in buckets), default=0)
    bars = []
    for i, b in enumerate(buckets):
        width = (round(Fraction(b.outstanding_cents * CHART_WIDTH, largest))
                 if largest else 0)
        if b.outstanding_cents > 0:
            width = max(width, 2)  # a sliver shows the bucket is not empty
        loans = "1 prestito" if b.loans == 1 else f"{b.loans} prestiti"
        bars.append(Bar(BUCKET_LABELS["it"][b.bucket],
                        f"{euro(_cents(b.outstanding_cents))} · {loans}",
                        BUCKET_FILLS[b.bucket], i * ROW_HEIGHT, width))
    description = "; ".join(f"{bar.label}: {bar.text}" for bar in bars)
    return Chart(CHART_WIDTH, len(bars) * ROW_HEIGHT, bars, description)


def _page_of(text: str | None) -> int:
    return int(text) if text and text.isdigit() and int(text) > 0 else 1


@get("/portafoglio", sync_to_thread=True)
def portfolio_page(request: AnyRequest, as_of: FromQuery[str | None] = None,
                   pagina: FromQuery[str | None] = None) -> Template:
    ctx, principal = ctx_of(request), principal_of(request)
    principal.require("officer")
    day = (as_of or "").strip() or None
    form = Form(values={"as_of": day or today().isoformat()})
    try:
        view = portfolio.portfolio_view(ctx, principal, day)
    except Invalid as exc:
        absorb(form, exc, {"as_of": "as_of"})
        form.values["as_of"] = day or ""
        return render(request, "officer/portafoglio.html", status=422, title="Portafoglio",
                      form=form, view=None)
    page = _page_of(pagina)
    start = (page - 1) * PAGE_SIZE
    rows = view.loans[start:start + PAGE_SIZE]
    iso = view.as_of.isoformat()

    def page_link(n: int) -> str:
        return "/portafoglio?" + urlencode({"as_of": iso, "pagina": n})

    return render(
        request, "officer/portafoglio.html", title="Portafoglio", form=form, view=view,
        m=view.metrics, chart=aging_chart(view.metrics.buckets), rows=rows,
        buckets=AGING_BUCKETS, labels=BUCKET_LABELS["it"], cents=_cents,
        workbook="/report/portfolio.xlsx?" + urlencode({"as_of": iso}),
        previous_page=page_link(page - 1) if page > 1 else None,
        next_page=page_link(page + 1) if start + PAGE_SIZE < len(view.loans) else None,
        first_row=start + 1, last_row=start + len(rows))


HANDLERS = [portfolio_page]
