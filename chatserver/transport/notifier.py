"""The domain's ``Notifier`` over Socket.IO: each event goes to the process(es) holding the
recipients' connections (only this one in the embedded server), which emit it to their local
rooms. A conversation's traffic never goes to processes that hold none of its participants."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .. import constants as C
from ..domain.conversations import estimate_wait
from ..domain.models import Conversation, ConversationStatus, Message, PartyKind
from ..domain.ports import Presence, RoutingState
from ..errors import ChatError
from ..presenters import conversation_view
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
from .delivery import Delivery
from .server import ChatSocketServer

log = logging.getLogger("chatserver.notifier")

QueueSnapshot = Callable[[int], Awaitable[dict[str, Any]]]
# Position updates: the first HEAD_PLACES waiting visitors hear every change (coalesced to one
# per queue_update_interval); visitors further back hear at most every FAR_UPDATE_INTERVAL
# seconds, so a long queue costs a few hundred updates a second, not one per visitor per change.
# Updates go out in chunks of YIELD_EVERY, CHUNK_PAUSE seconds apart.
HEAD_PLACES = 50
FAR_UPDATE_INTERVAL = 2.0
YIELD_EVERY = 25
CHUNK_PAUSE = 0.002
SecondsPerPlace = Callable[[], Awaitable[float | None]]


class SocketNotifier:
    def __init__(self, sio: ChatSocketServer, delivery: Delivery, bus: Bus, presence: Presence,
                 routing: RoutingState, queue_update_interval: float) -> None:
        self.sio = sio
        self.delivery = delivery
        self.bus = bus
        self.presence = presence
        self.routing = routing
        self.queue_update_interval = queue_update_interval
        self.queue_snapshot: QueueSnapshot | None = None
        self.seconds_per_place: SecondsPerPlace | None = None
        # Waiting conversations of this process's visitors, whose positions it keeps them told of.
        self.watching: dict[str, str] = {}
        self._positions_sent: dict[str, tuple[int, float | None, float]] = {}  # position, estimate, when
        self._queue_dirty = False
        self._agents_stale = False  # the agents' queue view must be resent
        self._queue_task: asyncio.Task[None] | None = None
        self.has_local_agents: Callable[[], bool] = lambda: True
        # Re-reads an agent and applies the change to this process's connections (the hub).
        self.on_agent_changed: Callable[[str], Awaitable[None]] | None = None
        self.is_local: Callable[[str, str], bool] = lambda kind, party_id: False
        # Envelopes of other features (co-browsing), by type: applied in the receiving process.
        self._envelope_handlers: dict[type, Callable[[Any], Awaitable[None]]] = {}
        # Called after every conversation change made in this process (co-browsing ends a
        # session when its chat closes or moves); a failing hook never fails the change.
        self.conversation_hooks: list[Callable[[Conversation], Awaitable[None]]] = []
        bus.on_message(self._on_bus_message)

    def add_envelope_handler(self, envelope_type: type, handler: Callable[[Any], Awaitable[None]]) -> None:
        self._envelope_handlers[envelope_type] = handler

    async def send(self, processes: set[str], envelope: Envelope) -> None:
        """Hand ``envelope`` to each of ``processes`` (this one applies it at once)."""
        await self._send(processes, envelope)

    async def where(self, *parties: tuple[str, str | None]) -> set[str]:
        """The processes holding connections of any of ``parties`` (``(kind, id)``)."""
        return await self._where(*parties)

    async def close(self) -> None:
        if self._queue_task is not None:
            self._queue_task.cancel()
            await asyncio.gather(self._queue_task, return_exceptions=True)

    # -- routing to processes -----------------------------------------------------------------

    async def _send(self, processes: set[str], envelope: Envelope) -> None:
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
        if not wanted:
            return set()
        # This process's own clients always hear it, even while the shared presence is down or
        # being restored after a Redis restart.
        here = {self.bus.process_id} if any(self.is_local(kind, party_id) for kind, party_id in wanted) else set()
        try:
            return here | await self.presence.processes_of(wanted)
        except ChatError:
            return here

    async def _participants(self, conversation: Conversation, *extra_agents: str | None) -> set[str]:
        return await self._where(("visitor", conversation.visitor_id),
                                 *(("agent", agent_id) for agent_id in (conversation.agent_id, *extra_agents)))

    async def _on_bus_message(self, payload: bytes) -> None:
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
        elif isinstance(envelope, AgentChangedEnvelope):
            if self.on_agent_changed is not None:
                await self.on_agent_changed(envelope.agent_id)
        else:
            await self._queue_changed_here()

    async def _apply_conversation(self, conversation: Conversation, previous_agent_id: str | None) -> None:
        await self.sio.lean_emit(C.EV_CONVERSATION_UPDATED,
                            {"conversation": conversation_view(conversation, PartyKind.VISITOR)},
                            room=C.visitor_room(conversation.visitor_id), namespace=C.VISITOR_NAMESPACE)
        agent_view = {"conversation": conversation_view(conversation, PartyKind.AGENT)}
        if conversation.agent_id is not None:
            await self.sio.lean_emit(C.EV_CONVERSATION_UPDATED, agent_view, room=C.agent_room(conversation.agent_id),
                                namespace=C.AGENT_NAMESPACE)
        if previous_agent_id is not None and previous_agent_id != conversation.agent_id:
            self.delivery.leave_party(conversation.id, previous_agent_id)
            await self.sio.lean_emit(C.EV_CONVERSATION_UPDATED, agent_view, room=C.agent_room(previous_agent_id),
                                namespace=C.AGENT_NAMESPACE)
        self.watch(conversation)

    def watch(self, conversation: Conversation) -> None:
        """Keep this process's visitor told of their position while the conversation waits."""
        if conversation.status == ConversationStatus.QUEUED:
            self.watching[conversation.id] = conversation.visitor_id
        else:
            self.watching.pop(conversation.id, None)
            self._positions_sent.pop(conversation.id, None)

    def unwatch_visitor(self, visitor_id: str) -> None:
        for conversation_id in [c for c, v in self.watching.items() if v == visitor_id]:
            del self.watching[conversation_id]
            self._positions_sent.pop(conversation_id, None)

    async def _emit(self, kind: str, party_id: str, event: str, data: Any) -> None:
        namespace, room = ((C.VISITOR_NAMESPACE, C.visitor_room(party_id)) if kind == "visitor"
                           else (C.AGENT_NAMESPACE, C.agent_room(party_id)))
        await self._send(await self._where((kind, party_id)), EmitEnvelope(namespace, room, event, data))

    # -- Notifier -----------------------------------------------------------------------------

    async def message_stored(self, conversation: Conversation, message: Message, origin: str | None) -> None:
        await self._send(await self._participants(conversation), MessageEnvelope(message, origin))

    async def conversation_changed(self, conversation: Conversation, previous_agent_id: str | None) -> None:
        processes = await self._participants(conversation, previous_agent_id)
        await self._send(processes, ConversationEnvelope(conversation, previous_agent_id))
        for hook in self.conversation_hooks:
            try:
                await hook(conversation)
            except Exception:
                log.exception("conversation hook failed conversation=%s", conversation.id)

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

    async def _queue_changed_here(self) -> None:
        """Coalesce: the first update goes out at once, then at most one per interval."""
        self._queue_dirty = True
        self._agents_stale = True
        if self._queue_task is None or self._queue_task.done():
            self._queue_task = asyncio.get_running_loop().create_task(self._flush_queue_updates())

    async def _flush_queue_updates(self) -> None:
        while self._queue_dirty:
            self._queue_dirty = False
            started = time.monotonic()
            try:
                await self._send_queue_updates()
            except Exception:
                log.exception("queue update failed")
            await asyncio.sleep(max(0.0, self.queue_update_interval - (time.monotonic() - started)))

    async def _send_queue_updates(self) -> None:
        sent = 0
        now = time.monotonic()
        if self.watching:
            conversation_ids = list(self.watching)
            positions = await self.routing.positions(conversation_ids)
            per_place = await self.seconds_per_place() if self.seconds_per_place else None
            for conversation_id, position in zip(conversation_ids, positions, strict=True):
                visitor_id = self.watching.get(conversation_id)
                if position is None or visitor_id is None:
                    continue
                estimate = estimate_wait(position, per_place)
                last = self._positions_sent.get(conversation_id)
                if last is not None and last[:2] == (position, estimate):
                    continue
                if last is not None and position > HEAD_PLACES and now - last[2] < FAR_UPDATE_INTERVAL:
                    self._queue_dirty = True  # due later: a following flush sends it
                    continue
                self._positions_sent[conversation_id] = (position, estimate, now)
                sent += 1
                if sent % YIELD_EVERY == 0:
                    # Pause between chunks, not just yield: the chunk's socket writers then run
                    # before the next chunk queues more, so routing and chat traffic wait for
                    # one chunk at most, never for a whole flush.
                    await asyncio.sleep(CHUNK_PAUSE)
                await self.sio.lean_emit(
                    C.EV_QUEUE_POSITION,
                    {"conversation_id": conversation_id, "position": position, "estimated_wait_s": estimate},
                    room=C.visitor_room(visitor_id), namespace=C.VISITOR_NAMESPACE,
                )
        if self._agents_stale and self.queue_snapshot is not None and self.has_local_agents():
            self._agents_stale = False
            await self.sio.lean_emit(C.EV_QUEUE_UPDATED, await self.queue_snapshot(50), room=C.ROOM_AGENTS,
                                namespace=C.AGENT_NAMESPACE)
