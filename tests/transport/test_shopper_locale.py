"""The shopper's language goes with chat:start and ticket:create (docs/protocol.md): checked
against the widget's languages, kept with the conversation or ticket (SQLite and PostgreSQL),
and the mails the server writes for them are in it: the transcript's system lines, the answer to
a ticket. A language the widget lacks, or no language tag at all, is refused and stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..offline_support import SmtpServer
from ..support import LiveServer, agent, make_settings, prechat, visitor, wait_until

FORM = {"name": "Anna Beispiel", "email": "anna@example.com", "description": "Wo ist mein Paket?"}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def shop(tmp_path: Path, backend_settings: dict[str, str], smtp: SmtpServer) -> AsyncIterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, **backend_settings, **smtp.settings(), outbox_poll_interval=0.2))
    await live.start()
    try:
        yield live
    finally:
        await live.close()


def _error(ack: Any) -> str:
    assert set(ack) == {"error"}, ack
    return str(ack["error"]["code"])


@pytest.mark.both_backends
async def test_a_german_shopper_s_transcript_and_answer_are_mailed_in_german(
        shop: LiveServer, smtp: SmtpServer) -> None:
    alice = await agent(shop, await shop.add_agent("Alice"))
    shopper = await visitor(shop)
    started = await shopper.call("chat:start", prechat(1, email="anna@example.com", locale="de-AT"))
    cid = started["conversation"]["id"]
    await alice.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await alice.call("conversation:join", {"conversation_id": cid})
    await alice.call("message:send", {"conversation_id": cid, "client_msg_id": "a1", "body": "Gern geschehen"})
    await shopper.call("conversation:close", {"conversation_id": cid})
    assert (await shopper.call("transcript:email", {"conversation_id": cid}))["ok"]
    await wait_until(lambda: len(smtp.mails) == 1, what="the transcript email")
    transcript = smtp.mails[0].message.get_content()
    assert smtp.mails[0].message["Subject"].startswith("Der Verlauf Ihres Chats")
    for line in ["Chat gestartet.", "Alice ist dem Chat beigetreten.", "Sie: Where is my order 1?",
                 "Alice: Gern geschehen", "Der Chat wurde beendet.", "Vielen Dank, dass Sie mit uns gechattet haben."]:
        assert line in transcript, (line, transcript)

    ticket = (await shopper.call("ticket:create", {**FORM, "locale": "de"}))["ticket"]
    login = await shop.add_agent("Bea")
    status, _ = await shop.request("POST", f"/api/tickets/{ticket['id']}/answers", token=login["token"],
                                   json={"body": "Es ist heute rausgegangen."})
    assert status == 201
    await wait_until(lambda: len(smtp.mails) == 2, what="the answer email")
    answer = smtp.mails[1].message
    assert answer["Subject"] == f"AW: Ihre Frage ({ticket['reference']})"
    body = answer.get_content()
    assert body.startswith("Hallo Anna Beispiel,") and f"Bea hat Ihre Frage ({ticket['reference']}) beantwortet" in body
    assert "> Wo ist mein Paket?" in body and "Es ist heute rausgegangen." in body


async def test_without_a_language_the_mails_are_in_the_shop_s_default(shop: LiveServer, smtp: SmtpServer) -> None:
    shopper = await visitor(shop)
    ticket = (await shopper.call("ticket:create", FORM))["ticket"]
    login = await shop.add_agent("Bea")
    await shop.request("POST", f"/api/tickets/{ticket['id']}/answers", token=login["token"], json={"body": "Sent."})
    await wait_until(lambda: len(smtp.mails) == 1, what="the answer email")
    assert smtp.mails[0].message["Subject"] == f"Re: your question ({ticket['reference']})"


async def test_a_language_the_widget_lacks_is_refused_and_nothing_is_stored(shop: LiveServer) -> None:
    shopper = await visitor(shop)
    for locale in ["tlh", "xx-YY", "<b>", "", "de" * 20, 7]:
        assert _error(await shopper.call("chat:start", prechat(1, locale=locale))) == "invalid_payload", locale
        assert _error(await shopper.call("ticket:create", {**FORM, "locale": locale})) == "invalid_payload", locale
    login = await shop.add_agent("Bea")
    _, listing = await shop.request("GET", "/api/tickets?status=open", token=login["token"])
    assert listing["tickets"] == []
    resumed = await shopper.call("session:resume", {})
    assert resumed["conversation"] is None
