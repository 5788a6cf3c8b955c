"""Locks by key (a conversation id, ``visitor:<id>``): the steps of one process that change the
same conversation run one at a time, while different conversations go on in parallel."""

from __future__ import annotations

import asyncio
import weakref


class KeyedLocks:
    """One ``asyncio.Lock`` per key, alive while someone holds or waits for it."""

    def __init__(self) -> None:
        # Weak values: a lock nobody holds or waits for is dropped, so keys do not pile up.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, key: str) -> asyncio.Lock:
        """The lock of ``key``: the same object for as long as anyone uses it."""
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock
