"""Co-browsing over Socket.IO (docs/cobrowse.md, events in docs/protocol.md).

The shopper's browser sends its page as batches of rrweb events, msgpack-encoded and sent as
binary attachments (``cobrowse:events``); this relay passes each batch only to the agent
connections that joined the session (``cobrowse:join``), in whichever process they are, and
never to anyone else. It keeps, in the process that receives the shopper's batches, the latest
full snapshot and every batch after it, so an agent who joins late or reconnects gets the
current page at once. The agent's pointer, scroll-to and (with the shopper's second consent)
actions go the other way.

Per process:
- ``_ingest``: sessions whose shopper sends from here: the replay buffer and the limits;
- ``_watchers``: agent connections here that watch a session; a new watcher receives nothing
  live until its replay has arrived (the replay includes every batch up to then, and the live
  ones after it come from the same sender in order), so it gets each batch once, in order;
- ``_sessions``: a short-lived cache of session states for the per-batch checks, updated by
  every state change and refetched after ``CACHE_SECONDS``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .. import constants as C
from ..config import Settings
from ..domain.cobrowse import (
    REASON_RATE,
    REASON_TOO_LARGE,
    CobrowseService,
    CobrowseSession,
    CobrowseStatus,
    ControlState,
)
from ..domain.models import PartyKind
from ..errors import (
    CobrowseStateError,
    ControlNotGranted,
    Forbidden,
    InvalidPayload,
    NotFound,
    PayloadTooLarge,
    RateLimited,
)
from ..wire.views import cobrowse_session_view as session_view
from . import schemas as S
from .bus import CobrowseDataEnvelope, CobrowseReplayEnvelope, CobrowseStateEnvelope
from .dispatch import Handler
from .notifier import SocketNotifier
from .ratelimit import TokenBucket
from .registry import Connection, ConnectionRegistry
from .socketio_server import ChatSocketServer

log = logging.getLogger("chatserver.cobrowse")

CACHE_SECONDS = 2.0
# A watcher whose replay never came (the shopper's process died) starts receiving after this.
REPLAY_WAIT = 3.0


class _Ingest:
    """A session whose shopper sends from this process."""

    __slots__ = ("batches", "buffer", "buffered", "bytes", "lock", "pending", "pending_bytes", "since_snapshot",
                 "snapshot_asked")

    def __init__(self, settings: Settings) -> None:
        # The latest complete snapshot's parts and every batch after it: (header, data).
        self.buffer: list[tuple[dict[str, Any], bytes]] = []
        self.buffered = 0
        # What came after the latest snapshot (its batches): what a fresh snapshot would replace.
        self.since_snapshot = 0
        # A snapshot whose parts are still arriving.
        self.pending: list[tuple[dict[str, Any], bytes]] | None = None
        self.pending_bytes = 0
        self.snapshot_asked = False
        self.bytes = TokenBucket(settings.cobrowse_bytes_per_second, settings.cobrowse_burst_bytes)
        self.batches = TokenBucket(settings.cobrowse_batches_per_second, settings.cobrowse_batch_burst)
        # Held while a batch is stored and relayed, and while the buffer is replayed to a new
        # watcher, so a watcher's replay and the live batches after it never interleave.
        self.lock = asyncio.Lock()


class _Watcher:
    __slots__ = ("ready", "since", "view_id")

    def __init__(self, view_id: int) -> None:
        self.view_id = view_id
        self.ready = False
        self.since = time.monotonic()


class CobrowseAnnouncer:
    """Session changes told to both sides' processes (the domain's ``announce``; each process's
    relay applies them to its own connections)."""

    def __init__(self, notifier: SocketNotifier) -> None:
        self.notifier = notifier

    async def announce(self, session: CobrowseSession) -> None:
        processes = await self.notifier.where(("visitor", session.visitor_id), ("agent", session.agent_id))
        await self.notifier.send(processes, CobrowseStateEnvelope(session))


class CobrowseRelay:
    def __init__(self, sio: ChatSocketServer, notifier: SocketNotifier, connections: ConnectionRegistry,
                 settings: Settings, service: CobrowseService) -> None:
        self.sio = sio
        self.connections = connections
        self.settings = settings
        self.notifier = notifier
        self.service = service
        self._sessions: dict[str, tuple[CobrowseSession, float]] = {}
        self._ingest: dict[str, _Ingest] = {}
        self._watchers: dict[str, dict[str, _Watcher]] = {}
        self._agent_processes: dict[str, tuple[set[str], float]] = {}
        self._unsaved_bytes: dict[str, int] = {}
        self._pointer_buckets: dict[str, TokenBucket] = {}
        self._relayed_bytes = sio.metrics.cobrowse_bytes
        self.notifier.add_envelope_handler(CobrowseStateEnvelope, self._on_state)
        self.notifier.add_envelope_handler(CobrowseDataEnvelope, self._on_data)
        self.notifier.add_envelope_handler(CobrowseReplayEnvelope, self._on_replay)

    def visitor_handlers(self) -> dict[str, Handler]:
        return {
            C.EV_COBROWSE_STATUS: self._on_status,
            C.EV_COBROWSE_RESPOND: self._on_respond,
            C.EV_COBROWSE_CONTROL: self._on_control_answer,
            C.EV_COBROWSE_STOP: self._on_stop,
            C.EV_COBROWSE_EVENTS: self._on_events,
            C.EV_COBROWSE_ACTION_RESULT: self._on_action_result,
            C.EV_COBROWSE_PONG: self._on_pong,
        }

    def agent_handlers(self) -> dict[str, Handler]:
        return {
            C.EV_COBROWSE_REQUEST: self._on_request,
            C.EV_COBROWSE_JOIN: self._on_join,
            C.EV_COBROWSE_LEAVE: self._on_leave,
            C.EV_COBROWSE_STOP: self._on_stop,
            C.EV_COBROWSE_RESUME: self._on_resume,
            C.EV_COBROWSE_CONTROL_REQUEST: self._on_control_request,
            C.EV_COBROWSE_POINTER: self._on_pointer,
            C.EV_COBROWSE_SCROLL_TO: self._on_scroll_to,
            C.EV_COBROWSE_ACTION: self._on_action,
            C.EV_COBROWSE_PING: self._on_ping,
        }

    # -- session state ------------------------------------------------------------------------

    async def _on_state(self, envelope: CobrowseStateEnvelope) -> None:
        session = envelope.session
        self._remember(session)
        if session.status != CobrowseStatus.ACTIVE:
            self._ingest.pop(session.id, None)  # a resumed session starts from a fresh snapshot
        if not session.live:
            self._watchers.pop(session.id, None)
            unsaved = self._unsaved_bytes.pop(session.id, 0)
            if unsaved:
                await self.service.store.add_bytes({session.id: unsaved})
        await self.sio.lean_emit(C.EV_COBROWSE_UPDATED, {"session": session_view(session, PartyKind.VISITOR)},
                                     room=C.visitor_room(session.visitor_id), namespace=C.VISITOR_NAMESPACE)
        await self.sio.lean_emit(C.EV_COBROWSE_UPDATED, {"session": session_view(session, PartyKind.AGENT)},
                                     room=C.agent_room(session.agent_id), namespace=C.AGENT_NAMESPACE)

    def _remember(self, session: CobrowseSession) -> None:
        if session.live:
            self._sessions[session.id] = (session, time.monotonic())
        else:
            self._sessions.pop(session.id, None)

    async def _cached(self, session_id: str) -> CobrowseSession | None:
        """The session's state for per-event checks: at most ``CACHE_SECONDS`` old, and changes
        made anywhere reach this process at once (``_on_state``)."""
        cached = self._sessions.get(session_id)
        if cached is not None and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        session = await self.service.store.get_session(session_id)
        if session is None or not session.live:
            self._sessions.pop(session_id, None)
            return session
        self._remember(session)
        return session

    async def _own_session(self, connection: Connection, session_id: str, *, need: CobrowseStatus | None = None,
                           ) -> CobrowseSession:
        """The live session if this connection's party takes part in it (the cached check)."""
        session = await self._cached(session_id)
        actor = connection.actor
        if session is None:
            raise NotFound("co-browse session not found")
        if actor.kind == PartyKind.VISITOR and session.visitor_id != actor.id:
            raise NotFound("co-browse session not found")
        if actor.kind == PartyKind.AGENT and session.agent_id != actor.id:
            raise Forbidden("this co-browse session is not yours")
        if need is not None and session.status != need:
            raise CobrowseStateError(f"the co-browse session is {session.status}",
                                     details={"status": str(session.status), "control": str(session.control)})
        return session

    # -- the shopper --------------------------------------------------------------------------

    async def _on_status(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowseStatusQuery, data)
        session = await self.service.live_for_conversation(connection.actor, payload.conversation_id)
        if session is not None and payload.new_page and session.status in (CobrowseStatus.ACTIVE,
                                                                            CobrowseStatus.PAUSED):
            self._ingest.pop(session.id, None)
            session = await self.service.new_page(connection.actor, session.id)
        if session is not None:
            self._remember(session)
        return {"session": session_view(session, PartyKind.VISITOR) if session else None,
                "resume_without_prompt": self.settings.cobrowse_resume_across_pages,
                "max_part_bytes": self.settings.cobrowse_max_part_bytes}

    async def _on_respond(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowseAnswer, data)
        session = await self.service.respond(connection.actor, payload.session_id, payload.accept)
        # The page starts sending once it accepted: it splits its batches by this.
        return {"session": session_view(session, PartyKind.VISITOR),
                "max_part_bytes": self.settings.cobrowse_max_part_bytes}

    async def _on_control_answer(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowseControlAnswer, data)
        session = await self.service.respond_control(connection.actor, payload.session_id, payload.grant)
        return {"session": session_view(session, PartyKind.VISITOR)}

    async def _on_stop(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowseRef, data)
        session = await self.service.stop(connection.actor, payload.session_id)
        return {"session": session_view(session, connection.actor.kind)}

    async def _on_events(self, connection: Connection, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get("data"), bytes):
            raise InvalidPayload("data must be a binary attachment")
        payload = S.parse(S.CobrowseEvents, data)
        size = len(payload.data)
        if size > self.settings.cobrowse_max_part_bytes:
            raise PayloadTooLarge(f"a part of a batch is limited to {self.settings.cobrowse_max_part_bytes} bytes; "
                                  "split it", details={"max_part_bytes": self.settings.cobrowse_max_part_bytes})
        if payload.part >= payload.parts:
            raise InvalidPayload("part must be below parts")
        session = await self._own_session(connection, payload.session_id, need=CobrowseStatus.ACTIVE)
        ingest = self._ingest.get(session.id)
        if ingest is None:
            ingest = self._ingest[session.id] = _Ingest(self.settings)
        if not ingest.batches.take() or not ingest.bytes.take_many(size):
            await self._pause(session, REASON_RATE)
            raise RateLimited("co-browsing paused: the page sends more than the session allows")
        header: dict[str, Any] = {"session_id": session.id, "seq": payload.seq, "snapshot": payload.snapshot,
                                  "part": payload.part, "parts": payload.parts, "t": payload.t}
        async with ingest.lock:
            snapshot_bytes = self._buffer(ingest, header, payload.data)
            too_large = (snapshot_bytes > self.settings.cobrowse_max_snapshot_bytes
                         or ingest.buffered > 2 * self.settings.cobrowse_max_buffer_bytes)
            if not too_large:
                await self._relay(session, header, payload.data)
        if too_large:
            await self._pause(session, REASON_TOO_LARGE)
            raise PayloadTooLarge("co-browsing paused: the page is larger than the session allows")
        limit = self.settings.cobrowse_max_buffer_bytes
        if ingest.buffered > limit and ingest.since_snapshot >= limit // 2 and not ingest.snapshot_asked:
            # A fresh snapshot replaces what has piled up since the last one: asked for once the
            # batches since make up half the limit at least. (A page whose snapshot alone came near
            # the limit was otherwise asked for one after every batch, each answer leading to the
            # next, until the session was paused as rate_limited.)
            ingest.snapshot_asked = True
            await self.sio.lean_emit(C.EV_COBROWSE_SNAPSHOT, {"session_id": session.id}, room=connection.sid,
                                         namespace=C.VISITOR_NAMESPACE)
        self._unsaved_bytes[session.id] = self._unsaved_bytes.get(session.id, 0) + size
        return {"seq": payload.seq}

    def _buffer(self, ingest: _Ingest, header: dict[str, Any], data: bytes) -> int:
        """Keep the batch for late joiners; returns the size of the snapshot it is part of (0
        for an incremental batch)."""
        if header["snapshot"]:
            if header["part"] == 0:
                ingest.pending, ingest.pending_bytes = [], 0
            elif ingest.pending is None or len(ingest.pending) != header["part"]:
                raise InvalidPayload("snapshot parts must arrive in order, from part 0")
            assert ingest.pending is not None
            ingest.pending.append((header, data))
            ingest.pending_bytes += len(data)
            size = ingest.pending_bytes
            if header["part"] == header["parts"] - 1:
                ingest.buffer, ingest.buffered = ingest.pending, ingest.pending_bytes
                ingest.pending, ingest.pending_bytes = None, 0
                ingest.since_snapshot = 0
                ingest.snapshot_asked = False
            return size
        if ingest.pending is not None:
            raise InvalidPayload("send the rest of the snapshot first")
        if ingest.buffer:  # before the first snapshot there is nothing to replay a batch onto
            ingest.buffer.append((header, data))
            ingest.buffered += len(data)
            ingest.since_snapshot += len(data)
        return 0

    async def _pause(self, session: CobrowseSession, reason: str) -> None:
        self._ingest.pop(session.id, None)
        paused = await self.service.pause(session.id, reason)
        if paused is not None:
            log.info("cobrowse paused session=%s reason=%s", session.id, reason)

    async def _relay(self, session: CobrowseSession, header: dict[str, Any], data: bytes) -> None:
        processes = await self._processes_of_agent(session)
        if processes:
            await self.notifier.send(processes, CobrowseDataEnvelope(session.id, header, data))

    async def _processes_of_agent(self, session: CobrowseSession) -> set[str]:
        cached = self._agent_processes.get(session.id)
        if cached is not None and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        processes = await self.notifier.where(("agent", session.agent_id))
        self._agent_processes[session.id] = (processes, time.monotonic())
        return processes

    async def _to_agent(self, connection: Connection, event: str, session_id: str, data: dict[str, Any]) -> None:
        session = await self._own_session(connection, session_id)
        if session.status not in (CobrowseStatus.ACTIVE, CobrowseStatus.PAUSED):
            raise CobrowseStateError(f"the co-browse session is {session.status}",
                                     details={"status": str(session.status), "control": str(session.control)})
        await self.notifier.to_agent(session.agent_id, event, data)

    async def _on_action_result(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowseActionResult, data)
        await self._to_agent(connection, C.EV_COBROWSE_ACTION_RESULT, payload.session_id, {
            "session_id": payload.session_id, "action_id": payload.action_id, "ok": payload.ok,
            "reason": payload.reason})
        return {}

    async def _on_pong(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowsePing, data)
        await self._to_agent(connection, C.EV_COBROWSE_PONG, payload.session_id,
                             {"session_id": payload.session_id, "t": payload.t})
        return {}

    # -- the agent ----------------------------------------------------------------------------

    async def _on_request(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowseRequest, data)
        session = await self.service.request(connection.actor, payload.conversation_id)
        return {"session": session_view(session, PartyKind.AGENT)}

    async def _on_resume(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowseRef, data)
        session = await self.service.resume(connection.actor, payload.session_id)
        return {"session": session_view(session, PartyKind.AGENT)}

    async def _on_control_request(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowseRef, data)
        session = await self.service.request_control(connection.actor, payload.session_id)
        return {"session": session_view(session, PartyKind.AGENT)}

    async def _on_join(self, connection: Connection, data: Any) -> dict[str, Any]:
        """Start watching: the current page (the buffered snapshot and what followed) comes
        first as ``cobrowse:events``, then the live batches."""
        payload = S.parse(S.CobrowseRef, data)
        session = await self.service.session_for(connection.actor, payload.session_id)
        if not session.live:
            raise CobrowseStateError(f"the co-browse session is {session.status}",
                                     details={"status": str(session.status), "control": str(session.control)})
        self._remember(session)
        watchers = self._watchers.setdefault(session.id, {})
        watcher = watchers.get(connection.sid)
        if watcher is None:
            watcher = watchers[connection.sid] = _Watcher(await self.service.watch_started(connection.actor,
                                                                                           session))
        else:
            watcher.ready, watcher.since = False, time.monotonic()
        processes = await self.notifier.where(("visitor", session.visitor_id))
        if processes and session.status == CobrowseStatus.ACTIVE:
            await self.notifier.send(processes, CobrowseReplayEnvelope(session.id, self.notifier.bus.process_id,
                                                                       connection.sid))
        else:
            watcher.ready = True
        return {"session": session_view(session, PartyKind.AGENT)}

    async def _on_leave(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowseRef, data)
        await self._own_session(connection, payload.session_id)  # anyone else's: not_found or forbidden
        watcher = self._watchers.get(payload.session_id, {}).pop(connection.sid, None)
        if watcher is not None:
            await self.service.watch_ended(watcher.view_id)
        return {}

    async def _on_pointer(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowsePointer, data)
        bucket = self._pointer_buckets.get(connection.sid)
        if bucket is None:
            bucket = self._pointer_buckets[connection.sid] = TokenBucket(self.settings.cobrowse_pointer_rate,
                                                                         int(self.settings.cobrowse_pointer_rate * 2))
        if not bucket.take():
            raise RateLimited("too many pointer events; slow down")
        session = await self._own_session(connection, payload.session_id, need=CobrowseStatus.ACTIVE)
        await self.notifier.to_visitor(session.visitor_id, C.EV_COBROWSE_POINTER, {
            "session_id": session.id, "x": payload.x, "y": payload.y, "click": payload.click})
        return {}

    async def _on_scroll_to(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowseScrollTo, data)
        session = await self._own_session(connection, payload.session_id, need=CobrowseStatus.ACTIVE)
        await self.notifier.to_visitor(session.visitor_id, C.EV_COBROWSE_SCROLL_TO,
                                       {"session_id": session.id, "node_id": payload.node_id})
        return {}

    async def _on_action(self, connection: Connection, data: Any) -> dict[str, Any]:
        """A click or typed value for the shopper's page: only while the shopper lets the agent
        control it. (The shopper's page refuses sensitive and blocked fields itself.)"""
        payload = S.parse(S.CobrowseAction, data)
        if payload.kind == "input" and payload.value is None:
            raise InvalidPayload("an input action needs a value")
        session = await self._own_session(connection, payload.session_id, need=CobrowseStatus.ACTIVE)
        if session.control != ControlState.GRANTED:
            # Refetched: a grant made a moment ago may not have reached this cache yet.
            session = await self.service.session_for(connection.actor, payload.session_id)
            self._remember(session)
            if session.control != ControlState.GRANTED or session.status != CobrowseStatus.ACTIVE:
                raise ControlNotGranted("the shopper has not let you control their page")
        await self.notifier.to_visitor(session.visitor_id, C.EV_COBROWSE_ACTION, {
            "session_id": session.id, "action_id": payload.action_id, "kind": payload.kind,
            "node_id": payload.node_id, "value": payload.value})
        return {}

    async def _on_ping(self, connection: Connection, data: Any) -> dict[str, Any]:
        payload = S.parse(S.CobrowsePing, data)
        session = await self._own_session(connection, payload.session_id)
        await self.notifier.to_visitor(session.visitor_id, C.EV_COBROWSE_PING,
                                       {"session_id": session.id, "t": payload.t})
        return {}

    # -- between processes --------------------------------------------------------------------

    async def _on_data(self, envelope: CobrowseDataEnvelope) -> None:
        watchers = self._watchers.get(envelope.session_id)
        if not watchers:
            return
        if envelope.to_sid is not None:
            watcher = watchers.get(envelope.to_sid)
            if watcher is None:
                return
            if envelope.replay_end:
                watcher.ready = True
            else:
                await self._emit_batch(envelope.to_sid, envelope.header, envelope.data)
            return
        now = time.monotonic()
        for sid, watcher in list(watchers.items()):
            if not watcher.ready and now - watcher.since > REPLAY_WAIT:
                watcher.ready = True
            if watcher.ready:
                await self._emit_batch(sid, envelope.header, envelope.data)

    def sessions_here(self) -> int:
        """How many sessions' pages this process receives from their shoppers."""
        return len(self._ingest)

    async def _emit_batch(self, sid: str, header: dict[str, Any], data: bytes) -> None:
        self._relayed_bytes.inc(len(data))
        await self.sio.lean_emit_binary(C.EV_COBROWSE_EVENTS, header, data, namespace=C.AGENT_NAMESPACE, sid=sid)

    async def _on_replay(self, envelope: CobrowseReplayEnvelope) -> None:
        """Send one new watcher (in ``envelope.process_id``) the buffered page, then mark its end."""
        target = {envelope.process_id}
        cached = self._agent_processes.get(envelope.session_id)
        if cached is not None:  # that process holds a watcher now: live batches go there too
            cached[0].add(envelope.process_id)
        ingest = self._ingest.get(envelope.session_id)
        if ingest is None or not ingest.buffer:
            session = self._sessions.get(envelope.session_id)
            if session is not None:
                # Nothing to show yet (the page is loading, or another process had it): ask
                # the shopper's page for a fresh snapshot.
                await self.sio.lean_emit(C.EV_COBROWSE_SNAPSHOT, {"session_id": envelope.session_id},
                                             room=C.visitor_room(session[0].visitor_id),
                                             namespace=C.VISITOR_NAMESPACE)
            await self.notifier.send(target, CobrowseDataEnvelope(envelope.session_id, {}, b"",
                                                                  to_sid=envelope.sid, replay_end=True))
            return
        async with ingest.lock:
            for header, data in ingest.buffer:
                await self.notifier.send(target, CobrowseDataEnvelope(envelope.session_id, header, data,
                                                                      to_sid=envelope.sid))
            await self.notifier.send(target, CobrowseDataEnvelope(envelope.session_id, {}, b"", to_sid=envelope.sid,
                                                                  replay_end=True))

    # -- connections and upkeep ---------------------------------------------------------------

    async def connection_closed(self, connection: Connection) -> None:
        """A connection here closed (``ConnectionLifecycle``'s disconnect hook)."""
        actor = connection.actor
        self._pointer_buckets.pop(connection.sid, None)
        if actor.kind == PartyKind.AGENT:
            for session_id, watchers in list(self._watchers.items()):
                watcher = watchers.pop(connection.sid, None)
                if watcher is not None:
                    await self.service.watch_ended(watcher.view_id)
                if not watchers:
                    self._watchers.pop(session_id, None)
            return
        if self.connections.is_local("visitor", actor.id):
            return
        # The shopper left this process (a new page may come through another one): what was
        # buffered here is stale.
        for session_id, (session, _) in list(self._sessions.items()):
            if session.visitor_id == actor.id:
                self._ingest.pop(session_id, None)

    async def upkeep(self) -> None:
        """Periodic: store relayed byte counts, expire unanswered requests, end sessions whose
        shopper is gone, forget stale cache entries."""
        counts, self._unsaved_bytes = self._unsaved_bytes, {}
        if counts:
            await self.service.store.add_bytes(counts)
        await self.service.sweep(self._visitor_connected, self.settings.cobrowse_visitor_away_timeout)
        now = time.monotonic()
        for cache in (self._agent_processes,):
            for key in [k for k, (_, at) in cache.items() if now - at > 60]:
                del cache[key]
        for session_id in [s for s, (_, at) in self._sessions.items() if now - at > 60]:
            if session_id not in self._ingest and session_id not in self._watchers:
                del self._sessions[session_id]

    async def _visitor_connected(self, visitor_id: str) -> bool:
        return bool(await self.notifier.where(("visitor", visitor_id)))
