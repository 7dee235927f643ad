"""The home page (``/``) of a producer user: **La mia azienda**."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Template

from service.web.core import render


def home(request: Request[Any, Any, Any]) -> Template:
    return render(request, "home_producer.html", title="La mia azienda")
