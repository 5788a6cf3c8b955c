"""Which web pages may use the server: its own (``public_urls``, or what it listens on) and the
configured shop origins (``allowed_origins``).

The server's own origin is never taken from the request's ``Host`` header, which the client
writes: a page of ``http://evil.test`` that sends ``Host: evil.test`` is not the server's.
Without ``public_urls`` the server's own pages are those of the address a connection reached
(``http://<address>:<port>``), the configured ``host`` name at that port, and for a loopback
address both ``127.0.0.1`` and ``localhost``.

``Origin: null`` (a sandboxed frame, a file, a redirect across origins) is the one origin every
such page shares: no setting allows it, ``*`` included.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

NULL_ORIGIN = "null"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(scheme: str, host: str, port: int | None) -> str:
    """An origin as browsers write it: lower case, IPv6 in brackets, no default port."""
    host = host.lower()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def normalized(url: str) -> str:
    """``scheme://host[:port]`` as browsers send it in ``Origin``."""
    parts = urlsplit(url.strip())
    return origin(parts.scheme.lower(), parts.hostname or "", parts.port)


def shop_origin_allowed(page: str, allowed: Iterable[str]) -> bool:
    """Whether ``allowed_origins`` lets pages of ``page`` call the server cross-origin."""
    allowed = tuple(allowed)
    return page != NULL_ORIGIN and ("*" in allowed or page in allowed)


@functools.lru_cache(maxsize=64)
def listening_origins(host: str, local_address: str, port: int) -> frozenset[str]:
    """The server's own origins when ``public_urls`` is empty, for a connection that reached
    ``local_address:port`` of a server configured to listen on ``host``."""
    names = {local_address.split("%", 1)[0]}
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        names.add(host)  # a name: pages reached by it are the server's
    else:
        if not address.is_unspecified:
            names.add(str(address))
    if any(_is_loopback(name) for name in names):
        names |= {"127.0.0.1", "localhost"}
    return frozenset(origin("http", name, port) for name in names if name)


def _is_loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
