"""One clock for today: the date in FILIERA_TIMEZONE, or FILIERA_TODAY when fixed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from service.app.clock import today


def test_today_is_the_date_in_the_configured_time_zone(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    monkeypatch.delenv("FILIERA_TODAY", raising=False)
    # UTC+14 and UTC-11 are 25 hours apart: their dates always differ by one day.
    monkeypatch.setenv("FILIERA_TIMEZONE", "Pacific/Kiritimati")
    east = today()
    monkeypatch.setenv("FILIERA_TIMEZONE", "Pacific/Pago_Pago")
    west = today()
    assert east - west == timedelta(days=1)
    utc = datetime.now(UTC)
    assert west <= utc.date() <= east


def test_rome_by_default_and_a_fixed_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FILIERA_TIMEZONE", raising=False)
    monkeypatch.delenv("FILIERA_TODAY", raising=False)
    from zoneinfo import ZoneInfo

    assert today() == datetime.now(ZoneInfo("Europe/Rome")).date()
    monkeypatch.setenv("FILIERA_TODAY", "2026-06-30")
    assert today() == date(2026, 6, 30)
