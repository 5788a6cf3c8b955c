"""The Socket.IO endpoint's HTTP requests (``/socket.io/``), checked before python-engineio sees
them.

python-engineio (4.15) reads a long-polling POST's body with no bound of its own on a chunked
body (it reads ``Content-Length`` bytes: none) and, for a declared length over
``max_http_buffer_size``, tries to close the session and waits for its queue to be read by a
poll that may never come: the request was never answered and its connection stayed open,
holding what had been received. A payload it cannot decode (a packet type that is not a
number, an empty packet, more than 16 packets, bytes that are not UTF-8) was logged with a
traceback, and a packet type no client sends (``0``, ``2``, ``6``) hung the request the same way.
It also takes requests the reference server (Node's engine.io 6) refuses: no ``transport``
(taken as polling), a session's request without ``EIO=4``, a POST that says
``transport=websocket``, a second poll while one waits; it answers an unknown method ``405``
(the reference: ``400``), and it logs, and echoes, what the client sent (an unknown session id,
a refused ``Origin``).

``EngineIOEndpoint`` answers these itself, as the reference server does, in the project's shape
(``{"error": {"code", "message"}}``), with ``Connection: close`` and a fixed message:

- ``400`` ``invalid_payload``: a method other than GET, POST and OPTIONS; no ``transport``, or
  one other than ``polling`` and ``websocket``; ``EIO`` other than ``4``; a JSONP index ``j``
  that is not digits; ``transport=websocket`` on a request that is no WebSocket handshake; a POST
  without a session; a session id that is unknown, closed, not yet open or already moved to a
  WebSocket; a poll (or POST) while another of the same session is under way;
- ``403`` ``forbidden``: an ``Origin`` that may not connect (``allowed_origins``);
- ``413`` ``payload_too_large``: a POST body over ``max_http_buffer_size`` bytes, declared or
  chunked, at once, before any of it is read (a chunked one once it passes the limit);
- ``400`` ``invalid_payload``: a POST body that is not an Engine.IO v4 payload of ``MESSAGE``,
  ``PONG`` and ``CLOSE`` packets (the ones a client sends while polling); none of its packets is
  acted on;
- ``503`` ``unavailable``: a handshake while the server drains (``Drain``: a load balancer passes
  it on to another process), and a poll waiting when a stop ends its session (the client sees
  its transport fail and reconnects, where a CLOSE packet would stop python-socketio's client).

Everything else, and a POST that passes, goes to python-engineio, the body it was given read
already (``use_prepared_environ``). Nothing a client sent is logged.

``announce_exact_ping_times`` makes the OPEN packet's ``pingInterval`` and ``pingTimeout`` the
configured values in milliseconds, as the reference server sends them.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from engineio import packet as eio_packet
from engineio import payload as eio_payload
from engineio.async_drivers.aiohttp import translate_request

from ..errors import ChatError, Forbidden, InvalidPayload, PayloadTooLarge, RateLimited, Unavailable
from .addresses import UNKNOWN, Network, client_address
from .connections import ConnectionLimits
from .shutdown import Drain

log = logging.getLogger("chatserver.transport")

# The packets a long-polling client sends in a POST (Engine.IO v4): the server pings, the client
# answers; messages; and a client's close.
_CLIENT_PACKETS = frozenset({eio_packet.CLOSE, eio_packet.PONG, eio_packet.MESSAGE})
_METHODS = frozenset({"GET", "POST", "OPTIONS"})
_TRANSPORTS = frozenset({"polling", "websocket"})
_JSONP_INDEX = re.compile(r"[0-9]{1,9}")
# The environ entry that carries a handshake's limit key to the connect handler.
_SESSION_KEY = "chatserver.session_key"


class _ReadBody:
    """A request body already read, as python-engineio reads ``wsgi.input``."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self, length: int = -1) -> bytes:
        return self._data if length < 0 else self._data[:length]


def use_prepared_environ(eio: Any) -> None:
    """Make ``eio`` (python-engineio's aiohttp-mode server) take the environ it is given to
    ``handle_request`` as it is, instead of building one from the request: the endpoint builds
    it (with the body it read) and checks the request on it first."""
    eio._async = {**eio._async, "translate_request": lambda environ: environ}


