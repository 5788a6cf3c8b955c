"""The widget's help step in real Chromium: suggestions for the page, instant results with a
prefix and a typo, an article that answers (the deflection is recorded), and "I still need
help" going on to a chat with the question filled in (a chat after a search is recorded). A
hostile article body shown in the widget never runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from ..kb_corpus import seed
from ..storage.sqlite.support import database_of
from ..support import LiveServer
from .conftest import OpenPage
from .widget import launcher, panel, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _report(shop: LiveServer, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The knowledge-base report once ``ready`` holds: the widget sends its outcomes in the
    background, so the page shows the next step before the server has them."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        status, body = await shop.request("GET", "/api/reports/knowledge-base", token=await shop.admin_token())
        assert status == 200, body
        if ready(body) or asyncio.get_running_loop().time() > deadline:
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)


async def test_an_article_answers_the_shopper_before_the_chat(shop: LiveServer, open_page: OpenPage) -> None:
    await seed(shop)
    page = await open_page("/demo/payment.html")
    await launcher(page).click()
    chat = panel(page)
    search = chat.get_by_label("Search our help articles")
    await expect(search).to_be_focused()
    await expect(chat.get_by_role("button", name="Start chat")).to_be_hidden()
    # Suggestions for the payment page before anything is typed.
    await expect(chat.get_by_role("status").filter(has_text="Questions about payment:")).to_be_visible()
    suggestions = chat.get_by_role("list", name="Suggested articles").get_by_role("button")
    await expect(suggestions).to_have_count(4)
    await expect(suggestions.filter(has_text="Paying with PayPal")).to_be_visible()
    await screenshot(page, "help-suggestions")

    # Instant results as the shopper types: an unfinished word, then a typo.
    await search.press_sequentially("refu", delay=30)
    await expect(suggestions.first).to_contain_text("How do I get a refund?")
    await search.fill("")
    await search.press_sequentially("refnud", delay=30)
    await expect(chat.get_by_text("article found for “refund”:", exact=False)).to_be_visible()
    await expect(suggestions.first).to_contain_text("How do I get a refund?")
    await search.press("Enter")  # a settled query is logged
    await screenshot(page, "help-results")
    await suggestions.first.click()
    article = chat.get_by_role("region", name="How do I get a refund?")
    await expect(article.locator("strong")).to_have_text("5 business days")
    await expect(article.get_by_role("link", name="Open in the help centre")).to_have_attribute(
        "href", f"{shop.url}/help/articles/how-do-i-get-a-refund")
    await screenshot(page, "help-article")
    await article.get_by_role("button", name="This answered my question").click()
    await expect(chat.get_by_text("Glad we could help!")).to_be_visible()

    report = await _report(shop, lambda r: r["outcomes"]["answered"] > 0 and r["searches"] > 0)
    assert report["outcomes"] == {"answered": 1, "chat_started": 0, "ticket_created": 0}
    assert report["top_articles"][0]["title"] == "How do I get a refund?"
    assert "refnud" in [q["query"] for q in report["top_searches"]]
    assert report["deflection_rate"] == 1.0

    # "Ask something else" starts over.
    await chat.get_by_role("button", name="Ask something else").click()
    await expect(search).to_have_value("")
    await expect(search).to_be_focused()


async def test_i_still_need_help_goes_on_to_the_chat_with_the_question(shop: LiveServer,
                                                                        open_page: OpenPage) -> None:
    await seed(shop)
    page = await open_page("/demo/")
    await launcher(page).click()
    chat = panel(page)
    search = chat.get_by_label("Search our help articles")
    await search.fill("can you engrave an umbrella")
    await expect(chat.get_by_text("No article matches.", exact=False)).to_be_visible()
    await search.press("Enter")
    await chat.get_by_role("button", name="I still need help: chat with us").click()
    question = chat.get_by_label("How can we help?")
    await expect(question).to_have_value("can you engrave an umbrella")
    await expect(search).to_be_hidden()
    await expect(chat.get_by_label("Your name")).to_be_focused()
    await chat.get_by_label("Your name").fill("Uma")
    await chat.get_by_role("button", name="Start chat").click()
    await expect(chat.get_by_role("textbox", name="Your message")).to_be_visible()

    report = await _report(shop, lambda r: r["outcomes"]["chat_started"] > 0 and r["searches"] > 0)
    assert report["outcomes"]["chat_started"] == 1 and report["outcomes"]["answered"] == 0
    assert report["deflection_rate"] == 0.0
    assert {"query": "can you engrave an umbrella", "count": 1} in report["no_result_searches"]
    _status, listing = await shop.request("GET", "/api/conversations", token=await shop.admin_token())
    assert listing["conversations"][0]["prechat"]["question"] == "can you engrave an umbrella"


async def test_without_articles_the_widget_opens_on_the_form(shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("/demo/")
    await launcher(page).click()
    chat = panel(page)
    await expect(chat.get_by_label("Your name")).to_be_focused()
    await expect(chat.get_by_label("Search our help articles")).to_be_hidden()


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "without-csp"])
async def test_a_hostile_article_never_runs_in_the_widget(shop: LiveServer, browser: Browser,
                                                          bypass_csp: bool) -> None:
    admin = await shop.admin_token()
    status, body = await shop.request("POST", "/api/kb/articles", token=admin, json={
        "title": "Hostile refund", "status": "published", "tags": ["payment"],
        "body": "Refund. <script>window.__xss=1</script> <img src=x onerror=window.__xss=2> "
                "[x](javascript:window.__xss=3)"})
    assert status == 201, body
    # As if the stored HTML were changed behind the server's back: the widget's own rebuild holds.
    async with database_of(shop.app).transaction() as db:
        await db.execute("UPDATE kb_articles SET body_html = ?", (
            '<p onclick="window.__xss=4">Refund <b>now</b></p><img src="javascript:x" onerror="window.__xss=5">'
            '<a href="javascript:window.__xss=6">go</a><script>window.__xss=7</script>'
            '<iframe src="javascript:parent.__xss=8"></iframe><svg onload="window.__xss=9"></svg>',))
    # Without the demo's policy nothing stands in the way but the widget's own rebuilding.
    context = await browser.new_context(base_url=shop.url, bypass_csp=bypass_csp, reduced_motion="reduce")
    errors: list[str] = []
    try:
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("dialog", lambda dialog: (errors.append(f"dialog {dialog.message}"), dialog.dismiss()))
        await page.goto("/demo/payment.html")
        await launcher(page).click()
        chat = panel(page)
        await chat.get_by_role("list", name="Suggested articles").get_by_role("button").first.click()
        article = chat.get_by_role("region", name="Hostile refund")
        await expect(article).to_contain_text("Refund now")
        await article.get_by_text("Refund now").click()
        assert await article.locator("script, iframe, svg, img, [onclick], [onerror], [onload]").count() == 0
        assert await article.locator("a", has_text="go").get_attribute("href") is None
        assert await page.evaluate("window.__xss") is None
    finally:
        await context.close()
    # Parsing the body into an inert template runs nothing; under the demo's policy Chromium still
    # reports the handlers it refused to consider there, and nothing else.
    refused = "violates the following Content Security Policy directive 'script-src 'self''"
    assert [e for e in errors if bypass_csp or refused not in e] == [], errors


async def test_the_delayed_search_keeps_what_the_keyboard_shopper_opened(shop: LiveServer,
                                                                         open_page: OpenPage) -> None:
    """The search that records a settled query comes a while after the last keystroke; its answer
    for the query already listed neither closes the article the shopper opened meanwhile nor
    rebuilds the list under their focus. The page's clock is the test's: it jumps past that delay."""
    await seed(shop)
    page = await open_page("/demo/")
    await page.clock.install()
    await page.reload()
    await launcher(page).click()
    chat = panel(page)
    search = chat.get_by_label("Search our help articles")
    await expect(search).to_be_focused()
    suggestions = chat.get_by_role("list", name="Suggested articles").get_by_role("button")

    async def recorded_search(query: str) -> None:
        """Jump past the record delay and wait for that search's answer to reach the page."""
        async with page.expect_response(lambda r: "/api/kb/search" in r.url and "record=true" in r.url
                                        and f"q={query}" in r.url) as answer:
            await page.clock.fast_forward(5000)
        await (await answer.value).finished()
        await page.evaluate("() => new Promise((done) => queueMicrotask(done))")  # after the page's tasks

    # Typed, then Tab onto the first result: the recorded search leaves it focused.
    await search.press_sequentially("refund", delay=20)
    await page.clock.fast_forward(300)
    await expect(suggestions.first).to_contain_text("How do I get a refund?")
    await page.keyboard.press("Tab")
    await expect(suggestions.first).to_be_focused()
    await recorded_search("refund")
    await expect(suggestions.first).to_be_focused()

    # Typed again, Tab and Enter open an article before the delay is over: it stays open, focused.
    await search.fill("")
    await search.press_sequentially("shipping", delay=20)
    await page.clock.fast_forward(300)
    await expect(chat.get_by_role("status").filter(has_text="found")).to_be_visible()
    first_title = await suggestions.first.locator("strong").inner_text()
    await search.focus()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    article = chat.get_by_role("region", name=first_title)
    answered = article.get_by_role("button", name="This answered my question")
    await expect(answered).to_be_focused()
    await recorded_search("shipping")
    await expect(article).to_be_visible()
    await expect(answered).to_be_focused()
    await screenshot(page, "help-article-kept")

    # Both queries were still recorded; a new query typed over the open article lists its results.
    report = await _report(shop, lambda r: len(r["top_searches"]) >= 2)
    assert {"refund", "shipping"} <= {q["query"] for q in report["top_searches"]}
    await search.fill("refund")
    await page.clock.fast_forward(300)
    await expect(article).to_be_hidden()
    await expect(suggestions.first).to_contain_text("How do I get a refund?")
    # "Back to the suggestions" leaves focus in the list, not on the page's body.
    await suggestions.first.press("Enter")
    back = chat.get_by_role("button", name="Back to the suggestions")
    await back.press("Enter")
    await expect(suggestions.first).to_be_focused()
