"""SQLite storage of co-browse session metadata (migration 0008): sessions and who watched them.

Shares the ``SQLiteDatabase``'s connections: writes through its writer transaction, reads through its
read-only connection. Never holds page content.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ...domain.cobrowse import CobrowseSession, CobrowseView, SessionUpdate
from ...errors import NotFound
from ..rows import sqlite_mark
from ..rows.cobrowse import (
    LIVE_STATUSES,
    SESSION_COLUMNS,
    SESSIONS,
    VIEW_COLUMNS,
    session_from_row,
    session_update,
    view_from_row,
)
from .database import SQLiteDatabase


class SQLiteCobrowse:
    """Implements ``CobrowseStore``."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database

    async def _select(self, db: Any, where: str, params: tuple[Any, ...]) -> list[CobrowseSession]:
        async with db.execute(f"SELECT {SESSION_COLUMNS} FROM {SESSIONS} WHERE {where}", params) as cur:
            return [session_from_row(row) for row in await cur.fetchall()]

    async def create_session(self, session: CobrowseSession) -> CobrowseSession:
        async with self.database.transaction() as db:
            live = await self._select(db, f"s.conversation_id = ? AND s.status IN ({LIVE_STATUSES})",
                                      (session.conversation_id,))
            if live:
                return live[0]
            try:
                await db.execute(
                    "INSERT INTO cobrowse_sessions (id, conversation_id, agent_id, agent_name, status, control, "
                    "requested_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (session.id, session.conversation_id, session.agent_id, session.agent_name, str(session.status),
                     str(session.control), session.requested_at))
            except sqlite3.IntegrityError as exc:
                raise NotFound("conversation not found") from exc
        return session

    async def get_session(self, session_id: str) -> CobrowseSession | None:
        found = await self._select(self.database.reader, "s.id = ?", (session_id,))
        return found[0] if found else None

    async def live_session_for(self, conversation_id: str) -> CobrowseSession | None:
        found = await self._select(self.database.reader, f"s.conversation_id = ? AND s.status IN ({LIVE_STATUSES})",
                                   (conversation_id,))
        return found[0] if found else None

    async def update_session(self, update: SessionUpdate) -> CobrowseSession | None:
        sets, where, params = session_update(update, sqlite_mark)
        async with self.database.transaction() as db:
            async with db.execute(f"UPDATE cobrowse_sessions SET {sets} WHERE {where} RETURNING id",
                                  params) as cur:
                if await cur.fetchone() is None:
                    return None
            found = await self._select(db, "s.id = ?", (update.session_id,))
        return found[0]

    async def live_sessions(self) -> list[CobrowseSession]:
        return await self._select(self.database.reader, f"s.status IN ({LIVE_STATUSES}) ORDER BY s.requested_at", ())

    async def sessions_for(self, conversation_id: str) -> list[CobrowseSession]:
        return await self._select(self.database.reader, "s.conversation_id = ? ORDER BY s.requested_at",
                                  (conversation_id,))

    async def add_bytes(self, counts: dict[str, int]) -> None:
        if not counts:
            return
        async with self.database.transaction() as db:
            await db.executemany("UPDATE cobrowse_sessions SET bytes_relayed = bytes_relayed + ? WHERE id = ?",
                                 [(n, session_id) for session_id, n in counts.items()])

    async def start_view(self, view: CobrowseView) -> int:
        async with self.database.transaction() as db, db.execute(
            "INSERT INTO cobrowse_views (session_id, agent_id, agent_name, joined_at) VALUES (?, ?, ?, ?) "
            "RETURNING id", (view.session_id, view.agent_id, view.agent_name, view.joined_at),
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def end_view(self, view_id: int, at: float) -> None:
        async with self.database.transaction() as db:
            await db.execute("UPDATE cobrowse_views SET left_at = ? WHERE id = ? AND left_at IS NULL", (at, view_id))

    async def end_views(self, session_id: str, at: float) -> None:
        async with self.database.transaction() as db:
            await db.execute("UPDATE cobrowse_views SET left_at = ? WHERE session_id = ? AND left_at IS NULL",
                             (at, session_id))

    async def views_for(self, conversation_id: str) -> list[CobrowseView]:
        async with self.database.reader.execute(
            f"SELECT {VIEW_COLUMNS} FROM cobrowse_views v "
            "JOIN cobrowse_sessions s ON s.id = v.session_id WHERE s.conversation_id = ? ORDER BY v.id",
            (conversation_id,),
        ) as cur:
            return [view_from_row(row) for row in await cur.fetchall()]
