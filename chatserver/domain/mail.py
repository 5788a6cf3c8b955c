"""The emails the server sends: plain text only, so nothing a visitor or agent wrote can become
markup in a mail client. They go through the outbox (``outbox.py``) and the SMTP worker. Their
words are in the shopper's language (``t``: chatserver/locales/, the mail.* messages)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import msgspec

from ..constants import SYS_AGENT_JOINED, SYS_CHAT_STARTED, SYS_CLOSED, SYS_REQUEUED, SYS_TRANSFERRED
from .i18n import Translator
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


def ticket_answer_mail(t: Translator, *, reference: str, name: str, description: str, agent_name: str,
                       answer: str) -> Mail:
    quoted = "\n".join(f"> {line}" for line in description.splitlines())
    return Mail(
        subject=t("mail.answer.subject", reference=reference),
        body=t("mail.answer.body", name=_one_line(name), agent=_one_line(agent_name), reference=reference,
               answer=answer, question=quoted),
    )


_SYSTEM_KEYS = {
    SYS_CHAT_STARTED: "mail.system.chat_started",
    SYS_REQUEUED: "mail.system.requeued",
    SYS_TRANSFERRED: "mail.system.transferred",
    SYS_CLOSED: "mail.system.closed",
}


def _system_line(message: Message, t: Translator) -> str:
    meta = message.meta or {}
    if message.body == SYS_AGENT_JOINED:
        agent = meta.get("agent_name")
        return t("mail.system.agent_joined", agent=agent) if agent else t("mail.system.an_agent_joined")
    key = _SYSTEM_KEYS.get(message.body)
    return t(key) if key else ""


def readable_size(size: int) -> str:
    """``1.2 MB``, ``48 KB``, ``512 bytes``."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{round(size / 1_000)} KB"
    return f"{size} bytes"


def file_summary(message: Message, t: Translator | None = None) -> str:
    """What a file message says in a text transcript: its name and size (never its bytes), in
    English unless ``t`` gives the reader's language."""
    meta = message.meta or {}
    size = meta.get("size", "")
    if t is not None:
        return (t("mail.fileSize", name=message.body, size=readable_size(int(size))) if size.isdigit()
                else t("mail.file", name=message.body))
    return f"sent a file: {message.body}" + (f" ({readable_size(int(size))})" if size.isdigit() else "")


def transcript_mail(transcript: Transcript, timezone: str, t: Translator) -> Mail:
    """The conversation as plain text in the shopper's language (``t``): one line per message,
    with local times."""
    zone = ZoneInfo(timezone)
    started = dt.datetime.fromtimestamp(transcript.conversation.created_at, zone)
    lines = [t("mail.transcript.heading", date=f"{started:%Y-%m-%d %H:%M}", timezone=timezone), ""]
    for message in transcript.messages:
        at = dt.datetime.fromtimestamp(message.created_at, zone).strftime("%H:%M")
        if message.kind == "system":
            text = _system_line(message, t)
            if text:
                lines.append(f"[{at}] {text}")
            continue
        who = t("mail.you") if message.sender_kind == PartyKind.VISITOR else (message.sender_name or t("mail.agent"))
        # A file is named, not attached: the mail stays plain text (see the chat for the file).
        body = file_summary(message, t) if message.kind == "file" else message.body.replace("\n", "\n    ")
        lines.append(f"[{at}] {_one_line(who, 100)}: {body}")
    lines += ["", t("mail.transcript.thanks")]
    return Mail(subject=t("mail.transcript.subject", date=f"{started:%Y-%m-%d}"), body="\n".join(lines) + "\n")
