"""The help centre in real Chromium: a hostile article body never runs, not even with the page's
Content-Security-Policy switched off (the sanitizer alone holds), and the pages work with
JavaScript disabled."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from ..kb_corpus import seed
from ..storage.sqlite.support import database_of
from ..support import LiveServer
from .widget import screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")

HOSTILE_MARKDOWN = (
    "Read this.\n\n<script>window.__xss = 'script'</script>\n\n<img src=x onerror=\"window.__xss = 'img'\">\n\n"
    "[click me](javascript:window.__xss='link') [data](data:text/html,<script>parent.__xss='data'</script>)\n\n"
    '<a href="javascript:window.__xss=\'raw-link\'">raw</a> <svg onload="window.__xss=\'svg\'"></svg>\n\n'
    "![pic](javascript:window.__xss='img-src')"
)
# As if a row were changed behind the application's back: only the second sanitizing pass stands.
TAMPERED_HTML = (
    "<p onmouseover=\"window.__xss='hover'\" id=\"hover\">Move here</p><script>window.__xss='tampered'</script>"
    "<img src=\"x\" onerror=\"window.__xss='tampered-img'\"><a id=\"js\" href=\"javascript:window.__xss='js'\">js</a>"
    "<iframe src=\"javascript:parent.__xss='frame'\"></iframe><form action=\"javascript:alert(1)\"><button>go</button>"
    "</form><style>body{display:none}</style>"
)


async def _hostile_articles(shop: LiveServer) -> None:
    admin = await shop.admin_token()
    status, body = await shop.request("POST", "/api/kb/articles", token=admin, json={
        "title": "<img src=x onerror=\"window.__xss='title'\">Hostile", "slug": "hostile", "status": "published",
        "body": HOSTILE_MARKDOWN, "tags": ["<script>window.__xss='tag'</script>"]})
    assert status == 201, body
    status, body = await shop.request("POST", "/api/kb/articles", token=admin, json={
        "title": "Tampered", "slug": "tampered", "status": "published", "body": "Fine."})
    assert status == 201, body
    async with database_of(shop.app).transaction() as db:
        await db.execute("UPDATE kb_articles SET body_html = ? WHERE slug = 'tampered'", (TAMPERED_HTML,))


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "without-csp"])
async def test_script_in_an_article_never_runs(browser: Browser, shop: LiveServer, bypass_csp: bool) -> None:
    await _hostile_articles(shop)
    context = await browser.new_context(base_url=shop.url, bypass_csp=bypass_csp)
    dialogs: list[str] = []
    try:
        page = await context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        for path in ["/help/articles/hostile", "/help/articles/tampered", "/help/", "/help/search?q=hostile",
                     "/help/search?q=%3Cscript%3Ewindow.__xss%3D'q'%3C%2Fscript%3E"]:
            await page.goto(path)
            await expect(page.locator("main")).to_be_visible()
            for link in await page.locator("main a").all():
                href = await link.get_attribute("href") or ""
                assert not href.lower().startswith(("javascript:", "data:")), (path, href)
            assert await page.locator("main script, main iframe, main svg, main form, main style").count() == 0, path
            handlers = await page.evaluate(
                "() => [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name))"
                ".filter(n => n.startsWith('on'))")
            assert handlers == [], (path, handlers)
            if path.endswith("tampered"):
                await page.get_by_text("Move here").hover()
            assert await page.evaluate("window.__xss") is None, path
        heading = page.get_by_role("heading", level=1)
        await expect(heading).to_have_text("Results for “<script>window.__xss='q'</script>”")
        await page.goto("/help/articles/hostile")
        await expect(heading).to_have_text("<img src=x onerror=\"window.__xss='title'\">Hostile")
        await expect(page.locator("article .body")).to_contain_text("<script>window.__xss = 'script'</script>")
        if not bypass_csp:
            await screenshot(page, "help-hostile-article")
        assert dialogs == []
    finally:
        await context.close()


async def test_the_help_centre_works_without_javascript(browser: Browser, shop: LiveServer) -> None:
    await seed(shop)
    context = await browser.new_context(base_url=shop.url, java_script_enabled=False)
    try:
        page = await context.new_page()
        await page.goto("/help/")
        await expect(page.get_by_role("heading", name="How can we help?")).to_be_visible()
        await page.get_by_role("searchbox", name="Search for answers").fill("track my parcel")
        await page.get_by_role("button", name="Search").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Results for “track my parcel”")
        await page.locator("ol.results a").first.click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Tracking your parcel")
        await page.get_by_role("link", name="Shipping and delivery").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Shipping and delivery")
        await screenshot(page, "help-category")
    finally:
        await context.close()
