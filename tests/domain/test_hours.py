"""Business hours: parsing the setting, whether a moment is inside them, and when a closed shop
opens next (the moment, ``now``, is the test's: no real clock)."""

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


def test_a_closed_shop_opens_at_the_next_span_start_skipping_days_off() -> None:
    hours = parse_opening_hours("mon-fri 09:00-17:30; sat 10:00-13:00,14:00-16:00", "Europe/Berlin")
    assert hours.opens_at(_at("2026-11-23T10:00")) is None  # open: a Monday morning
    assert hours.opens_at(_at("2026-11-23T07:15")) == _at("2026-11-23T09:00")  # later the same day
    assert hours.opens_at(_at("2026-11-23T17:30")) == _at("2026-11-24T09:00")  # closing time: tomorrow
    assert hours.opens_at(_at("2026-11-28T13:00")) == _at("2026-11-28T14:00")  # the lunch break
    # Saturday evening and all of Sunday (days off): Monday morning.
    assert hours.opens_at(_at("2026-11-28T16:00")) == _at("2026-11-30T09:00")
    assert hours.opens_at(_at("2026-11-29T23:59:59")) == _at("2026-11-30T09:00")


def test_the_next_opening_around_midnight_and_a_week_away() -> None:
    hours = parse_opening_hours("tue 00:00-02:00; tue 22:00-24:00", "UTC")
    # Monday 23:59:30: it opens at midnight.
    assert hours.opens_at(_at("2026-11-23T23:59:30", "UTC")) == _at("2026-11-24T00:00", "UTC")
    assert hours.opens_at(_at("2026-11-24T00:00", "UTC")) is None
    assert hours.opens_at(_at("2026-11-24T02:00", "UTC")) == _at("2026-11-24T22:00", "UTC")
    # At 24:00 it closes; the next opening is a week later, on the same weekday.
    assert hours.opens_at(_at("2026-11-25T00:00", "UTC")) == _at("2026-12-01T00:00", "UTC")
    assert parse_opening_hours("").opens_at(0.0) is None  # always open


def test_the_next_opening_is_local_to_the_shop_and_follows_clock_changes() -> None:
    hours = parse_opening_hours("mon-fri 09:00-17:00", "America/New_York")
    # 12:00 in Berlin on Monday is 06:00 in New York: it opens at 09:00 there, 15:00 in Berlin.
    assert hours.opens_at(_at("2026-11-23T12:00")) == _at("2026-11-23T15:00")
    # Friday after closing in New York is already Saturday in Tokyo: still Monday 09:00 New York.
    assert hours.opens_at(_at("2026-11-28T08:00", "Asia/Tokyo")) == _at("2026-11-30T09:00", "America/New_York")
    # Across the change to summer time (Sunday 29 March 2026 in Berlin): 09:00 local on Monday,
    # which is 07:00 UTC, not the 08:00 UTC it was the week before.
    berlin = parse_opening_hours("mon 09:00-17:00", "Europe/Berlin")
    assert berlin.opens_at(_at("2026-03-28T12:00")) == _at("2026-03-30T07:00", "UTC")
    assert berlin.opens_at(_at("2026-03-21T12:00")) == _at("2026-03-23T08:00", "UTC")
    # A start the clock skips (02:30 that night) opens once the clock has jumped: 03:30 local.
    night = parse_opening_hours("sun 02:30-04:00", "Europe/Berlin")
    assert night.opens_at(_at("2026-03-29T00:00")) == _at("2026-03-29T01:30", "UTC")
    assert night.is_open(_at("2026-03-29T01:30", "UTC"))


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
