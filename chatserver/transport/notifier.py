"""The domain's ``Notifier`` over Socket.IO: each event goes to the process(es) holding the
recipients' connections (only this one in the embedded server), which emit it to their local
rooms. A conversation's traffic never goes to processes that hold none of its participants.

A stored message goes to the processes last found reading its conversation, without asking
presence again, as long as the append that stored it reports the same ``readers_version``: a
connection that starts reading a conversation counts itself in storage before its replay reads
(``Delivery``'s ``announce``), so a message stored before that count is in the replay, and one
stored after it reports a new version, and presence is asked again (where the new reader's
connection is recorded since it connected). A message between two parties connected here then
costs no Redis round trip.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from .. import constants as C
from ..domain.models import Conversation, ConversationStatus, Message, PartyKind
from ..domain.ports import Presence
from ..errors import ChatError
from ..wire.views import conversation_view
from .bus import (
    AgentChangedEnvelope,
    AgentsEnvelope,
    Broadcast,
    Bus,
    ConversationEnvelope,
    EmitEnvelope,
    Envelope,
    MessageEnvelope,
    QueueEnvelope,
    decode,
    encode,
)
from .conversation_views import ConversationViews
from .delivery import Delivery
from .registry import ConnectionRegistry
from .socketio_server import EVENT_RECEIVED_AT, ChatSocketServer
from .waiting import WaitingVisitors

log = logging.getLogger("chatserver.notifier")

# How long the processes found reading a conversation are used without asking presence again
# while no reader joins: a bound on what a presence that lost its data (a Redis restart, before
# every process recorded its connections again) can hide from a process that asked meanwhile.
READERS_TRUSTED_SECONDS = 2.0
READERS_KEPT = 10_000  # conversations remembered at most (the oldest go first)


@dataclass(frozen=True, slots=True)
class _Readers:
    """The processes found holding a conversation's participants, and as of which version."""

    version: int
    visitor_id: str
    agent_id: str | None
    processes: frozenset[str]
    until: float  # time.monotonic() after which presence is asked again


