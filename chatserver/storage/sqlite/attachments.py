"""Attachments of the embedded build: the record in the SQLite file, the bytes as files under the
data directory (``attachments/<first two characters of the id>/<id>``, an image's thumbnail beside
it as ``<id>.thumb``), private to the server's user (0700 directories, 0600 files, ``files.py``).

A file is written under a temporary name, flushed to disk and renamed into place before its record
is committed, so a record never names a half-written file; a record that cannot be stored takes
its files away. Deleting a record (the store's own ``delete_attachment``, or a conversation's
deletion by the customer store, ``remove_files``) removes the files once the deletion is
committed. Files without a record (a crash between the two) are found by ``remove_orphans``.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from ...domain.attachments import Attachment, Variant
from ...errors import NotFound
from ...files import make_private_dir
from ..rows import sqlite_mark
from ..rows.attachments import ATTACHMENT_COLUMNS, attachment_from_row, attachment_values, insert_attachment
from .database import SQLiteDatabase

_INSERT = insert_attachment(sqlite_mark)
# Ids the server makes (and nothing that could leave the directory).
_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_SUFFIX: dict[Variant, str] = {"file": "", "thumbnail": ".thumb"}
# A file without a record younger than this may be an upload whose record is being committed.
ORPHAN_AGE = 3600.0


class AttachmentFiles:
    """The bytes of the embedded build's attachments: files in ``directory``, by attachment id."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, attachment_id: str, variant: Variant = "file") -> Path:
        if not _ID.fullmatch(attachment_id):
            raise ValueError("not an attachment id")
        return self.directory / attachment_id[:2] / f"{attachment_id}{_SUFFIX[variant]}"

    async def read(self, attachment_id: str, variant: Variant = "file") -> bytes | None:
        """The bytes, or ``None`` when there is no such file."""
        if not _ID.fullmatch(attachment_id):
            return None
        try:
            return await asyncio.to_thread(self.path(attachment_id, variant).read_bytes)
        except FileNotFoundError:
            return None

    def write(self, attachment_id: str, data: bytes, thumbnail: bytes | None) -> None:
        """Write the files (blocking: run it in a thread), each under a temporary name, flushed
        and renamed into place."""
        make_private_dir(self.directory)
        folder = self.path(attachment_id).parent
        make_private_dir(folder)
        contents: list[tuple[Variant, bytes | None]] = [("file", data), ("thumbnail", thumbnail)]
        for variant, content in contents:
            if content is None:
                continue
            fd, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")  # 0600
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(content)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, self.path(attachment_id, variant))
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        # The renames themselves are durable once the folder is.
        folder_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)

    async def remove(self, attachment_ids: Iterable[str]) -> None:
        await asyncio.to_thread(_unlink_all, [self.path(i, variant) for i in attachment_ids if _ID.fullmatch(i)
                                              for variant in _SUFFIX])

    def old_files(self, before: float) -> dict[str, Path]:
        """Files (blocking: run it in a thread) last changed before ``before``, by name."""
        found: dict[str, Path] = {}
        if not self.directory.is_dir():
            return found
        for folder in self.directory.iterdir():
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < before:
                    found[entry.name] = Path(entry.path)
        return found


class SQLiteAttachments:
    """Implements ``AttachmentStore`` over the file and the ``directory`` of bytes."""

    def __init__(self, database: SQLiteDatabase, directory: Path) -> None:
        self.database = database
        self.files = AttachmentFiles(directory)

    @property
    def directory(self) -> Path:
        return self.files.directory

    def path(self, attachment_id: str, variant: Variant = "file") -> Path:
        return self.files.path(attachment_id, variant)

    async def save_attachment(self, attachment: Attachment, data: bytes, thumbnail: bytes | None) -> None:
        await asyncio.to_thread(self.files.write, attachment.id, data, thumbnail)
        try:
            async with self.database.transaction() as db:
                await db.execute(_INSERT, attachment_values(attachment))
        except sqlite3.IntegrityError as exc:
            await self.files.remove([attachment.id])
            raise NotFound("conversation not found") from exc
        except BaseException:
            await self.files.remove([attachment.id])
            raise

    async def attachment(self, attachment_id: str) -> Attachment | None:
        row = await self.database.fetchone(f"SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = ?",
                                           (attachment_id,))
        return attachment_from_row(row) if row else None

    async def attachment_data(self, attachment_id: str, variant: Variant = "file") -> bytes | None:
        return await self.files.read(attachment_id, variant)

    async def attachments_of(self, conversation_ids: list[str]) -> list[Attachment]:
        found = []
        for conversation_id in conversation_ids:
            rows = await self.database.fetchall(
                f"SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE conversation_id = ? ORDER BY created_at, id",
                (conversation_id,))
            found += [attachment_from_row(row) for row in rows]
        return sorted(found, key=lambda a: (a.created_at, a.id))

    async def delete_attachment(self, attachment_id: str) -> None:
        async with self.database.transaction() as db:
            await db.execute("DELETE FROM attachments WHERE id = ?", (attachment_id,))
        await self.files.remove([attachment_id])

    async def remove_files(self, attachment_ids: Iterable[str]) -> None:
        """Remove the files of attachments whose records are gone (deleted with their conversation)."""
        await self.files.remove(attachment_ids)

    async def remove_orphans(self, older_than: float = ORPHAN_AGE) -> int:
        """Remove files (and temporary files) older than ``older_than`` seconds that no record
        names: left by a process that stopped between writing a file and committing its record,
        or between committing a deletion and removing the files. How many were removed."""
        candidates = await asyncio.to_thread(self.files.old_files, time.time() - older_than)
        ids = sorted({name.split(".", 1)[0] for name in candidates if not name.startswith(".")})
        known: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = await self.database.fetchall(
                f"SELECT id FROM attachments WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            known |= {row[0] for row in rows}
        orphans = [path for name, path in candidates.items()
                   if name.startswith(".upload-") or name.split(".", 1)[0] not in known]
        await asyncio.to_thread(_unlink_all, orphans)
        return len(orphans)


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
