"""The embedded backend: every durable thing in one SQLite file (aiosqlite, WAL)."""
