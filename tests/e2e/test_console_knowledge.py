"""The knowledge base in the agent console, in real Chromium: an agent searches the articles while
chatting (typo included) and inserts a link the shopper receives; from a finished chat an agent
drafts an article assigned to a colleague, who sends it for review, and an admin publishes it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Route, expect

from ..kb_corpus import seed
from ..support import LiveServer, visitor
from .console import OpenConsole, composer, open_console, screenshot, signed_in, tab, timeline

__all__ = ["open_console"]
pytestmark = pytest.mark.asyncio(loop_scope="session")


def _admin_login(shop: LiveServer) -> dict[str, Any]:
    text = (shop.settings.data_dir / "first-admin.txt").read_text()
    creds = dict(line.split(": ", 1) for line in text.strip().splitlines())
    return {"email": creds["email"], "password": creds["password"]}


async def test_agent_searches_articles_and_inserts_a_link(shop: LiveServer, open_console: OpenConsole) -> None:
    await seed(shop)
    alice_login = await shop.add_agent("Alice")
    alice = await open_console()
    await signed_in(alice, alice_login)
    shopper = await visitor(shop)
    cid = (await shopper.call("chat:start", {"name": "Pat", "question": "How long does a refund take?"}))[
        "conversation"]["id"]
    await expect(tab(alice, "Pat")).to_have_attribute("aria-selected", "true")
    await shopper.call("conversation:join", {"conversation_id": cid, "after_seq": 0})

    kb = alice.get_by_role("region", name="Knowledge base")
    found = kb.get_by_role("list", name="Articles found").get_by_role("listitem")
    # The chat's question is searched as soon as the chat opens.
    await expect(found.first).to_contain_text("How do I get a refund?")
    await kb.get_by_label("Search articles").fill("paypl")
    await expect(kb.locator(".kb-status")).to_contain_text("for “paypal”")
    await expect(found.first).to_contain_text("Paying with PayPal")
    await screenshot(alice, "kb-search")

    await composer(alice).fill("Here you go:")
    await found.first.get_by_role("button", name="Insert link Paying with PayPal").click()
    link = f"{shop.url}/help/articles/paying-with-paypal"
    await expect(composer(alice)).to_have_value(f"Here you go: Paying with PayPal: {link}")
    await expect(composer(alice)).to_be_focused()
    await composer(alice).press("Enter")
    await expect(timeline(alice).locator("li.agent").last).to_contain_text(link)
    message = await shopper.wait_for("message:new", lambda m: m["sender"]["kind"] == "agent")
    assert message["body"] == f"Here you go: Paying with PayPal: {link}"
    status, page = await shop.request("GET", "/help/articles/paying-with-paypal")
    assert status == 200 and "Paying with PayPal" in page


async def test_a_finished_chat_becomes_a_draft_that_is_reviewed_and_published(
        shop: LiveServer, open_console: OpenConsole) -> None:
    ids = await seed(shop)
    alice_login = await shop.add_agent("Alice")
    carl_login = await shop.add_agent("Carl")
    alice = await open_console()
    await signed_in(alice, alice_login)
    shopper = await visitor(shop)
    await shopper.call("chat:start", {"name": "Dana", "question": "Can I change the delivery address?"})
    await expect(tab(alice, "Dana")).to_have_attribute("aria-selected", "true")
    await expect(alice.get_by_role("button", name="Draft article")).to_be_hidden()  # not finished yet
    await composer(alice).fill("Yes: until the parcel ships, open *My orders* and choose **Change address**.")
    await composer(alice).press("Enter")
    await expect(timeline(alice).locator("li.agent")).to_have_count(1)
    await alice.get_by_role("button", name="End chat").click()
    await alice.get_by_role("dialog", name="End the chat").get_by_role("button", name="End chat").click()
    await expect(alice.locator("#chat-state")).to_have_text("Chat ended")

    await alice.get_by_role("button", name="Draft article").click()
    dialog = alice.get_by_role("dialog", name="Draft an article from this chat")
    await expect(dialog.get_by_label("Question (the title)")).to_have_value("Can I change the delivery address?")
    await expect(dialog.get_by_label("Answer (Markdown)")).to_have_value(
        "Yes: until the parcel ships, open *My orders* and choose **Change address**.")
    await dialog.get_by_label("Question (the title)").fill("Changing the delivery address")
    await dialog.get_by_label("Article category").select_option(label="Shipping and delivery")
    await dialog.get_by_label("Assign to").select_option(label="Carl")
    await screenshot(alice, "kb-draft")
    await dialog.get_by_role("button", name="Save draft").click()
    await expect(dialog.get_by_role("alert")).to_have_text("Saved as a draft, assigned to Carl.")
    await dialog.get_by_role("button", name="Close").click()

    status, drafts = await shop.request("GET", f"/api/kb/articles?status=draft&assignee={carl_login['agent']['id']}",
                                        token=carl_login["token"])
    assert status == 200 and [a["title"] for a in drafts["articles"]] == ["Changing the delivery address"]
    [draft] = drafts["articles"]
    assert draft["category"]["id"] == ids["category:shipping"] and draft["source_conversation_id"]
    assert (await shop.request("GET", f"/api/kb/articles/{draft['id']}"))[0] == 404  # not public yet

    # Carl finds it assigned to him and sends it for review.
    carl = await open_console()
    await signed_in(carl, carl_login)
    await carl.get_by_role("button", name="Articles").click()
    articles = carl.get_by_role("dialog", name="Knowledge-base articles")
    row = articles.get_by_role("list", name="Articles").get_by_role("listitem").filter(
        has_text="Changing the delivery address")
    await expect(row).to_contain_text("Draft · Carl")
    await row.get_by_role("button", name="Edit Changing the delivery address").click()
    await expect(articles.get_by_label("Body (Markdown)")).to_have_value(
        "Yes: until the parcel ships, open *My orders* and choose **Change address**.")
    assert await articles.get_by_label("Stage").locator("option").all_inner_texts() == ["Draft", "In review"]
    await articles.get_by_label("Stage").select_option("in_review")
    await articles.get_by_role("button", name="Save article").click()
    await expect(articles.get_by_role("alert")).to_have_text("Saved: Changing the delivery address (in review).")
    await expect(row).to_contain_text("In review · Carl")

    # An admin publishes it; shoppers find it.
    admin = await open_console()
    await signed_in(admin, _admin_login(shop))
    await admin.get_by_role("button", name="Articles").click()
    articles = admin.get_by_role("dialog", name="Knowledge-base articles")
    await articles.get_by_label("Show articles").select_option("work")
    await articles.get_by_role("button", name="Edit Changing the delivery address").click()
    await articles.get_by_label("Stage").select_option("published")
    await articles.get_by_role("button", name="Save article").click()
    await expect(articles.get_by_role("alert")).to_have_text("Saved: Changing the delivery address (published).")
    await screenshot(admin, "kb-published")
    status, found = await shop.request("GET", "/api/kb/search?q=delivery+address")
    assert found["results"][0]["id"] == draft["id"] and found["results"][0]["status"] == "published"


async def test_the_articles_list_shows_the_filter_chosen_last_whatever_answers_first(
        shop: LiveServer, open_console: OpenConsole) -> None:
    """Opening the list loads the articles assigned to the agent; choosing another filter at
    once loads again. The first answer may come last (here it is held back): the list still shows the
    filter chosen."""
    admin_token = await shop.admin_token()
    status, _ = await shop.request("POST", "/api/kb/articles", token=admin_token,
                                   json={"title": "Returning a parcel", "body": "Draft text"})
    assert status == 201
    admin = await open_console()
    await signed_in(admin, _admin_login(shop))
    released = asyncio.Event()

    async def hold_back(route: Route) -> None:
        await released.wait()
        await route.continue_()

    def assigned_to_me(url: str) -> bool:
        return "/api/kb/articles?" in url and "assignee=me" in url

    await admin.route(assigned_to_me, hold_back)
    await admin.get_by_role("button", name="Articles").click()
    articles = admin.get_by_role("dialog", name="Knowledge-base articles")
    await articles.get_by_label("Show articles").select_option("work")
    row = articles.get_by_role("list", name="Articles").get_by_role("listitem")
    await expect(row).to_contain_text(["Returning a parcel"])
    async with admin.expect_response(lambda response: assigned_to_me(response.url)):
        released.set()
    await admin.evaluate("() => new Promise((done) => setTimeout(done, 100))")  # its handler has run
    await expect(row).to_contain_text(["Returning a parcel"])
