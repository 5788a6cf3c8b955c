"""The console's page title counts the chats with messages the agent has not read, in real
Chromium: "(2) Agent console · chatserver" while two chats wait to be read, one less as each is
opened, the same after a reload (the server's read marks, docs/protocol.md `message:read`)."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import expect

from ..support import Client, LiveServer, visitor
from .console import OpenConsole, open_console, signed_in, tab, timeline

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

TITLE = "Agent console · chatserver"


async def _shopper(shop: LiveServer, name: str) -> tuple[Client, str]:
    client = await visitor(shop)
    cid = (await client.call("chat:start", {"name": name, "question": f"{name} has a question"}))["conversation"]["id"]
    await client.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
    return client, str(cid)


async def _say(client: Client, cid: str, body: str) -> None:
    reply = await client.call("message:send", {
        "conversation_id": cid, "client_msg_id": f"m-{uuid.uuid4().hex}", "body": body})
    assert reply["ok"], reply


async def test_the_title_counts_unread_chats_until_they_are_read(shop: LiveServer, open_console: OpenConsole) -> None:
    alice = await open_console()
    await signed_in(alice, await shop.add_agent("Alice"))
    await expect(alice).to_have_title(TITLE)

    ann, ann_chat = await _shopper(shop, "Ann")
    await expect(tab(alice, "Ann")).to_have_attribute("aria-selected", "true")
    await expect(timeline(alice)).to_contain_text("Ann has a question")
    await expect(alice).to_have_title(TITLE)  # the open chat is read as it arrives

    bob, bob_chat = await _shopper(shop, "Bob")
    await _say(bob, bob_chat, "Hello? Bob here")
    await expect(tab(alice, "Bob")).to_contain_text("(2 unread)")
    await expect(alice).to_have_title(f"(1) {TITLE}")
    cy, cy_chat = await _shopper(shop, "Cy")
    await expect(tab(alice, "Cy")).to_contain_text("(1 unread)")
    await expect(alice).to_have_title(f"(2) {TITLE}")

    # A message in the chat the agent is looking at is read at once: still two.
    await _say(ann, ann_chat, "Ann again")
    await expect(timeline(alice)).to_contain_text("Ann again")
    await expect(alice).to_have_title(f"(2) {TITLE}")

    # Opening Bob's chat reads it.
    await tab(alice, "Bob").click()
    await expect(timeline(alice)).to_contain_text("Hello? Bob here")
    await expect(tab(alice, "Bob")).not_to_contain_text("unread")
    await expect(alice).to_have_title(f"(1) {TITLE}")

    # After a reload the server's read marks say the same: only Cy's chat is unread.
    await alice.reload()
    await expect(tab(alice, "Cy")).to_contain_text("(1 unread)")
    await expect(tab(alice, "Ann")).to_be_visible()
    await expect(alice).to_have_title(f"(1) {TITLE}")
    await expect(tab(alice, "Bob")).not_to_contain_text("unread")

    # Ann writes while the agent reads Cy's chat: Cy's is read, Ann's is not.
    await tab(alice, "Cy").click()
    await expect(alice).to_have_title(TITLE)
    await _say(ann, ann_chat, "Are you there?")
    await expect(tab(alice, "Ann")).to_contain_text("(1 unread)")
    await expect(alice).to_have_title(f"(1) {TITLE}")
    await tab(alice, "Ann").click()
    await expect(alice).to_have_title(TITLE)

    # Signing out leaves the plain title.
    await _say(cy, cy_chat, "Cy again")
    await expect(alice).to_have_title(f"(1) {TITLE}")
    await alice.get_by_role("button", name="Log out").click()
    await expect(alice).to_have_title(TITLE)
    for client in (ann, bob, cy):
        await client.disconnect()
