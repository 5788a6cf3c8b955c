"""Every store of the SQLite backend over one database, built in one call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..group_commit import UNOBSERVED, DatabaseObserver
from .agents import SQLiteAgents
from .attachments import SQLiteAttachments
from .avatars import SQLiteAvatars
from .cobrowse import SQLiteCobrowse
from .console import SQLiteConsole
from .conversations import SQLiteConversations
from .customers import SQLiteCustomers
from .database import WAL_RESTART_FRAMES, SQLiteDatabase
from .knowledge import SQLiteKnowledge
from .proactive import SQLiteProactive
from .tickets import SQLiteTickets


@dataclass(frozen=True, slots=True)
class SQLiteStores:
    """The ports the SQLite file implements, each a store over the one ``database`` (which is
    opened before they are used and closed after)."""

    database: SQLiteDatabase
    agents: SQLiteAgents
    conversations: SQLiteConversations
    customers: SQLiteCustomers
    knowledge: SQLiteKnowledge
    tickets: SQLiteTickets  # tickets, webhook endpoints and the outbox
    cobrowse: SQLiteCobrowse
    console: SQLiteConsole  # notes, canned responses, wrap-ups and failed logins
    attachments: SQLiteAttachments  # records in the file, bytes in a directory beside it
    avatars: SQLiteAvatars  # agents' pictures
    proactive: SQLiteProactive  # proactive messages' rules and counts

    @classmethod
    def at(cls, path: Path, wal_restart_frames: int = WAL_RESTART_FRAMES,
           observer: DatabaseObserver = UNOBSERVED, attachments_dir: Path | None = None) -> SQLiteStores:
        """The stores of the file at ``path``, not opened yet (timed for ``observer``); files
        attached to conversations are kept in ``attachments_dir`` (default: ``attachments``
        beside the file)."""
        database = SQLiteDatabase(path, wal_restart_frames, observer)
        conversations = SQLiteConversations(database)
        attachments = SQLiteAttachments(database, attachments_dir or path.parent / "attachments")
        return cls(database=database, agents=SQLiteAgents(database), conversations=conversations,
                   customers=SQLiteCustomers(database, conversations, attachments),
                   knowledge=SQLiteKnowledge(database), tickets=SQLiteTickets(database, conversations.messages),
                   cobrowse=SQLiteCobrowse(database), console=SQLiteConsole(database), attachments=attachments,
                   avatars=SQLiteAvatars(database), proactive=SQLiteProactive(database))


async def open_sqlite(path: Path, wal_restart_frames: int = WAL_RESTART_FRAMES,
                      attachments_dir: Path | None = None) -> SQLiteStores:
    """The stores of the file at ``path``, opened (created and migrated if need be); close them
    with ``stores.database.close()``."""
    stores = SQLiteStores.at(path, wal_restart_frames, attachments_dir=attachments_dir)
    await stores.database.open()
    return stores
