"""Locks by key: one lock per key while it is in use, independent keys independent."""

from __future__ import annotations

import gc
import weakref

from chatserver.domain.locks import KeyedLocks


async def test_a_key_has_one_lock_while_in_use_and_keys_do_not_block_each_other() -> None:
    locks = KeyedLocks()
    async with locks.lock("c1"):
        assert locks.lock("c1").locked()
        assert not locks.lock("c2").locked()


def test_a_lock_nobody_uses_is_not_kept() -> None:
    locks = KeyedLocks()
    lock = weakref.ref(locks.lock("c1"))
    gc.collect()
    assert lock() is None  # keys of closed conversations do not pile up
