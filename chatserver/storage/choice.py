"""Which database holds what is durable: the SQLite file (the embedded default) or PostgreSQL
(``database_url``, several hosts sharing one). The app's assembly and the commands call
``stores_for``; nothing else names a backend's classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..config import Settings
from ..domain.cobrowse import CobrowseStore
from ..domain.console import ConsoleStore
from ..domain.knowledge import KnowledgeStore
from ..domain.outbox import OutboxStore
from ..domain.ports import AgentStore, ConversationStore, CustomerStore
from ..domain.tickets import TicketStore
from ..domain.webhooks import MessageItems, WebhookStore


class Database(Protocol):
    """The database under the stores, opened before they are used and closed after."""

    @property
    def name(self) -> str:
        """Where it is, for the log (never a password)."""
        ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None: ...


class Tickets(TicketStore, WebhookStore, OutboxStore, Protocol):
    """Tickets, webhook endpoints and the outbox, in one store."""

    def write_with_messages(self, items_for: MessageItems, queued: Callable[[], None]) -> None:
        """Store the outbox items ``items_for`` gives each participant's message in the message's
        own transaction; ``queued`` is called after such a transaction commits."""
        ...


class Stores(Protocol):
    """Every durable port, over one database."""

    @property
    def database(self) -> Database: ...

    @property
    def agents(self) -> AgentStore: ...

    @property
    def conversations(self) -> ConversationStore: ...

    @property
    def customers(self) -> CustomerStore: ...

    @property
    def knowledge(self) -> KnowledgeStore: ...

    @property
    def tickets(self) -> Tickets: ...

    @property
    def cobrowse(self) -> CobrowseStore: ...

    @property
    def console(self) -> ConsoleStore: ...


def stores_for(settings: Settings) -> Stores:
    """The stores ``settings`` select, not opened yet."""
    if settings.database_url:
        raise ValueError("database_url: the PostgreSQL stores are being built (issue 20)")
    from .sqlite import SQLiteStores

    return SQLiteStores.at(settings.db_path)


async def open_stores(settings: Settings) -> Stores:
    """The stores ``settings`` select, opened (created and migrated if need be); close them with
    ``stores.database.close()``."""
    stores = stores_for(settings)
    await stores.database.open()
    return stores
