"""Client addresses behind trusted proxies, and the keys per-address limits count them by."""

from __future__ import annotations

import pytest

from chatserver.transport.addresses import client_address, limit_key, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "::1"])


def test_a_direct_client_is_its_peer_whatever_it_claims() -> None:
    assert client_address("203.0.113.7", {"X-Forwarded-For": "198.51.100.1"}, PROXIES) == "203.0.113.7"
    assert client_address("203.0.113.7", {"Forwarded": "for=198.51.100.1"}, ()) == "203.0.113.7"


def test_behind_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() -> None:
    # The client put a forged entry at the left; the proxies appended the real one.
    headers = {"X-Forwarded-For": "1.2.3.4, 198.51.100.9, 10.0.0.5"}
    assert client_address("10.0.0.2", headers, PROXIES) == "198.51.100.9"
    forwarded = {"Forwarded": 'for=1.2.3.4, for="[2001:db8::17]:4711";proto=https, for=10.1.1.1'}
    assert client_address("::1", forwarded, PROXIES) == "2001:db8::17"


def test_a_trusted_proxy_that_forwards_nothing_is_the_client_and_a_hidden_one_is_unknown() -> None:
    assert client_address("10.0.0.2", {}, PROXIES) == "10.0.0.2"
    assert client_address("10.0.0.2", {"Forwarded": "for=_hidden"}, PROXIES) == "unknown"
    assert client_address("10.0.0.2", {"X-Forwarded-For": "not an address"}, PROXIES) == "unknown"


def test_ipv4_mapped_peers_are_ipv4() -> None:
    assert client_address("::ffff:10.0.0.2", {"X-Forwarded-For": "198.51.100.9"}, PROXIES) == "198.51.100.9"


def test_ipv6_clients_are_limited_by_their_64() -> None:
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("198.51.100.9") == "198.51.100.9"
    assert limit_key("unknown") == "unknown"


def test_bad_networks_are_named() -> None:
    with pytest.raises(ValueError, match="'nope'"):
        parse_networks(["10.0.0.0/8", "nope"])
