"""Client addresses: who sent a request, as far as the proxies the server trusts say.

A request's TCP peer is the client, unless the peer is one of the configured ``trusted_proxies``
(a load balancer, nginx): then the client is the nearest address in the proxies' headers
(``Forwarded``, else ``X-Forwarded-For``) that is not itself a trusted proxy, read from the
right, because only the entries the trusted proxies appended can be believed (a client can put
anything at the left). Headers from any other peer are ignored.

Per-address limits key IPv6 clients by their /64 network: one subscriber is usually given a
whole /64, and counting each of its addresses apart would let it walk past any limit.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"
# One element of a Forwarded header: its for= parameter (quoted or not).
_FORWARDED_FOR = re.compile(r'(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """``values`` (addresses or CIDR networks) as networks; ``ValueError`` naming a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network") from None
    return tuple(networks)


def parse_address(value: str | None) -> Address | None:
    """An address as a header or a socket gives it (``[v6]:port``, ``v4:port``, ``"..."``), or
    ``None`` for anything else (``unknown``, an obfuscated ``_name``)."""
    if not value:
        return None
    value = value.strip().strip('"')
    if value.startswith("["):  # [2001:db8::1]:4711
        value = value[1:value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # 192.0.2.1:4711
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(address: Address | None, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def _forwarded_chain(headers: Mapping[str, str]) -> list[str]:
    """The addresses the proxies recorded, nearest the client first."""
    forwarded = headers.get("Forwarded")
    if forwarded:
        return [m.group(1) for element in forwarded.split(",") if (m := _FORWARDED_FOR.search(element))]
    xff = headers.get("X-Forwarded-For")
    if xff:
        return [part.strip() for part in xff.split(",")]
    return []


def client_address(peer: str | None, headers: Mapping[str, str], trusted: tuple[Network, ...]) -> str:
    """The client's address for a request from TCP peer ``peer`` (see the module's text), as text;
    ``"unknown"`` when it cannot be told."""
    address = parse_address(peer)
    if not trusted or not is_trusted(address, trusted):
        return str(address) if address is not None else (peer or UNKNOWN)
    for hop in reversed(_forwarded_chain(headers)):
        hop_address = parse_address(hop)
        if hop_address is None:
            return UNKNOWN  # a proxy that hides the client: no address to believe
        if not is_trusted(hop_address, trusted):
            return str(hop_address)
    return str(address)  # only trusted proxies: the request came from one of them


def limit_key(address: str) -> str:
    """The key a per-address limit counts ``address`` under: an IPv6 address's /64 network,
    anything else as it is."""
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
    return address
