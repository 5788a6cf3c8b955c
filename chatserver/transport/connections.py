"""The server's TCP connections as they arrive, before any HTTP: how many one client address may
hold open, and handing a connection over to another protocol without losing count of it.

Every accepted connection gets an ``EdgeProtocol``: it counts the connection under its peer's
``limit_key`` (an IPv6 client by its /64) and, under the cap, passes everything through to the
protocol it makes (aiohttp's request handler); over the cap it answers ``429`` with
``Connection: close`` at once, and no request handler is made. Connections from
``trusted_proxies`` are not counted: their clients are behind them (limit them at the proxy).

A connection taken over by another protocol object (a WebSocket that ``direct_ws.accept`` moves
off aiohttp) is handed over with ``hand_over(transport, protocol)`` instead of
``transport.set_protocol``: the ``EdgeProtocol`` stays the transport's protocol and passes through
to the new one, so the connection is still counted until it ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any, cast

from ..errors import RateLimited
from .addresses import UNKNOWN, Network, is_trusted, limit_key, parse_address

log = logging.getLogger("chatserver.transport")

# Refused connections are logged at most once per this many seconds (with how many there were).
REFUSAL_LOG_INTERVAL = 60.0

_REFUSAL_BODY = json.dumps(RateLimited("too many connections from this address").to_payload()).encode()
REFUSAL = (b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nConnection: close\r\n"
           b"Content-Length: %d\r\n\r\n%s" % (len(_REFUSAL_BODY), _REFUSAL_BODY))


class ConnectionLimits:
    """Open connections per client address, up to ``max_per_address`` (0: no limit)."""

    def __init__(self, max_per_address: int, trusted: tuple[Network, ...], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_per_address = max_per_address
        self._trusted = trusted
        self._clock = clock
        self._open: dict[str, int] = {}  # by limit key; only keys with open connections
        self._refused = 0  # since the last log line
        self._logged_at: float | None = None

    def key_for(self, peername: Any) -> str | None:
        """The key a connection from ``peername`` (the socket's) counts under; ``None`` when it is
        not counted (no limit, a trusted proxy)."""
        if not self.max_per_address:
            return None
        host = peername[0] if isinstance(peername, tuple) and peername else None
        address = parse_address(host) if isinstance(host, str) else None
        if address is None:
            return UNKNOWN
        if is_trusted(address, self._trusted):
            return None
        return limit_key(str(address))

    def key_for_address(self, address: str) -> str | None:
        """The key a client at ``address`` (a request's ``client_address``, through trusted
        proxies) counts under; ``None`` when there is no limit."""
        return limit_key(address) if self.max_per_address else None

    def acquire(self, key: str) -> bool:
        """Count one more connection under ``key``; ``False`` (not counted) when at the cap."""
        count = self._open.get(key, 0)
        if count >= self.max_per_address:
            self._refusal(key)
            return False
        self._open[key] = count + 1
        return True

    def release(self, key: str) -> None:
        count = self._open[key] - 1
        if count:
            self._open[key] = count
        else:
            del self._open[key]

    def _refusal(self, key: str) -> None:
        self._refused += 1
        now = self._clock()
        if self._logged_at is None or now - self._logged_at >= REFUSAL_LOG_INTERVAL:
            log.warning("refused %d connection(s) over max_connections_per_address=%d since the last such line "
                        "(latest from %s); behind a proxy, list it in trusted_proxies",
                        self._refused, self.max_per_address, key)
            self._refused, self._logged_at = 0, now


class EdgeProtocol(asyncio.Protocol):
    """One accepted connection (see the module's text): counted, then passed through to
    ``factory()``'s protocol, or refused."""

    __slots__ = ("_factory", "_inner", "_key", "_limits", "_write_paused")

    def __init__(self, factory: Callable[[], asyncio.Protocol], limits: ConnectionLimits) -> None:
        self._factory = factory
        self._limits = limits
        self._inner: asyncio.Protocol | None = None
        self._key: str | None = None
        self._write_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        key = self._limits.key_for(transport.get_extra_info("peername"))
        if key is not None:
            if not self._limits.acquire(key):
                cast(asyncio.Transport, transport).write(REFUSAL)
                transport.close()
                return
            self._key = key
        self._inner = self._factory()
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        inner, self._inner = self._inner, None
        if self._key is not None:
            self._limits.release(self._key)
            self._key = None
        if inner is not None:
            inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._inner is not None:
            self._inner.resume_writing()

    def take_over(self, protocol: asyncio.Protocol) -> None:
        """Pass everything to ``protocol`` from now on (it has the transport already)."""
        self._inner = protocol
        if self._write_paused:
            protocol.pause_writing()


def hand_over(transport: asyncio.BaseTransport, protocol: asyncio.Protocol) -> None:
    """Give ``transport``'s connection to ``protocol`` from now on, in place of
    ``transport.set_protocol(protocol)``, so that the connection stays counted until it ends.
    (An app served by other means than ``http/serving.py`` has no ``EdgeProtocol``: the
    transport is simply handed over.)"""
    edge = transport.get_protocol()
    if isinstance(edge, EdgeProtocol):
        edge.take_over(protocol)
    else:
        transport.set_protocol(protocol)
