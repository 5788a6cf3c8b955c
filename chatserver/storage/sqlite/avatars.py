"""SQLite storage of agents' avatars (domain/avatars.py): one row per agent, bytes included."""

from __future__ import annotations

import sqlite3

from ...domain.avatars import AgentAvatar
from ...errors import NotFound
from .database import SQLiteDatabase

_COLUMNS = "id, agent_id, content_type, data, created_at"


class SQLiteAvatars:
    """Implements ``AvatarStore``."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database

    async def save_avatar(self, avatar: AgentAvatar) -> None:
        try:
            async with self.database.transaction() as db:
                await db.execute(
                    f"INSERT INTO agent_avatars ({_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE "
                    "SET id = excluded.id, content_type = excluded.content_type, data = excluded.data, "
                    "created_at = excluded.created_at",
                    (avatar.id, avatar.agent_id, avatar.content_type, avatar.data, avatar.created_at))
        except sqlite3.IntegrityError as exc:
            raise NotFound("agent not found") from exc

    async def delete_avatar(self, agent_id: str) -> bool:
        async with self.database.transaction() as db:
            cursor = await db.execute("DELETE FROM agent_avatars WHERE agent_id = ?", (agent_id,))
            return cursor.rowcount > 0

    async def avatar_id_of(self, agent_id: str) -> str | None:
        row = await self.database.fetchone("SELECT id FROM agent_avatars WHERE agent_id = ?", (agent_id,))
        return str(row[0]) if row else None

    async def avatar(self, avatar_id: str) -> AgentAvatar | None:
        row = await self.database.fetchone(f"SELECT {_COLUMNS} FROM agent_avatars WHERE id = ?", (avatar_id,))
        if row is None:
            return None
        return AgentAvatar(id=row[0], agent_id=row[1], content_type=row[2], data=bytes(row[3]), created_at=row[4])
