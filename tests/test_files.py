"""The data directory and everything the server keeps in it are readable by its own user only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import LiveServer, agent, make_settings, prechat, visitor


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most systems give a service (022): what is not asked for private is readable by all."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_data_directory_and_its_files_are_private(tmp_path: Path, usual_umask: None) -> None:
    data = tmp_path / "data"
    server = LiveServer(make_settings(tmp_path, data_dir=data))
    await server.start()
    try:
        desk = await agent(server, await server.add_agent())
        shopper = await visitor(server)
        await shopper.call("chat:start", prechat())
        await desk.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
        files = {p.name: _mode(p) for p in data.iterdir()}
        assert {"chatserver.db", "chatserver.db-wal", "chatserver.db-shm", "secret.key",
                "first-admin.txt"} <= set(files)
        assert _mode(data) == 0o700
        assert files == dict.fromkeys(files, 0o600), files
    finally:
        await server.close()


async def test_a_database_outside_the_data_directory_is_private_too(tmp_path: Path, usual_umask: None) -> None:
    db = tmp_path / "elsewhere" / "chat.db"
    server = LiveServer(make_settings(tmp_path, db=db))
    await server.start()
    try:
        await server.admin_token()
        assert _mode(db.parent) == 0o700 and _mode(db) == 0o600 and _mode(db.with_name("chat.db-wal")) == 0o600
    finally:
        await server.close()
