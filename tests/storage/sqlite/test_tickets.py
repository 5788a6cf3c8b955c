"""The webhook outbox on a real SQLite file: message.created is written in the message's own
transaction, and the cached endpoints follow changes made by this process and by another
connection to the same file (as another server process would)."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatserver.domain.models import Conversation, ConversationStatus, PartyKind, PreChat
from chatserver.domain.outbox import OutboxKind
from chatserver.domain.ports import NewMessage
from chatserver.domain.webhooks import MESSAGE_CREATED, WebhookEndpoint, Webhooks
from chatserver.errors import NotFound, Unavailable
from chatserver.storage.sqlite import SQLiteStores
from chatserver.wire.webhooks import WebhookViews

from ..support import fill_one_batch
from .support import fails_at_commit

_ids = itertools.count(1)


class Wired:
    """The stores with the webhook feature wired as the composition root (assembly.build_outgoing) wires it."""

    def __init__(self, path: Path) -> None:
        self.stores = SQLiteStores.at(path)
        self.conversations = self.stores.conversations
        self.tickets = self.stores.tickets
        self.woken = 0
        self.webhooks = Webhooks(self.tickets, lambda: 10.0, lambda: f"id{next(_ids)}", WebhookViews(), wake=self._wake)
        self.tickets.write_with_messages(self.webhooks.message_created, self._wake)

    def _wake(self) -> None:
        self.woken += 1

    async def items(self) -> list[dict[str, Any]]:
        found = await self.tickets.outbox_items(OutboxKind.WEBHOOK, 100)
        return [{"target": i.target, "visitor_id": i.visitor_id, **json.loads(i.payload)} for i in found]


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[Wired]:
    w = Wired(tmp_path / "chat.db")
    await w.stores.database.open()
    try:
        yield w
    finally:
        await w.stores.database.close()


def _conversation(cid: str = "c1", visitor_id: str = "v1") -> Conversation:
    return Conversation(id=cid, visitor_id=visitor_id, status=ConversationStatus.QUEUED,
                        prechat=PreChat(name="Ann", question="Q"), created_at=1.0, queue_rank=1.0)


def _message(body: str, client_msg_id: str, cid: str = "c1", visitor_id: str = "v1") -> NewMessage:
    return NewMessage(conversation_id=cid, kind="text", sender_kind=PartyKind.VISITOR, sender_id=visitor_id,
                      sender_name=None, body=body, created_at=2.0, client_msg_id=client_msg_id)


async def _endpoint(w: Wired, events: list[str] | None = None) -> WebhookEndpoint:
    return await w.webhooks.add_endpoint("http://127.0.0.1:9/hook", events or [], "s3cret")


async def test_a_message_and_its_webhook_are_one_transaction(wired: Wired) -> None:
    hook = await _endpoint(wired, [MESSAGE_CREATED])
    await wired.conversations.create_conversation(_conversation(), [])
    _, message, created = await wired.conversations.append_message(_message("hello", "m1"))
    assert created
    [item] = await wired.items()
    assert item["target"] == hook.id and item["visitor_id"] == "v1" and item["type"] == MESSAGE_CREATED
    assert item["data"]["message"]["seq"] == message.seq and item["data"]["message"]["body"] == "hello"
    assert wired.woken == 1  # the worker is told once the transaction committed
    # A resend stores nothing: no second message, no second event.
    _, again, created_again = await wired.conversations.append_message(_message("hello", "m1"))
    assert not created_again and again.seq == message.seq
    assert len(await wired.items()) == 1


async def test_a_failed_commit_stores_neither_the_messages_nor_their_webhooks(wired: Wired) -> None:
    await _endpoint(wired)
    await wired.conversations.create_conversation(_conversation(), [])
    results = await fill_one_batch(wired.stores.database, [
        wired.conversations.append_message(_message("one", "m1")), wired.stores.database.batched(fails_at_commit),
        wired.conversations.append_message(_message("two", "m2"))])
    assert all(isinstance(r, Unavailable) for r in results), results
    assert await wired.conversations.messages_after("c1", 0, 10) == []
    assert await wired.items() == []
    assert wired.woken == 0


async def test_a_refused_message_leaves_no_webhook_and_its_batch_mates_keep_theirs(wired: Wired) -> None:
    await _endpoint(wired)
    await wired.conversations.create_conversation(_conversation(), [])
    results = await fill_one_batch(wired.stores.database, [
        wired.conversations.append_message(_message("one", "m1")),
        wired.conversations.append_message(_message("lost", "m2", cid="missing")),
        wired.conversations.append_message(_message("two", "m3"))])
    assert isinstance(results[1], NotFound)
    assert sorted(i["data"]["message"]["body"] for i in await wired.items()) == ["one", "two"]


async def test_endpoints_added_or_removed_by_another_process_apply_to_the_next_message(
    wired: Wired, tmp_path: Path,
) -> None:
    other = Wired(tmp_path / "chat.db")  # a second server process on the same database file
    await other.stores.database.open()
    try:
        await wired.conversations.create_conversation(_conversation(), [])
        await wired.conversations.append_message(_message("before any endpoint", "m1"))  # the cache holds "none"
        hook = await _endpoint(other)
        await wired.conversations.append_message(_message("after one was added", "m2"))
        assert [(i["target"], i["data"]["message"]["body"]) for i in await wired.items()] == [
            (hook.id, "after one was added")]
        await other.webhooks.remove_endpoint(hook.id)
        await wired.conversations.append_message(_message("after it was removed", "m3"))
        assert len(await wired.items()) == 1
    finally:
        await other.stores.database.close()


async def test_endpoints_changed_here_apply_at_once_and_only_subscribers_get_the_event(wired: Wired) -> None:
    await wired.conversations.create_conversation(_conversation(), [])
    await wired.conversations.append_message(_message("nobody listens", "m1"))
    tickets_only = await _endpoint(wired, ["ticket.created"])
    everything = await _endpoint(wired)
    assert [e.id for e in await wired.tickets.webhooks()] == [tickets_only.id, everything.id]
    await wired.conversations.append_message(_message("heard", "m2"))
    assert [i["target"] for i in await wired.items()] == [everything.id]
    await wired.webhooks.remove_endpoint(everything.id)
    assert [e.id for e in await wired.tickets.webhooks()] == [tickets_only.id]
    await wired.conversations.append_message(_message("nobody again", "m3"))
    assert len(await wired.items()) == 1


async def test_a_file_message_has_its_webhook_naming_the_file(wired: Wired) -> None:
    await _endpoint(wired, [MESSAGE_CREATED])
    await wired.conversations.create_conversation(_conversation(), [])
    meta = {"attachment_id": "att1", "name": "label.pdf", "size": "1234", "content_type": "application/pdf"}
    file = NewMessage(conversation_id="c1", kind="file", sender_kind=PartyKind.VISITOR, sender_id="v1",
                      sender_name=None, body="label.pdf", created_at=2.0, client_msg_id="f1", meta=meta)
    await wired.conversations.append_message(file)
    [item] = await wired.items()
    assert item["type"] == MESSAGE_CREATED
    assert (item["data"]["message"]["kind"], item["data"]["message"]["meta"]) == ("file", meta)
