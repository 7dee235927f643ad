"""``/``: each role's home page (Scrivania, La mia azienda, Il nostro GAS)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from service.web.core import principal_of, render


def home(request: Request[Any, Any, Any]) -> Template:
    principal = principal_of(request)
    if principal.role == "producer":
        return render(request, "home_producer.html", title="La mia azienda")
    if principal.role == "gas":
        return render(request, "home_gas.html", title="Il nostro GAS")
    return render(request, "home_officer.html", title="Scrivania")
