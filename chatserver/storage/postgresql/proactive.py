"""PostgreSQL storage of proactive messages (migration 0006), as SQLite's (statements shared in
``rows/proactive.py``)."""

from __future__ import annotations

import asyncpg

from ...domain.proactive import ProactiveEvent, ProactiveRule
from ...errors import Conflict, NotFound
from ..rows import postgres_mark
from ..rows import proactive as R
from .database import PostgresDatabase

_RULES = R.rules_sql()
_RULE = R.rule_sql(postgres_mark)
_SAVE = R.save_rule_sql(postgres_mark)
_RECORD_EVENT = R.record_event_sql(postgres_mark)
_HAS_EVENT = R.has_event_sql(postgres_mark)
_RECORD_CHAT = R.record_chat_sql(postgres_mark)
_RULE_OF = R.rule_of_sql(postgres_mark)


class PostgresProactive:
    """Implements ``ProactiveStore``."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    async def proactive_rules(self) -> list[ProactiveRule]:
        return [R.rule_from_row(row) for row in await self.database.fetch(_RULES)]

    async def proactive_rule(self, rule_id: str) -> ProactiveRule | None:
        row = await self.database.fetchrow(_RULE, rule_id)
        return R.rule_from_row(row) if row is not None else None

    async def save_proactive_rule(self, rule: ProactiveRule) -> None:
        try:
            async with self.database.connection() as conn:
                await conn.execute(_SAVE, *R.rule_params(rule))
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"another rule is named {rule.name!r}") from exc

    async def delete_proactive_rule(self, rule_id: str) -> bool:
        async with self.database.transaction() as conn:
            await conn.execute("DELETE FROM proactive_events WHERE rule_id = $1", rule_id)
            return await conn.fetchval("DELETE FROM proactive_rules WHERE id = $1 RETURNING id", rule_id) is not None

    async def record_proactive_event(self, rule_id: str, visitor_id: str, event: ProactiveEvent, at: float) -> bool:
        try:
            return await self.database.fetchval(_RECORD_EVENT, rule_id, visitor_id, str(event), at) is not None
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound("no such proactive rule") from exc

    async def has_proactive_event(self, rule_id: str, visitor_id: str, event: ProactiveEvent) -> bool:
        return await self.database.fetchval(_HAS_EVENT, rule_id, visitor_id, str(event)) is not None

    async def record_proactive_chat(self, conversation_id: str, rule_id: str, at: float) -> bool:
        try:
            return await self.database.fetchval(_RECORD_CHAT, conversation_id, rule_id, at) is not None
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound("conversation not found") from exc

    async def proactive_rule_of(self, conversation_id: str) -> str | None:
        found = await self.database.fetchval(_RULE_OF, conversation_id)
        return str(found) if found is not None else None

    async def proactive_counts(self) -> dict[str, tuple[int, int, int]]:
        return R.counts_from_rows(await self.database.fetch(R.COUNTS_SQL))
