"""The stores both databases implement, opened on either, for the tests that run on both
(``DATABASES``): an SQLite file in the test's folder, or a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chatserver.domain.cobrowse import CobrowseStore
from chatserver.domain.console import ConsoleStore
from chatserver.domain.models import Conversation, ConversationStatus, PreChat
from chatserver.storage.postgresql.cobrowse import PostgresCobrowse
from chatserver.storage.postgresql.console import PostgresConsole
from chatserver.storage.postgresql.conversations import PostgresConversations
from chatserver.storage.postgresql.database import PostgresDatabase
from chatserver.storage.postgresql.messages import MessageHook
from chatserver.storage.postgresql.stores import PostgresStores
from chatserver.storage.postgresql.tickets import PostgresTickets
from chatserver.storage.sqlite import SQLiteStores, open_sqlite
from chatserver.storage.stores import Tickets

DATABASES = ("sqlite", "postgresql")
AllStores = SQLiteStores | PostgresStores


@dataclass
class NoMessages:
    """A message store of nothing but hooks: the tests of the tickets store's message hook call
    it themselves."""

    hooks: list[MessageHook] = field(default_factory=list)


@dataclass
class SharedStores:
    name: str
    tickets: Tickets
    cobrowse: CobrowseStore
    console: ConsoleStore
    add_conversation: Callable[[str, str], Awaitable[None]]  # (conversation id, visitor id)


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


def postgres_stores(database: PostgresDatabase) -> SharedStores:
    conversations = PostgresConversations(database)

    async def add_conversation(cid: str, visitor_id: str) -> None:
        await conversations.create_conversation(conversation(cid, visitor_id), [])

    return SharedStores("postgresql", PostgresTickets(database, conversations.messages), PostgresCobrowse(database),
                        PostgresConsole(database), add_conversation)


@asynccontextmanager
async def two_hosts(url: str) -> AsyncIterator[tuple[SharedStores, SharedStores]]:
    """The PostgreSQL stores of two hosts sharing the database at ``url`` (a pool each)."""
    async with open_postgres(url) as one, open_postgres(url) as other:
        yield postgres_stores(one), postgres_stores(other)


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


@asynccontextmanager
async def open_shared(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[SharedStores]:
    """The stores of database ``name`` (one of ``DATABASES``), opened, closed after."""
    if name == "postgresql":
        async with open_postgres(request.getfixturevalue("postgres_url")) as database:
            yield postgres_stores(database)
        return
    stores = await open_sqlite(tmp_path / "chat.db")

    async def add_conversation(cid: str, visitor_id: str) -> None:
        await stores.conversations.create_conversation(conversation(cid, visitor_id), [])

    try:
        yield SharedStores("sqlite", stores.tickets, stores.cobrowse, stores.console, add_conversation)
    finally:
        await stores.database.close()

