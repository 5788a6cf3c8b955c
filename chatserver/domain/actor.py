"""Who is acting on a conversation (``access.check_access`` says what they may act on)."""

from __future__ import annotations

import msgspec

from .models import Agent, PartyKind, Role


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who is acting: a visitor (by visitor id) or an agent."""

    kind: PartyKind
    id: str
    name: str | None = None
    role: Role | None = None

    @classmethod
    def agent(cls, agent: Agent) -> Actor:
        """The agent as the one acting (their name and role with them)."""
        return cls(kind=PartyKind.AGENT, id=agent.id, name=agent.name, role=agent.role)
