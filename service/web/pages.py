"""Every page's handlers, feature by feature (each module owns its paths)."""

from __future__ import annotations

from typing import Any

from service.web import loans_pages

HANDLERS: list[Any] = []
HANDLERS += loans_pages.HANDLERS
