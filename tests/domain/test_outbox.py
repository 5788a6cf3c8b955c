"""The outbox worker over the real outbox of each database, with a manual clock: backoff, giving
up, leases, and an unforeseen sender error counted as a failed attempt."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatserver.domain.clock import ManualClock
from chatserver.domain.outbox import (
    DeliveryFailed,
    OutboxItem,
    OutboxKind,
    OutboxStatus,
    OutboxWorker,
    PermanentFailure,
    RetryPolicy,
)
from chatserver.metrics import Metrics
from chatserver.storage.stores import Tickets

from ..storage.backends import DATABASES, open_all


@pytest.fixture(params=DATABASES)
async def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Tickets]:
    async with open_all(request.param, tmp_path, request) as stores:
        yield stores.tickets


def _item(n: int, now: float) -> OutboxItem:
    return OutboxItem(id=f"i{n}", kind=OutboxKind.MAIL, target="ann@example.com", payload="{}", created_at=now,
                      next_attempt_at=now)


async def test_failures_back_off_and_give_up_after_max_attempts(outbox: Tickets) -> None:
    clock = ManualClock()
    failures: list[str] = []

    async def send(item: OutboxItem) -> None:
        failures.append(item.id)
        if item.id == "i1":
            raise RuntimeError("a bug, with a message body in it")
        raise DeliveryFailed("SMTP 451")

    metrics = Metrics()
    worker = OutboxWorker(OutboxKind.MAIL, outbox, send, clock, RetryPolicy(base=10, maximum=40, max_attempts=3),
                          poll_interval=5, lease=30, observer=metrics)
    await outbox.enqueue([_item(1, clock.now()), _item(2, clock.now())])
    assert await worker.run_once() == 0 and sorted(failures) == ["i1", "i2"]
    assert await worker.run_once() == 0 and len(failures) == 2  # not due again before the backoff
    assert await outbox.next_due(OutboxKind.MAIL) == clock.now() + 10
    clock.advance(10)
    await worker.run_once()
    clock.advance(19)
    assert await worker.run_once() == 0 and len(failures) == 4  # the second retry waits 20 s
    clock.advance(1)
    await worker.run_once()
    items = {i.id: i for i in await outbox.outbox_items(OutboxKind.MAIL, 10)}
    assert {i.status for i in items.values()} == {OutboxStatus.FAILED} and len(failures) == 6
    assert items["i1"].attempts == 3 and items["i1"].last_error == "RuntimeError"  # not the error's text
    assert items["i2"].last_error == "SMTP 451"
    assert await outbox.next_due(OutboxKind.MAIL) is None
    # Each attempt told the metrics how it ended: two retries and the giving up, per item.
    outcomes = {outcome: metrics.outbox_deliveries.labels("mail", outcome).value for outcome in ("retry", "failed",
                                                                                                 "sent")}
    assert outcomes == {"retry": 4, "failed": 2, "sent": 0}


async def test_an_unforeseen_sender_error_is_logged_by_type_and_stack_never_its_text(
        outbox: Tickets, caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()

    async def send(item: OutboxItem) -> None:
        mail = json.loads(item.payload)
        try:
            raise ValueError(mail["body"])
        except ValueError as exc:
            raise RuntimeError(f"could not send {mail['subject']} to {item.target}") from exc

    worker = OutboxWorker(OutboxKind.MAIL, outbox, send, clock, RetryPolicy(), poll_interval=5, lease=30)
    await outbox.enqueue([OutboxItem(id="i1", kind=OutboxKind.MAIL, target="ann@example.com", created_at=clock.now(),
                                     payload=json.dumps({"subject": "Order A-1001", "body": "card 4242"}),
                                     next_attempt_at=clock.now())])
    with caplog.at_level("INFO"):
        assert await worker.run_once() == 0
    failures = [r.getMessage() for r in caplog.records if "outbox sender failed" in r.getMessage()]
    assert len(failures) == 1 and "kind=mail item=i1 exception=RuntimeError <- ValueError\n" in failures[0]
    assert ", in send\n" in failures[0]  # the frame it was raised in
    for secret in ("ann@example.com", "4242", "A-1001"):
        assert not [r for r in caplog.records if secret in r.getMessage()], secret
    assert not [r for r in caplog.records if r.exc_info or r.exc_text]
    [item] = await outbox.outbox_items(OutboxKind.MAIL, 10)
    assert (item.status, item.attempts, item.last_error) == (OutboxStatus.PENDING, 1, "RuntimeError")


async def test_a_claimed_item_is_not_claimed_again_until_its_lease_ends(outbox: Tickets) -> None:
    clock = ManualClock()
    await outbox.enqueue([_item(1, clock.now())])
    assert [i.id for i in await outbox.claim_due(OutboxKind.MAIL, clock.now(), 30, 10)] == ["i1"]
    assert await outbox.claim_due(OutboxKind.MAIL, clock.now() + 29, 30, 10) == []
    assert [i.id for i in await outbox.claim_due(OutboxKind.MAIL, clock.now() + 30, 30, 10)] == ["i1"]
    assert await outbox.claim_due(OutboxKind.WEBHOOK, clock.now() + 100, 30, 10) == []


async def test_sent_and_permanently_failed_items_are_done(outbox: Tickets) -> None:
    clock = ManualClock()

    async def send(item: OutboxItem) -> None:
        if item.id == "i2":
            raise PermanentFailure("recipient refused (550)")

    worker = OutboxWorker(OutboxKind.MAIL, outbox, send, clock, RetryPolicy(), poll_interval=5, lease=30)
    await outbox.enqueue([_item(1, clock.now()), _item(2, clock.now())])
    assert await worker.run_once() == 1
    items = {i.id: i for i in await outbox.outbox_items(OutboxKind.MAIL, 10)}
    assert (items["i1"].status, items["i1"].attempts, items["i1"].sent_at) == (OutboxStatus.SENT, 1, clock.now())
    assert (items["i2"].status, items["i2"].attempts) == (OutboxStatus.FAILED, 1)
    assert items["i1"].payload == items["i2"].payload == ""  # done: the contents are not kept


async def test_finished_items_are_pruned_after_keep_and_pending_ones_never(outbox: Tickets) -> None:
    clock = ManualClock()

    async def send(item: OutboxItem) -> None:
        if item.id == "i2":
            raise DeliveryFailed("SMTP 451")

    worker = OutboxWorker(OutboxKind.MAIL, outbox, send, clock, RetryPolicy(base=10 * 86400, maximum=10 * 86400),
                          poll_interval=5, lease=30, keep=86400)
    await outbox.enqueue([_item(1, clock.now()), _item(2, clock.now())])
    await worker.run_once()
    clock.advance(86400 + 3600)
    await worker.run_once()
    assert [(i.id, i.status) for i in await outbox.outbox_items(OutboxKind.MAIL, 10)] == [
        ("i2", OutboxStatus.PENDING)]
