"""Files in the widget on a shop of another origin (in allowed_origins), under the shop's own
Content-Security-Policy, in real Chromium: the shopper's upload crosses origins (a CORS preflight
for the bearer token), and the agent's image shows as a thumbnail loaded from the chat server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, expect

from ..support import LiveServer, agent, make_settings
from .conftest import running
from .files import as_file, pdf_bytes, png_bytes
from .test_widget_chat import _start_chat
from .widget import launcher, panel, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path, shop_port: int) -> AsyncIterator[LiveServer]:
    async with running(make_settings(tmp_path, allowed_origins=(f"http://localhost:{shop_port}",))) as live:
        yield live


async def test_files_cross_from_a_shop_on_another_origin(shop: LiveServer, shop_port: int, browser: Browser) -> None:
    shop_origin = f"http://localhost:{shop_port}"
    server = shop.url
    ws = server.replace("http:", "ws:")
    # A careful shop: scripts, connections and images from itself and the chat server only.
    policy = (f"default-src 'self'; script-src 'self' {server}; connect-src 'self' {server} {ws}; "
              f"img-src 'self' data: {server}; style-src 'self'; base-uri 'none'")
    html = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Returns · Other origin</title>'
            '<link rel="icon" href="data:,">'
            f'<script src="{server}/widget.js" async></script>'
            '</head><body><h1>Returns</h1></body></html>')

    async def page_handler(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html", headers={"Content-Security-Policy": policy})

    app = web.Application()
    app.router.add_get("/", page_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "localhost", shop_port).start()
    alice_login = await shop.add_agent("Alice")
    desk = await agent(shop, alice_login)
    context = await browser.new_context(reduced_motion="reduce")
    errors: list[str] = []
    try:
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        await page.goto(f"{shop_origin}/")
        await launcher(page).click()
        await _start_chat(page, "Eve", "The strap broke, photo attached")
        update = await desk.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned",
                                     timeout=10)
        cid = update["conversation"]["id"]
        await desk.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
        chat = panel(page)
        await expect(chat.get_by_text("You are chatting with Alice")).to_be_visible()

        # The shopper's file goes up across origins; the agent gets it as a file message.
        await chat.locator("input[type=file]").set_input_files(files=[as_file("strap.pdf", "application/pdf",
                                                                               pdf_bytes())])
        said = await desk.wait_for("message:new", lambda m: m["kind"] == "file", timeout=10)
        assert said["body"] == "strap.pdf" and said["sender"]["kind"] == "visitor"
        await expect(chat.locator("a.file-link")).to_have_text(re.compile(r"^strap\.pdf · \d"))

        # The agent's image shows in the shop's page, from the chat server's origin.
        status, body = await shop.request("POST", f"/api/conversations/{cid}/attachments?name=label.png"
                                          "&client_msg_id=a-f1", token=alice_login["token"], data=png_bytes())
        assert status == 201, body
        thumbnail = chat.locator("li.agent a.file-link img")
        await expect(thumbnail).to_have_js_property("complete", True)
        assert await thumbnail.evaluate("img => img.naturalWidth") > 0
        assert (await thumbnail.evaluate("img => img.src")).startswith(f"{server}/files/")
        await screenshot(page, "attachments-other-origin")
        assert not errors, errors
    finally:
        await context.close()
        await runner.cleanup()
