"""The Socket.IO endpoint's HTTP requests (``/socket.io/``), checked before python-engineio sees
them.

python-engineio (4.15) reads a long-polling POST's body with no bound of its own on a chunked
body (it reads ``Content-Length`` bytes: none) and, for a declared length over
``max_http_buffer_size``, tries to close the session and waits for its queue to be read by a
poll that may never come: the request was never answered and its connection stayed open,
holding what had been received. A payload it cannot decode (a packet type that is not a
number, an empty packet, more than 16 packets, bytes that are not UTF-8) was logged with a
traceback, and a packet type no client sends (``0``, ``2``, ``6``) hung the request the same way.

``EngineIOEndpoint`` answers these itself, as the reference server (Node's engine.io 6) does
where it answers, in the project's shape (``{"error": {"code", "message"}}``) and with
``Connection: close``:

- a POST body over ``max_http_buffer_size`` bytes, declared or chunked: ``413``
  ``payload_too_large`` at once, before any of it is read (a chunked one once it passes the
  limit);
- a POST body that is not an Engine.IO v4 payload of ``MESSAGE``, ``PONG`` and ``CLOSE`` packets
  (the ones a client sends while polling): ``400`` ``invalid_payload``, and none of its packets
  is acted on.

Everything else, and a POST that passes, goes to python-engineio, the body it was given read
already (``use_prepared_environ``). Nothing a client sent is logged.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from engineio import packet as eio_packet
from engineio import payload as eio_payload
from engineio.async_drivers.aiohttp import translate_request

from ..errors import ChatError, InvalidPayload, PayloadTooLarge

log = logging.getLogger("chatserver.transport")

# The packets a long-polling client sends in a POST (Engine.IO v4): the server pings, the client
# answers; messages; and a client's close.
_CLIENT_PACKETS = frozenset({eio_packet.CLOSE, eio_packet.PONG, eio_packet.MESSAGE})


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


class EngineIOEndpoint:
    """``handle`` is the aiohttp handler of every request to the Socket.IO path (see the module's
    text)."""

    def __init__(self, eio: Any, *, max_body: int) -> None:
        self._eio = eio
        self._max_body = max_body
        use_prepared_environ(eio)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        environ = translate_request(request)
        if request.method == "POST":
            try:
                body = await self._read_body(request)
                _check_payload(body)
            except ChatError as refused:
                return _refusal(refused)
            environ["wsgi.input"] = _ReadBody(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        response: web.StreamResponse = await self._eio.handle_request(environ)
        return response

    async def _read_body(self, request: web.Request) -> bytes:
        """The whole body, at most ``max_body`` bytes; ``PayloadTooLarge`` as soon as it is
        known to be longer (declared, or once that much of a chunked one has arrived)."""
        too_large = PayloadTooLarge(f"the body is larger than {self._max_body} bytes",
                                    details={"max_bytes": self._max_body})
        declared = request.content_length
        if declared is not None and declared > self._max_body:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > self._max_body:
                    raise too_large
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
    log.debug("engine.io request refused status=%d code=%s", error.http_status, error.code)
    response = web.json_response(error.to_payload(), status=error.http_status)
    response.force_close()
    return response

