"""What the agent's browser fetches for a replayed shopper page, in real Chromium: a shop on its
own origin (a real HTTP server on another loopback port, the chat server's ``allowed_origins``)
whose page references a third, foreign origin (an HTTPS server on a third port: an image beacon,
a ``srcset``, a linked stylesheet, an ``@import``, a CSS ``url()`` background and a web font).
The shopper's own browser loads all of them; the agent's browser, rebuilding the page in the
console's co-browse view, loads none of them (the Content-Security-Policy the replay frame
inherits from the console allows only the server's own origin and the shop's), and loads the
shop's images from the shop, a relative URL in a rule the page inserts later (rrweb records such
a rule as the page wrote it) included: never from the chat server. docs/cobrowse.md."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, expect

from ..redis_server import free_port
from ..support import LiveServer, make_settings, wait_until
from .conftest import running
from .console import signed_in, tab
from .test_cobrowse import consent, replay, sharing_bar
from .test_widget_chat import _start_chat
from .widget import launcher

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The agent's browser says who it is, so the servers below can tell its requests from the shopper's.
AGENT_BROWSER = "chatserver-agent-console-test"
# A 1x1 transparent PNG: what every image URL below answers.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d4944415478da63fcffff3f0300050001ff5f0d0e5a0000000049454e44ae426082")
TYPES = {".png": "image/png", ".gif": "image/png", ".css": "text/css", ".woff2": "font/woff2"}


@dataclass
class Site:
    """A real HTTP(S) server on a loopback port that answers every path and notes who asked."""

    origin: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, User-Agent)

    def paths(self, *, agent: bool) -> list[str]:
        return [path for path, ua in self.requests if (AGENT_BROWSER in ua) == agent]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (the browsers here ignore that no authority signed it)."""
    cert, key = directory / "foreign.crt", directory / "foreign.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return cert, key


async def _serve(site: Site, host: str, port: int, page: str | None, ssl_files: tuple[Path, Path] | None = None,
                 ) -> web.AppRunner:
    async def answer(request: web.Request) -> web.Response:
        site.requests.append((request.path, request.headers.get("User-Agent", "")))
        if request.path == "/" and page is not None:
            return web.Response(text=page, content_type="text/html")
        suffix = Path(request.path).suffix
        if suffix == ".css":
            return web.Response(text="p { color: rgb(1, 2, 3); }", content_type="text/css")
        if suffix in TYPES:
            return web.Response(body=PNG, content_type=TYPES[suffix])
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    ssl_context = None
    if ssl_files is not None:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(*ssl_files)
    await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
    return runner


def _shop_page(chat_url: str, foreign: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Checkout · Remote shop</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{foreign}/linked.css">
<style>
@import url("{foreign}/imported.css");
@font-face {{ font-family: Tracked; src: url("{foreign}/font.woff2") format("woff2"); }}
h1 {{ font-family: Tracked, sans-serif; }}
.banner {{ width: 40px; height: 40px; background-image: url("{foreign}/background.png"); }}
.own {{ width: 40px; height: 40px; background-image: url("img/own-background.png"); }}
</style>
<script src="{chat_url}/widget.js" async></script>
</head><body>
<h1>Remote shop</h1>
<div class="banner"></div>
<div class="own"></div>
<img alt="" src="{foreign}/beacon.gif" width="1" height="1">
<img alt="" srcset="{foreign}/srcset.png 1x" width="1" height="1">
<img alt="Product" src="img/product.png" width="10" height="10">
</body></html>"""


@pytest_asyncio.fixture(loop_scope="session")
async def shop(tmp_path: Path, shop_port: int) -> AsyncIterator[LiveServer]:
    """The chat server, with the shop's origin allowed."""
    async with running(make_settings(tmp_path, allowed_origins=(f"http://localhost:{shop_port}",))) as live:
        yield live


async def test_the_agents_browser_fetches_only_from_the_shop_and_the_chat_server(
        shop: LiveServer, shop_port: int, browser: Browser, tmp_path: Path) -> None:
    foreign, own = Site(), Site()
    foreign_port = free_port()
    shop_origin = f"http://localhost:{shop_port}"
    foreign.origin, own.origin = f"https://127.0.0.1:{foreign_port}", shop_origin
    runners = [await _serve(foreign, "127.0.0.1", foreign_port, None, _self_signed(tmp_path)),
               await _serve(own, "localhost", shop_port, _shop_page(shop.url, foreign.origin))]
    contexts: list[BrowserContext] = []
    try:
        shopper_context = await browser.new_context(ignore_https_errors=True, reduced_motion="reduce")
        agent_context = await browser.new_context(
            base_url=shop.url, ignore_https_errors=True, reduced_motion="reduce",
            viewport={"width": 1280, "height": 800}, user_agent=f"Mozilla/5.0 (X11; Linux x86_64) {AGENT_BROWSER}")
        contexts += [shopper_context, agent_context]
        console = await agent_context.new_page()
        agent_requests: list[str] = []
        refused: list[str] = []
        console.on("request", lambda request: agent_requests.append(request.url))
        console.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
        await console.goto("/console/")
        await signed_in(console, await shop.add_agent("Alice"))

        shopper = await shopper_context.new_page()
        await shopper.goto(f"{shop_origin}/")
        await launcher(shopper).click()
        await _start_chat(shopper, "Ann", "Can you look at my page?")
        await expect(tab(console, "Ann")).to_be_visible()
        # The shopper's browser loads every foreign resource: they are real and reachable.
        foreign_resources = {"/linked.css", "/imported.css", "/font.woff2", "/background.png", "/beacon.gif",
                             "/srcset.png"}
        await wait_until(lambda: foreign_resources <= set(foreign.paths(agent=False)), what="the shopper's fetches")

        await console.get_by_role("button", name="Co-browse").click()
        await consent(shopper).get_by_role("button", name="Share my screen").click()
        await expect(sharing_bar(shopper)).to_contain_text("Alice can see this page")
        await expect(replay(console).get_by_role("heading", name="Remote shop")).to_be_visible()
        # A rule the page adds later, with a relative URL: rrweb records it as written.
        await shopper.evaluate("""() => {
            const sheet = document.querySelector('style').sheet;
            sheet.insertRule('.late { width: 40px; height: 40px; background-image: url("img/inserted.png"); }',
                             sheet.cssRules.length);
            const late = document.createElement('div');
            late.className = 'late';
            document.body.append(late);
        }""")
        await expect(replay(console).locator("div.late")).to_have_count(1)

        # The agent's browser got to the inserted rule's image (the last thing the page asked for)...
        await wait_until(lambda: any(url.endswith("/img/inserted.png") for url in agent_requests),
                         what="the agent's browser asking for the inserted rule's image")
        # ...without asking the foreign origin for anything...
        assert foreign.paths(agent=True) == [], foreign.paths(agent=True)
        # ...and resolved the relative URL against the shopper's page, not the console.
        assert {url for url in agent_requests if "/img/" in url} == {f"{shop_origin}{path}" for path in (
            "/img/product.png", "/img/own-background.png", "/img/inserted.png")}, agent_requests
        await wait_until(lambda: {"/img/product.png", "/img/own-background.png", "/img/inserted.png"}
                         <= set(own.paths(agent=True)), what="the shop serving its images to the agent")
        # The console's policy refused each foreign resource.
        for path in sorted(foreign_resources):
            await wait_until(lambda path=path: any(foreign.origin + path in text for text in refused),
                             what=f"the console refusing {path}")
        assert foreign.paths(agent=True) == [], foreign.paths(agent=True)
    finally:
        for context in contexts:
            await context.close()
        for runner in runners:
            await runner.cleanup()
