"""The widget in real Chromium with what the shop's backend adds: a signed identity of the
signed-in shopper (data-identity, or window.chatserver.identify), the page the shopper is on as
they move through the checkout, the server's own message limit, the queue's wait estimate, and a
shop served from another origin than the chat server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, expect

from chatserver.domain.identity import sign_identity
from chatserver.domain.queue import MIN_QUEUED_WAIT

from ..support import Client, LiveServer, agent, make_settings, prechat, visitor
from .conftest import running
from .widget import launcher, message_bodies, panel, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECRET = "demo-shop-secret"
LIMIT = 120


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path, shop_port: int) -> AsyncIterator[LiveServer]:
    """The chat server: identities signed with SECRET, messages up to LIMIT characters, and the
    shop's other origin allowed."""
    async with running(make_settings(tmp_path, identity_secret=SECRET, max_message_chars=LIMIT,
                                    allowed_origins=(f"http://localhost:{shop_port}",))) as live:
        yield live


Open = Callable[..., Awaitable[Page]]
RENDER_IDENTITY = """
new MutationObserver((changes) => {
  for (const change of changes) for (const node of change.addedNodes) {
    if (node.tagName === "SCRIPT" && node.getAttribute("src") === "/widget.js") node.dataset.identity = "IDENTITY";
  }
}).observe(document, { childList: true, subtree: true });
"""


