"""``/``: each role's home page (Scrivania, La mia azienda, Il nostro GAS)."""

from __future__ import annotations

from litestar.response import Template

from service.web import home_gas, home_officer, home_producer
from service.web.core import AnyRequest, principal_of


def home(request: AnyRequest) -> Template:
    principal = principal_of(request)
    if principal.role == "producer":
        return home_producer.home(request)
    if principal.role == "gas":
        return home_gas.home(request)
    return home_officer.home(request)
