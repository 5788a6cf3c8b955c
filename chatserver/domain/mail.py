"""The emails the server sends: plain text only, so nothing a visitor or agent wrote can become
markup in a mail client. They go through the outbox (``outbox.py``) and the SMTP worker."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import msgspec

from ..constants import SYS_AGENT_JOINED, SYS_CHAT_STARTED, SYS_CLOSED, SYS_REQUEUED, SYS_TRANSFERRED
from .models import Message, PartyKind, Transcript
from .outbox import OutboxItem, OutboxKind


class Mail(msgspec.Struct, frozen=True, kw_only=True):
    """What the outbox keeps of an email (the recipient is the item's ``target``)."""

    subject: str
    body: str


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Mail)


def mail_item(to: str, mail: Mail, *, new_id: Callable[[], str], now: float, visitor_id: str | None) -> OutboxItem:
    return OutboxItem(id=new_id(), kind=OutboxKind.MAIL, target=to, payload=_encoder.encode(mail).decode(),
                      created_at=now, next_attempt_at=now, visitor_id=visitor_id)


def decode_mail(item: OutboxItem) -> Mail:
    return _decoder.decode(item.payload)


def _one_line(text: str, limit: int = 80) -> str:
    """Header-safe: no line breaks, bounded."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def ticket_answer_mail(*, reference: str, name: str, description: str, agent_name: str, answer: str) -> Mail:
    quoted = "\n".join(f"> {line}" for line in description.splitlines())
    return Mail(
        subject=f"Re: your question ({reference})",
        body=(f"Hello {_one_line(name)},\n\n"
              f"{_one_line(agent_name)} has answered your question ({reference}):\n\n"
              f"{answer}\n\n"
              f"Your question was:\n{quoted}\n\n"
              "You can also read this answer in the chat on our website.\n"),
    )


def _system_line(message: Message) -> str:
    meta = message.meta or {}
    return {
        SYS_CHAT_STARTED: "Chat started.",
        SYS_AGENT_JOINED: f"{meta.get('agent_name', 'An agent')} joined the chat.",
        SYS_REQUEUED: "The agent was disconnected; the chat went back to the queue.",
        SYS_TRANSFERRED: "The chat was transferred.",
        SYS_CLOSED: "The chat ended.",
    }.get(message.body, "")


def readable_size(size: int) -> str:
    """``1.2 MB``, ``48 KB``, ``512 bytes``."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{round(size / 1_000)} KB"
    return f"{size} bytes"


def file_summary(message: Message) -> str:
    """What a file message says in a text transcript: its name and size (never its bytes)."""
    meta = message.meta or {}
    size = meta.get("size", "")
    return f"sent a file: {message.body}" + (f" ({readable_size(int(size))})" if size.isdigit() else "")


def transcript_mail(transcript: Transcript, timezone: str) -> Mail:
    """The conversation as plain text: one line per message, with local times."""
    zone = ZoneInfo(timezone)
    started = dt.datetime.fromtimestamp(transcript.conversation.created_at, zone)
    lines = [f"Your chat of {started:%Y-%m-%d %H:%M} ({timezone})", ""]
    for message in transcript.messages:
        at = dt.datetime.fromtimestamp(message.created_at, zone).strftime("%H:%M")
        if message.kind == "system":
            text = _system_line(message)
            if text:
                lines.append(f"[{at}] {text}")
            continue
        who = "You" if message.sender_kind == PartyKind.VISITOR else (message.sender_name or "Agent")
        # A file is named, not attached: the mail stays plain text (see the chat for the file).
        body = file_summary(message) if message.kind == "file" else message.body.replace("\n", "\n    ")
        lines.append(f"[{at}] {_one_line(who, 100)}: {body}")
    lines += ["", "Thank you for chatting with us."]
    return Mail(subject=f"Your chat transcript ({started:%Y-%m-%d})", body="\n".join(lines) + "\n")
