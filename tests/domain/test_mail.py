"""The transcript a visitor has emailed (chatserver/domain/mail.py): plain text, files named with
their size, never their bytes."""

from __future__ import annotations

from chatserver.config import BUILTIN_LOCALES
from chatserver.domain.i18n import load_languages
from chatserver.domain.mail import readable_size, transcript_mail
from chatserver.domain.models import Conversation, ConversationStatus, Message, PartyKind, PreChat, Transcript


def _message(seq: int, kind: str, sender: PartyKind, body: str, meta: dict[str, str] | None = None) -> Message:
    return Message(conversation_id="c1", seq=seq, kind=kind, sender_kind=sender, sender_id="x",
                   sender_name="Alice" if sender == PartyKind.AGENT else "Ann", body=body, created_at=3600.0 + seq,
                   meta=meta)


def test_a_transcript_mail_names_the_files_sent() -> None:
    conversation = Conversation(id="c1", visitor_id="v1", status=ConversationStatus.CLOSED,
                                prechat=PreChat(name="Ann", question="Help"), created_at=3600.0)
    transcript = Transcript(conversation=conversation, assignments=[], messages=[
        _message(1, "text", PartyKind.VISITOR, "Here is the error"),
        _message(2, "file", PartyKind.VISITOR, "checkout.png",
                 {"attachment_id": "att1", "name": "checkout.png", "size": "48213", "content_type": "image/png"}),
        _message(3, "file", PartyKind.AGENT, "label.pdf",
                 {"attachment_id": "att2", "name": "label.pdf", "size": "1250000", "content_type": "application/pdf"}),
    ])
    body = transcript_mail(transcript, "UTC", load_languages(BUILTIN_LOCALES, None, "en").server("en")).body
    assert "[01:00] You: sent a file: checkout.png (48 KB)" in body
    assert "[01:00] Alice: sent a file: label.pdf (1.2 MB)" in body
    assert "att1" not in body and "att2" not in body


def test_sizes_read_as_people_say_them() -> None:
    assert [readable_size(n) for n in (0, 999, 1000, 48_213, 1_250_000)] == [
        "0 bytes", "999 bytes", "1 KB", "48 KB", "1.2 MB"]
