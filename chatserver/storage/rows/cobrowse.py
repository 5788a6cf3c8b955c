"""Co-browse sessions and views (SQLite migration 0008): columns, row readers and the guarded
update's SQL."""

from __future__ import annotations

from typing import Any

from ...domain.cobrowse import LIVE, CobrowseSession, CobrowseStatus, CobrowseView, ControlState, SessionUpdate
from . import Mark, Row

# Read from ``SESSIONS`` (``s`` a session, ``c`` its conversation, for the visitor's id).
SESSION_COLUMNS = ("s.id, s.conversation_id, c.visitor_id, s.agent_id, s.agent_name, s.status, s.control, s.reason, "
                   "s.requested_at, s.started_at, s.ended_at, s.control_requested_at, s.control_granted_at, s.pages, "
                   "s.bytes_relayed")
SESSIONS = "cobrowse_sessions s JOIN conversations c ON c.id = s.conversation_id"
# The statuses of a live session, as literals: constants of ours, and PostgreSQL's partial unique
# index (one live session per conversation) is matched only by this very predicate.
LIVE_STATUSES = ", ".join(f"'{status}'" for status in sorted(LIVE))
VIEW_COLUMNS = "v.session_id, v.agent_id, v.agent_name, v.joined_at, v.left_at"


def session_from_row(row: Row) -> CobrowseSession:
    return CobrowseSession(id=row[0], conversation_id=row[1], visitor_id=row[2], agent_id=row[3], agent_name=row[4],
                           status=CobrowseStatus(row[5]), control=ControlState(row[6]), reason=row[7],
                           requested_at=row[8], started_at=row[9], ended_at=row[10], control_requested_at=row[11],
                           control_granted_at=row[12], pages=row[13], bytes_relayed=row[14])


def view_from_row(row: Row) -> CobrowseView:
    return CobrowseView(session_id=row[0], agent_id=row[1], agent_name=row[2], joined_at=row[3], left_at=row[4])


def session_update(update: SessionUpdate, mark: Mark) -> tuple[str, str, list[Any]]:
    """``update`` as the SET list and WHERE condition of an UPDATE of ``cobrowse_sessions``, and
    their parameters (numbered from 1, the SET list's first)."""
    sets: list[str] = []
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return mark(len(params))

    for column, value in (("status", update.status), ("control", update.control), ("reason", update.reason),
                          ("started_at", update.started_at), ("ended_at", update.ended_at),
                          ("control_requested_at", update.control_requested_at),
                          ("control_granted_at", update.control_granted_at)):
        if value is not None:
            sets.append(f"{column} = {param(str(value) if isinstance(value, str) else value)}")
    if update.clear_reason and update.reason is None:
        sets.append("reason = NULL")
    if update.add_pages:
        sets.append(f"pages = pages + {param(update.add_pages)}")
    if not sets:
        sets.append("status = status")
    where = f"id = {param(update.session_id)}"
    where += f" AND status IN ({', '.join(param(str(s)) for s in sorted(update.expect))})"
    if update.expect_control is not None:
        where += f" AND control IN ({', '.join(param(str(c)) for c in sorted(update.expect_control))})"
    return ", ".join(sets), where, params
