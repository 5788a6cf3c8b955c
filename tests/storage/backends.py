"""The stores both databases implement, opened on either, for the tests that run on both
(``DATABASES``): an SQLite file in the test's folder, or a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chatserver.domain.models import Conversation, ConversationStatus, PreChat
from chatserver.storage.postgresql.database import PostgresDatabase
from chatserver.storage.postgresql.messages import MessageHook
from chatserver.storage.postgresql.stores import PostgresStores
from chatserver.storage.sqlite import SQLiteStores, open_sqlite

DATABASES = ("sqlite", "postgresql")
AllStores = SQLiteStores | PostgresStores


@dataclass
class NoMessages:
    """A message store of nothing but hooks: the tests of the tickets store's message hook call
    it themselves."""

    hooks: list[MessageHook] = field(default_factory=list)


def conversation(cid: str, visitor_id: str = "v1") -> Conversation:
    return Conversation(id=cid, visitor_id=visitor_id, status=ConversationStatus.QUEUED,
                        prechat=PreChat(name="Ann", question="Q"), created_at=1.0, queue_rank=1.0)


@asynccontextmanager
async def open_postgres(url: str) -> AsyncIterator[PostgresDatabase]:
    """An opened PostgreSQL database at ``url`` (a "host": several may share one database)."""
    database = PostgresDatabase(url, pool_min=1, pool_max=4)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def add_conversation(stores: AllStores, cid: str, visitor_id: str) -> None:
    """A waiting conversation of ``visitor_id``, for the stores whose rows belong to one."""
    await stores.conversations.create_conversation(conversation(cid, visitor_id), [])


@asynccontextmanager
async def two_hosts(url: str) -> AsyncIterator[tuple[PostgresStores, PostgresStores]]:
    """The PostgreSQL stores of two hosts sharing the database at ``url`` (a pool each)."""
    one = PostgresStores.at(url, pool_min=1, pool_max=4)
    other = PostgresStores.at(url, pool_min=1, pool_max=4)
    await one.database.open()
    try:
        await other.database.open()
        try:
            yield one, other
        finally:
            await other.database.close()
    finally:
        await one.database.close()


@asynccontextmanager
async def open_all(name: str, tmp_path: Path, request: pytest.FixtureRequest
                   ) -> AsyncIterator[AllStores]:
    """Every store of database ``name`` (one of ``DATABASES``) over a fresh database, opened,
    closed after."""
    if name == "postgresql":
        stores: AllStores = PostgresStores.at(request.getfixturevalue("postgres_url"), pool_min=1, pool_max=4)
        await stores.database.open()
    else:
        stores = await open_sqlite(tmp_path / "chat.db")
    try:
        yield stores
    finally:
        await stores.database.close()
