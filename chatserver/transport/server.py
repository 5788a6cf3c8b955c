"""The python-socketio server, with these additions:

- a client's events go to the namespace's catch-all handler whatever their names (a client can
  send an event named "connect"; python-socketio would hand it to the connect handler);
- the catch-all handler answers with the acknowledgement's value or a ``ChatError``; an error
  goes back as the ack when the client asked for one and as an ``error`` event when it did not;
- WebSockets without permessage-deflate, and Engine.IO sockets that write straight to their
  WebSocket (``websocket.py``): no per-connection zlib state, writer task or queue;
- ``lean_emit``: the emit path for our traffic. python-socketio's ``emit`` creates one asyncio
  task per recipient and encodes with the standard ``json`` module; this encodes the packet once
  with msgspec and hands it straight to each recipient's Engine.IO socket, on the same
  Socket.IO v4 wire format (see ../shared/NOTES.md for what the stock path costs).
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import socketio
from engineio import async_socket as engineio_async_socket
from engineio import packet as eio_packet

from .. import constants as C
from ..errors import ChatError
from .websocket import LeanSocket, use_uncompressed_websockets

# The event name an EVENT packet whose JSON cannot be decoded is handled as.
UNDECODABLE_EVENT = "\x00undecodable"

_json = msgspec.json.Encoder()
_decode = msgspec.json.Decoder().decode


class ChatSocketServer(socketio.AsyncServer):  # type: ignore[misc]
    def __init__(self, *, max_unsent_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        use_uncompressed_websockets(self.eio, max_unsent_bytes=max_unsent_bytes)

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        # python-engineio has just made the connection's socket (and queued its OPEN packet);
        # from here on it is a LeanSocket (websocket.py): same behaviour, no writer task.
        socket = self.eio.sockets.get(eio_sid)
        if type(socket) is engineio_async_socket.AsyncSocket:
            socket.__class__ = LeanSocket
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        # An EVENT packet ("2/namespace,ID[...]") is parsed here with msgspec, as strict JSON;
        # anything else goes the stock way, which decides as before.
        if type(data) is str and data[:1] == "2" and eio_sid not in self._binary_packet:
            parsed = _parse_event(data)
            if parsed is not None:
                namespace, id, args = parsed
                await self._handle_event(eio_sid, namespace, id, args)
                return
        await super()._handle_eio_message(eio_sid, data)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        # A client's event goes to the namespace's catch-all handler whatever its name: python-
        # socketio would hand one named "connect" or "disconnect" (names socket.io-client refuses
        # to emit, but any client can send) to the connect or disconnect handler, with the
        # client's arguments. Namespaces without a catch-all go the stock way.
        namespace = namespace or "/"
        handler = self.handlers.get(namespace, {}).get("*")
        if handler is None:
            await super()._handle_event(eio_sid, namespace, id, data)
            return
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not self.manager.is_connected(sid, namespace):
            return  # not (or no longer) connected to the namespace: dropped, as python-socketio does
        answer = await handler(data[0] if data else None, sid, *data[1:])
        if isinstance(answer, ChatError):
            await self._send_error(eio_sid, namespace, id, answer, data[0] if data else "")
        elif id is not None:
            await self._send_ack(eio_sid, namespace, id, answer)

    async def _send_error(self, eio_sid: str, namespace: str, id: int | None, error: ChatError, event: Any) -> None:
        """Answer a refused event: as its ack when the client asked for one, else as an ``error``
        event naming it (its first 64 characters; ``""`` for a name that is no string)."""
        if id is not None:
            await self._send_ack(eio_sid, namespace, id, error.to_payload())
            return
        name = event[:64] if isinstance(event, str) else ""
        payload = {**error.to_payload(), "event": name}
        await self.send_text(eio_sid, _head("2", namespace) + _encode([C.EV_ERROR, payload]))

    async def _send_ack(self, eio_sid: str, namespace: str, id: int, answer: Any) -> None:
        # The ACK packet, encoded by msgspec and written straight to the socket. (Our handlers
        # answer JSON data only: no binary attachments.)
        args = [] if answer is None else list(answer) if isinstance(answer, tuple) else [answer]
        await self.send_text(eio_sid, f"{_head('3', namespace)}{id}{_encode(args)}")

    async def send_text(self, eio_sid: str, text: str) -> None:
        """Send an encoded Socket.IO packet to one Engine.IO socket."""
        socket = self.eio.sockets.get(eio_sid)
        if socket is None or socket.closed:
            return
        if type(socket) is LeanSocket:
            await socket.send_message(text)
        else:
            await socket.send(eio_packet.Packet(eio_packet.MESSAGE, data=text))

    async def lean_emit(self, event: str, data: Any, *, namespace: str, room: str) -> None:
        """Emit ``event`` to every connection in ``room`` (a room name or a sid) of this process."""
        if namespace not in self.manager.rooms:
            return
        recipients = [eio_sid for _, eio_sid in self.manager.get_participants(namespace, room)]
        if not recipients:
            return
        # Socket.IO v4 EVENT packet: type 2, the namespace, then the JSON array [event, data].
        text = f"2{namespace}," + _encode([event, data])
        for eio_sid in recipients:
            await self.send_text(eio_sid, text)

    async def lean_emit_binary(self, event: str, data: dict[str, Any], attachment: bytes, *, namespace: str,
                               sid: str) -> None:
        """Emit ``event`` with one binary attachment (``data["data"]``) to one connection, as a
        Socket.IO v4 BINARY_EVENT: the JSON header with a placeholder, then the bytes in a binary
        frame (clients see an ArrayBuffer, python-socketio clients ``bytes``)."""
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        if eio_sid is None:
            return
        socket = self.eio.sockets.get(eio_sid)
        if socket is None or socket.closed:
            return
        header = {**data, "data": {"_placeholder": True, "num": 0}}
        text = f"51-{namespace}," + _json.encode([event, header]).decode()
        packets = [eio_packet.Packet(eio_packet.MESSAGE, text), eio_packet.Packet(eio_packet.MESSAGE, attachment)]
        if isinstance(socket, LeanSocket):
            await socket.send_sequence(packets)
        else:
            for pkt in packets:
                await socket.send(pkt)


def _head(packet_type: str, namespace: str) -> str:
    """A packet's type and namespace as the wire has them (the main namespace ``/`` is left out)."""
    return packet_type if namespace == "/" else f"{packet_type}{namespace},"


