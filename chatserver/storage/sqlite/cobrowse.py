"""SQLite storage of co-browse session metadata (migration 0008): sessions and who watched them.

Shares the ``SQLiteDatabase``'s connections: writes through its writer transaction, reads through its
read-only connection. Never holds page content.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ...domain.cobrowse import LIVE, CobrowseSession, CobrowseStatus, CobrowseView, ControlState, SessionUpdate
from ...errors import NotFound
from .database import SQLiteDatabase

_COLUMNS = ("s.id, s.conversation_id, c.visitor_id, s.agent_id, s.agent_name, s.status, s.control, s.reason, "
            "s.requested_at, s.started_at, s.ended_at, s.control_requested_at, s.control_granted_at, s.pages, "
            "s.bytes_relayed")
_FROM = "cobrowse_sessions s JOIN conversations c ON c.id = s.conversation_id"
_LIVE = tuple(str(s) for s in sorted(LIVE))
_LIVE_MARKS = ", ".join("?" for _ in _LIVE)


def _session(row: sqlite3.Row | tuple[Any, ...]) -> CobrowseSession:
    return CobrowseSession(id=row[0], conversation_id=row[1], visitor_id=row[2], agent_id=row[3], agent_name=row[4],
                           status=CobrowseStatus(row[5]), control=ControlState(row[6]), reason=row[7],
                           requested_at=row[8], started_at=row[9], ended_at=row[10], control_requested_at=row[11],
                           control_granted_at=row[12], pages=row[13], bytes_relayed=row[14])


class SQLiteCobrowse:
    """Implements ``CobrowseStore``."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database

    async def _select(self, db: Any, where: str, params: tuple[Any, ...]) -> list[CobrowseSession]:
        async with db.execute(f"SELECT {_COLUMNS} FROM {_FROM} WHERE {where}", params) as cur:
            return [_session(row) for row in await cur.fetchall()]

    async def create_session(self, session: CobrowseSession) -> CobrowseSession:
        async with self.database.transaction() as db:
            live = await self._select(db, f"s.conversation_id = ? AND s.status IN ({_LIVE_MARKS})",
                                      (session.conversation_id, *_LIVE))
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
        found = await self._select(self.database.reader, f"s.conversation_id = ? AND s.status IN ({_LIVE_MARKS})",
                                   (conversation_id, *_LIVE))
        return found[0] if found else None

    async def update_session(self, update: SessionUpdate) -> CobrowseSession | None:
        sets: list[str] = []
        params: list[Any] = []
        for column, value in (("status", update.status), ("control", update.control), ("reason", update.reason),
                              ("started_at", update.started_at), ("ended_at", update.ended_at),
                              ("control_requested_at", update.control_requested_at),
                              ("control_granted_at", update.control_granted_at)):
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(str(value) if isinstance(value, str) else value)
        if update.clear_reason and update.reason is None:
            sets.append("reason = NULL")
        if update.add_pages:
            sets.append("pages = pages + ?")
            params.append(update.add_pages)
        if not sets:
            sets.append("status = status")
        where = f"id = ? AND status IN ({', '.join('?' for _ in update.expect)})"
        params += [update.session_id, *(str(s) for s in update.expect)]
        if update.expect_control is not None:
            where += f" AND control IN ({', '.join('?' for _ in update.expect_control)})"
            params += [str(c) for c in update.expect_control]
        async with self.database.transaction() as db:
            async with db.execute(f"UPDATE cobrowse_sessions SET {', '.join(sets)} WHERE {where} RETURNING id",
                                  params) as cur:
                if await cur.fetchone() is None:
                    return None
            found = await self._select(db, "s.id = ?", (update.session_id,))
        return found[0]

    async def live_sessions(self) -> list[CobrowseSession]:
        return await self._select(self.database.reader, f"s.status IN ({_LIVE_MARKS}) ORDER BY s.requested_at", _LIVE)

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
            "SELECT v.session_id, v.agent_id, v.agent_name, v.joined_at, v.left_at FROM cobrowse_views v "
            "JOIN cobrowse_sessions s ON s.id = v.session_id WHERE s.conversation_id = ? ORDER BY v.id",
            (conversation_id,),
        ) as cur:
            return [CobrowseView(session_id=r[0], agent_id=r[1], agent_name=r[2], joined_at=r[3], left_at=r[4])
                    for r in await cur.fetchall()]
