"""A lean Socket.IO client for one namespace over one WebSocket (websocket-client, made cooperative
by gevent): the Engine.IO v4 and Socket.IO v5 text packets a chat pair uses, and nothing else
(no polling, no binary attachments, no reconnection). It exists for its cost: python-socketio's
synchronous client spends its time in threads, queues and packet objects per event, and a load
generator's CPU per message sets how many machines a test needs (docs/loadtesting.md).

Packets (docs/protocol.md; what the server answers is the reference server's):
``0{...}`` open, ``2``/``3`` ping/pong, ``40/ns,{auth}`` connect, ``42/ns,ID[event, data]`` an
event (with an ack id), ``43/ns,ID[data]`` an acknowledgement, ``44/ns,{...}`` a refused
connect, ``41/ns,`` a disconnect.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import msgspec
import websocket

_encode = msgspec.json.encode
_decode = msgspec.json.decode


class LeanError(Exception):
    """The connection failed or was refused; ``str()`` is a short kind."""


class LeanSocket:
    """``connect`` at construction; ``call``/``emit`` as python-socketio's; handlers run on the
    reader greenlet, one at a time, in the order the events arrive."""

    def __init__(self, url: str, namespace: str, auth: dict[str, str],
                 handlers: dict[str, Callable[[Any], None]], timeout: float) -> None:
        self.namespace = namespace
        self.handlers = handlers
        self.timeout = timeout
        self._prefix = f"/{namespace.strip('/')},"
        self._ids = itertools.count(1)
        self._acks: dict[int, Callable[[Any], None]] = {}
        self.connected = False
        ws_url = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        try:
            self.ws = websocket.create_connection(f"{ws_url}/socket.io/?EIO=4&transport=websocket",
                                                  timeout=timeout, enable_multithread=True)
            opened = self.ws.recv()
            if not isinstance(opened, str) or not opened.startswith("0"):
                raise LeanError("connect:no_open_packet")
            self.ws.send(f"40{self._prefix}" + _encode(auth).decode())
            while True:
                answer = self.ws.recv()
                if isinstance(answer, str) and answer.startswith("40" + self._prefix):
                    break
                if isinstance(answer, str) and answer.startswith("44" + self._prefix):
                    raise LeanError(f"connect:{namespace}:refused")
                if answer == "2":
                    self.ws.send("3")
        except (OSError, websocket.WebSocketException):
            raise LeanError(f"connect:{namespace}") from None
        self.ws.settimeout(None)
        self.connected = True
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        try:
            while True:
                packet = self.ws.recv()
                if not isinstance(packet, str) or not packet:
                    continue
                if packet == "2":
                    self.ws.send("3")
                elif packet.startswith("4"):
                    self._socketio(packet[1:])
                elif packet == "1":
                    break
        except (OSError, websocket.WebSocketException):
            pass
        finally:
            self.connected = False

    def _socketio(self, packet: str) -> None:
        kind, rest = packet[:1], packet[1:]
        if not rest.startswith(self._prefix):
            return
        rest = rest[len(self._prefix):]
        if kind == "1":
            self.connected = False
            return
        digits = 0
        while digits < len(rest) and rest[digits].isdigit():
            digits += 1
        ack_id = int(rest[:digits]) if digits else None
        body = _decode(rest[digits:]) if rest[digits:] else []
        if kind == "2" and body:
            handler = self.handlers.get(body[0])
            if handler is not None:
                handler(body[1] if len(body) > 1 else None)
        elif kind == "3" and ack_id is not None:
            callback = self._acks.pop(ack_id, None)
            if callback is not None:
                callback(body[0] if body else None)

    def emit(self, event: str, data: Any, callback: Callable[[Any], None] | None = None) -> None:
        ack_id = ""
        if callback is not None:
            number = next(self._ids)
            self._acks[number] = callback
            ack_id = str(number)
        try:
            self.ws.send(f"42{self._prefix}{ack_id}" + _encode([event, data]).decode())
        except (OSError, websocket.WebSocketException):
            raise LeanError(f"disconnected:{event}") from None

    def call(self, event: str, data: Any) -> Any:
        """Send and wait for the acknowledgement (``LeanError('ack_timeout:...')`` after ``timeout``)."""
        answer = gevent.event.AsyncResult()
        self.emit(event, data, answer.set)
        try:
            return answer.get(timeout=self.timeout)
        except gevent.Timeout:
            raise LeanError(f"ack_timeout:{event}") from None

    def close(self) -> None:
        """Leave the namespace and close the WebSocket (a close frame, not waiting for the
        server's: the reader is stopped first, it holds the socket's read lock)."""
        self._reader.kill(block=True)
        try:
            if self.connected:
                self.ws.send(f"41{self._prefix}")
            self.ws.send_close()
        except (OSError, websocket.WebSocketException):
            pass
        self.connected = False
        self.ws.shutdown()


__all__ = ["LeanError", "LeanSocket"]
