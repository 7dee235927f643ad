"""Every page's handlers, feature by feature (each module owns its paths)."""

from __future__ import annotations

from typing import Any

from service.web import requests_pages, simulator_pages

HANDLERS: list[Any] = [*simulator_pages.HANDLERS, *requests_pages.HANDLERS]
