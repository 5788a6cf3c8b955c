"""Attachments with several hosts: the record and the bytes in the shared database, so every
process on every host serves any file with no other service (docs/architecture.md says why not a
bucket). The bytes are rows of ``attachment_parts`` of at most ``PART_BYTES`` each, written in the
record's transaction as the upload's file is read, one part at a time, and read back one part at
a time to be sent; they go with the record (its deletion, or the walk that deletes a
conversation's rows, follows the foreign key)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from ...domain.attachments import Attachment, Variant
from ...errors import NotFound
from ..rows import postgres_mark
from ..rows.attachments import ATTACHMENT_COLUMNS, attachment_from_row, attachment_values, insert_attachment
from .database import PostgresDatabase

_INSERT = insert_attachment(postgres_mark)
_INSERT_PART = "INSERT INTO attachment_parts (attachment_id, variant, part, data) VALUES ($1, $2, $3, $4)"
# 1 MiB: a 10 MB file is ten rows, none of them a large message to send, hold or TOAST at once.
PART_BYTES = 1024 * 1024


def parts_of(data: bytes) -> list[bytes]:
    """``data`` as the rows of ``attachment_parts`` hold it (an empty file is one empty part)."""
    return [data[start:start + PART_BYTES] for start in range(0, len(data), PART_BYTES)] or [b""]


class PostgresAttachments:
    """Implements ``AttachmentStore``."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    async def save_attachment(self, attachment: Attachment, source: Path, thumbnail: bytes | None) -> None:
        thumbnail_rows = [] if thumbnail is None else \
            [(attachment.id, "thumbnail", n, part) for n, part in enumerate(parts_of(thumbnail))]
        handle = await asyncio.to_thread(source.open, "rb")
        try:
            async with self.database.transaction() as conn:
                await conn.execute(_INSERT, *attachment_values(attachment))
                part = 0
                # One part in memory at a time: read, sent, then the next (an empty file is one part).
                while (data := await asyncio.to_thread(handle.read, PART_BYTES)) or part == 0:
                    await conn.execute(_INSERT_PART, attachment.id, "file", part, data)
                    part += 1
                if thumbnail_rows:
                    await conn.executemany(_INSERT_PART, thumbnail_rows)
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound("conversation not found") from exc
        finally:
            handle.close()

    async def attachment(self, attachment_id: str) -> Attachment | None:
        row = await self.database.fetchrow(f"SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = $1",
                                           attachment_id)
        return attachment_from_row(row) if row else None

    async def attachment_data(self, attachment_id: str, variant: Variant = "file") -> bytes | None:
        rows = await self.database.fetch(
            "SELECT data FROM attachment_parts WHERE attachment_id = $1 AND variant = $2 ORDER BY part",
            attachment_id, variant)
        return b"".join(row[0] for row in rows) if rows else None

    async def open_attachment(self, attachment_id: str, variant: Variant = "file") -> StoredParts | None:
        row = await self.database.fetchrow(
            "SELECT count(*), coalesce(sum(length(data)), 0) FROM attachment_parts "
            "WHERE attachment_id = $1 AND variant = $2", attachment_id, variant)
        if row is None or row[0] == 0:
            return None
        return StoredParts(self.database, attachment_id, variant, parts=row[0], size=row[1])

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


class StoredParts:
    """Implements ``FileChunks``: the parts read one query at a time (each at most ``PART_BYTES``),
    so a download holds one part, not the file."""

    def __init__(self, database: PostgresDatabase, attachment_id: str, variant: Variant, *, parts: int,
                 size: int) -> None:
        self._database = database
        self._id = attachment_id
        self._variant = variant
        self._parts = parts
        self.size = size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in range(self._parts):
            data = await self._database.fetchval(
                "SELECT data FROM attachment_parts WHERE attachment_id = $1 AND variant = $2 AND part = $3",
                self._id, self._variant, part)
            if data is None:  # deleted while it was being sent: the response ends short
                raise NotFound("this file no longer exists")
            yield data

    async def aclose(self) -> None:
        """Nothing is held between parts."""
