"""Today, as Filiera's users mean it: the date in ``FILIERA_TIMEZONE`` (default
Europe/Rome), one clock for every use of today (date checks, as-of defaults, reference
years, demo data). ``FILIERA_TODAY=YYYY-MM-DD`` fixes it, for tests and demonstrations."""

from __future__ import annotations

import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Europe/Rome"


def timezone() -> ZoneInfo:
    return ZoneInfo(os.environ.get("FILIERA_TIMEZONE") or DEFAULT_TIMEZONE)


def today() -> date:
    fixed = os.environ.get("FILIERA_TODAY")
    if fixed:
        return date.fromisoformat(fixed)
    return datetime.now(timezone()).date()
