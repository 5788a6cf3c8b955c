"""What the agent console adds (SQLite migrations 0005, 0012): notes, canned responses,
wrap-ups and failed logins: columns, row readers, and the statements that count failed logins."""

from __future__ import annotations

import json
from typing import Any

from ...domain.canned import CannedResponse
from ...domain.lockout import LockoutPolicy
from ...domain.notes import Note
from . import Mark, Row

NOTE_COLUMNS = "id, conversation_id, agent_id, agent_name, body, created_at, client_note_id"
CANNED_COLUMNS = "id, shortcut, body, created_at, updated_at"
# Failure rows that stopped failing this long ago (and hold no lock) are forgotten.
FORGET_FAILURES_AFTER = 86400.0
_FAILURE_TABLES = ("login_failures", "login_failures_by_address")


def locked_until_sql(mark: Mark) -> str:
    """When the later of an account's locks ends (``NULL``: no row), its parameters the email
    and the address."""
    return (f"SELECT max(locked_until) FROM (SELECT locked_until FROM login_failures WHERE email = {mark(1)} "
            "UNION ALL SELECT locked_until FROM login_failures_by_address "
            f"WHERE email = {mark(1)} AND address = {mark(2)}) AS locks")


def note_from_row(row: Row) -> Note:
    return Note(id=row[0], conversation_id=row[1], agent_id=row[2], agent_name=row[3], body=row[4],
                created_at=row[5], client_note_id=row[6])


def canned_from_row(row: Row) -> CannedResponse:
    return CannedResponse(id=row[0], shortcut=row[1], body=row[2], created_at=row[3], updated_at=row[4])


def wrap_up_from_row(row: Row) -> tuple[list[str], str | None]:
    """``(tags, resolution_note)`` of a row of ``conversations``' ``tags, resolution_note``."""
    return list(json.loads(row[0] or "[]")), row[1]


Statement = tuple[str, tuple[Any, ...]]  # SQL and its parameters


def forget_failures(now: float, mark: Mark) -> list[Statement]:
    """The statements that delete failure rows no longer worth keeping."""
    return [(f"DELETE FROM {table} WHERE last_failure_at < {mark(1)} AND locked_until < {mark(2)}",
             (now - FORGET_FAILURES_AFTER, now)) for table in _FAILURE_TABLES]


def count_failures(email: str, address: str, now: float, policy: LockoutPolicy, mark: Mark) -> list[Statement]:
    """The statements that count one wrong password for ``email`` from ``address``: on its own
    (locked after ``policy.failures``) and from anywhere (after ``policy.global_failures``).
    Each returns when its lock ends; the account is locked until the later."""
    return [_count_failure("login_failures_by_address", ("email", "address"), (email, address), now,
                           policy.failures, policy.lock_seconds, policy.lock_seconds, mark),
            _count_failure("login_failures", ("email",), (email,), now, policy.global_failures,
                           policy.global_lock_seconds, policy.lock_seconds, mark)]


def _count_failure(table: str, key_columns: tuple[str, ...], key: tuple[str, ...], now: float,
                  failures_to_lock: int, lock_seconds: float, window: float,
                   mark: Mark) -> Statement:
    """The statement that counts one wrong password in ``table``'s row ``key``, and its
    parameters: ``failures_to_lock`` in a row (each within ``window`` of the one before) lock the
    row for ``lock_seconds``, and the count starts again; while locked, the row is left as it is.
    It returns the row's ``locked_until`` (0 when not locked).

    One statement, an upsert reading the row it changes: atomic against any number of processes
    counting the same row at once, where a read then a write would lose counts.
    """
    keys = ", ".join(key_columns)
    # Typed where they are used: PostgreSQL cannot tell a parameter's type from ``$1 + $2``.
    now_, window_, lock_, to_lock = (f"CAST({mark(len(key) + n)} AS {kind})" for n, kind in (
        (1, "DOUBLE PRECISION"), (2, "DOUBLE PRECISION"), (3, "DOUBLE PRECISION"), (4, "INTEGER")))
    locked = f"t.locked_until > {now_}"
    counted = f"(CASE WHEN {now_} - t.last_failure_at <= {window_} THEN t.failures + 1 ELSE 1 END)"
    sql = (f"INSERT INTO {table} AS t ({keys}, failures, last_failure_at, locked_until) "
           f"VALUES ({', '.join(mark(n) for n in range(1, len(key) + 1))}, "
           f"CASE WHEN 1 >= {to_lock} THEN 0 ELSE 1 END, {now_}, "
           f"CASE WHEN 1 >= {to_lock} THEN {now_} + {lock_} ELSE 0 END) "
           f"ON CONFLICT ({keys}) DO UPDATE SET "
           f"failures = CASE WHEN {locked} THEN t.failures WHEN {counted} >= {to_lock} THEN 0 ELSE {counted} END, "
           f"last_failure_at = CASE WHEN {locked} THEN t.last_failure_at ELSE {now_} END, "
           f"locked_until = CASE WHEN {locked} THEN t.locked_until "
           f"WHEN {counted} >= {to_lock} THEN {now_} + {lock_} ELSE 0 END "
           "RETURNING locked_until")
    return sql, (*key, now, window, lock_seconds, failures_to_lock)
