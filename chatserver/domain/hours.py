"""Business hours: when the shop's agents serve live chats (``business_hours`` in the settings).

Outside these hours a visitor is offered the offline form instead of a chat, whether or not an
agent happens to be connected.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE = re.compile(r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?)\s+(?P<spans>\S.*)$(?!\n)")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$(?!\n)")


class OpeningHours(msgspec.Struct, frozen=True):
    """Open spans per weekday (0 = Monday), in minutes after local midnight, in a timezone.
    No spans at all means always open."""

    spans: tuple[tuple[tuple[int, int], ...], ...]
    timezone: str = "UTC"

    @property
    def always_open(self) -> bool:
        return not any(self.spans)

    def is_open(self, now: float) -> bool:
        """Whether ``now`` (seconds since the epoch) falls in an open span, in local time."""
        if self.always_open:
            return True
        local = dt.datetime.fromtimestamp(now, ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.spans[local.weekday()])

    def opens_at(self, now: float) -> float | None:
        """When the shop opens next (seconds since the epoch), if it is closed at ``now``; ``None``
        while it is open (or always is). Found in local time: the first span starting after
        ``now`` today or on one of the next seven days (days off are skipped; a span at 00:00 opens
        at midnight). A start that a clock change skips (02:30 on the night clocks go forward)
        opens at the same wall time on the later offset, i.e. once the clock has jumped."""
        if self.is_open(now):
            return None
        zone = ZoneInfo(self.timezone)
        today = dt.datetime.fromtimestamp(now, zone).date()
        for ahead in range(8):
            day = today + dt.timedelta(days=ahead)
            for start, _end in self.spans[day.weekday()]:
                local = dt.datetime.combine(day, dt.time(start // 60, start % 60), tzinfo=zone)
                opening = local.timestamp()
                if opening > now:
                    return opening
        return None  # unreachable: a closed shop has a span on some weekday


def parse_opening_hours(text: str, timezone: str = "UTC") -> OpeningHours:
    """Parse ``"mon-fri 09:00-17:00; sat 10:00-13:00,14:00-16:00"`` (rules separated by ``;``,
    a rule's spans by ``,``; a day range wraps past Sunday, ``fri-mon``). An empty text means
    always open. Raises ``ValueError`` naming what is wrong."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {timezone!r}") from None
    per_day: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for raw_rule in text.lower().split(";"):
        rule = raw_rule.strip()
        if not rule:
            continue
        match = _RULE.match(rule)
        if match is None:
            raise ValueError(f"business hours rule {rule!r} is not like 'mon-fri 09:00-17:00'")
        days = _days(match["days"])
        for raw_span in match["spans"].split(","):
            span = _span(raw_span.strip())
            for day in days:
                per_day[day].append(span)
    return OpeningHours(spans=tuple(tuple(sorted(day)) for day in per_day), timezone=timezone)


def _days(text: str) -> list[int]:
    first, _, last = text.partition("-")
    if first not in DAYS or (last and last not in DAYS):
        raise ValueError(f"unknown day in {text!r}: use mon, tue, wed, thu, fri, sat, sun")
    start = DAYS.index(first)
    end = DAYS.index(last) if last else start
    return [(start + i) % 7 for i in range((end - start) % 7 + 1)]


def _span(text: str) -> tuple[int, int]:
    match = _SPAN.match(text)
    if match is None:
        raise ValueError(f"opening span {text!r} is not like 09:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        raise ValueError(f"opening span {text!r} is not a time of day")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not 0 <= start < end <= 24 * 60:
        raise ValueError(f"opening span {text!r} must start before it ends, within one day")
    return start, end
