"""SQLite storage of proactive messages (migration 0016): rules, counted events, and the
conversations rules led to (statements shared with PostgreSQL in ``rows/proactive.py``)."""

from __future__ import annotations

import sqlite3

from ...domain.proactive import ProactiveEvent, ProactiveRule
from ...errors import Conflict, NotFound
from ..rows import proactive as R
from ..rows import sqlite_mark
from .database import SQLiteDatabase

_RULES = R.rules_sql()
_RULE = R.rule_sql(sqlite_mark)
_SAVE = R.save_rule_sql(sqlite_mark)
_RECORD_EVENT = R.record_event_sql(sqlite_mark)
_HAS_EVENT = R.has_event_sql(sqlite_mark)
_RECORD_CHAT = R.record_chat_sql(sqlite_mark)
_RULE_OF = R.rule_of_sql(sqlite_mark)


class SQLiteProactive:
    """Implements ``ProactiveStore``."""

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database

    async def proactive_rules(self) -> list[ProactiveRule]:
        return [R.rule_from_row(row) for row in await self.database.fetchall(_RULES)]

    async def proactive_rule(self, rule_id: str) -> ProactiveRule | None:
        row = await self.database.fetchone(_RULE, (rule_id,))
        return R.rule_from_row(row) if row else None

    async def save_proactive_rule(self, rule: ProactiveRule) -> None:
        try:
            async with self.database.transaction() as db:
                await db.execute(_SAVE, R.rule_params(rule))
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"another rule is named {rule.name!r}") from exc

    async def delete_proactive_rule(self, rule_id: str) -> bool:
        async with self.database.transaction() as db:
            await db.execute("DELETE FROM proactive_events WHERE rule_id = ?", (rule_id,))
            async with db.execute("DELETE FROM proactive_rules WHERE id = ? RETURNING id", (rule_id,)) as cur:
                return await cur.fetchone() is not None

    async def record_proactive_event(self, rule_id: str, visitor_id: str, event: ProactiveEvent, at: float) -> bool:
        try:
            async with self.database.transaction() as db, db.execute(
                    _RECORD_EVENT, (rule_id, visitor_id, str(event), at)) as cur:
                return await cur.fetchone() is not None
        except sqlite3.IntegrityError as exc:  # the rule was deleted meanwhile
            raise NotFound("no such proactive rule") from exc

    async def has_proactive_event(self, rule_id: str, visitor_id: str, event: ProactiveEvent) -> bool:
        return await self.database.fetchone(_HAS_EVENT, (rule_id, visitor_id, str(event))) is not None

    async def record_proactive_chat(self, conversation_id: str, rule_id: str, at: float) -> bool:
        try:
            async with self.database.transaction() as db, db.execute(
                    _RECORD_CHAT, (conversation_id, rule_id, at)) as cur:
                return await cur.fetchone() is not None
        except sqlite3.IntegrityError as exc:
            raise NotFound("conversation not found") from exc

    async def proactive_rule_of(self, conversation_id: str) -> str | None:
        row = await self.database.fetchone(_RULE_OF, (conversation_id,))
        return str(row[0]) if row else None

    async def proactive_counts(self) -> dict[str, tuple[int, int, int]]:
        return R.counts_from_rows(await self.database.fetchall(R.COUNTS_SQL))
