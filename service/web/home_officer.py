"""The home page (``/``) of an officer or admin: **Scrivania**, the to-do list.

Requests waiting for the officers (``requests.officer_todo``), loans in arrears
(``arrears.list_arrears``) and open prepayments expiring within 30 days
(``desk.expiring_prepayments``), each with its count and links to the items.
"""

from __future__ import annotations

from litestar.response import Template

from service.app import arrears, desk, requests
from service.web.core import AnyRequest, ctx_of, party_name, principal_of, render

SHOWN = 5  # items listed per section; the count says how many there are in all
ARREARS_SHOWN = 10

# The to-do sections, in the order of the work, with the request status each lists.
SECTIONS = (
    ("waiting_review", "Richieste da esaminare", "submitted"),
    ("info_provided", "Informazioni fornite", "submitted"),
    ("in_review", "In esame da me", "under_review"),
    ("to_fund", "Approvate da finanziare", "approved"),
)


def home(request: AnyRequest) -> Template:
    ctx, principal = ctx_of(request), principal_of(request)
    todo = requests.officer_todo(ctx, principal, SHOWN)
    late = arrears.list_arrears(ctx, principal, None, None, None, ARREARS_SHOWN, None)
    expiring = desk.expiring_prepayments(ctx, principal, SHOWN)
    sections = [(key, title, status, getattr(todo, key)) for key, title, status in SECTIONS]

    def name(party_id: str) -> str:
        return party_name(ctx, party_id) or party_id

    return render(request, "home_officer.html", title="Scrivania", sections=sections,
                  arrears=late, expiring=expiring, name=name)
