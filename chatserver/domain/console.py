"""The agent console's storage port: what it keeps besides conversations and agents.

Its parts are declared next to their rules (``notes.py``, ``canned.py``, ``wrapup.py``,
``lockout.py``); one store implements them all. Not in ``ports.py``: notes and wrap-ups import
``conversations.py``, which imports ``ports.py``.
"""

from __future__ import annotations

from typing import Protocol

from .canned import CannedStore
from .lockout import LoginAttempts
from .notes import NoteStore
from .wrapup import WrapUpStore


class ConsoleStore(NoteStore, CannedStore, WrapUpStore, LoginAttempts, Protocol):
    async def wrap_up(self, conversation_id: str) -> tuple[list[str], str | None] | None:
        """The conversation's ``(tags, resolution_note)``, or ``None`` if there is no such conversation."""
        ...
