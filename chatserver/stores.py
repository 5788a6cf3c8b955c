"""Which database holds what is durable: the SQLite file (the embedded default) or PostgreSQL
(``database_url``, several hosts sharing one). The app's assembly and the commands call
``stores_for``; nothing else names a backend's classes.
"""

from __future__ import annotations

from .config import Settings
from .storage.group_commit import UNOBSERVED, DatabaseObserver
from .storage.stores import Stores


def stores_for(settings: Settings, observer: DatabaseObserver = UNOBSERVED) -> Stores:
    """The stores ``settings`` select, not opened yet (timed for ``observer``: the server's metrics)."""
    if settings.database_url:
        from .storage.postgresql.stores import PostgresStores

        return PostgresStores.at(settings.database_url, pool_min=settings.database_pool_min,
                                 pool_max=settings.database_pool_max, observer=observer)
    from .storage.sqlite import SQLiteStores

    return SQLiteStores.at(settings.db_path, observer=observer, attachments_dir=settings.data_dir / "attachments")


async def open_stores(settings: Settings) -> Stores:
    """The stores ``settings`` select, opened (created and migrated if need be); close them with
    ``stores.database.close()``."""
    stores = stores_for(settings)
    await stores.database.open()
    return stores
