"""SQLite storage of agents: accounts, roles, capacity, departments and token versions."""

from __future__ import annotations

import sqlite3

from ...domain.models import Agent
from ...errors import Conflict
from ..rows.conversations import AGENT_COLUMNS, agent_from_row, agent_values
from .database import SQLiteDatabase


class SQLiteAgents:
    """Implements ``AgentStore``."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database

    async def add_agent(self, agent: Agent) -> None:
        try:
            async with self.database.transaction() as db:
                await db.execute(
                    f"INSERT INTO agents ({AGENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", agent_values(agent))
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"an agent with email {agent.email!r} already exists") from exc

    async def _one_agent(self, where: str, value: str) -> Agent | None:
        async with self.database.reader.execute(f"SELECT {AGENT_COLUMNS} FROM agents WHERE {where} = ?",
                                                (value,)) as cur:
            row = await cur.fetchone()
        return agent_from_row(row) if row else None

    async def agent_by_id(self, agent_id: str) -> Agent | None:
        return await self._one_agent("id", agent_id)

    async def agent_by_email(self, email: str) -> Agent | None:
        return await self._one_agent("email", email)

    async def list_agents(self) -> list[Agent]:
        async with self.database.reader.execute(
            f"SELECT {AGENT_COLUMNS} FROM agents ORDER BY created_at, email"
        ) as cur:
            return [agent_from_row(row) for row in await cur.fetchall()]

    async def bump_token_version(self, agent_id: str) -> None:
        async with self.database.transaction() as db:
            await db.execute("UPDATE agents SET token_version = token_version + 1 WHERE id = ?", (agent_id,))

    async def set_password(self, agent_id: str, password_hash: str) -> Agent | None:
        async with self.database.transaction() as db, db.execute(
            f"UPDATE agents SET password_hash = ?, token_version = token_version + 1 WHERE id = ? "
            f"RETURNING {AGENT_COLUMNS}", (password_hash, agent_id),
        ) as cur:
            row = await cur.fetchone()
        return agent_from_row(row) if row else None

    async def update_agent(self, agent_id: str, *, disabled: bool | None, capacity: int | None,
                           departments: tuple[str, ...] | None) -> Agent | None:
        async with self.database.transaction() as db:
            # Every expression reads the row as it was: the token version moves only when an
            # enabled agent is disabled.
            await db.execute(
                "UPDATE agents SET capacity = COALESCE(?, capacity), departments = COALESCE(?, departments), "
                "token_version = token_version + (CASE WHEN ? = 1 AND disabled = 0 THEN 1 ELSE 0 END), "
                "disabled = COALESCE(?, disabled) WHERE id = ?",
                (capacity, None if departments is None else ",".join(departments),
                 None if disabled is None else int(disabled), None if disabled is None else int(disabled), agent_id))
            async with db.execute(f"SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?", (agent_id,)) as cur:
                row = await cur.fetchone()
        return agent_from_row(row) if row else None
