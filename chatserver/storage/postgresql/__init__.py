"""Everything durable in one PostgreSQL database, shared by any number of hosts (asyncpg).

``database.py`` holds the pool, migrations (``migrations/``, under an advisory lock) and group
commit; each other module implements one domain port over it, as the SQLite package does.
"""
