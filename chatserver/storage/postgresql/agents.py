"""PostgreSQL storage of agents: accounts, roles, capacity, departments and token versions.

Emails are unique whatever their case (the index is on ``lower(email)``, as SQLite's column is
``COLLATE NOCASE``), and looked up the same way, through that index. Each write is one
statement, a transaction by itself.
"""

from __future__ import annotations

import asyncpg

from ...domain.models import Agent
from ...errors import Conflict
from ..rows.conversations import AGENT_COLUMNS, agent_from_row, agent_values
from .database import PostgresDatabase

_INSERT = f"INSERT INTO agents ({AGENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
_BY_ID = f"SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"
_BY_EMAIL = f"SELECT {AGENT_COLUMNS} FROM agents WHERE lower(email) = lower($1)"
_ALL = f"SELECT {AGENT_COLUMNS} FROM agents ORDER BY created_at, lower(email) COLLATE \"C\""
_SET_PASSWORD = (f"UPDATE agents SET password_hash = $1, token_version = token_version + 1 WHERE id = $2 "
                 f"RETURNING {AGENT_COLUMNS}")
# Every expression reads the row as it was: the token version moves only when an enabled agent
# is disabled.
_UPDATE = ("UPDATE agents SET capacity = coalesce($1, capacity), departments = coalesce($2, departments), "
           "token_version = token_version + (CASE WHEN $3::integer = 1 AND disabled = 0 THEN 1 ELSE 0 END), "
           f"disabled = coalesce($3, disabled) WHERE id = $4 RETURNING {AGENT_COLUMNS}")


class PostgresAgents:
    """Implements ``AgentStore``."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    async def add_agent(self, agent: Agent) -> None:
        try:
            async with self.database.connection() as conn:
                await conn.execute(_INSERT, *agent_values(agent))
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"an agent with email {agent.email!r} already exists") from exc

    async def agent_by_id(self, agent_id: str) -> Agent | None:
        row = await self.database.fetchrow(_BY_ID, agent_id)
        return agent_from_row(row) if row else None

    async def agent_by_email(self, email: str) -> Agent | None:
        row = await self.database.fetchrow(_BY_EMAIL, email)
        return agent_from_row(row) if row else None

    async def list_agents(self) -> list[Agent]:
        return [agent_from_row(row) for row in await self.database.fetch(_ALL)]

    async def bump_token_version(self, agent_id: str) -> None:
        async with self.database.connection() as conn:
            await conn.execute("UPDATE agents SET token_version = token_version + 1 WHERE id = $1", agent_id)

    async def set_password(self, agent_id: str, password_hash: str) -> Agent | None:
        row = await self.database.fetchrow(_SET_PASSWORD, password_hash, agent_id)
        return agent_from_row(row) if row else None

    async def update_agent(self, agent_id: str, *, disabled: bool | None, capacity: int | None,
                           departments: tuple[str, ...] | None) -> Agent | None:
        row = await self.database.fetchrow(_UPDATE, capacity, None if departments is None else ",".join(departments),
                                           None if disabled is None else int(disabled), agent_id)
        return agent_from_row(row) if row else None
