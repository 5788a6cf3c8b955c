"""An opened SQLite database in a temporary folder, and its stores as fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatserver.storage.sqlite import SQLiteDatabase, SQLiteStores, open_sqlite
from chatserver.storage.sqlite.agents import SQLiteAgents
from chatserver.storage.sqlite.conversations import SQLiteConversations


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[SQLiteStores]:
    opened = await open_sqlite(tmp_path / "chat.db")
    try:
        yield opened
    finally:
        await opened.database.close()


@pytest.fixture
def database(stores: SQLiteStores) -> SQLiteDatabase:
    return stores.database


@pytest.fixture
def conversations(stores: SQLiteStores) -> SQLiteConversations:
    return stores.conversations


@pytest.fixture
def agents(stores: SQLiteStores) -> SQLiteAgents:
    return stores.agents
