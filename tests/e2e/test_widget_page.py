"""The widget on the shop's page: light to load, isolated from the shop's CSS, usable with a
keyboard and on a phone."""

from __future__ import annotations

import pytest
from playwright.async_api import Request, expect

from ..support import LiveServer, agent
from .conftest import OpenPage
from .test_widget_chat import _queue, _start_chat
from .widget import launcher, panel, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")

SHADOW = "document.querySelector('chatserver-widget').shadowRoot"


async def test_the_chat_ui_and_socket_io_are_fetched_only_when_the_chat_is_opened(
        shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("/demo/")
    fetched: list[str] = []

    def record(req: Request) -> None:
        fetched.append(req.url.removeprefix(shop.url))

    page.on("request", record)
    page.on("websocket", lambda ws: fetched.append(ws.url.removeprefix(shop.url.replace("http", "ws", 1))))
    await page.reload()
    await expect(launcher(page)).to_be_visible()
    await page.wait_for_load_state("networkidle")
    assert not [u for u in fetched if u.startswith(("/widget/", "/socket.io/", "/api/"))], fetched
    await launcher(page).click()
    await expect(panel(page).get_by_label("Your name")).to_be_visible()
    assert [u for u in fetched if u.startswith("/widget/")], fetched
    assert [u for u in fetched if u.startswith("/socket.io/")], fetched  # the chat's WebSocket
    assert "/api/visitor/sessions" in fetched, fetched


async def test_a_panel_left_open_without_a_chat_opens_with_the_first_click_on_the_next_page(
        shop: LiveServer, open_page: OpenPage) -> None:
    """The next page loads only the loader (no chat to resume); the panel remembers it was open,
    and the click that fetches it must open it, not open and close it at once."""
    page = await open_page("/demo/")
    await launcher(page).click()
    await expect(panel(page).get_by_label("Your name")).to_be_visible()
    await page.get_by_role("link", name="Continue to shipping").click()
    await expect(page).to_have_url(f"{shop.url}/demo/shipping.html")
    await expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    await launcher(page).click()
    await expect(panel(page).get_by_label("Your name")).to_be_visible()
    await expect(launcher(page)).to_have_attribute("aria-expanded", "true")
    # Once fetched, the button toggles as before.
    await launcher(page).click()
    await expect(panel(page)).to_be_hidden()
    await launcher(page).click()
    await expect(panel(page).get_by_label("Your name")).to_be_visible()


async def test_shop_css_and_widget_css_do_not_touch_each_other(shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("/demo/payment.html")
    await launcher(page).click()
    start = panel(page).get_by_role("button", name="Start chat")
    await expect(start).to_be_visible()
    # The shop styles every button (uppercase Georgia on brown) and has its own ".panel" class.
    style = await start.evaluate("b => { const s = getComputedStyle(b); "
                                 "return [s.textTransform, s.fontFamily, s.backgroundColor]; }")
    assert style[0] == "none" and "Georgia" not in style[1] and style[2] != "rgb(138, 59, 18)", style
    shop_panel = await page.locator("aside.panel").evaluate(
        "el => { const s = getComputedStyle(el); return [s.position, s.borderTopColor]; }")
    assert shop_panel == ["static", "rgb(217, 200, 180)"]


async def test_keyboard_only_on_a_phone(shop: LiveServer, open_page: OpenPage) -> None:
    await agent(shop, await shop.add_agent("Alice"))
    page = await open_page("/demo/shipping.html", viewport={"width": 375, "height": 667})
    button = launcher(page)
    await button.focus()
    await page.keyboard.press("Enter")
    chat = panel(page)
    await expect(chat).to_be_visible()
    await expect(button).to_have_attribute("aria-expanded", "true")
    name = chat.get_by_label("Your name")
    await expect(name).to_be_focused()

    # The panel fills the narrow screen, and nothing sticks out of it.
    box = await chat.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375.5 and box["height"] <= 667.5, box
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375

    # Every field has a label.
    unlabelled = await page.evaluate(f"""() => [...{SHADOW}.querySelectorAll("input, textarea")]
        .filter(el => el.labels.length === 0 && !el.getAttribute("aria-label")).map(el => el.outerHTML)""")
    assert unlabelled == []

    # Sending the empty form explains what is missing, at the field.
    await chat.get_by_role("button", name="Start chat").focus()
    await page.keyboard.press("Enter")
    await expect(chat.get_by_text("Please tell us your name.")).to_be_visible()
    await expect(name).to_be_focused()
    await expect(name).to_have_attribute("aria-invalid", "true")
    outline = await name.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"  # focus is visible
    await screenshot(page, "10-mobile-form-problem")

    await page.keyboard.type("Ann")
    for field, text in (("Email", "ann@example.com"), ("How can we help?", "Which delivery is fastest?")):
        await page.keyboard.press("Tab")
        await expect(chat.get_by_label(field)).to_be_focused()
        await page.keyboard.type(text)
    await page.keyboard.press("Tab")
    await expect(chat.get_by_label("Order number")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(chat.get_by_role("link", name="Privacy notice")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(chat.get_by_role("button", name="Start chat")).to_be_focused()
    await page.keyboard.press("Enter")
    composer = chat.get_by_label("Your message")
    await expect(composer).to_be_focused()
    await expect(chat.get_by_text("Alice joined the chat.")).to_be_visible()
    # New messages go to a live region that screen readers announce.
    await expect(chat.get_by_role("log", name="Conversation")).to_have_attribute("aria-live", "polite")
    await page.keyboard.type("Thanks!")
    await page.keyboard.press("Enter")
    await expect(chat.locator("li.visitor").last.get_by_text("Sent")).to_be_visible()
    await screenshot(page, "11-mobile-chat")

    # Escape minimizes, and focus goes back to the chat button.
    await page.keyboard.press("Escape")
    await expect(chat).to_be_hidden()
    await expect(button).to_be_focused()
    await expect(button).to_have_attribute("aria-expanded", "false")


async def test_the_privacy_link_and_prefill_come_from_the_script_tag(shop: LiveServer, open_page: OpenPage) -> None:
    page = await open_page("/demo/")
    # A shop that knows its customer passes what it knows; attributes are read when used.
    await page.evaluate("""() => {
        const s = document.querySelector("script[src='/widget.js']");
        s.dataset.name = "Ann Example"; s.dataset.orderNumber = "A-1001"; s.dataset.cartValue = "12,50";
    }""")
    await launcher(page).click()
    chat = panel(page)
    await expect(chat.get_by_label("Your name")).to_have_value("Ann Example")
    await expect(chat.get_by_label("Order number")).to_have_value("A-1001")
    await expect(chat.get_by_label("Email")).to_be_focused()  # the first field still empty
    await _start_chat(page, "Ann Example", "Gift wrapping?")
    await expect(chat.get_by_text(_queue("You are next in the queue"))).to_be_visible()
    admin = await shop.admin_token()
    status, body = await shop.request("GET", "/api/conversations?status=queued", token=admin)
    assert status == 200
    [conversation] = body["conversations"]
    assert conversation["prechat"]["order_number"] == "A-1001"
    assert conversation["prechat"]["cart_value"] == 12.5
