"""The python-socketio server, with these additions:

- every packet a client sends is decoded and checked by our own decoder (``sio_packets.py``):
  python-socketio's is never reached. A malformed packet is answered where the client can hear
  it (a CONNECT with ``CONNECT_ERROR``, an event with its ack or an ``error`` event) and the
  connection serves on; one that leaves nothing to answer on (a namespace the client is not
  connected to, a packet type a client never sends, a binary message that follows no binary
  packet) closes the connection. Binary packets are bounded (``max_binary_attachments``, and
  ``max_http_buffer_size`` bytes of attachments) and checked on their header;
- a client's events go to the namespace's catch-all handler whatever their names (a client can
  send an event named "connect"; python-socketio would hand it to the connect handler);
- the catch-all handler answers with the acknowledgement's value or a ``ChatError``; an error
  goes back as the ack when the client asked for one and as an ``error`` event when it did not;
- WebSockets without permessage-deflate, and Engine.IO sockets that write straight to their
  WebSocket (``engineio_socket.py``): no per-connection zlib state, writer task or queue;
- ``route_name``: the Engine.IO session ids it issues start with ``<route_name>-``;
- ``lean_emit``: the emit path for our traffic. python-socketio's ``emit`` creates one asyncio
  task per recipient and encodes with the standard ``json`` module; this encodes the packet once
  with msgspec and hands it straight to each recipient's Engine.IO socket, on the same
  Socket.IO v4 wire format (with its defaults python-socketio relayed about a fifth of a Node
  socket.io relay's messages/s, its cost in those per-recipient tasks, packet objects and queues);
- what it handles is counted (metrics.py): packets refused by code here, each event and refusal by
  the dispatcher (dispatch.py), and a message's latency from its arrival to its acknowledgement
  (and, in notifier.py, to its commit).
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from typing import Any

import msgspec
import socketio
from engineio import async_socket as engineio_async_socket
from engineio import packet as eio_packet

from .. import constants as C
from ..errors import ChatError, Conflict, NotFound
from ..logs import ThrottledLog, field
from ..metrics import Metrics
from .engineio_socket import LeanSocket, use_uncompressed_websockets
from .sio_packets import Attachments, Packet, PacketType, Refusal, binary_parts, decode

log = logging.getLogger("chatserver.transport")

_json = msgspec.json.Encoder()
# When the client event being handled arrived (``time.perf_counter()``), for the parts its
# handler calls that time what follows (notifier.py: a message committed). Handlers run inline
# in the task that received the event, so each sees its own.
EVENT_RECEIVED_AT: ContextVar[float | None] = ContextVar("event_received_at", default=None)


def connect_refusal(error: ChatError) -> dict[str, Any]:
    """A CONNECT_ERROR's payload: python-socketio clients see the whole object, socket.io-client
    exposes ``err.message`` and ``err.data``."""
    return {"message": error.message, "code": error.code, "data": {"code": error.code, "message": error.message}}


class ChatSocketServer(socketio.AsyncServer):  # type: ignore[misc]
    def __init__(self, *, max_unsent_bytes: int, max_binary_attachments: int, metrics: Metrics | None = None,
                 route_name: str = "",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics or Metrics()
        self._message_acks = self.metrics.message_ack
        self._messages = self.metrics.messages
        use_uncompressed_websockets(self.eio, max_unsent_bytes=max_unsent_bytes)
        if route_name:
            # Every session id this process issues starts with its name: a load balancer sends each
            # request of a long-polling session by it to this process (docs/operations.md). A sid
            # of another process's name is an unknown session here, as any other.
            issue = self.eio.generate_id
            self.eio.generate_id = lambda: f"{route_name}-{issue()}"
        self.max_binary_attachments = max_binary_attachments
        # Refused packets and events: a line each, but no more than a flood of them can fill a disk.
        self.refusal_log = ThrottledLog(log)
        # Connections whose binary packet's attachments are arriving (or being dropped).
        self._attachments: dict[str, Attachments] = {}

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        # python-engineio has just made the connection's socket (and queued its OPEN packet);
        # from here on it is a LeanSocket (engineio_socket.py): same behaviour, no writer task.
        socket = self.eio.sockets.get(eio_sid)
        if type(socket) is engineio_async_socket.AsyncSocket:
            socket.__class__ = LeanSocket
            socket.connect_environ = environ
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self._attachments.pop(eio_sid, None)
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        pending = self._attachments.get(eio_sid)
        result: Packet | Attachments | Refusal | None
        if isinstance(data, str):
            if pending is not None:  # the attachments did not follow their packet
                del self._attachments[eio_sid]
                abandoned = pending.abandon()
                if abandoned is not None:
                    await self._refuse(eio_sid, abandoned)
            result = decode(data, max_attachments=self.max_binary_attachments,
                            max_bytes=self.eio.max_http_buffer_size)
            if type(result) is Attachments:
                if not self._connected(eio_sid, result.namespace or "/"):
                    # Binary packets only from connected clients: nothing is buffered for others.
                    await self._close(eio_sid, "a binary packet for a namespace it is not connected to")
                    return
                self._attachments[eio_sid] = result
                return
        elif pending is None:
            await self._close(eio_sid, "a binary message that follows no binary packet")
            return
        else:
            result = pending.add(data)
            if pending.done:
                del self._attachments[eio_sid]
        if type(result) is Packet:
            await self._dispatch(eio_sid, result)
        elif type(result) is Refusal:
            await self._refuse(eio_sid, result)

    async def _dispatch(self, eio_sid: str, packet: Packet) -> None:
        kind, namespace = packet.type, packet.namespace
        if kind is PacketType.CONNECT:
            if namespace not in self.handlers:
                await self._refuse(eio_sid, Refusal(NotFound("no such namespace"), kind, namespace))
            elif self.manager.sid_from_eio_sid(eio_sid, namespace) is not None:
                await self._refuse(eio_sid, Refusal(Conflict("already connected to this namespace"), kind, namespace))
            else:
                await self._handle_connect(eio_sid, namespace, packet.data)
            return
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not self.manager.is_connected(sid, namespace):  # (_connected, keeping the sid)
            # Nothing the client could hear an answer on; a DISCONNECT of it is what it wants.
            if kind is not PacketType.DISCONNECT:
                await self._close(eio_sid, "a packet for a namespace it is not connected to")
            return
        if kind is PacketType.DISCONNECT:
            await self._handle_disconnect(eio_sid, namespace, self.reason.CLIENT_DISCONNECT)
        elif kind is PacketType.EVENT or kind is PacketType.BINARY_EVENT:
            await self._handle_event(eio_sid, namespace, packet.id, packet.data, sid)
        else:
            await self._handle_ack(eio_sid, namespace, packet.id, packet.data)

    def _connected(self, eio_sid: str, namespace: str) -> bool:
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        return sid is not None and bool(self.manager.is_connected(sid, namespace))

    async def _refuse(self, eio_sid: str, refusal: Refusal) -> None:
        """Answer a packet that is not acted on where the client can hear it, or close."""
        kind, namespace = refusal.type, refusal.namespace
        self.metrics.refusal(refusal.error.code).inc()
        self.refusal_log.info("packet refused type=%s namespace=%s eio_sid=%s code=%s",
                              kind.name if kind is not None else "-", field(namespace), eio_sid, refusal.error.code)
        if refusal.attachments:
            self._attachments[eio_sid] = Attachments.dropping(refusal.attachments)
        if kind is PacketType.CONNECT:
            await self.send_text(eio_sid, _head("4", namespace) + _encode(connect_refusal(refusal.error)))
        elif kind is None or not self._connected(eio_sid, namespace):
            await self._close(eio_sid, "a packet that cannot be answered")
        else:
            asked = refusal.id if kind is PacketType.EVENT or kind is PacketType.BINARY_EVENT else None
            await self._send_error(eio_sid, namespace, asked, refusal.error, refusal.event)

    async def _close(self, eio_sid: str, reason: str) -> None:
        """End the Engine.IO connection: its CLOSE packet, then the transport is closed."""
        socket = self.eio.sockets.get(eio_sid)
        if socket is None or socket.closed:
            return
        log.info("connection closed eio_sid=%s reason=%s", eio_sid, field(reason))
        # Without waiting for a polling client to fetch the CLOSE packet (one that never polls
        # again would hold this request forever).
        await socket.close(wait=False, reason=self.eio.reason.SERVER_DISCONNECT)

    async def _handle_event(self, eio_sid: str, namespace: str, id: int | None, data: list[Any],
                            sid: str | None = None) -> None:
        # A client's event goes to the namespace's catch-all handler whatever its name: python-
        # socketio would hand one named "connect" or "disconnect" (names socket.io-client refuses
        # to emit, but any client can send) to the connect or disconnect handler, with the
        # client's arguments. (Every namespace a client can connect to has one.) ``sid``: the
        # connection's Socket.IO sid, when the caller has looked it up already.
        handler = self.handlers[namespace]["*"]
        if sid is None:
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        event = data[0]
        received = time.perf_counter()
        token = EVENT_RECEIVED_AT.set(received)
        try:
            answer = await handler(event, sid, *data[1:])
        finally:
            EVENT_RECEIVED_AT.reset(token)
        if isinstance(answer, ChatError):
            await self._send_error(eio_sid, namespace, id, answer, event)
            return
        if id is not None:
            await self._send_ack(eio_sid, namespace, id, answer)
        if event == C.EV_MESSAGE_SEND:
            self._messages.inc()
            if id is not None:
                self._message_acks.observe(time.perf_counter() - received)

    async def _send_error(self, eio_sid: str, namespace: str, id: int | None, error: ChatError, event: str) -> None:
        """Answer a refused event (or packet): as its ack when the client asked for one, else as
        an ``error`` event naming it (its first 64 characters; ``""`` when it has none)."""
        if id is not None:
            await self._send_ack(eio_sid, namespace, id, error.to_payload())
            return
        payload = {**error.to_payload(), "event": event[:64]}
        await self.send_text(eio_sid, _head("2", namespace) + _encode([C.EV_ERROR, payload]))

    async def _send_ack(self, eio_sid: str, namespace: str, id: int, answer: Any) -> None:
        # The ACK packet, encoded by msgspec and written straight to the socket; a BINARY_ACK when
        # the answer holds bytes (msgspec would write them as base64 text).
        args = [] if answer is None else list(answer) if isinstance(answer, tuple) else [answer]
        args, attachments = binary_parts(args)
        if not attachments:
            text = f"{_head('3', namespace)}{id}{_encode(args)}"
            if not self.write_text(eio_sid, text):
                await self.send_text(eio_sid, text)
            return
        head = _head(f"6{len(attachments)}-", namespace)
        await self._send_binary(self.eio.sockets.get(eio_sid), f"{head}{id}{_encode(args)}", attachments)

    async def send_text(self, eio_sid: str, text: str) -> None:
        """Send an encoded Socket.IO packet to one Engine.IO socket."""
        socket = self.eio.sockets.get(eio_sid)
        if socket is None or socket.closed:
            return
        if type(socket) is LeanSocket:
            await socket.send_message(text)
        else:
            await socket.send(eio_packet.Packet(eio_packet.MESSAGE, data=text))

    def write_text(self, eio_sid: str, text: str) -> bool:
        """``send_text`` without suspending, where it can be (a WebSocket on the direct path, or
        a socket that is gone); ``False``, with nothing done, when ``send_text`` must send it.
        (The frames of a message go out without a coroutine per frame.)"""
        socket = self.eio.sockets.get(eio_sid)
        if socket is None or socket.closed:
            return True
        return type(socket) is LeanSocket and socket.write_message(text)

    async def lean_emit(self, event: str, data: Any, *, namespace: str, room: str) -> None:
        """Emit ``event`` to every connection in ``room`` (a room name or a sid) of this process."""
        if namespace not in self.manager.rooms:
            return
        recipients = [eio_sid for _, eio_sid in self.manager.get_participants(namespace, room)]
        if not recipients:
            return
        text = _event_packet(event, data, namespace)
        for eio_sid in recipients:
            if not self.write_text(eio_sid, text):
                await self.send_text(eio_sid, text)

    def emit_now(self, event: str, data: Any, sid: str, namespace: str) -> bool:
        """Emit ``event`` to the connection ``sid`` without suspending, where it can be (see
        ``write_text``); ``False``, with nothing done, when ``emit_to`` must emit it."""
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        return eio_sid is None or self.write_text(eio_sid, _event_packet(event, data, namespace))

    async def emit_to(self, event: str, data: Any, sid: str, namespace: str) -> None:
        """Emit ``event`` to the connection ``sid`` (what ``lean_emit`` to the room ``sid`` does,
        without python-socketio's room look-up)."""
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid is not None:
            await self.send_text(eio_sid, _event_packet(event, data, namespace))

    async def lean_emit_binary(self, event: str, data: dict[str, Any], attachment: bytes, *, namespace: str,
                               sid: str) -> None:
        """Emit ``event`` with one binary attachment (``data["data"]``) to one connection, as a
        Socket.IO v4 BINARY_EVENT: the JSON header with a placeholder, then the bytes in a binary
        frame (clients see an ArrayBuffer, python-socketio clients ``bytes``)."""
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid is None:
            return
        header = {**data, "data": {"_placeholder": True, "num": 0}}
        text = _head("51-", namespace) + _json.encode([event, header]).decode()
        await self._send_binary(self.eio.sockets.get(eio_sid), text, [attachment])

    @staticmethod
    async def _send_binary(socket: Any, text: str, attachments: list[bytes]) -> None:
        """A binary packet: its text, then each attachment in a binary message, with nothing of
        the socket's other traffic between them (a LeanSocket on its WebSocket writes them in one
        write; polling queues each packet without a pause)."""
        if socket is None or socket.closed:
            return
        if type(socket) is LeanSocket:
            await socket.send_binary_message(text, attachments)
            return
        await socket.send(eio_packet.Packet(eio_packet.MESSAGE, text))
        for attachment in attachments:
            await socket.send(eio_packet.Packet(eio_packet.MESSAGE, attachment))


def _head(packet_type: str, namespace: str) -> str:
    """A packet's type and namespace as the wire has them (the main namespace ``/`` is left out)."""
    return packet_type if namespace == "/" else f"{packet_type}{namespace},"


def _event_packet(event: str, data: Any, namespace: str) -> str:
    # Socket.IO v4 EVENT packet: type 2, the namespace, then the JSON array [event, data].
    return f"2{namespace}," + _encode([event, data])


def _encode(data: Any) -> str:
    try:
        return _json.encode(data).decode()
    except (TypeError, UnicodeEncodeError):  # what msgspec refuses (a lone surrogate): as the stock path
        return json.dumps(data, separators=(",", ":"))
