"""What every database backend provides: the stores of the durable ports over one database.
``chatserver/stores.py`` picks the backend (the SQLite file or PostgreSQL) from the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..domain.attachments import AttachmentStore
from ..domain.avatars import AvatarStore
from ..domain.cobrowse import CobrowseStore
from ..domain.console import ConsoleStore
from ..domain.knowledge import KnowledgeStore
from ..domain.outbox import OutboxStore
from ..domain.ports import AgentStore, ConversationStore, CustomerStore
from ..domain.proactive import ProactiveStore
from ..domain.tickets import TicketStore
from ..domain.webhooks import MessageItems, WebhookStore


class Database(Protocol):
    """The database under the stores, opened before they are used and closed after."""

    @property
    def name(self) -> str:
        """Where it is, for the log (never a password)."""
        ...

    @property
    def description(self) -> str:
        """What it is and where, for messages: ``the database PATH``, ``PostgreSQL at URL``."""
        ...

    async def open(self, migrate: bool = True) -> list[int]:
        """Connect; with ``migrate``, apply the pending migrations. The migrations still pending
        (none once migrated); ``StartupError`` when the schema is newer than this version's."""
        ...

    async def pending_migrations(self) -> list[int]:
        """The shipped migrations not applied yet, oldest first (``StartupError`` when the schema
        is newer than this version's)."""
        ...

    async def migrate(self) -> list[int]:
        """Apply the pending migrations, each logged; the versions applied."""
        ...

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

    @property
    def attachments(self) -> AttachmentStore: ...

    @property
    def avatars(self) -> AvatarStore: ...

    @property
    def proactive(self) -> ProactiveStore: ...
