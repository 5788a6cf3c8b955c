"""Proactive messages (SQLite migration 0016, PostgreSQL 0006): the rules' columns and row
reader, and the statements both databases run, with their own placeholders (``Mark``)."""

from __future__ import annotations

import json
from typing import Any

from ...domain.proactive import ProactiveRule
from . import Mark, Row

RULE_COLUMNS = ("id, name, url_pattern, seconds, min_cart_value, checkout_step, business_hours_only, "
                "agent_available_only, text, texts, enabled, position, created_at, updated_at")
_COUNT = RULE_COLUMNS.count(",") + 1


def rules_sql() -> str:
    return f"SELECT {RULE_COLUMNS} FROM proactive_rules ORDER BY position, name"


def rule_sql(mark: Mark) -> str:
    return f"SELECT {RULE_COLUMNS} FROM proactive_rules WHERE id = {mark(1)}"


def save_rule_sql(mark: Mark) -> str:
    """Insert or replace a rule by id (its ``created_at`` kept); parameters ``rule_params``."""
    values = ", ".join(mark(n) for n in range(1, _COUNT + 1))
    changed = ", ".join(f"{c} = excluded.{c}" for c in RULE_COLUMNS.split(", ") if c not in ("id", "created_at"))
    return f"INSERT INTO proactive_rules ({RULE_COLUMNS}) VALUES ({values}) ON CONFLICT (id) DO UPDATE SET {changed}"


def rule_params(rule: ProactiveRule) -> tuple[Any, ...]:
    return (rule.id, rule.name, rule.url_pattern, rule.seconds, rule.min_cart_value, rule.checkout_step,
            int(rule.business_hours_only), int(rule.agent_available_only), rule.text,
            json.dumps(rule.texts, ensure_ascii=False, sort_keys=True), int(rule.enabled), rule.position,
            rule.created_at, rule.updated_at)


def rule_from_row(row: Row) -> ProactiveRule:
    return ProactiveRule(id=row[0], name=row[1], url_pattern=row[2], seconds=int(row[3]),
                         min_cart_value=None if row[4] is None else float(row[4]), checkout_step=row[5],
                         business_hours_only=bool(row[6]), agent_available_only=bool(row[7]), text=row[8],
                         texts=dict(json.loads(row[9] or "{}")), enabled=bool(row[10]), position=int(row[11]),
                         created_at=float(row[12]), updated_at=float(row[13]))


def record_event_sql(mark: Mark) -> str:
    """Count an event once (rule, visitor, event, at); answers the rule id when it was new."""
    return (f"INSERT INTO proactive_events (rule_id, visitor_id, event, at) VALUES ({mark(1)}, {mark(2)}, {mark(3)}, "
            f"{mark(4)}) ON CONFLICT DO NOTHING RETURNING rule_id")


def has_event_sql(mark: Mark) -> str:
    return (f"SELECT 1 FROM proactive_events WHERE rule_id = {mark(1)} AND visitor_id = {mark(2)} "
            f"AND event = {mark(3)}")


def record_chat_sql(mark: Mark) -> str:
    """Record the rule that led to a conversation (conversation, rule, at); answers the
    conversation id when it was new."""
    return (f"INSERT INTO proactive_conversations (conversation_id, rule_id, created_at) VALUES ({mark(1)}, "
            f"{mark(2)}, {mark(3)}) ON CONFLICT DO NOTHING RETURNING conversation_id")


def rule_of_sql(mark: Mark) -> str:
    return f"SELECT rule_id FROM proactive_conversations WHERE conversation_id = {mark(1)}"


# (rule_id, shown, answered, chats) for every rule with any.
COUNTS_SQL = (
    "SELECT rule_id, sum(shown), sum(answered), sum(chats) FROM ("
    "SELECT rule_id, CASE WHEN event = 'shown' THEN 1 ELSE 0 END AS shown, "
    "CASE WHEN event = 'answered' THEN 1 ELSE 0 END AS answered, 0 AS chats FROM proactive_events "
    "UNION ALL SELECT rule_id, 0, 0, 1 FROM proactive_conversations) AS counted GROUP BY rule_id")


def counts_from_rows(rows: list[Any]) -> dict[str, tuple[int, int, int]]:
    return {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in rows}
