"""The embedded backend: every durable thing in one SQLite file (aiosqlite, WAL).

``database.py`` holds the file's connections, migrations, group commit and checkpoints; each
other module implements one domain port over it (``agents.py`` ``AgentStore``,
``conversations.py`` ``ConversationStore`` with ``messages.py``, ``read_marks.py`` and
``ratings.py``, ``customers.py``, ``knowledge.py``, ``tickets.py``, ``cobrowse.py``,
``console.py``); ``stores.py`` builds them all over one database.
"""

from .database import SQLiteDatabase
from .stores import SQLiteStores, open_sqlite

__all__ = ["SQLiteDatabase", "SQLiteStores", "open_sqlite"]
