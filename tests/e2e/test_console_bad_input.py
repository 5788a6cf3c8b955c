"""The agent console under bad input: wrong passwords and the lockout, forged and expired
tokens, a conversation that is not the agent's, HTML in what shoppers type, a server that goes
away. Each gets a clear message and changes nothing."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from playwright.async_api import Page, expect

from ..support import PASSWORD, LiveServer, agent, prechat, visitor
from .console import (
    OpenConsole,
    alert,
    composer,
    login_form,
    open_console,
    queue_item,
    screenshot,
    sign_in,
    signed_in,
    tab,
    timeline,
)

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")

XSS_NAME = '<img src=x onerror="window.__pwned=1">Eve'
XSS_QUESTION = '<script>window.__pwned=2</script><b>bold?</b>'


def _login_message(page: Page) -> Any:
    return page.locator("#login-message")


async def test_wrong_passwords_then_the_lockout(shop: LiveServer, open_console: OpenConsole) -> None:
    login = await shop.add_agent("Alice")
    page = await open_console()
    await sign_in(page, login["email"], "not my password")
    await expect(_login_message(page)).to_have_text("The email or password is wrong.")
    await expect(login_form(page).get_by_label("Email")).to_have_value(login["email"])
    await screenshot(page, "10-wrong-password")
    for _ in range(3):
        await sign_in(page, login["email"], "still not it")
        await expect(_login_message(page)).to_have_text("The email or password is wrong.")
    await sign_in(page, login["email"], "one more guess")  # the fifth in a row locks the account
    locked = "too many wrong passwords for this account: sign-in is locked for 5 minutes"
    await expect(_login_message(page)).to_have_text(locked)
    await screenshot(page, "11-locked")
    # The right password is refused while locked; the console stays on the sign-in form.
    await login_form(page).get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(_login_message(page)).to_have_text(re.compile(r"sign-in is locked for [45] minutes"))
    await expect(page.locator("#console-screen")).to_be_hidden()
    status, body = await shop.request("POST", "/api/auth/login", json={"email": login["email"], "password": PASSWORD})
    assert status == 429 and body["error"]["code"] == "account_locked"


async def _with_saved_session(page: Page, session: dict[str, Any]) -> None:
    # Once the page has started (it focuses the sign-in form after its language file came):
    # a page still starting would read the session too, and when that session fails, drop it
    # from the shared storage before the reloaded page reads it.
    await expect(page.locator("#login-email")).to_be_focused()
    await page.evaluate("s => localStorage.setItem('chatserver-console', s)", json.dumps(session))
    await page.reload()


async def test_forged_and_expired_tokens_send_the_agent_back_to_sign_in(
        shop: LiveServer, open_console: OpenConsole) -> None:
    login = await shop.add_agent("Alice")
    page = await open_console()
    later = time.time() + 3600
    await _with_saved_session(page, {"token": "forged.token", "expiresAt": later, "agent": login["agent"]})
    await expect(_login_message(page)).to_have_text("Your session is no longer valid. Please sign in again.")
    await expect(page.locator("#console-screen")).to_be_hidden()
    await screenshot(page, "12-forged-token")

    # Genuine but expired (the server says so, though the console thought it had an hour left).
    expired = shop.parts.http.signer.issue("agent", login["agent"]["id"], time.time() - 10)
    await _with_saved_session(page, {"token": expired, "expiresAt": later, "agent": login["agent"]})
    await expect(_login_message(page)).to_have_text("Your session has expired. Please sign in again.")
    # The console's own clock says it is over.
    await _with_saved_session(page, {**login, "expiresAt": time.time() - 1})
    await expect(_login_message(page)).to_have_text("Your session has expired. Please sign in again.")
    assert await page.evaluate("localStorage.getItem('chatserver-console')") is None

    # After a real sign-in, logging out revokes the token: the old one no longer connects.
    await signed_in(page, login)
    token = await page.evaluate("JSON.parse(localStorage.getItem('chatserver-console')).token")
    await page.get_by_role("button", name="Log out").click()
    await expect(_login_message(page)).to_have_text("You have signed out.")
    status, body = await shop.request("GET", "/api/me", token=token)
    assert status == 401 and body["error"]["code"] == "invalid_token"


async def test_the_server_ends_sessions_and_the_console_says_why(shop: LiveServer, open_console: OpenConsole) -> None:
    login = await shop.add_agent("Alice")
    page = await open_console()
    await signed_in(page, login)
    # A second tab of the same browser: it opens with the saved session.
    second = await page.context.new_page()
    await second.goto("/console/")
    await expect(second.get_by_role("status")).to_have_text("Connected · taking chats")

    await page.get_by_role("button", name="Log out").click()
    await expect(_login_message(page)).to_have_text("You have signed out.")
    await screenshot(page, "16-signed-out")
    await expect(_login_message(second)).to_have_text(
        "You were signed out from another tab or window. Please sign in again.")
    await expect(second.locator("#console-screen")).to_be_hidden()
    await screenshot(second, "17-signed-out-elsewhere")
    await second.close()

    # A token that runs out while the console is open (the console believes it has an hour left):
    # the server ends the session at its expiry and the console says so.
    agent_row = await shop.parts.stores.agents.agent_by_id(login["agent"]["id"])
    assert agent_row is not None
    short = shop.parts.http.signer.issue("agent", agent_row.id, time.time() + 2, agent_row.token_version)
    await _with_saved_session(page, {"token": short, "expiresAt": time.time() + 3600, "agent": login["agent"]})
    await expect(page.get_by_role("status")).to_have_text("Connected · taking chats")
    await expect(_login_message(page)).to_have_text("Your session has expired. Please sign in again.")
    await expect(page.locator("#console-screen")).to_be_hidden()
    await screenshot(page, "18-session-expired")


async def test_a_conversation_of_another_agent_does_not_open(shop: LiveServer, open_console: OpenConsole) -> None:
    alice_login = await shop.add_agent("Alice")
    alice = await agent(shop, alice_login)
    shopper = await visitor(shop)
    cid = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
    await alice.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")

    bob_login = await shop.add_agent("Bob")
    page = await open_console()
    await signed_in(page, bob_login)
    await page.evaluate("cid => { location.hash = 'c=' + cid; }", cid)
    await expect(alert(page)).to_have_text("This conversation is not assigned to you.")
    await expect(page.get_by_role("tab")).to_have_count(0)
    await screenshot(page, "13-not-assigned")
    # Opened directly by its address, the same.
    await page.goto(f"/console/#c={cid}")
    await expect(alert(page)).to_have_text("This conversation is not assigned to you.")
    await expect(page.get_by_role("tab")).to_have_count(0)
    _, transcript = await shop.request("GET", f"/api/conversations/{cid}", token=alice_login["token"])
    assert transcript["conversation"]["agent_id"] == alice_login["agent"]["id"]
    assert [m["sender"]["kind"] for m in transcript["messages"] if m["kind"] == "text"] == ["visitor"]


async def test_html_from_shoppers_is_shown_as_text(shop: LiveServer, open_console: OpenConsole) -> None:
    login = await shop.add_agent("Alice")
    page = await open_console()
    await signed_in(page, login)
    await page.get_by_label("Status").select_option("away")
    await expect(page.get_by_role("status")).to_have_text("Connected · away: no new chats")
    shopper = await visitor(shop)
    cid = (await shopper.call("chat:start", {"name": XSS_NAME, "question": XSS_QUESTION,
                                             "page_title": "<i>Cart</i>"}))["conversation"]["id"]
    item = queue_item(page, "Eve")
    await expect(item).to_contain_text(XSS_NAME)
    await expect(item).to_contain_text(XSS_QUESTION)
    await expect(item).to_contain_text("<i>Cart</i>")
    await item.get_by_role("button").click()
    await expect(tab(page, XSS_NAME)).to_be_visible()
    await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "v-1",
                                        "body": '<a href="javascript:alert(1)">click</a>'})
    await expect(timeline(page)).to_contain_text('<a href="javascript:alert(1)">click</a>')
    await expect(page.get_by_role("complementary", name="Customer")).to_contain_text(XSS_NAME)
    await screenshot(page, "14-html-as-text")
    assert await page.evaluate("window.__pwned") is None
    for selector in ["#timeline img, #timeline script, #timeline a, #timeline b",
                     "#customer img, #customer b, #tabs img, #queue-list img, #queue-list i"]:
        assert await page.locator(selector).count() == 0, selector


async def test_the_console_says_when_the_server_is_gone_and_comes_back(
        shop: LiveServer, open_console: OpenConsole) -> None:
    login = await shop.add_agent("Alice")
    page = await open_console()
    await signed_in(page, login)
    shopper = await visitor(shop)
    cid = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
    await expect(tab(page, "Shopper 1")).to_be_visible()
    await page.get_by_label("Status").select_option("away")
    await expect(page.get_by_role("status")).to_have_text("Connected · away: no new chats")
    waiting = await visitor(shop)
    cid2 = (await waiting.call("chat:start", prechat(2)))["conversation"]["id"]
    await expect(queue_item(page, "Shopper 2")).to_be_visible()

    await shop.stop()  # a deploy or a network cut: every socket drops
    status = page.get_by_role("status")
    await expect(status).to_have_text("Offline · reconnecting…")
    await expect(page.get_by_label("Status")).to_be_disabled()
    await screenshot(page, "15-reconnecting")
    await shop.start()
    # The console reconnects saying the agent is away: the chat that waits is not handed to them.
    await expect(status).to_have_text("Connected · away: no new chats", timeout=20_000)
    await expect(page.get_by_label("Status")).to_be_enabled()
    await expect(page.get_by_label("Status")).to_have_value("away")
    await expect(queue_item(page, "Shopper 2")).to_be_visible()
    await shop.chats.tasks.idle()
    _, waited = await shop.request("GET", f"/api/conversations/{cid2}", token=await shop.admin_token())
    assert waited["conversation"]["status"] == "queued"
    await expect(tab(page, "Shopper 2")).to_have_count(0)
    # The chat is still the agent's, and messages flow again.
    shopper = await visitor(shop, shopper.token)
    await shopper.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
    await composer(page).fill("Still here!")
    await composer(page).press("Enter")
    await expect(timeline(page).locator("li.agent")).to_contain_text(["Still here!"])
    assert (await shopper.wait_for("message:new", lambda m: m["body"] == "Still here!"))["sender"]["name"] == "Alice"
    # The shopper leaves, and the console says so.
    await shopper.disconnect()
    await expect(page.locator("#chat-state")).to_have_text("Customer offline")
