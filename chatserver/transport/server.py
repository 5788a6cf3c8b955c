"""The python-socketio server, with two additions:

- it knows whether the client asked for an acknowledgement, so an error goes back as the ack
  when there is one and as an ``error`` event when there is none;
- WebSockets without permessage-deflate, and Engine.IO sockets that write straight to their
  WebSocket (``websocket.py``): no per-connection zlib state, writer task or queue;
- ``lean_emit``: the emit path for our traffic. python-socketio's ``emit`` creates one asyncio
  task per recipient and encodes with the standard ``json`` module; this encodes the packet once
  with msgspec and hands it straight to each recipient's Engine.IO socket, on the same
  Socket.IO v4 wire format (see ../shared/NOTES.md for what the stock path costs).
"""

from __future__ import annotations

import contextvars
from typing import Any

import msgspec
import socketio
from engineio import async_socket as engineio_async_socket
from engineio import packet as eio_packet

from .websocket import LeanSocket, use_uncompressed_websockets

ack_requested: contextvars.ContextVar[bool] = contextvars.ContextVar("ack_requested", default=False)

_json = msgspec.json.Encoder()


class ChatSocketServer(socketio.AsyncServer):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        use_uncompressed_websockets(self.eio)

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        # python-engineio has just made the connection's socket (and queued its OPEN packet);
        # from here on it is a LeanSocket (websocket.py): same behaviour, no writer task.
        socket = self.eio.sockets.get(eio_sid)
        if type(socket) is engineio_async_socket.AsyncSocket:
            socket.__class__ = LeanSocket
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: Any, namespace: str, id: int | None
    ) -> None:
        token = ack_requested.set(id is not None)
        try:
            await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)
        finally:
            ack_requested.reset(token)

    async def lean_emit(self, event: str, data: Any, *, namespace: str, room: str) -> None:
        """Emit ``event`` to every connection in ``room`` (a room name or a sid) of this process."""
        if namespace not in self.manager.rooms:
            return
        recipients = [eio_sid for _, eio_sid in self.manager.get_participants(namespace, room)]
        if not recipients:
            return
        # Socket.IO v4 EVENT packet: type 2, the namespace, then the JSON array [event, data].
        pkt = eio_packet.Packet(eio_packet.MESSAGE, f"2{namespace}," + _json.encode([event, data]).decode())
        for eio_sid in recipients:
            await self.eio.send_packet(eio_sid, pkt)

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
