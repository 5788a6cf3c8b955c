"""PostgreSQL storage of co-browse session metadata: sessions and who watched them, shared by
every host. Never holds page content.

The partial unique index ``cobrowse_sessions_live`` keeps one live session per conversation: two
hosts starting one at once store one, and both return it.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from ...domain.cobrowse import CobrowseSession, CobrowseView, SessionUpdate
from ...errors import NotFound
from ..rows import postgres_mark
from ..rows.cobrowse import (
    LIVE_STATUSES,
    SESSION_COLUMNS,
    SESSIONS,
    VIEW_COLUMNS,
    session_from_row,
    session_update,
    view_from_row,
)
from .database import PostgresDatabase

# Tries of create_session: each either stores the session or finds the live one, unless that
# one ended in between (then it tries again).
_CREATE_TRIES = 3


class PostgresCobrowse:
    """Implements ``CobrowseStore``."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    async def _select(self, where: str, *params: Any) -> list[CobrowseSession]:
        rows = await self.database.fetch(f"SELECT {SESSION_COLUMNS} FROM {SESSIONS} WHERE {where}", *params)
        return [session_from_row(row) for row in rows]

    async def create_session(self, session: CobrowseSession) -> CobrowseSession:
        for _ in range(_CREATE_TRIES):
            try:
                stored = await self.database.fetchval(
                    "INSERT INTO cobrowse_sessions (id, conversation_id, agent_id, agent_name, status, control, "
                    "requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                    f"ON CONFLICT (conversation_id) WHERE status IN ({LIVE_STATUSES}) DO NOTHING RETURNING id",
                    session.id, session.conversation_id, session.agent_id, session.agent_name, str(session.status),
                    str(session.control), session.requested_at)
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound("conversation not found") from exc
            if stored is not None:
                return session
            live = await self.live_session_for(session.conversation_id)
            if live is not None:
                return live
        raise RuntimeError(f"co-browse sessions of {session.conversation_id} keep starting and ending")

    async def get_session(self, session_id: str) -> CobrowseSession | None:
        found = await self._select("s.id = $1", session_id)
        return found[0] if found else None

    async def live_session_for(self, conversation_id: str) -> CobrowseSession | None:
        found = await self._select(f"s.conversation_id = $1 AND s.status IN ({LIVE_STATUSES})", conversation_id)
        return found[0] if found else None

    async def update_session(self, update: SessionUpdate) -> CobrowseSession | None:
        sets, where, params = session_update(update, postgres_mark)
        row = await self.database.fetchrow(
            f"WITH s AS (UPDATE cobrowse_sessions SET {sets} WHERE {where} RETURNING *) "
            f"SELECT {SESSION_COLUMNS} FROM s JOIN conversations c ON c.id = s.conversation_id", *params)
        return session_from_row(row) if row is not None else None

    async def live_sessions(self) -> list[CobrowseSession]:
        return await self._select(f"s.status IN ({LIVE_STATUSES}) ORDER BY s.requested_at")

    async def sessions_for(self, conversation_id: str) -> list[CobrowseSession]:
        return await self._select("s.conversation_id = $1 ORDER BY s.requested_at", conversation_id)

    async def add_bytes(self, counts: dict[str, int]) -> None:
        if not counts:
            return
        async with self.database.connection() as conn:
            await conn.execute(
                "UPDATE cobrowse_sessions s SET bytes_relayed = s.bytes_relayed + n.bytes "
                "FROM unnest($1::text[], $2::bigint[]) AS n (id, bytes) WHERE s.id = n.id",
                list(counts), list(counts.values()))

    async def start_view(self, view: CobrowseView) -> int:
        view_id = await self.database.fetchval(
            "INSERT INTO cobrowse_views (session_id, agent_id, agent_name, joined_at) VALUES ($1, $2, $3, $4) "
            "RETURNING id", view.session_id, view.agent_id, view.agent_name, view.joined_at)
        return int(view_id)

    async def end_view(self, view_id: int, at: float) -> None:
        async with self.database.connection() as conn:
            await conn.execute("UPDATE cobrowse_views SET left_at = $1 WHERE id = $2 AND left_at IS NULL", at, view_id)

    async def end_views(self, session_id: str, at: float) -> None:
        async with self.database.connection() as conn:
            await conn.execute("UPDATE cobrowse_views SET left_at = $1 WHERE session_id = $2 AND left_at IS NULL",
                               at, session_id)

    async def views_for(self, conversation_id: str) -> list[CobrowseView]:
        rows = await self.database.fetch(
            f"SELECT {VIEW_COLUMNS} FROM cobrowse_views v JOIN cobrowse_sessions s ON s.id = v.session_id "
            "WHERE s.conversation_id = $1 ORDER BY v.id", conversation_id)
        return [view_from_row(row) for row in rows]