def announce_exact_ping_times(eio: Any) -> None:
    """Give a new connection's OPEN packet ``eio``'s ping interval and timeout in milliseconds,
    as configured. python-engineio (4.15) writes ``int(seconds) * 1000`` for the interval (0 for
    0.25 s, which clients take as "ping at once") and ``int(seconds * 1000)`` for the timeout
    (1000 for 1.001 s). The packet waits in the new socket's queue when python-engineio calls the
    ``connect`` handler: this handler sets the two fields, then calls the one it replaces
    (python-socketio's)."""
    connect = eio.handlers["connect"]

    async def on_connect(sid: str, environ: dict[str, Any]) -> Any:
        interval = round((eio.ping_interval + eio.ping_interval_grace_period) * 1000)
        timeout = round(eio.ping_timeout * 1000)
        queue = eio.sockets[sid].queue
        queued = []
        while not queue.empty():
            queued.append(queue.get_nowait())
            queue.task_done()
        for pkt in queued:
            if pkt.packet_type == eio_packet.OPEN:
                pkt.data["pingInterval"], pkt.data["pingTimeout"] = interval, timeout
            queue.put_nowait(pkt)
        return await connect(sid, environ)

    eio.on("connect", on_connect)


class EngineIOEndpoint:
    """``handle`` is the aiohttp handler of every request to the Socket.IO path (see the module's
    text); ``origin_allowed`` is the check python-engineio is given (``cors_allowed_origins``)."""

    def __init__(self, eio: Any, *, max_body: int, origin_allowed: Callable[[str, dict[str, Any]], bool],
                 sessions: ConnectionLimits, trusted: tuple[Network, ...], drain: Drain) -> None:
        self._eio = eio
        self._drain = drain
        self._max_body = max_body
        self._origin_allowed = origin_allowed
        # Open sessions per client address (max_connections_per_address): the session a handshake
        # opens is counted until python-engineio closes it.
        self._sessions = sessions
        self._trusted = trusted
        self._session_keys: dict[str, str] = {}  # by sid
        # Sessions with a poll (GET), or a POST, under way.
        self._polling: set[str] = set()
        self._posting: set[str] = set()
        use_prepared_environ(eio)
        self._count_sessions()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        environ = translate_request(request)
        method = request.method
        try:
            sid, upgrade = self._check(request, environ)
            if sid is None and method == "GET":
                return await self._open_session(request, environ)
            if sid is None or upgrade or method == "OPTIONS":
                response: web.StreamResponse = await self._eio.handle_request(environ)
                return response
            with self._one_at_a_time(self._posting if method == "POST" else self._polling, sid):
                if method == "POST":
                    body = await self._read_body(request)
                    _check_payload(body)
                    self._session(sid)  # still there once the body is in
                    environ["wsgi.input"] = _ReadBody(body)
                    environ["CONTENT_LENGTH"] = str(len(body))
                socket = self._eio.sockets.get(sid)
                response = await self._eio.handle_request(environ)
                if method == "GET" and getattr(socket, "stopped", False):
                    raise Unavailable("the server is stopping: connect again")
                return response
        except ChatError as refused:
            return _refusal(refused)

    def _check(self, request: web.Request, environ: dict[str, Any]) -> tuple[str | None, bool]:
        """The request's session id (``None`` for a handshake) and whether it asks to open a
        WebSocket, once it passed the checks (see the module's text)."""
        method = request.method
        if method not in _METHODS:
            raise InvalidPayload("the method is not GET, POST or OPTIONS")
        if method == "POST" and (request.content_length or 0) > self._max_body:
            raise self._too_large()  # whatever else is wrong: the client learns the limit
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))  # as python-engineio reads it
        transport = query.get("transport", [None])[0]
        if transport not in _TRANSPORTS:
            raise InvalidPayload("unknown transport (polling or websocket)")
        if query.get("EIO") != ["4"]:
            raise InvalidPayload("unsupported protocol version (EIO=4 only)")
        if "j" in query and not _JSONP_INDEX.fullmatch(query["j"][0]):
            raise InvalidPayload("the JSONP index is not a number")
        origin = environ.get("HTTP_ORIGIN")
        if origin and not self._origin_allowed(origin, environ):
            raise Forbidden("this origin may not connect")
        upgrade = transport == "websocket"
        if upgrade and (method != "GET" or environ.get("HTTP_UPGRADE", "").lower() != "websocket"):
            raise InvalidPayload("transport=websocket on a request that is no WebSocket handshake")
        sid = query.get("sid", [None])[0]
        if sid is None:
            if method == "POST":
                raise InvalidPayload("no session: one is opened with a GET")
            return None, upgrade
        self._session(sid)
        return sid, upgrade

    async def _open_session(self, request: web.Request, environ: dict[str, Any]) -> web.StreamResponse:
        """A handshake: a new session, if its client address holds fewer than the cap (a session
        costs memory until its client closes it or misses a ping, and opening one is free)."""
        if self._drain.draining:
            raise Unavailable("the server is stopping: connect again")
        address = client_address(request.remote, request.headers, self._trusted)
        key = None if address == UNKNOWN else self._sessions.key_for_address(address)
        if key is not None:
            if not self._sessions.acquire(key):
                raise RateLimited("too many connections from this address")
            environ[_SESSION_KEY] = key
        try:
            response: web.StreamResponse = await self._eio.handle_request(environ)
            return response
        finally:
            if key is not None and environ.get(_SESSION_KEY) is not None:
                self._sessions.release(key)  # no session was opened (refused, or the client left)

    def _count_sessions(self) -> None:
        """Bind each new session to the key its handshake was counted under (the ``connect``
        handler sees the handshake's environ), and release it when the session closes."""
        connect, disconnect = self._eio.handlers["connect"], self._eio.handlers["disconnect"]

        async def on_connect(sid: str, environ: dict[str, Any]) -> Any:
            key = environ.pop(_SESSION_KEY, None)
            accepted = await connect(sid, environ)
            if key is not None:
                if accepted is None or accepted is True:  # what python-engineio takes as accepted
                    self._session_keys[sid] = key
                else:
                    self._sessions.release(key)
            return accepted

        async def on_disconnect(sid: str, reason: Any) -> Any:
            key = self._session_keys.pop(sid, None)
            if key is not None:
                self._sessions.release(key)
            return await disconnect(sid, reason)

        self._eio.on("connect", on_connect)
        self._eio.on("disconnect", on_disconnect)

    def _session(self, sid: str) -> None:
        """Refuse a request of a session python-engineio cannot serve over HTTP."""
        socket = self._eio.sockets.get(sid)
        if socket is None or socket.closed or not socket.connected:
            raise InvalidPayload("unknown session")
        if socket.upgraded:
            raise InvalidPayload("the session has moved to a WebSocket")

    @staticmethod
    @contextmanager
    def _one_at_a_time(under_way: set[str], sid: str) -> Iterator[None]:
        if sid in under_way:
            raise InvalidPayload("another request of this session is under way")
        under_way.add(sid)
        try:
            yield
        finally:
            under_way.discard(sid)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the body is larger than {self._max_body} bytes", details={"max_bytes": self._max_body})

    async def _read_body(self, request: web.Request) -> bytes:
        """The whole body, at most ``max_body`` bytes (a longer declared one was refused by
        ``_check``); ``PayloadTooLarge`` once more than that of a chunked one has arrived."""
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > self._max_body:
                    raise self._too_large()
                chunks.append(chunk)
        except (ConnectionError, web.RequestPayloadError):  # the client left, or broke the chunking
            raise InvalidPayload("the body was cut short") from None
        return b"".join(chunks)


def _check_payload(body: bytes) -> None:
    """Refuse (``InvalidPayload``) a POST body python-engineio could not take whole."""
    try:
        packets = eio_payload.Payload(encoded_payload=body.decode("utf-8")).packets
    except (ValueError, KeyError, IndexError, RecursionError):  # not UTF-8, an undecodable packet,
        # too many packets, JSON nested too deep
        raise InvalidPayload("not an Engine.IO payload") from None
    if not packets or any(p.packet_type not in _CLIENT_PACKETS for p in packets):
        raise InvalidPayload("a payload holds message, pong and close packets only")


def _refusal(error: ChatError) -> web.Response:
    """``error`` as the answer, with ``Connection: close``. (What still arrives of the body is
    read and dropped by aiohttp for at most its lingering time, 10 s, so that the client can
    read the answer, then the connection is closed.)"""
    log.debug("engine.io request refused status=%d code=%s reason=%s", error.http_status, error.code, error.message)
    response = web.json_response(error.to_payload(), status=error.http_status)
    response.force_close()
    return response

