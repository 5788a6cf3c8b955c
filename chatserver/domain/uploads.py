"""Uploads in flight: each one's body is written to a temporary file as it arrives (never held
whole in memory), at most ``limit`` at once per process, so that many clients uploading at once
cost at most ``limit`` files of ``attachment_max_bytes`` on disk and a few buffers in memory.

A temporary file is the upload's until it is stored: the store moves it away or copies it, and
whatever is left is removed when the upload ends, whichever way it ends (stored, refused, the
client gone mid-body, an error). One left by a process that stopped is removed by
``remove_stale`` after a while without a write.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from types import TracebackType

from ..errors import Busy
from ..files import make_private_dir

# How long a client that was refused for being one too many is told to wait.
RETRY_AFTER = 5
# Temporary files' names: a prefix the attachments' own clean-up also knows (storage/sqlite).
TEMPORARY_PREFIX = ".upload-"


class SpooledUpload:
    """One upload's temporary file (0600), written in order, then read by the checks and the store."""

    def __init__(self, spool: UploadSpool, fd: int, path: Path) -> None:
        self._spool = spool
        self._fd: int | None = fd
        self.path = path
        self.size = 0

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``. On the event loop, not in a thread: it goes to the page cache (no
        flush), and a thread still writing after a cancelled request had closed the descriptor
        could write into another file given the same number."""
        assert self._fd is not None, "written after finish"
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view):]
        self.size += len(chunk)

    async def finish(self) -> None:
        """All was written: flush it to disk (a stored file must survive a crash) and close it."""
        if self._fd is not None:
            await asyncio.to_thread(os.fsync, self._fd)
            os.close(self._fd)
            self._fd = None

    def replace(self, data: bytes) -> None:
        """Make ``data`` the file's content, flushed to disk (an image re-encoded; blocking: run
        it in a thread)."""
        with open(self.path, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        self.size = len(data)

    def discard(self) -> None:
        """Close and remove the file if it is still there (the store may have moved it) and free
        the upload's place. Synchronous, so that it runs even in a cancelled request."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        self.path.unlink(missing_ok=True)
        self._spool.release(self)

    async def __aenter__(self) -> SpooledUpload:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        self.discard()


class UploadSpool:
    """The temporary files of uploads in flight, in ``directory``; at most ``limit`` at once."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.directory = directory
        self.limit = limit
        self._open: set[SpooledUpload] = set()

    @property
    def in_flight(self) -> int:
        return len(self._open)

    def open(self) -> SpooledUpload:
        """A new upload's temporary file; ``Busy`` (nothing created) when ``limit`` uploads are in
        flight. Use it as ``async with``: the file is removed when the block ends."""
        if len(self._open) >= self.limit:
            raise Busy("the server is taking too many files at once: try again in a few seconds",
                       details={"retry_after": RETRY_AFTER})
        make_private_dir(self.directory)
        fd, name = tempfile.mkstemp(dir=self.directory, prefix=TEMPORARY_PREFIX)  # 0600
        upload = SpooledUpload(self, fd, Path(name))
        self._open.add(upload)
        return upload

    def release(self, upload: SpooledUpload) -> None:
        self._open.discard(upload)

    def remove_stale(self, older_than: float) -> int:
        """Remove temporary files not written for ``older_than`` seconds that no upload of this
        process holds (left by a process that stopped mid-upload); how many (blocking: run it in
        a thread)."""
        if not self.directory.is_dir():
            return 0
        held = {upload.path.name for upload in self._open}
        before = time.time() - older_than
        removed = 0
        for entry in os.scandir(self.directory):
            if entry.name.startswith(TEMPORARY_PREFIX) and entry.name not in held \
                    and entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < before:
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
        return removed

