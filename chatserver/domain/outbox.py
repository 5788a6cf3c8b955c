"""The outbox: email and webhook deliveries written to storage first, sent later by a worker.

A request never waits for an SMTP server or a shop's webhook endpoint: it stores what must go
out (in the same transaction as the change it reports, where it can) and wakes the worker.
The worker sends each due item, and on failure retries it with exponential backoff until
``max_attempts``; a restart loses nothing, since the items are in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Protocol

import msgspec

from ..logs import exception_summary
from .clock import Clock

log = logging.getLogger("chatserver.outbox")


class OutboxKind(StrEnum):
    MAIL = "mail"
    WEBHOOK = "webhook"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxItem(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: OutboxKind
    # mail: the recipient's address; webhook: the endpoint's id
    target: str
    # mail: JSON {subject, body}; webhook: the exact JSON body that is signed and POSTed
    payload: str
    created_at: float
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str | None = None
    sent_at: float | None = None
    # the visitor and the customer the item is about, if any: deleting the customer's data
    # deletes it (storage fills in the visitor's customer when only the visitor is given)
    visitor_id: str | None = None
    customer_id: str | None = None


class DeliveryFailed(Exception):
    """A send that may succeed later (the server refused or could not be reached)."""


class PermanentFailure(DeliveryFailed):
    """A send that will never succeed (the webhook endpoint was removed)."""


class OutboxStore(Protocol):
    async def enqueue(self, items: list[OutboxItem]) -> None: ...

    async def claim_due(self, kind: OutboxKind, now: float, lease: float, limit: int) -> list[OutboxItem]:
        """Atomically take up to ``limit`` pending items due by ``now`` and push their next attempt
        ``lease`` seconds ahead, so no other worker takes them meanwhile."""
        ...

    async def still_pending(self, item_id: str) -> bool:
        """Whether the item is still waiting to go out (not deleted meanwhile, with the customer
        it was about)."""
        ...

    async def mark_sent(self, item_id: str, now: float) -> None:
        """The item went out: it keeps no payload from now on."""
        ...

    async def mark_retry(self, item_id: str, attempts: int, next_attempt_at: float, error: str) -> None: ...

    async def mark_failed(self, item_id: str, attempts: int, error: str) -> None:
        """The item is given up: it keeps no payload from now on."""
        ...

    async def prune(self, kind: OutboxKind, before: float) -> int:
        """Delete sent and failed items created before ``before``; returns how many."""
        ...

    async def next_due(self, kind: OutboxKind) -> float | None:
        """When the earliest pending item of ``kind`` is due, or ``None`` when none is pending."""
        ...

    async def outbox_items(self, kind: OutboxKind, limit: int) -> list[OutboxItem]:
        """The most recent items of ``kind``, newest first (for admins and tests)."""
        ...

    async def pending_counts(self) -> dict[OutboxKind, int]:
        """How many items of each kind wait to go out (a kind with none may be left out)."""
        ...


# What an attempt to deliver an item ends as (``OutboxObserver.delivered``).
DELIVERY_OUTCOMES = ("sent", "retry", "failed")


class OutboxObserver(Protocol):
    """Told of every delivery attempt (the composition root wires it to the metrics)."""

    def delivered(self, kind: str, outcome: str) -> None:
        """An attempt of an item of ``kind`` ended: ``sent``, ``retry`` (failed, tried again
        later) or ``failed`` (given up)."""
        ...


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    base: float = 10.0
    maximum: float = 3600.0
    max_attempts: int = 12

    def delay(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failed ones: base, 2 x base, 4 x base, ..."""
        return float(min(self.maximum, self.base * 2 ** max(0, attempts - 1)))


Send = Callable[[OutboxItem], Awaitable[None]]
PRUNE_EVERY = 3600.0


class OutboxWorker:
    """Sends one kind of outbox item; runs in the app's lifecycle until ``stop`` is set."""

    def __init__(self, kind: OutboxKind, store: OutboxStore, send: Send, clock: Clock, policy: RetryPolicy,
                 *, poll_interval: float, lease: float, keep: float = 30 * 86400.0, batch: int = 20,
                 observer: OutboxObserver | None = None) -> None:
        self.kind = kind
        self.store = store
        self.send = send
        self.clock = clock
        self.policy = policy
        self.poll_interval = poll_interval
        self.lease = lease
        self.batch = batch
        self.keep = keep
        self.observer = observer
        self._pruned_at: float | None = None
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was queued: look at once instead of at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Send every item due now (and, at most hourly, delete finished items older than
        ``keep`` seconds); returns how many were sent."""
        now = self.clock.now()
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = now
            await self.store.prune(self.kind, now - self.keep)
        sent = 0
        while True:
            items = await self.store.claim_due(self.kind, self.clock.now(), self.lease, self.batch)
            for n, item in enumerate(items):
                # The batch was read before the sends before this one: an item deleted since (a
                # customer's data erased) must not go out from that copy.
                if n and not await self.store.still_pending(item.id):
                    continue
                sent += await self._deliver(item)
            if len(items) < self.batch:
                return sent

    async def _deliver(self, item: OutboxItem) -> int:
        attempts = item.attempts + 1
        try:
            await self.send(item)
        except Exception as exc:
            if not isinstance(exc, DeliveryFailed):
                # A bug or an unforeseen error of the sender: counted as a failed attempt, so one
                # bad item is retried with backoff and eventually given up, never spun on. Logged
                # by type and stack: the error's text may quote the address or the message.
                log.error("outbox sender failed kind=%s item=%s %s", self.kind, item.id, exception_summary(exc))
            # Only our own failure reasons are kept (and shown to admins): another error's text
            # could carry anything.
            error = (str(exc)[:500] if isinstance(exc, DeliveryFailed) else "") or type(exc).__name__
            if isinstance(exc, PermanentFailure) or attempts >= self.policy.max_attempts:
                await self.store.mark_failed(item.id, attempts, error)
                log.warning("outbox item failed for good kind=%s item=%s attempts=%d", self.kind, item.id, attempts)
                self._tell("failed")
            else:
                retry_at = self.clock.now() + self.policy.delay(attempts)
                await self.store.mark_retry(item.id, attempts, retry_at, error)
                log.info("outbox item will be retried kind=%s item=%s attempts=%d", self.kind, item.id, attempts)
                self._tell("retry")
            return 0
        await self.store.mark_sent(item.id, self.clock.now())
        log.info("outbox item sent kind=%s item=%s attempts=%d", self.kind, item.id, attempts)
        self._tell("sent")
        return 1

    def _tell(self, outcome: str) -> None:
        if self.observer is not None:
            self.observer.delivered(str(self.kind), outcome)

    async def run(self, stop: asyncio.Event) -> None:
        """Send due items, then sleep until the next is due, something is queued, or ``stop``."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.run_once()
                due = await self.store.next_due(self.kind)
            except Exception as exc:
                log.error("outbox worker failed kind=%s %s", self.kind, exception_summary(exc))
                due = None
            timeout = self.poll_interval
            if due is not None:
                timeout = max(0.0, min(timeout, due - self.clock.now()))
            waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
            try:
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(*waiters, return_exceptions=True)
