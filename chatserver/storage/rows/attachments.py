"""Attachment records as both databases hold them (``attachments``: migrations 0014 of SQLite and
0004 of PostgreSQL); the bytes are kept apart, as each database's store decides."""

from __future__ import annotations

from typing import Any

from ...domain.attachments import Attachment, AttachmentStore, StoredFile
from ...domain.models import PartyKind
from . import Mark, Row

ATTACHMENT_COLUMNS = ("id, conversation_id, sender_kind, sender_id, name, content_type, size, created_at, width, "
                      "height, thumbnail_type")
_N_COLUMNS = len(ATTACHMENT_COLUMNS.split(","))


def attachment_from_row(row: Row) -> Attachment:
    return Attachment(id=row[0], conversation_id=row[1], sender_kind=PartyKind(row[2]), sender_id=row[3],
                      name=row[4], content_type=row[5], size=int(row[6]), created_at=row[7], width=row[8],
                      height=row[9], thumbnail_type=row[10])


def attachment_values(a: Attachment) -> tuple[Any, ...]:
    """The record's values in ``ATTACHMENT_COLUMNS`` order."""
    return (a.id, a.conversation_id, str(a.sender_kind), a.sender_id, a.name, a.content_type, a.size, a.created_at,
            a.width, a.height, a.thumbnail_type)


def insert_attachment(mark: Mark) -> str:
    """The INSERT of one record, with the database's placeholders."""
    marks = ", ".join(mark(n + 1) for n in range(_N_COLUMNS))
    return f"INSERT INTO attachments ({ATTACHMENT_COLUMNS}) VALUES ({marks})"


async def stored_files(store: AttachmentStore, conversation_ids: list[str]) -> list[StoredFile]:
    """The files of these conversations with their bytes, for a customer's export (a file whose
    bytes are gone is left out)."""
    found = []
    for attachment in await store.attachments_of(conversation_ids):
        data = await store.attachment_data(attachment.id)
        if data is not None:
            found.append(StoredFile(attachment=attachment, data=data))
    return found
