"""Business hours: parsing the setting, and whether a moment is inside them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from chatserver.config import load_settings
from chatserver.domain.hours import parse_opening_hours
from chatserver.domain.outbox import RetryPolicy


def _at(text: str, zone: str = "Europe/Berlin") -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_open_within_each_days_spans_in_the_shops_timezone() -> None:
    hours = parse_opening_hours("mon-fri 09:00-17:30; sat 10:00-13:00,14:00-16:00", "Europe/Berlin")
    assert hours.is_open(_at("2026-11-23T09:00"))  # a Monday
    assert not hours.is_open(_at("2026-11-23T08:59"))
    assert not hours.is_open(_at("2026-11-23T17:30"))
    assert hours.is_open(_at("2026-11-28T12:59")) and not hours.is_open(_at("2026-11-28T13:30"))  # Saturday
    assert not hours.is_open(_at("2026-11-29T12:00"))  # Sunday
    # 08:30 UTC is 09:30 in Berlin in winter.
    assert hours.is_open(_at("2026-11-23T08:30", "UTC"))


def test_ranges_wrap_and_empty_means_always_open() -> None:
    hours = parse_opening_hours("fri-mon 00:00-24:00")
    assert [bool(day) for day in hours.spans] == [True, False, False, False, True, True, True]
    assert parse_opening_hours("").always_open and parse_opening_hours(" ; ").is_open(0.0)


@pytest.mark.parametrize("text", ["weekdays 09:00-17:00", "mon 9-17", "mon 17:00-09:00", "mon 09:00-25:00",
                                  "xyz-fri 09:00-17:00", "mon 09:60-10:00", "mon"])
def test_unreadable_rules_stop_the_server_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError):
        load_settings({}, environ={"CHATSERVER_BUSINESS_HOURS": text})


def test_settings_refuse_an_unknown_timezone_and_smtp_security() -> None:
    with pytest.raises(ValueError, match="timezone"):
        load_settings({}, environ={"CHATSERVER_BUSINESS_TIMEZONE": "Mars/Olympus"})
    with pytest.raises(ValueError, match="smtp_security"):
        load_settings({}, environ={"CHATSERVER_SMTP_SECURITY": "maybe"})
    settings = load_settings({"smtp_port": "2525"}, environ={"CHATSERVER_TICKET_ORDER_NUMBER_REQUIRED": "true"})
    assert settings.smtp_port == 2525 and settings.ticket_order_number_required


def test_retries_back_off_exponentially_up_to_the_maximum() -> None:
    policy = RetryPolicy(base=10, maximum=60, max_attempts=5)
    assert [policy.delay(n) for n in range(1, 6)] == [10, 20, 40, 60, 60]
