"""Attachments with several hosts: the record and the bytes in the shared database, so every
process on every host serves any file with no other service (docs/architecture.md says why not a
bucket). The bytes are rows of ``attachment_parts`` of at most ``PART_BYTES`` each, written in the
record's transaction; they go with the record (its deletion, or the walk that deletes a
conversation's rows, follows the foreign key)."""

from __future__ import annotations

import asyncpg

from ...domain.attachments import Attachment, Variant
from ...errors import NotFound
from ..rows import postgres_mark
from ..rows.attachments import ATTACHMENT_COLUMNS, attachment_from_row, attachment_values, insert_attachment
from .database import PostgresDatabase

_INSERT = insert_attachment(postgres_mark)
# 1 MiB: a 10 MB file is ten rows, none of them a large message to send, hold or TOAST at once.
PART_BYTES = 1024 * 1024


def parts_of(data: bytes) -> list[bytes]:
    """``data`` as the rows of ``attachment_parts`` hold it (an empty file is one empty part)."""
    return [data[start:start + PART_BYTES] for start in range(0, len(data), PART_BYTES)] or [b""]


class PostgresAttachments:
    """Implements ``AttachmentStore``."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    async def save_attachment(self, attachment: Attachment, data: bytes, thumbnail: bytes | None) -> None:
        rows = [(attachment.id, "file", n, part) for n, part in enumerate(parts_of(data))]
        if thumbnail is not None:
            rows += [(attachment.id, "thumbnail", n, part) for n, part in enumerate(parts_of(thumbnail))]
        try:
            async with self.database.transaction() as conn:
                await conn.execute(_INSERT, *attachment_values(attachment))
                await conn.executemany(
                    "INSERT INTO attachment_parts (attachment_id, variant, part, data) VALUES ($1, $2, $3, $4)", rows)
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound("conversation not found") from exc

    async def attachment(self, attachment_id: str) -> Attachment | None:
        row = await self.database.fetchrow(f"SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = $1",
                                           attachment_id)
        return attachment_from_row(row) if row else None

    async def attachment_data(self, attachment_id: str, variant: Variant = "file") -> bytes | None:
        rows = await self.database.fetch(
            "SELECT data FROM attachment_parts WHERE attachment_id = $1 AND variant = $2 ORDER BY part",
            attachment_id, variant)
        return b"".join(row[0] for row in rows) if rows else None

    async def attachments_of(self, conversation_ids: list[str]) -> list[Attachment]:
        rows = await self.database.fetch(
            f"SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE conversation_id = ANY($1::text[]) "
            "ORDER BY created_at, id", conversation_ids)
        return [attachment_from_row(row) for row in rows]

    async def delete_attachment(self, attachment_id: str) -> None:
        async with self.database.transaction() as conn:
            await conn.execute("DELETE FROM attachment_parts WHERE attachment_id = $1", attachment_id)
            await conn.execute("DELETE FROM attachments WHERE id = $1", attachment_id)

    async def remove_orphans(self, older_than: float = 0.0) -> int:
        """Nothing to do: the bytes are rows that go with their record."""
        return 0
