"""PostgreSQL storage of agents' avatars (domain/avatars.py), as SQLite's: one row per agent."""

from __future__ import annotations

import asyncpg

from ...domain.avatars import AgentAvatar
from ...errors import NotFound
from .database import PostgresDatabase

_COLUMNS = "id, agent_id, content_type, data, created_at"
_SAVE = (f"INSERT INTO agent_avatars ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (agent_id) DO UPDATE "
         "SET id = excluded.id, content_type = excluded.content_type, data = excluded.data, "
         "created_at = excluded.created_at")


class PostgresAvatars:
    """Implements ``AvatarStore``."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    async def save_avatar(self, avatar: AgentAvatar) -> None:
        try:
            async with self.database.connection() as conn:
                await conn.execute(_SAVE, avatar.id, avatar.agent_id, avatar.content_type, avatar.data,
                                   avatar.created_at)
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound("agent not found") from exc

    async def delete_avatar(self, agent_id: str) -> bool:
        async with self.database.connection() as conn:
            status = await conn.execute("DELETE FROM agent_avatars WHERE agent_id = $1", agent_id)
        return bool(status != "DELETE 0")

    async def avatar_id_of(self, agent_id: str) -> str | None:
        found = await self.database.fetchval("SELECT id FROM agent_avatars WHERE agent_id = $1", agent_id)
        return str(found) if found is not None else None

    async def avatar(self, avatar_id: str) -> AgentAvatar | None:
        row = await self.database.fetchrow(f"SELECT {_COLUMNS} FROM agent_avatars WHERE id = $1", avatar_id)
        if row is None:
            return None
        return AgentAvatar(id=row["id"], agent_id=row["agent_id"], content_type=row["content_type"],
                           data=bytes(row["data"]), created_at=row["created_at"])
