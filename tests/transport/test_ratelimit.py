"""Token buckets and the per-address limiter (no server: the limiter is plain Python)."""

from __future__ import annotations

from chatserver.transport.ratelimit import KeyedLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_limited_address_stays_limited_however_many_other_addresses_come() -> None:
    clock = Clock()
    limiter = KeyedLimiter(rate=1 / 60, burst=2, clock=clock)
    assert limiter.take("198.51.100.1") and limiter.take("198.51.100.1")
    assert not limiter.take("198.51.100.1")
    # Twice as many other sources as the limiter keeps; the limited one keeps trying meanwhile.
    for n in range(2 * limiter.max_keys + 1):
        assert limiter.take(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
        if n % 1000 == 0:
            assert not limiter.take("198.51.100.1"), f"forgotten after {n} other addresses"
    assert len(limiter) == limiter.max_keys


def test_the_least_recently_used_address_is_the_one_forgotten() -> None:
    clock = Clock()
    limiter = KeyedLimiter(rate=1 / 60, burst=1, max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        assert limiter.take(key)
    assert not limiter.take("a")  # a is now the most recently used
    assert limiter.take("d")  # forgets b, the least recently used
    assert not limiter.take("a") and not limiter.take("c")
    assert limiter.take("b")  # a fresh bucket: b was forgotten
    assert len(limiter) == 3
