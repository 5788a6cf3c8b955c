"""Each store over a fresh database of either kind: the tests of a port that do not depend on
the database run once on SQLite and once on PostgreSQL (``DATABASES``); ``stores`` gives the
tickets, co-browse and console stores of each (``backends.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chatserver.storage.postgresql.agents import PostgresAgents
from chatserver.storage.postgresql.conversations import PostgresConversations
from chatserver.storage.postgresql.database import PostgresDatabase
from chatserver.storage.sqlite import SQLiteDatabase, open_sqlite
from chatserver.storage.sqlite.agents import SQLiteAgents
from chatserver.storage.sqlite.conversations import SQLiteConversations

from .backends import DATABASES, SharedStores, open_shared


@dataclass(frozen=True)
class Opened:
    """One opened database and the stores of the ports under test over it."""

    database: SQLiteDatabase | PostgresDatabase
    conversations: SQLiteConversations | PostgresConversations
    agents: SQLiteAgents | PostgresAgents


@pytest.fixture(params=DATABASES)
async def opened(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opened]:
    if request.param == "sqlite":
        stores = await open_sqlite(tmp_path / "chat.db")
        try:
            yield Opened(stores.database, stores.conversations, stores.agents)
        finally:
            await stores.database.close()
        return
    database = PostgresDatabase(request.getfixturevalue("postgres_url"), pool_min=1, pool_max=4)
    await database.open()
    try:
        yield Opened(database, PostgresConversations(database), PostgresAgents(database))
    finally:
        await database.close()


@pytest.fixture
def database(opened: Opened) -> SQLiteDatabase | PostgresDatabase:
    return opened.database


@pytest.fixture
def conversations(opened: Opened) -> SQLiteConversations | PostgresConversations:
    return opened.conversations


@pytest.fixture
def agents(opened: Opened) -> SQLiteAgents | PostgresAgents:
    return opened.agents

@pytest.fixture(params=DATABASES)
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SharedStores]:
    async with open_shared(request.param, tmp_path, request) as opened:
        yield opened
