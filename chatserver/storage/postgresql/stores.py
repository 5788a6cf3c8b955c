"""Every store of the PostgreSQL backend over one database, built in one call."""

from __future__ import annotations

from dataclasses import dataclass

from ..group_commit import UNOBSERVED, DatabaseObserver
from .agents import PostgresAgents
from .attachments import PostgresAttachments
from .avatars import PostgresAvatars
from .cobrowse import PostgresCobrowse
from .console import PostgresConsole
from .conversations import PostgresConversations
from .customers import PostgresCustomers
from .database import PostgresDatabase
from .knowledge import PostgresKnowledge
from .proactive import PostgresProactive
from .tickets import PostgresTickets


@dataclass(frozen=True, slots=True)
class PostgresStores:
    """The ports PostgreSQL implements, each a store over the one ``database`` (whose pool is
    opened before they are used and closed after)."""

    database: PostgresDatabase
    agents: PostgresAgents
    conversations: PostgresConversations
    customers: PostgresCustomers
    knowledge: PostgresKnowledge
    tickets: PostgresTickets  # tickets, webhook endpoints and the outbox
    cobrowse: PostgresCobrowse
    console: PostgresConsole  # notes, canned responses, wrap-ups and failed logins
    attachments: PostgresAttachments  # records and bytes
    avatars: PostgresAvatars  # agents' pictures
    proactive: PostgresProactive  # proactive messages' rules and counts

    @classmethod
    def at(cls, url: str, *, pool_min: int = 2, pool_max: int = 10,
           observer: DatabaseObserver = UNOBSERVED) -> PostgresStores:
        """The stores of the database at ``url``, not opened yet (timed for ``observer``)."""
        database = PostgresDatabase(url, pool_min, pool_max, observer)
        conversations = PostgresConversations(database)
        attachments = PostgresAttachments(database)
        return cls(database=database, agents=PostgresAgents(database), conversations=conversations,
                   customers=PostgresCustomers(database, conversations, attachments),
                   knowledge=PostgresKnowledge(database), tickets=PostgresTickets(database, conversations.messages),
                   cobrowse=PostgresCobrowse(database), console=PostgresConsole(database), attachments=attachments,
                   avatars=PostgresAvatars(database), proactive=PostgresProactive(database))
