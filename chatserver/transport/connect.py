"""Who may connect: a Socket.IO connection's ``auth`` checked into the party it speaks for (a
visitor's signed token; an agent's signed token, still valid for the stored account, and the
status the console asks to start with)."""

from __future__ import annotations

from typing import Any

from .. import constants as C
from ..config import Settings
from ..domain.actor import Actor
from ..domain.clock import Clock
from ..domain.models import Agent, AgentStatus, PartyKind
from ..domain.ports import AgentStore
from ..domain.tokens import TokenClaims, TokenSigner
from ..errors import AuthRequired, InvalidPayload, InvalidToken
from .registry import Connection


def wanted_status(auth: dict[str, Any]) -> AgentStatus:
    """The status an agent's console asks to start with (``auth.status``): what the agent chose
    before a reconnect, so an agent who is away is never handed a chat in between."""
    wanted = auth.get("status", "online")
    if wanted not in (AgentStatus.ONLINE, AgentStatus.AWAY):
        raise InvalidPayload('auth.status must be "online" or "away"')
    return AgentStatus(wanted)


class Authenticator:
    def __init__(self, signer: TokenSigner, agents: AgentStore, clock: Clock, settings: Settings) -> None:
        self.signer = signer
        self.agents = agents
        self.clock = clock
        self.settings = settings

    async def connection(self, sid: str, namespace: str, auth: Any) -> tuple[Connection, float | None]:
        """The connection ``auth`` opens, and when its session expires (agents' only); a
        ``ChatError`` if it opens none."""
        token = auth.get("token") if isinstance(auth, dict) else None
        if token is None:
            raise AuthRequired("connect with auth {token}")
        if namespace == C.VISITOR_NAMESPACE:
            claims = self.signer.verify(token, "visitor", self.clock.now())
            return Connection(sid, namespace, Actor(kind=PartyKind.VISITOR, id=claims.sub), None, self.settings), None
        agent, claims = await self._verify_agent(token)
        status = wanted_status(auth)
        actor = Actor.agent(agent)
        return Connection(sid, namespace, actor, agent, self.settings, status), claims.exp

    async def party(self, token: object) -> Actor:
        """The visitor or agent a bearer token stands for (REST routes either may call), checked
        as a socket's token is."""
        try:
            claims = self.signer.verify(token, "visitor", self.clock.now())
        except InvalidToken:
            agent, _ = await self._verify_agent(token)  # an agent's, or invalid either way
            return Actor.agent(agent)
        return Actor(kind=PartyKind.VISITOR, id=claims.sub)

    async def verify_agent_token(self, token: object) -> Agent:
        """The agent an agent token (a REST bearer or a socket's) stands for, while it holds."""
        return (await self._verify_agent(token))[0]

    async def _verify_agent(self, token: object) -> tuple[Agent, TokenClaims]:
        claims = self.signer.verify(token, "agent", self.clock.now())
        agent = await self.agents.agent_by_id(claims.sub)
        if agent is None or agent.disabled or agent.token_version != claims.v:
            raise InvalidToken("token is no longer valid")
        return agent, claims
