"""Attachments of the embedded build: the record in the SQLite file, the bytes as files under the
data directory (``attachments/<first two characters of the id>/<id>``, an image's thumbnail beside
it as ``<id>.thumb``), private to the server's user (0700 directories, 0600 files, ``files.py``).

An upload's temporary file (flushed to disk by ``SpooledUpload.finish``) is renamed into place,
or copied under a temporary name, flushed and renamed when it is on another file system, before its
record is committed, so a record never names a half-written file; a record that cannot be stored takes
its files away. Deleting a record (the store's own ``delete_attachment``, or a conversation's
deletion by the customer store, ``remove_files``) removes the files once the deletion is
committed. Files without a record (a crash between the two) are found by ``remove_orphans``.
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import BinaryIO

from ...domain.attachments import CHUNK_BYTES, ORPHAN_AGE, Attachment, Variant
from ...domain.uploads import TEMPORARY_PREFIX
from ...errors import NotFound
from ...files import PRIVATE_FILE, make_private_dir
from ..rows import sqlite_mark
from ..rows.attachments import ATTACHMENT_COLUMNS, attachment_from_row, attachment_values, insert_attachment
from .database import SQLiteDatabase

_INSERT = insert_attachment(sqlite_mark)
# Ids the server makes (and nothing that could leave the directory).
_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_SUFFIX: dict[Variant, str] = {"file": "", "thumbnail": ".thumb"}


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

    async def open(self, attachment_id: str, variant: Variant = "file") -> OpenFile | None:
        """The file opened to be read in parts, or ``None`` when there is no such file."""
        if not _ID.fullmatch(attachment_id):
            return None
        try:
            handle = await asyncio.to_thread(self.path(attachment_id, variant).open, "rb")
        except FileNotFoundError:
            return None
        return OpenFile(handle)

    def write(self, attachment_id: str, source: Path, thumbnail: bytes | None) -> None:
        """Put the files in place (blocking: run it in a thread): ``source`` (flushed to disk
        already) renamed, or copied when it is on another file system, the thumbnail written;
        each copy under a temporary name, flushed and renamed into place."""
        make_private_dir(self.directory)
        folder = self.path(attachment_id).parent
        make_private_dir(folder)
        try:
            os.chmod(source, PRIVATE_FILE)  # what it was made with, whoever made it
            os.replace(source, self.path(attachment_id))
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            with source.open("rb") as data:
                self._write_new(folder, self.path(attachment_id), data)
        if thumbnail is not None:
            with io.BytesIO(thumbnail) as data:
                self._write_new(folder, self.path(attachment_id, "thumbnail"), data)
        # The renames themselves are durable once the folder is.
        folder_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)

    @staticmethod
    def _write_new(folder: Path, path: Path, data: BinaryIO) -> None:
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=TEMPORARY_PREFIX)  # 0600
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(data, out, CHUNK_BYTES)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

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

    async def save_attachment(self, attachment: Attachment, source: Path, thumbnail: bytes | None) -> None:
        await asyncio.to_thread(self.files.write, attachment.id, source, thumbnail)
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

    async def open_attachment(self, attachment_id: str, variant: Variant = "file") -> OpenFile | None:
        return await self.files.open(attachment_id, variant)

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
                   if name.startswith(TEMPORARY_PREFIX) or name.split(".", 1)[0] not in known]
        await asyncio.to_thread(_unlink_all, orphans)
        return len(orphans)


class OpenFile:
    """Implements ``FileChunks`` over an open file."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.size = os.fstat(handle.fileno()).st_size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await asyncio.to_thread(self._handle.read, CHUNK_BYTES):
            yield chunk

    async def aclose(self) -> None:
        self._handle.close()


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
