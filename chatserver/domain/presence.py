"""Agents and visitors coming and going: what follows a connection, a disconnection or a change of
status. The other party of each assigned chat hears whether its peer is there; an agent's last
connection going starts their grace period, and one coming back ends it; an agent who may take
chats again sets routing going."""

from __future__ import annotations

from .agent_cache import AgentCache
from .grace import GracePeriods
from .models import Agent, AgentStatus, ConversationStatus, PartyKind
from .ports import ConversationStore, Notifier, Presence
from .repair import RoutingRepair
from .routing import Dispatcher


class PresenceChanges:
    """Connections, statuses and withdrawals of agents and visitors, over the ``Presence`` port."""

    def __init__(self, *, presence: Presence, conversations: ConversationStore, notifier: Notifier,
                 agents: AgentCache, grace: GracePeriods, dispatcher: Dispatcher, repair: RoutingRepair) -> None:
        self._presence = presence
        self._conversations = conversations
        self._notifier = notifier
        self._agents = agents
        self._grace = grace
        self._dispatcher = dispatcher
        self._repair = repair

    async def agent_connected(self, agent: Agent, connection_id: str, status: AgentStatus = AgentStatus.ONLINE) -> None:
        """Record the agent's connection with the status they asked for (it applies when they had
        no other connection), before routing runs: an agent who chose away gets no chat on a
        reconnect."""
        self._agents.remember(agent)
        count = await self._presence.agent_connected(agent.id, connection_id, status)
        self._grace.agent_back(agent.id)
        if count == 1:
            await self._tell_peers_agent_presence(agent.id, online=True)
        self._dispatcher.dispatch_soon()

    async def agent_disconnected(self, agent_id: str, connection_id: str) -> None:
        """The agent's last connection going starts their grace period; their visitors hear it."""
        remaining = await self._presence.agent_disconnected(agent_id, connection_id)
        if remaining == 0:
            await self._grace.start(agent_id)
            await self._tell_peers_agent_presence(agent_id, online=False)

    async def set_status(self, agent: Agent, status: AgentStatus) -> AgentStatus:
        """Set the agent's status (online or away); returns the status in force (``offline``
        without a live connection)."""
        await self._presence.set_status(agent.id, status)
        if status == AgentStatus.ONLINE:
            self._dispatcher.dispatch_soon()
        return await self._presence.status(agent.id)

    async def agents_available(self) -> bool:
        """Whether any agent is online (not away) with a live connection."""
        return bool(await self._presence.available_agents())

    async def withdraw_agent(self, agent_id: str) -> int:
        """A disabled agent takes nothing more and gives back what they hold: marked away in
        presence at once (so routing in every process passes them over, even before it hears of
        the change), and their chats go back to the head of the queue. Returns how many."""
        self._agents.forget(agent_id)
        if await self._presence.status(agent_id) != AgentStatus.OFFLINE:
            await self._presence.set_status(agent_id, AgentStatus.AWAY)
        return await self._grace.requeue_agent_chats(agent_id, reason="agent_disabled")

    async def visitor_connected(self, visitor_id: str, connection_id: str) -> None:
        """The visitor's first connection: the agent holding their chat hears they are back."""
        if await self._presence.visitor_connected(visitor_id, connection_id) == 1:
            await self._tell_agent_visitor_presence(visitor_id, online=True)

    async def visitor_disconnected(self, visitor_id: str, connection_id: str) -> None:
        """The visitor's last connection went: the agent holding their chat hears it."""
        if await self._presence.visitor_disconnected(visitor_id, connection_id) == 0:
            await self._tell_agent_visitor_presence(visitor_id, online=False)

    async def expire_dead_connections(self) -> None:
        """Connections of dead processes go offline, with what follows as for a disconnection
        (agents get the grace period). A dead process may have died between a claim and storing
        it: the routing state is repaired from the database (at the next heartbeat, and again
        until that claim's mark has expired)."""
        for kind, party_id, remaining in await self._presence.expire_dead_connections():
            if kind == "process":
                self._repair.needed = True
                continue
            if remaining:
                continue
            if kind == "agent":
                await self._grace.start(party_id)
                await self._tell_peers_agent_presence(party_id, online=False)
            else:
                await self._tell_agent_visitor_presence(party_id, online=False)

    async def _tell_peers_agent_presence(self, agent_id: str, online: bool) -> None:
        held = await self._conversations.conversations_with_status([ConversationStatus.ASSIGNED], agent_id)
        for conversation in held:
            await self._notifier.peer_presence(conversation, PartyKind.AGENT, online)

    async def _tell_agent_visitor_presence(self, visitor_id: str, online: bool) -> None:
        conversation = await self._conversations.active_conversation_for_visitor(visitor_id)
        if conversation is not None and conversation.status == ConversationStatus.ASSIGNED:
            await self._notifier.peer_presence(conversation, PartyKind.VISITOR, online)
