"""The Socket.IO connections this process holds: who each one is, its rate limits, and how many
connections each party (visitor or agent) has here."""

from __future__ import annotations

from collections.abc import ValuesView

from ..config import Settings
from ..domain.actor import Actor
from ..domain.clock import Timer
from ..domain.models import Agent, AgentStatus
from ..errors import Forbidden
from .ratelimit import TokenBucket

PAGE_UPDATE_RATE = 0.2  # per second, per connection
PAGE_UPDATE_BURST = 3


class Connection:
    """What the server knows about one Socket.IO connection."""

    __slots__ = ("actor", "agent", "events", "expiry", "messages", "namespace", "pages", "sid", "status")

    def __init__(self, sid: str, namespace: str, actor: Actor, agent: Agent | None, settings: Settings,
                 status: AgentStatus = AgentStatus.ONLINE) -> None:
        self.sid = sid
        self.namespace = namespace
        self.actor = actor
        self.agent = agent
        # The status an agent's connection asked for (connect auth, then presence:set): recorded
        # again with it if the routing store lost its presence.
        self.status = status
        # Ends an agent's session when its token expires (the token is checked only at connect).
        self.expiry: Timer | None = None
        self.messages = TokenBucket(settings.message_rate, settings.message_burst)
        self.events = TokenBucket(settings.event_rate, settings.event_burst)
        # page:update: one per page load is the normal rate; a page that sends more is refused.
        self.pages = TokenBucket(PAGE_UPDATE_RATE, PAGE_UPDATE_BURST)


def agent_of(connection: Connection) -> Agent:
    """The agent behind ``connection``; ``Forbidden`` for a visitor's."""
    if connection.agent is None:
        raise Forbidden("agents only")
    return connection.agent


class ConnectionRegistry:
    """This process's connections by Socket.IO sid, and a count of them per party, so "is this
    visitor connected here" is answered without a scan."""

    def __init__(self) -> None:
        self._by_sid: dict[str, Connection] = {}
        self._parties: dict[tuple[str, str], int] = {}

    def __len__(self) -> int:
        return len(self._by_sid)

    def get(self, sid: str) -> Connection | None:
        return self._by_sid.get(sid)

    def values(self) -> ValuesView[Connection]:
        return self._by_sid.values()

    def add(self, connection: Connection) -> None:
        self._by_sid[connection.sid] = connection
        party = (str(connection.actor.kind), connection.actor.id)
        self._parties[party] = self._parties.get(party, 0) + 1

    def remove(self, sid: str) -> Connection | None:
        """Forget the connection ``sid``; the connection, or ``None`` if it was not held."""
        connection = self._by_sid.pop(sid, None)
        if connection is None:
            return None
        party = (str(connection.actor.kind), connection.actor.id)
        if self._parties.get(party, 0) <= 1:
            self._parties.pop(party, None)
        else:
            self._parties[party] -= 1
        return connection

    def is_local(self, kind: str, party_id: str) -> bool:
        """Whether this process holds a connection of the party (``"visitor"`` or ``"agent"``)."""
        return self._parties.get((kind, party_id), 0) > 0

    def has_local_agents(self) -> bool:
        return any(c.agent is not None for c in self._by_sid.values())

    def of_agent(self, agent_id: str) -> list[Connection]:
        """The agent's connections here (one per open console tab)."""
        return [c for c in self._by_sid.values() if c.agent is not None and c.actor.id == agent_id]
