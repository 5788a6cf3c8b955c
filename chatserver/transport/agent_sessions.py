"""Agents' sessions after connect: ended when the token expires, and kept in step with the stored
account (logout, disabled, capacity, departments), in every process."""

from __future__ import annotations

import logging

from .. import constants as C
from ..domain.actor import Actor
from ..domain.agent_cache import AgentCache
from ..domain.ports import AgentStore
from ..domain.routing import Dispatcher
from .bus import AgentChangedEnvelope
from .notifier import SocketNotifier
from .registry import ConnectionRegistry
from .shutdown import Shutdown
from .socketio_server import ChatSocketServer

log = logging.getLogger("chatserver.transport")


class AgentSessions:
    def __init__(self, sio: ChatSocketServer, connections: ConnectionRegistry, agents: AgentStore,
                 agent_cache: AgentCache, dispatcher: Dispatcher, notifier: SocketNotifier, shutdown: Shutdown) -> None:
        self.sio = sio
        self.connections = connections
        self.agents = agents
        self.agent_cache = agent_cache
        self.dispatcher = dispatcher
        self.notifier = notifier
        self.shutdown = shutdown
        notifier.add_envelope_handler(AgentChangedEnvelope, self._on_agent_changed)

    async def agent_changed(self, agent_id: str) -> None:
        """The agent's account changed (logout, disabled or enabled, capacity, departments): in
        every process, routing forgets its copy, and the agent's open sockets either carry on
        with the new account or, if their token no longer holds, hear ``session:ended`` and are
        disconnected."""
        await self.notifier.agent_changed(agent_id)

    async def recheck_agents(self) -> None:
        """The backstop for changes this process was not told of (``chatserver agent disable`` on
        the command line, a bus message lost while Redis was away): every agent this process
        holds a copy of is compared with the stored one, and re-read if they differ."""
        stored = {a.id: a for a in await self.agents.list_agents()}
        held = self.agent_cache.known()
        for connection in self.connections.values():
            if connection.agent is not None and stored.get(connection.actor.id) != connection.agent:
                held[connection.actor.id] = connection.agent
        changed = [agent_id for agent_id, agent in held.items() if stored.get(agent_id) != agent]
        for agent_id in changed:
            log.info("agent changed elsewhere agent=%s", agent_id)
            await self.agent_changed_here(agent_id)
        if changed:
            self.dispatcher.dispatch_soon()

    async def _on_agent_changed(self, envelope: AgentChangedEnvelope) -> None:
        await self.agent_changed_here(envelope.agent_id)

    async def agent_changed_here(self, agent_id: str) -> None:
        """Re-read the agent and apply it to this process's connections of theirs."""
        self.agent_cache.forget(agent_id)
        agent = await self.agents.agent_by_id(agent_id)
        for connection in self.connections.of_agent(agent_id):
            assert connection.agent is not None
            if agent is None or agent.disabled:
                await self.end_session(connection.sid, C.SESSION_DISABLED)
            elif agent.token_version != connection.agent.token_version:
                await self.end_session(connection.sid, C.SESSION_SIGNED_OUT)
            else:
                connection.agent = agent
                connection.actor = Actor.agent(agent)

    async def end_session(self, sid: str, reason: str) -> None:
        """Tell an agent's connection why its session is over, then close it."""
        connection = self.connections.get(sid)
        if connection is None or self.shutdown.closing:
            return
        if connection.expiry is not None:
            connection.expiry.cancel()
        log.info("session ended agent=%s reason=%s", connection.actor.id, reason)
        await self.sio.lean_emit(C.EV_SESSION_ENDED, {"reason": reason}, room=sid, namespace=connection.namespace)
        await self.sio.disconnect(sid, namespace=connection.namespace)