class SocketNotifier:
    def __init__(self, sio: ChatSocketServer, delivery: Delivery, bus: Bus, presence: Presence,
                 connections: ConnectionRegistry, waiting: WaitingVisitors, views: ConversationViews) -> None:
        self.sio = sio
        self.views = views
        self.delivery = delivery
        self.bus = bus
        self.presence = presence
        self.connections = connections
        self.waiting = waiting
        # Envelopes applied by other parts (queue updates, agents' sessions, co-browsing), by
        # type: applied in the receiving process.
        self._envelope_handlers: dict[type, Callable[[Any], Awaitable[None]]] = {}
        self._message_commits = sio.metrics.message_commit
        self._readers: dict[str, _Readers] = {}  # by conversation id

    def add_envelope_handler(self, envelope_type: type, handler: Callable[[Any], Awaitable[None]]) -> None:
        self._envelope_handlers[envelope_type] = handler

    async def send(self, processes: set[str], envelope: Envelope) -> None:
        """Hand ``envelope`` to each of ``processes`` (this one applies it at once)."""
        await self._send(processes, envelope)

    async def where(self, *parties: tuple[str, str | None]) -> set[str]:
        """The processes holding connections of any of ``parties`` (``(kind, id)``)."""
        return await self._where(*parties)

    # -- routing to processes -----------------------------------------------------------------

    async def _send(self, processes: AbstractSet[str], envelope: Envelope) -> None:
        payload: bytes | None = None
        for process_id in processes:
            if process_id == self.bus.process_id:
                await self._apply(envelope)
                continue
            payload = payload or encode(envelope)
            try:
                await self.bus.publish(process_id, payload)
            except ChatError:
                # The other process's clients catch up from storage when they rejoin.
                log.warning("could not reach process=%s event=%s", process_id, type(envelope).__name__)

    async def _where(self, *parties: tuple[str, str | None]) -> set[str]:
        """The processes holding connections of any of ``parties`` (``(kind, id)``)."""
        wanted = [(kind, party_id) for kind, party_id in parties if party_id is not None]
        return self._here(wanted) | (await self._lookup(wanted) or set())

    def _here(self, wanted: list[tuple[str, str]]) -> set[str]:
        # This process's own clients always hear it, even while the shared presence is down or
        # being restored after a Redis restart.
        local = any(self.connections.is_local(kind, party_id) for kind, party_id in wanted)
        return {self.bus.process_id} if local else set()

    async def _lookup(self, wanted: list[tuple[str, str]]) -> set[str] | None:
        """The processes presence holds connections of ``wanted`` in; None when it cannot say."""
        if not wanted:
            return set()
        try:
            return await self.presence.processes_of(wanted)
        except ChatError:
            return None

    async def _readers_of(self, conversation: Conversation) -> AbstractSet[str]:
        """The processes to send a message of ``conversation`` stored as of its ``readers_version``."""
        version = conversation.readers_version
        agent_id = conversation.agent_id
        known = self._readers.get(conversation.id)
        now = time.monotonic()
        if version is None or known is None or known.version != version or known.until < now \
                or known.agent_id != agent_id or known.visitor_id != conversation.visitor_id:
            wanted = [("visitor", conversation.visitor_id)]
            if agent_id is not None:
                wanted.append(("agent", agent_id))
            here = self._here(wanted)
            found = await self._lookup(wanted)
            if version is None:  # the store did not say: ask every time
                return here | (found or set())
            if found is None:  # presence is down: this time only the clients here
                return here
            self._readers.pop(conversation.id, None)
            if len(self._readers) >= READERS_KEPT:
                del self._readers[next(iter(self._readers))]
            known = self._readers[conversation.id] = _Readers(
                version, conversation.visitor_id, agent_id, frozenset(found), now + READERS_TRUSTED_SECONDS)
            processes: AbstractSet[str] = here | known.processes
        else:
            processes = known.processes
            # This process's own clients always hear it (see _here).
            if self.bus.process_id not in processes and (
                    self.connections.is_local("visitor", conversation.visitor_id)
                    or (agent_id is not None and self.connections.is_local("agent", agent_id))):
                processes = processes | {self.bus.process_id}
        if conversation.status == ConversationStatus.CLOSED:  # its last message: nothing follows
            self._readers.pop(conversation.id, None)
        return processes

    def forget_readers(self) -> None:
        """Ask presence again for every conversation (after presence or the bus lost something)."""
        self._readers.clear()

    async def _participants(self, conversation: Conversation, *extra_agents: str | None) -> set[str]:
        return await self._where(("visitor", conversation.visitor_id),
                                 *(("agent", agent_id) for agent_id in (conversation.agent_id, *extra_agents)))

    async def receive(self, payload: bytes) -> None:
        """An envelope another process sent here (given to the bus when it starts)."""
        envelope = decode(payload)
        if isinstance(envelope, Broadcast) and envelope.sender == self.bus.process_id:
            return
        await self._apply(envelope)

    async def _apply(self, envelope: Envelope) -> None:
        handler = self._envelope_handlers.get(type(envelope))
        if handler is not None:
            await handler(envelope)
        elif isinstance(envelope, MessageEnvelope):
            await self.delivery.deliver(envelope.message, envelope.origin)
        elif isinstance(envelope, ConversationEnvelope):
            await self._apply_conversation(envelope.conversation, envelope.previous_agent_id)
        elif isinstance(envelope, EmitEnvelope):
            await self.sio.lean_emit(envelope.event, envelope.data, room=envelope.room, namespace=envelope.namespace)
        elif isinstance(envelope, AgentsEnvelope):
            await self.sio.lean_emit(envelope.event, envelope.data, room=C.ROOM_AGENTS, namespace=C.AGENT_NAMESPACE)
        else:
            log.warning("no handler for envelope=%s", type(envelope).__name__)

    async def _apply_conversation(self, conversation: Conversation, previous_agent_id: str | None) -> None:
        await self.sio.lean_emit(C.EV_CONVERSATION_UPDATED,
                            {"conversation": await self.views.view(conversation, PartyKind.VISITOR)},
                            room=C.visitor_room(conversation.visitor_id), namespace=C.VISITOR_NAMESPACE)
        agent_view = {"conversation": conversation_view(conversation, PartyKind.AGENT)}
        if conversation.agent_id is not None:
            await self.sio.lean_emit(C.EV_CONVERSATION_UPDATED, agent_view, room=C.agent_room(conversation.agent_id),
                                namespace=C.AGENT_NAMESPACE)
        if previous_agent_id is not None and previous_agent_id != conversation.agent_id:
            self.delivery.leave_party(conversation.id, previous_agent_id)
            await self.sio.lean_emit(C.EV_CONVERSATION_UPDATED, agent_view, room=C.agent_room(previous_agent_id),
                                namespace=C.AGENT_NAMESPACE)
        self.waiting.watch(conversation)

    async def _emit(self, kind: str, party_id: str, event: str, data: Any) -> None:
        namespace, room = ((C.VISITOR_NAMESPACE, C.visitor_room(party_id)) if kind == "visitor"
                           else (C.AGENT_NAMESPACE, C.agent_room(party_id)))
        await self._send(await self._where((kind, party_id)), EmitEnvelope(namespace, room, event, data))

    # -- Notifier -----------------------------------------------------------------------------

    async def message_stored(self, conversation: Conversation, message: Message, origin: str | None) -> None:
        # Called right after the commit; a message a client sent (``origin``, its connection)
        # came from the event being handled in this task.
        received = EVENT_RECEIVED_AT.get()
        if received is not None and origin is not None:
            self._message_commits.observe(time.perf_counter() - received)
        processes = await self._readers_of(conversation)
        if len(processes) == 1 and self.bus.process_id in processes:
            # Read here only (always so in the embedded server): what _apply would do, without
            # an envelope.
            await self.delivery.deliver(message, origin)
            return
        await self._send(processes, MessageEnvelope(message, origin))

    async def conversation_changed(self, conversation: Conversation, previous_agent_id: str | None) -> None:
        processes = await self._participants(conversation, previous_agent_id)
        await self._send(processes, ConversationEnvelope(conversation, previous_agent_id))

    async def peer_presence(self, conversation: Conversation, party: PartyKind, online: bool) -> None:
        payload = {"conversation_id": conversation.id, "party": str(party), "online": online}
        await self._to_other_party(conversation, party, C.EV_PEER_PRESENCE, payload)

    async def typing(self, conversation: Conversation, party: PartyKind, typing: bool) -> None:
        payload = {"conversation_id": conversation.id, "party": str(party), "typing": typing}
        await self._to_other_party(conversation, party, C.EV_TYPING_UPDATED, payload)

    async def read_updated(self, conversation: Conversation, party: PartyKind, seq: int) -> None:
        payload = {"conversation_id": conversation.id, "party": str(party), "seq": seq}
        await self._emit("visitor", conversation.visitor_id, C.EV_MESSAGE_READ_UPDATED, payload)
        if conversation.agent_id is not None:
            await self._emit("agent", conversation.agent_id, C.EV_MESSAGE_READ_UPDATED, payload)

    async def agent_status(self, agent_id: str, status: str) -> None:
        await self._emit("agent", agent_id, C.EV_PRESENCE_UPDATED, {"status": status})

    async def to_agent(self, agent_id: str, event: str, data: Any) -> None:
        """Emit ``event`` to every connection of one agent, in whichever process it is."""
        await self._emit("agent", agent_id, event, data)

    async def to_visitor(self, visitor_id: str, event: str, data: Any) -> None:
        """Emit ``event`` to every connection of one visitor, in whichever process it is."""
        await self._emit("visitor", visitor_id, event, data)

    async def _to_other_party(self, conversation: Conversation, party: PartyKind, event: str,
                              payload: dict[str, Any]) -> None:
        if party == PartyKind.VISITOR:
            if conversation.agent_id is not None:
                await self._emit("agent", conversation.agent_id, event, payload)
        else:
            await self._emit("visitor", conversation.visitor_id, event, payload)

    async def queue_changed(self) -> None:
        """Every process recomputes positions for its own visitors (and the queue for its agents)."""
        await self._broadcast(QueueEnvelope(self.bus.process_id))

    async def agent_changed(self, agent_id: str) -> None:
        """Every process re-reads the agent (and ends or updates its connections)."""
        await self._broadcast(AgentChangedEnvelope(self.bus.process_id, agent_id))

    async def to_all_agents(self, event: str, data: Any) -> None:
        """Emit ``event`` to every connected agent, in every process."""
        await self._broadcast(AgentsEnvelope(self.bus.process_id, event, data))

    async def _broadcast(self, envelope: Broadcast) -> None:
        """Apply ``envelope`` here and in every other process (which skip their own)."""
        await self._apply(envelope)
        try:
            await self.bus.publish(None, encode(envelope))
        except ChatError:
            log.warning("could not tell other processes event=%s", type(envelope).__name__)