@pytest_asyncio.fixture(loop_scope="session")
async def open_shop(browser: Browser, shop: LiveServer) -> AsyncIterator[Open]:
    """Open a demo page whose script tag carries ``data-identity`` when given (as the shop's
    backend renders it); page errors and console errors fail the test, warnings are kept."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []
    warnings: list[str] = []

    async def open_(path: str = "/demo/", *, identity: str | None = None) -> Page:
        context = await browser.new_context(base_url=shop.url, reduced_motion="reduce",
                                            viewport={"width": 1280, "height": 800})
        contexts.append(context)
        if identity is not None:
            # What the shop's backend renders into every page: the attribute is on the script tag
            # as the parser inserts it, before the widget runs.
            await context.add_init_script(RENDER_IDENTITY.replace("IDENTITY", identity))
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on("console", lambda msg: (errors if msg.type == "error" else warnings).append(msg.text)
                if msg.type in ("error", "warning") else None)
        page.warnings = warnings  # type: ignore[attr-defined]
        await page.goto(path)
        return page

    try:
        yield open_
    finally:
        for context in contexts:
            await context.close()
    assert not errors, errors


def _identity(external_id: str, name: str, secret: str = SECRET) -> str:
    return sign_identity(secret, {"external_id": external_id, "name": name, "email": f"{external_id}@example.com",
                                  "iat": time.time()})


async def _start_chat(page: Page, name: str, question: str) -> None:
    chat = panel(page)
    await chat.get_by_label("Your name").fill(name)
    await chat.get_by_label("How can we help?").fill(question)
    await chat.get_by_role("button", name="Start chat").click()
    await expect(chat.get_by_text("Chat started.")).to_be_visible()


async def _assigned(desk: Client) -> str:
    update = await desk.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned",
                                 timeout=10)
    return str(update["conversation"]["id"])


async def _get(shop: LiveServer, path: str) -> Any:
    status, body = await shop.request("GET", path, token=await shop.admin_token())
    assert status == 200, body
    return body


async def test_a_signed_in_shopper_lands_on_their_customer_and_the_agent_follows_the_checkout(
        shop: LiveServer, open_shop: Open) -> None:
    desk = await agent(shop, await shop.add_agent("Alice"))
    page = await open_shop("/demo/", identity=_identity("cust-42", "Ann Signed"))
    await launcher(page).click()
    await _start_chat(page, "Ann", "Is my discount applied?")
    cid = await _assigned(desk)
    await desk.call("conversation:join", {"conversation_id": cid})

    [customer] = (await _get(shop, "/api/customers?q=cust-42"))["customers"]
    assert customer["identified"] and customer["name"] == "Ann Signed"
    conversation = (await _get(shop, f"/api/conversations/{cid}"))["conversation"]
    assert conversation["customer_id"] == customer["id"]
    assert (await _get(shop, "/api/customers"))["total"] == 1  # no anonymous record besides

    # The server's limit (120 here, not the widget's default 4,000) is checked in the widget.
    composer = panel(page).get_by_placeholder("Type your message…")
    await composer.fill("x" * (LIMIT + 1))
    await composer.press("Enter")
    await expect(panel(page).get_by_text(f"Messages are limited to {LIMIT} characters; this one has {LIMIT + 1}."))\
        .to_be_visible()
    await screenshot(page, "30-server-limit")
    await composer.fill("x" * LIMIT)
    await composer.press("Enter")
    await desk.wait_for("message:new", lambda m: m["body"] == "x" * LIMIT)

    # Through the checkout: the agent sees each page as the shopper gets there.
    await page.get_by_role("link", name="Continue to shipping").click()
    update = await desk.wait_for("conversation:updated", lambda d: d["conversation"]["prechat"]["page_url"]
                                 == f"{shop.url}/demo/shipping.html")
    assert update["conversation"]["prechat"]["page_title"] == "Shipping · Canvas & Co. (demo shop)"
    await expect(message_bodies(page)).to_contain_text(["Is my discount applied?"])
    await page.get_by_role("button", name="Continue to payment").click()
    update = await desk.wait_for("conversation:updated", lambda d: d["conversation"]["prechat"]["page_title"]
                                 == "Payment · Canvas & Co. (demo shop)")
    prechat_now = update["conversation"]["prechat"]
    assert prechat_now["checkout"] is True and prechat_now["cart_value"] == 59.9
    assert prechat_now["question"] == "Is my discount applied?"
    stored = (await _get(shop, f"/api/conversations/{cid}"))["conversation"]
    assert stored["prechat"]["page_title"] == "Payment · Canvas & Co. (demo shop)"
    assert stored["customer_id"] == customer["id"]  # the identity was sent again on each page
    await screenshot(page, "31-identified-on-payment")


async def test_a_bad_signature_attaches_nothing_and_shows_nothing_broken(shop: LiveServer, open_shop: Open) -> None:
    desk = await agent(shop, await shop.add_agent("Alice"))
    page = await open_shop("/demo/shipping.html", identity=_identity("cust-7", "Forged", secret="not-the-secret"))
    await launcher(page).click()
    await _start_chat(page, "Bo", "Do you ship to Norway?")
    cid = await _assigned(desk)
    chat = panel(page)
    await expect(chat.get_by_text("You are chatting with Alice")).to_be_visible()
    await expect(chat.locator(".banner")).to_have_text("")
    await screenshot(page, "32-bad-identity-chat-works")
    assert any("identity was refused (invalid_identity)" in w for w in page.warnings)  # type: ignore[attr-defined]
    assert (await _get(shop, "/api/customers?q=cust-7"))["total"] == 0
    [anonymous] = (await _get(shop, "/api/customers"))["customers"]
    assert anonymous["external_id"] is None and anonymous["name"] == "Bo"
    assert (await _get(shop, f"/api/conversations/{cid}"))["conversation"]["customer_id"] == anonymous["id"]

    # A single-page shop signs the shopper in later: window.chatserver.identify() sends it at
    # once, and the anonymous record (with this chat) is merged into the customer.
    await page.evaluate("identity => window.chatserver.identify(identity)", _identity("cust-7", "Bo Real"))

    async def merged() -> bool:
        found = (await _get(shop, "/api/customers?q=cust-7"))["customers"]
        owner = (await _get(shop, f"/api/conversations/{cid}"))["conversation"]["customer_id"]
        return bool(found) and owner == found[0]["id"]

    for _ in range(100):
        if await merged():
            break
        await page.wait_for_timeout(50)
    [customer] = (await _get(shop, "/api/customers?q=cust-7"))["customers"]
    assert customer["name"] == "Bo Real"
    assert (await _get(shop, f"/api/conversations/{cid}"))["conversation"]["customer_id"] == customer["id"]
    assert (await _get(shop, "/api/customers"))["total"] == 1


async def test_the_queue_line_shows_the_servers_wait_estimate(shop: LiveServer, open_shop: Open) -> None:
    # Alice takes one chat at a time; a second chat that waits for the first to end gives the
    # server a pace (seconds per place in the queue), so the next shopper gets an estimate.
    desk = await agent(shop, await shop.add_agent("Alice", capacity=1))
    first = await visitor(shop)
    first_id = (await first.call("chat:start", prechat(1)))["conversation"]["id"]
    await desk.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == first_id
                        and d["conversation"]["status"] == "assigned")
    second = await visitor(shop)
    second_id = (await second.call("chat:start", prechat(2)))["conversation"]["id"]
    await asyncio.sleep(MIN_QUEUED_WAIT)  # the second shopper really queues
    await first.call("conversation:close", {"conversation_id": first_id})
    await desk.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == second_id
                        and d["conversation"]["status"] == "assigned")
    assert await shop.chats.queue.seconds_per_place() is not None

    page = await open_shop("/demo/")
    await launcher(page).click()
    await _start_chat(page, "Cy", "Can I change my address?")
    # position 1 x a pace of well under a minute: the widget rounds up to one minute
    await expect(panel(page).get_by_text("You are next in the queue, about 1 minute.")).to_be_visible()
    await screenshot(page, "33-queue-estimate")


async def test_a_shop_on_another_origin_chats_through_the_widget(shop: LiveServer, shop_port: int,
                                                                 browser: Browser) -> None:
    shop_origin = f"http://localhost:{shop_port}"
    desk = await agent(shop, await shop.add_agent("Alice"))
    html = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Checkout · Other origin</title>'
            '<link rel="icon" href="data:,">'
            f'<script src="{shop.url}/widget.js" async data-checkout="true" data-cart-value="12.50"></script>'
            '</head><body><h1>Another shop origin</h1><a href="/next">Next page</a></body></html>')

    async def page_handler(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page_handler)
    app.router.add_get("/next", page_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "localhost", shop_port).start()
    context = await browser.new_context(reduced_motion="reduce")
    errors: list[str] = []
    try:
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        await page.goto(f"{shop_origin}/")
        await launcher(page).click()
        await _start_chat(page, "Dee", "Does this work from your other site?")
        cid = await _assigned(desk)
        conversation = (await _get(shop, f"/api/conversations/{cid}"))["conversation"]
        assert conversation["prechat"]["page_url"] == f"{shop_origin}/"
        assert conversation["prechat"]["checkout"] is True and conversation["prechat"]["cart_value"] == 12.5
        await desk.call("conversation:join", {"conversation_id": cid})
        await desk.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1", "body": "It does."})
        await expect(panel(page).get_by_text("It does.")).to_be_visible()
        await page.get_by_role("link", name="Next page").click()
        await expect(panel(page).get_by_text("It does.")).to_be_visible()
        await desk.wait_for("conversation:updated", lambda d: d["conversation"]["prechat"]["page_url"]
                            == f"{shop_origin}/next")
        await screenshot(page, "34-other-origin")
        assert not errors, errors
    finally:
        await context.close()
        await runner.cleanup()
