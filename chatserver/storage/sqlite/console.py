"""SQLite storage of what the agent console adds (migration 0005): notes, canned responses,
wrap-ups (tags and resolution note on the conversation) and failed logins per account.

It shares the ``SQLiteDatabase``'s connections: writes go through its writer transaction, reads
through its read-only connection.
"""

from __future__ import annotations

import json
import sqlite3

from ...domain.canned import CannedResponse
from ...domain.lockout import LockoutPolicy
from ...domain.notes import NewNote, Note
from ...errors import Conflict, NotFound
from ..rows import sqlite_mark
from ..rows.console import (
    CANNED_COLUMNS,
    NOTE_COLUMNS,
    canned_from_row,
    count_failures,
    forget_failures,
    locked_until_sql,
    note_from_row,
    wrap_up_from_row,
)
from .database import SQLiteDatabase

_LOCKED_UNTIL = locked_until_sql(sqlite_mark)


class SQLiteConsole:
    """Implements ``NoteStore``, ``CannedStore``, ``WrapUpStore`` and ``LoginAttempts``."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database

    # -- notes --------------------------------------------------------------------------------

    async def add_note(self, note: NewNote) -> tuple[Note, bool]:
        async with self.database.transaction() as db:
            if note.client_note_id is not None:
                async with db.execute(
                    f"SELECT {NOTE_COLUMNS} FROM conversation_notes "
                    "WHERE conversation_id = ? AND agent_id = ? AND client_note_id = ?",
                    (note.conversation_id, note.agent_id, note.client_note_id),
                ) as cur:
                    row = await cur.fetchone()
                if row is not None:
                    return note_from_row(row), False
            try:
                async with db.execute(
                    "INSERT INTO conversation_notes (conversation_id, agent_id, agent_name, body, created_at, "
                    "client_note_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                    (note.conversation_id, note.agent_id, note.agent_name, note.body, note.created_at,
                     note.client_note_id),
                ) as cur:
                    row = await cur.fetchone()
            except sqlite3.IntegrityError as exc:
                raise NotFound("conversation not found") from exc
        assert row is not None
        return Note(id=int(row[0]), conversation_id=note.conversation_id, agent_id=note.agent_id,
                    agent_name=note.agent_name, body=note.body, created_at=note.created_at,
                    client_note_id=note.client_note_id), True

    async def notes(self, conversation_id: str) -> list[Note]:
        async with self.database.reader.execute(
            f"SELECT {NOTE_COLUMNS} FROM conversation_notes WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ) as cur:
            return [note_from_row(row) for row in await cur.fetchall()]

    # -- wrap-up ------------------------------------------------------------------------------

    async def set_wrap_up(self, conversation_id: str, tags: list[str], resolution_note: str | None) -> None:
        async with self.database.transaction() as db, db.execute(
            "UPDATE conversations SET tags = ?, resolution_note = ? WHERE id = ? RETURNING id",
            (json.dumps(tags), resolution_note, conversation_id),
        ) as cur:
            if await cur.fetchone() is None:
                raise NotFound("conversation not found")

    async def wrap_up(self, conversation_id: str) -> tuple[list[str], str | None] | None:
        """The conversation's ``(tags, resolution_note)``, or ``None`` if there is no such conversation."""
        async with self.database.reader.execute(
            "SELECT tags, resolution_note FROM conversations WHERE id = ?", (conversation_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return wrap_up_from_row(row)

    # -- canned responses ---------------------------------------------------------------------

    async def canned_responses(self) -> list[CannedResponse]:
        async with self.database.reader.execute(
            f"SELECT {CANNED_COLUMNS} FROM canned_responses ORDER BY shortcut"
        ) as cur:
            return [canned_from_row(row) for row in await cur.fetchall()]

    async def canned_response(self, canned_id: str) -> CannedResponse | None:
        async with self.database.reader.execute(
            f"SELECT {CANNED_COLUMNS} FROM canned_responses WHERE id = ?", (canned_id,)
        ) as cur:
            row = await cur.fetchone()
        return canned_from_row(row) if row else None

    async def save_canned_response(self, canned: CannedResponse) -> None:
        try:
            async with self.database.transaction() as db:
                await db.execute(
                    f"INSERT INTO canned_responses ({CANNED_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET shortcut = excluded.shortcut, body = excluded.body, "
                    "updated_at = excluded.updated_at",
                    (canned.id, canned.shortcut, canned.body, canned.created_at, canned.updated_at),
                )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"the shortcut /{canned.shortcut} is taken") from exc

    async def delete_canned_response(self, canned_id: str) -> bool:
        async with self.database.transaction() as db, db.execute(
            "DELETE FROM canned_responses WHERE id = ? RETURNING id", (canned_id,)
        ) as cur:
            return await cur.fetchone() is not None

    # -- failed logins ------------------------------------------------------------------------

    async def locked_until(self, email: str, address: str) -> float:
        async with self.database.reader.execute(_LOCKED_UNTIL, (email, address)) as cur:
            row = await cur.fetchone()
        return float(row[0]) if row and row[0] is not None else 0.0

    async def record_login_failure(self, email: str, address: str, now: float, policy: LockoutPolicy) -> float:
        async with self.database.transaction() as db:
            for sql, params in forget_failures(now, sqlite_mark):
                await db.execute(sql, params)
            locks = []
            for sql, params in count_failures(email, address, now, policy, sqlite_mark):
                async with db.execute(sql, params) as cur:
                    row = await cur.fetchone()
                assert row is not None
                locks.append(float(row[0]))
        return max(locks)

    async def clear_login_failures(self, email: str, address: str) -> None:
        async with self.database.transaction() as db:
            await db.execute("DELETE FROM login_failures_by_address WHERE email = ? AND address = ?", (email, address))
