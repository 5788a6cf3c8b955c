"""The widget under bad input and bad networks: over-long messages, HTML, a server that goes away."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from ..support import Client, LiveServer, agent
from .conftest import OpenPage
from .test_widget_chat import _assigned, _start_chat, _transcript
from .widget import launcher, message_bodies, panel, screenshot, storage_key, widget_state

pytestmark = pytest.mark.asyncio(loop_scope="session")

XSS = '<img src=x onerror="window.__pwned=1">'


async def _chatting(shop: LiveServer, open_page: OpenPage,
                    agent_name: str = "Alice") -> tuple[Page, Client, str, dict[str, Any]]:
    login = await shop.add_agent(agent_name)
    alice = await agent(shop, login)
    page = await open_page("/demo/payment.html")
    await launcher(page).click()
    await _start_chat(page, "Ann", "Is my card safe here?")
    cid = await _assigned(alice)
    await expect(panel(page).get_by_text(f"You are chatting with {agent_name}")).to_be_visible()
    return page, alice, cid, login


async def _visitor_texts(shop: LiveServer, token: str, cid: str) -> list[str]:
    transcript = await _transcript(shop, token, cid)
    return [m["body"] for m in transcript["messages"] if m["kind"] == "text" and m["sender"]["kind"] == "visitor"]


async def test_messages_over_the_limit_are_refused_with_a_reason(shop: LiveServer, open_page: OpenPage) -> None:
    page, _alice, cid, login = await _chatting(shop, open_page)
    chat = panel(page)
    composer = chat.get_by_label("Your message")
    await composer.fill("x" * 4001)
    await expect(chat.get_by_text("4001 / 4000")).to_be_visible()
    await composer.press("Enter")
    reason = chat.get_by_text("Messages are limited to 4000 characters; this one has 4001. Please shorten it.")
    await expect(reason).to_be_visible()
    await expect(composer).to_have_attribute("aria-invalid", "true")
    await expect(composer).to_have_value("x" * 4001)  # kept, to be shortened
    await screenshot(page, "08-message-too-long")
    await composer.fill("x" * 4000)
    await expect(reason).to_be_hidden()
    await composer.press("Enter")
    await expect(chat.locator("li.visitor").last.get_by_text("Sent")).to_be_visible()
    assert await _visitor_texts(shop, login["token"], cid) == ["Is my card safe here?", "x" * 4000]
    assert (await _transcript(shop, login["token"], cid))["conversation"]["prechat"]["checkout"] is True


async def test_html_in_messages_and_names_is_shown_as_text(shop: LiveServer, open_page: OpenPage) -> None:
    agent_name = f"Bob {XSS}"
    page, alice, cid, _login = await _chatting(shop, open_page, agent_name=agent_name)
    chat = panel(page)
    await chat.get_by_label("Your message").fill(XSS)
    await chat.get_by_label("Your message").press("Enter")
    await alice.wait_for("message:new", lambda m: m["body"] == XSS)
    await alice.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1", "body": f"<b>bold</b> {XSS}"})
    await expect(message_bodies(page).last).to_have_text(f"<b>bold</b> {XSS}")
    await expect(chat.locator("li.visitor .body").last).to_have_text(XSS)
    await expect(chat.get_by_text(f"{agent_name} joined the chat.")).to_be_visible()
    elements = await page.evaluate("""() => {
        const root = document.querySelector("chatserver-widget").shadowRoot;
        return {img: root.querySelectorAll("img, b").length, pwned: window.__pwned === 1};
    }""")
    assert elements == {"img": 0, "pwned": False}


async def test_a_lost_connection_reconnects_and_sends_what_was_typed_once(
        shop: LiveServer, open_page: OpenPage) -> None:
    page, alice, cid, login = await _chatting(shop, open_page)
    chat = panel(page)
    await shop.stop()  # the server goes away (a deploy, a network cut): every socket drops
    await expect(chat.get_by_text("Connection lost. Reconnecting…")).to_be_visible()
    await chat.get_by_label("Your message").fill("Are you still there?")
    await chat.get_by_label("Your message").press("Enter")
    await expect(chat.locator("li.visitor").last.get_by_text("Waiting to send…")).to_be_visible()
    await expect(chat.get_by_text("Your messages will be sent when you are back.")).to_be_visible()
    await screenshot(page, "09-reconnecting")

    await shop.start()  # same port, same database
    alice = await agent(shop, login)
    await alice.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
    await expect(chat.get_by_text("Connection lost. Reconnecting…")).to_be_hidden(timeout=15_000)
    await expect(chat.locator("li.visitor").last.get_by_text("Sent")).to_be_visible()
    await expect(message_bodies(page).filter(has_text="Are you still there?")).to_have_count(1)
    assert await _visitor_texts(shop, login["token"], cid) == ["Is my card safe here?", "Are you still there?"]

    # The page went away with two messages in its outbox: one the server had stored though the
    # ack never came back, one never sent. The next page sends each once, with the same ids.
    stored = next(m for m in (await _transcript(shop, login["token"], cid))["messages"]
                  if m["body"] == "Are you still there?")
    outbox = [
        {"conversation_id": cid, "client_msg_id": stored["client_msg_id"], "body": stored["body"], "status": "sending"},
        {"conversation_id": cid, "client_msg_id": "w-typed-offline", "body": "One more thing", "status": "queued"},
    ]
    await page.evaluate("([key, outbox]) => { const s = JSON.parse(localStorage.getItem(key)); "
                        "s.outbox = outbox; localStorage.setItem(key, JSON.stringify(s)); }",
                        [storage_key(shop.url), outbox])
    await page.reload()
    await expect(message_bodies(page)).to_have_text(
        ["Chat started.", "Is my card safe here?", "Alice joined the chat.", "Are you still there?", "One more thing"])
    await expect(panel(page).locator("li.visitor").last.get_by_text("Sent")).to_be_visible()
    assert await _visitor_texts(shop, login["token"], cid) == [
        "Is my card safe here?", "Are you still there?", "One more thing"]
    assert (await widget_state(page, shop.url))["outbox"] == []
    assert [m["body"] for m in alice.messages(cid) if m["body"] == "One more thing"] == ["One more thing"]


async def test_a_forged_token_in_storage_starts_over_as_a_new_visitor(shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("/demo/")
    await page.evaluate("key => localStorage.setItem(key, JSON.stringify("
                        "{token: 'forged.token', expiresAt: 4102444800, conversationId: 'c-someone-elses'}))",
                        storage_key(shop.url))
    await page.reload()  # a conversation in storage: the chat loads at once, and is refused
    await launcher(page).click()
    await expect(panel(page).get_by_label("Your name")).to_be_visible()
    state = await widget_state(page, shop.url)
    assert state["token"] != "forged.token" and state["conversationId"] is None
    await _start_chat(page, "Ann", "Hello?")
    await expect(panel(page).get_by_text("Chat started.")).to_be_visible()
