"""Each store over a fresh database of either kind: the tests of a port that do not depend on
the database run once on SQLite and once on PostgreSQL (``DATABASES``); ``stores`` gives every
store of each (``backends.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatserver.storage.postgresql.agents import PostgresAgents
from chatserver.storage.postgresql.conversations import PostgresConversations
from chatserver.storage.postgresql.database import PostgresDatabase
from chatserver.storage.sqlite import SQLiteDatabase
from chatserver.storage.sqlite.agents import SQLiteAgents
from chatserver.storage.sqlite.conversations import SQLiteConversations

from .backends import DATABASES, AllStores, open_all


@pytest.fixture(params=DATABASES)
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AllStores]:
    async with open_all(request.param, tmp_path, request) as opened:
        yield opened


@pytest.fixture
def database(stores: AllStores) -> SQLiteDatabase | PostgresDatabase:
    return stores.database


@pytest.fixture
def conversations(stores: AllStores) -> SQLiteConversations | PostgresConversations:
    return stores.conversations


@pytest.fixture
def agents(stores: AllStores) -> SQLiteAgents | PostgresAgents:
    return stores.agents

