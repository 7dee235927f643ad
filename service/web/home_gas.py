"""The home page (``/``) of a gas user: **Il nostro GAS**."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from service.web.core import render


def home(request: Request[Any, Any, Any]) -> Template:
    return render(request, "home_gas.html", title="Il nostro GAS")
