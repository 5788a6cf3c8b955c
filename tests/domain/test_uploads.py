"""Uploads in flight (chatserver/domain/uploads.py), without a server: temporary files private to
the server's user, at most ``limit`` at once, each removed when its upload ends, and the ones a
stopped process left removed after a while."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from chatserver.domain.uploads import UploadSpool
from chatserver.errors import Busy


async def test_at_most_limit_uploads_at_once_each_file_removed_when_it_ends(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path / "uploads", limit=2)
    first, second = spool.open(), spool.open()
    with pytest.raises(Busy) as refused:
        spool.open()
    assert refused.value.details == {"retry_after": 5}
    assert len(list(spool.directory.iterdir())) == 2  # the refused one made no file
    first.write(b"abc")
    first.write(b"def")
    await first.finish()
    assert first.path.read_bytes() == b"abcdef" and first.size == 6
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    async with first:
        pass
    assert not first.path.exists() and spool.in_flight == 1
    third = spool.open()  # a place is free again
    second.write(b"half")
    second.discard()  # given up before finish: closed and removed
    third.replace(b"re-encoded")
    assert third.path.read_bytes() == b"re-encoded" and third.size == 10
    third.path.unlink()  # moved away by a store: discarding is still fine
    third.discard()
    assert spool.in_flight == 0 and list(spool.directory.iterdir()) == []


def test_files_a_stopped_process_left_are_removed_once_old(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path / "uploads", limit=2)
    assert spool.remove_stale(3600) == 0  # no directory yet
    held = spool.open()
    left = spool.directory / ".upload-left"
    left.write_bytes(b"x")
    recent = spool.directory / ".upload-recent"
    recent.write_bytes(b"x")
    other = spool.directory / "not-ours"
    other.write_bytes(b"x")
    for path in (held.path, left, other):
        os.utime(path, (1, 1))
    assert spool.remove_stale(3600) == 1
    assert sorted(p.name for p in spool.directory.iterdir()) == sorted([held.path.name, "not-ours", ".upload-recent"])
    held.discard()
