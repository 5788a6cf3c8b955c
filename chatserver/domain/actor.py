"""Who is acting on a conversation (``access.check_access`` says what they may act on)."""

from __future__ import annotations

import msgspec

from .models import PartyKind, Role


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who is acting: a visitor (by visitor id) or an agent."""

    kind: PartyKind
    id: str
    name: str | None = None
    role: Role | None = None
