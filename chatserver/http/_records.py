"""What the customer and conversation routes share: ids in paths, date parameters and
transcripts rendered as text and HTML."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Annotated

import msgspec
from aiohttp import web

from ..domain.mail import file_summary
from ..domain.models import Message, Transcript
from ..errors import InvalidPayload, NotFound
from .route import Query

MAX_ID = 64


def path_id(request: web.Request, name: str, what: str) -> str:
    """An id from the URL; one that cannot exist is ``not_found`` (ids are 1-64 characters)."""
    value = request.match_info[name]
    if not 1 <= len(value) <= MAX_ID:
        raise NotFound(f"{what} not found")
    return value


# RFC 3339, as the OpenAPI document's formats date and date-time say: a full-date, or a date-time
# (its offset may be left out for UTC). Python's fromisoformat takes more than that (week dates,
# basic formats, times without seconds), so the grammar is matched first.
_DATE_TIME = re.compile(r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})(?:[Tt](?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})"
                        r"(?P<fraction>\.[0-9]+)?(?:[Zz]|(?P<sign>[+-])(?P<offset>[0-9]{2}:[0-9]{2}))?)?")
_EPOCH = datetime(1970, 1, 1)


def time_query(request: web.Request, name: str, *, end: bool = False) -> float | None:
    """A query parameter holding an RFC 3339 date (``2026-11-23``) or date-time
    (``2026-11-23T10:00:00Z``; without an offset, UTC), as seconds since the epoch. A bare date
    as an ``end`` bound means the end of that day, so ``to=2026-11-23`` includes the 23rd."""
    raw = request.query.get(name)
    if raw is None:
        return None
    found = _DATE_TIME.fullmatch(raw)
    try:
        if found is None:
            raise ValueError(raw)
        day = datetime.combine(date.fromisoformat(found["date"]), time())
        if found["time"] is None:
            return (day - _EPOCH).total_seconds() + (86400.0 if end else 0.0)
        clock = time.fromisoformat(found["time"])
        offset = time.fromisoformat(found["offset"]) if found["offset"] else time()
        # Naive arithmetic: an offset may move a moment of year 1 or 9999 out of datetime's range.
        seconds = (datetime.combine(day, clock) - _EPOCH).total_seconds() + float("0" + (found["fraction"] or ""))
        return seconds - (1 if found["sign"] == "+" else -1) * (offset.hour * 3600 + offset.minute * 60)
    except ValueError:
        raise InvalidPayload(f"{name} must be an RFC 3339 date or date-time, e.g. 2026-11-23") from None


# RFC 3339; a date-time without an offset (2026-11-23T10:00:00) is taken as UTC.
_DATE_OR_TIME = Annotated[str, msgspec.Meta(extra_json_schema={"anyOf": [{"format": "date"}, {"format": "date-time"}]})]
# A report's or a list's time range, read with ``time_query`` and ``check_range``.
DATES = (Query("from", _DATE_OR_TIME, "RFC 3339 date or date-time (UTC unless an offset is given), inclusive; "
                                      "before to"),
         Query("to", _DATE_OR_TIME, "RFC 3339 date (that whole day included) or date-time, exclusive"))


def check_range(since: float | None, until: float | None) -> None:
    if since is not None and until is not None and since >= until:
        raise InvalidPayload("from must be before to")


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _line(message: Message) -> tuple[str, str]:
    """(who, what) of one transcript line."""
    if message.kind == "system":
        details = ", ".join(f"{k}={v}" for k, v in sorted((message.meta or {}).items()))
        return "system", message.body + (f" ({details})" if details else "")
    if message.kind == "file":
        return message.sender_name or str(message.sender_kind), file_summary(message)
    return message.sender_name or str(message.sender_kind), message.body


def _header(transcript: Transcript) -> list[tuple[str, str]]:
    c = transcript.conversation
    p = c.prechat
    rows = [("Conversation", c.id), ("Customer", p.name + (f" <{p.email}>" if p.email else "")),
            ("Started", _when(c.created_at)), ("Status", str(c.status))]
    if c.agent_name:
        rows.append(("Agent", c.agent_name))
    if c.closed_at is not None:
        rows.append(("Closed", _when(c.closed_at)))
    for label, value in (("Order number", p.order_number), ("Page", p.page_url), ("Department", p.department)):
        if value:
            rows.append((label, value))
    if transcript.rating is not None:
        comment = f" - {transcript.rating.comment}" if transcript.rating.comment else ""
        rows.append(("Rating", f"{transcript.rating.rating}/5{comment}"))
    return rows


def transcript_text(transcript: Transcript) -> str:
    lines = [f"{label}: {value}" for label, value in _header(transcript)]
    lines.append("")
    for message in transcript.messages:
        who, what = _line(message)
        lines.append(f"[{_when(message.created_at)}] {who}: {what}")
    return "\n".join(lines) + "\n"


def _thumbnail(message: Message, thumbnails: Mapping[str, tuple[str, bytes]]) -> str:
    """A file message's image, embedded as a data URI so that a downloaded page still shows it."""
    found = thumbnails.get((message.meta or {}).get("attachment_id", ""))
    if found is None or found[0] not in ("image/jpeg", "image/png"):
        return ""
    return (f'<br><img alt="{html.escape(message.body)}" '
            f'src="data:{found[0]};base64,{base64.b64encode(found[1]).decode()}">')


def transcript_html(transcript: Transcript, thumbnails: Mapping[str, tuple[str, bytes]] | None = None) -> str:
    """A standalone page; every text from the conversation is escaped (it is shown, never run).
    Files are named with their size; images show their thumbnails (``thumbnails``: type and bytes
    by attachment id), embedded, since the page is downloaded and the server's links expire."""
    e = html.escape
    header = "".join(f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in _header(transcript))
    rows = []
    for message in transcript.messages:
        who, what = _line(message)
        image = _thumbnail(message, thumbnails or {}) if message.kind == "file" else ""
        rows.append(f'<li class="{e(message.kind)} {e(str(message.sender_kind))}"><time>'
                    f"{e(_when(message.created_at))}</time> <b>{e(who)}</b>: <span>{e(what)}</span>{image}</li>")
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>Conversation {e(transcript.conversation.id)}</title>"
            "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}th{text-align:left;padding-right:1em}"
            "li{list-style:none;margin:.3em 0;white-space:pre-wrap}.system{color:#666}time{color:#888}"
            "img{max-width:320px;border:1px solid #ccc;margin-top:.3em}</style>"
            f"</head><body><table>{header}</table><ol>{''.join(rows)}</ol></body></html>\n")
