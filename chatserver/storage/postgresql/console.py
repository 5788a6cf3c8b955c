"""PostgreSQL storage of what the agent console adds: notes, canned responses, wrap-ups (tags
and resolution note on the conversation) and failed logins, shared by every host.

A failed login is counted by one upsert that reads the row it changes, so hosts counting the
same account at once add up; a note resent with its client id is stored once, whichever host
gets each copy.
"""

from __future__ import annotations

import json

import asyncpg

from ...domain.canned import CannedResponse
from ...domain.lockout import LockoutPolicy
from ...domain.notes import NewNote, Note
from ...errors import Conflict, NotFound
from ..rows import postgres_mark
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
from .database import PostgresDatabase

_LOCKED_UNTIL = locked_until_sql(postgres_mark)


class PostgresConsole:
    """Implements ``NoteStore``, ``CannedStore``, ``WrapUpStore`` and ``LoginAttempts``."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    # -- notes --------------------------------------------------------------------------------

    async def add_note(self, note: NewNote) -> tuple[Note, bool]:
        async with self.database.connection() as conn:
            try:
                # A note without a client id never conflicts (NULLs are distinct).
                note_id = await conn.fetchval(
                    "INSERT INTO conversation_notes (conversation_id, agent_id, agent_name, body, created_at, "
                    "client_note_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (conversation_id, agent_id, "
                    "client_note_id) WHERE client_note_id IS NOT NULL DO NOTHING RETURNING id",
                    note.conversation_id, note.agent_id, note.agent_name, note.body, note.created_at,
                    note.client_note_id)
            except asyncpg.ForeignKeyViolationError as exc:
                raise NotFound("conversation not found") from exc
            if note_id is None:  # a resend: the note stored the first time
                row = await conn.fetchrow(
                    f"SELECT {NOTE_COLUMNS} FROM conversation_notes "
                    "WHERE conversation_id = $1 AND agent_id = $2 AND client_note_id = $3",
                    note.conversation_id, note.agent_id, note.client_note_id)
                assert row is not None  # notes are never deleted but with their conversation
                return note_from_row(row), False
        return Note(id=int(note_id), conversation_id=note.conversation_id, agent_id=note.agent_id,
                    agent_name=note.agent_name, body=note.body, created_at=note.created_at,
                    client_note_id=note.client_note_id), True

    async def notes(self, conversation_id: str) -> list[Note]:
        rows = await self.database.fetch(
            f"SELECT {NOTE_COLUMNS} FROM conversation_notes WHERE conversation_id = $1 ORDER BY id", conversation_id)
        return [note_from_row(row) for row in rows]

    # -- wrap-up ------------------------------------------------------------------------------

    async def set_wrap_up(self, conversation_id: str, tags: list[str], resolution_note: str | None) -> None:
        if await self.database.fetchval(
            "UPDATE conversations SET tags = $1, resolution_note = $2 WHERE id = $3 RETURNING id",
            json.dumps(tags), resolution_note, conversation_id,
        ) is None:
            raise NotFound("conversation not found")

    async def wrap_up(self, conversation_id: str) -> tuple[list[str], str | None] | None:
        """The conversation's ``(tags, resolution_note)``, or ``None`` if there is no such conversation."""
        row = await self.database.fetchrow("SELECT tags, resolution_note FROM conversations WHERE id = $1",
                                           conversation_id)
        return wrap_up_from_row(row) if row is not None else None

    # -- canned responses ---------------------------------------------------------------------

    async def canned_responses(self) -> list[CannedResponse]:
        rows = await self.database.fetch(f"SELECT {CANNED_COLUMNS} FROM canned_responses ORDER BY shortcut")
        return [canned_from_row(row) for row in rows]

    async def canned_response(self, canned_id: str) -> CannedResponse | None:
        row = await self.database.fetchrow(f"SELECT {CANNED_COLUMNS} FROM canned_responses WHERE id = $1", canned_id)
        return canned_from_row(row) if row is not None else None

    async def save_canned_response(self, canned: CannedResponse) -> None:
        try:
            async with self.database.connection() as conn:
                await conn.execute(
                    f"INSERT INTO canned_responses ({CANNED_COLUMNS}) VALUES ($1, $2, $3, $4, $5) "
                    "ON CONFLICT (id) DO UPDATE SET shortcut = excluded.shortcut, body = excluded.body, "
                    "updated_at = excluded.updated_at",
                    canned.id, canned.shortcut, canned.body, canned.created_at, canned.updated_at)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"the shortcut /{canned.shortcut} is taken") from exc

    async def delete_canned_response(self, canned_id: str) -> bool:
        return await self.database.fetchval("DELETE FROM canned_responses WHERE id = $1 RETURNING id",
                                            canned_id) is not None

    # -- failed logins ------------------------------------------------------------------------

    async def locked_until(self, email: str, address: str) -> float:
        until = await self.database.fetchval(_LOCKED_UNTIL, email, address)
        return float(until) if until is not None else 0.0

    async def record_login_failure(self, email: str, address: str, now: float, policy: LockoutPolicy) -> float:
        async with self.database.transaction() as conn:
            for sql, params in forget_failures(now, postgres_mark):
                await conn.execute(sql, *params)
            locks = [float(await conn.fetchval(sql, *params))
                     for sql, params in count_failures(email, address, now, policy, postgres_mark)]
        return max(locks)

    async def clear_login_failures(self, email: str, address: str) -> None:
        async with self.database.connection() as conn:
            await conn.execute("DELETE FROM login_failures_by_address WHERE email = $1 AND address = $2",
                               email, address)