def _encode(data: Any) -> str:
    try:
        return _json.encode(data).decode()
    except (TypeError, UnicodeEncodeError):  # what msgspec refuses (a lone surrogate): as the stock path
        return json.dumps(data, separators=(",", ":"))


# "2/namespace,ID": a namespace with no query and an ack id of at most 100 (ASCII) digits; the
# digits end where the JSON begins.
_EVENT_HEAD = re.compile(r"2(/[^,?]*),([0-9]{0,100})(?![0-9])")


def _parse_event(data: str) -> tuple[str, int | None, list[Any]] | None:
    """``(namespace, ack id, [event, *args])`` of an encoded EVENT packet, or ``None`` to leave it
    to python-socketio's parser (no namespace, attachments, an array that is no event)."""
    head = _EVENT_HEAD.match(data)
    if head is None:
        return None
    namespace, digits = head.group(1, 2)
    id = int(digits) if digits else None
    try:
        args = _decode(data[head.end():])
    except msgspec.DecodeError:
        # Not strict JSON (NaN, a lone surrogate that no storage takes, ...): refused by the
        # event handler as an event of its own, with the packet's ack id.
        return namespace, id, [UNDECODABLE_EVENT]
    if type(args) is not list or not args or type(args[0]) is not str:
        return None
    return namespace, id, args
