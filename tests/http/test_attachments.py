"""Files in conversations on a real server (loopback), with real python-socketio clients and an
aiohttp client: uploads by the visitor and by the agent, delivered as message:new once; refusals
that store nothing (a lying name, too large declared or chunked, a closed chat, a stranger, bad
input, too many); signed links for the participants only, refused tampered or expired; the
headers files are served with; the metadata gone from a stored photo."""

from __future__ import annotations

import base64
import io
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from chatserver.domain.clock import ManualClock

from ..domain.test_file_checks import GPS_IFD, bomb_png, jpeg_with_gps, png_bytes
from ..support import Client, LiveServer, agent, make_settings, prechat, visitor

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
LIMIT = 200_000


@pytest.fixture
async def clocked(tmp_path: Path, backend_settings: dict[str, str]) -> AsyncIterator[tuple[LiveServer, ManualClock]]:
    clock = ManualClock()
    server = LiveServer(make_settings(tmp_path, attachment_max_bytes=LIMIT, attachment_uploads_per_minute=30,
                                      allowed_origins=("https://shop.example",), **backend_settings), clock=clock)
    await server.start()
    try:
        yield server, clock
    finally:
        await server.close()


@pytest.fixture
def server(clocked: tuple[LiveServer, ManualClock]) -> LiveServer:
    return clocked[0]


async def upload(server: LiveServer, cid: str, token: str | None, data: Any, *, name: str = "photo.jpg",
                 client_msg_id: str = "f-1", headers: dict[str, str] | None = None) -> tuple[int, Any]:
    assert server.http is not None
    query = {k: v for k, v in (("name", name), ("client_msg_id", client_msg_id)) if v is not None}
    headers = {"Content-Type": "application/octet-stream", **(headers or {})}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with server.http.post(f"{server.url}/api/conversations/{cid}/attachments", params=query, data=data,
                                headers=headers) as resp:
        return resp.status, await resp.json()


async def fetch(server: LiveServer, url: str) -> aiohttp.ClientResponse:
    assert server.http is not None
    async with server.http.get(server.url + url) as resp:
        await resp.read()
        return resp


async def chat(server: LiveServer) -> tuple[Client, Client, dict[str, Any], str]:
    """A visitor in a chat assigned to an agent who joined it: (shopper, console, agent's login, id)."""
    login = await server.add_agent("Alice")
    console = await agent(server, login)
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await console.call("conversation:join", {"conversation_id": cid})
    await shopper.wait_for_seq(cid, 3)  # agent_joined
    return shopper, console, login, cid


async def stored_files(server: LiveServer) -> list[str]:
    """The bytes the server keeps, as file names (``ID``, ``ID.thumb``): files under the data
    directory, or with PostgreSQL its rows (and then nothing on disk)."""
    folder = server.settings.data_dir / "attachments"
    on_disk = sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
    if not server.settings.database_url:
        return on_disk
    assert on_disk == []
    rows = await server.parts.stores.database.fetch(  # type: ignore[attr-defined]
        "SELECT DISTINCT attachment_id, variant FROM attachment_parts")
    return sorted(r[0] + (".thumb" if r[1] == "thumbnail" else "") for r in rows)


async def messages(server: LiveServer, cid: str, token: str) -> list[dict[str, Any]]:
    status, transcript = await server.request("GET", f"/api/conversations/{cid}", token=token)
    assert status == 200, transcript
    return transcript["messages"]  # type: ignore[no-any-return]


@pytest.mark.both_backends  # delivery through the bus; PostgreSQL's store
async def test_a_visitors_photo_reaches_the_agent_once_without_its_gps(server: LiveServer) -> None:
    shopper, console, login, cid = await chat(server)
    status, body = await upload(server, cid, shopper.token, jpeg_with_gps((640, 480)), name="Broken checkout.JPG")
    assert status == 201, body
    message = body["message"]
    assert body["duplicate"] is False
    assert (message["kind"], message["body"], message["seq"]) == ("file", "Broken checkout.JPG", 4)
    meta = message["meta"]
    assert meta["name"] == "Broken checkout.JPG" and meta["content_type"] == "image/jpeg"
    assert (meta["width"], meta["height"]) == ("640", "480") and int(meta["size"]) > 0
    assert set(meta) == {"attachment_id", "name", "size", "content_type", "width", "height"}  # never bytes

    got = await console.wait_for_seq(cid, 4)
    assert got == message
    await shopper.wait_for_seq(cid, 4)  # the sender's own connection too: it sent no socket event
    # A resend of the same client id stores nothing new and delivers nothing again.
    status, again = await upload(server, cid, shopper.token, jpeg_with_gps((640, 480)), name="Broken checkout.JPG")
    assert status == 200 and again["duplicate"] is True and again["message"] == message
    ack = await console.call("message:send", {"conversation_id": cid, "client_msg_id": "a-1", "body": "Seen it"})
    await shopper.wait_for_seq(cid, ack["seq"])
    assert [m["seq"] for m in console.messages(cid)].count(4) == 1
    assert [m["seq"] for m in shopper.messages(cid)].count(4) == 1
    assert await stored_files(server) == sorted([meta["attachment_id"], meta["attachment_id"] + ".thumb"])

    # The agent asks for a link and reads the stored photo back: no EXIF, no GPS.
    link = await console.call("attachment:link", {"conversation_id": cid, "attachment_id": meta["attachment_id"]})
    assert link["ok"] and link["url"].startswith(f"/files/{meta['attachment_id']}?")
    assert link["thumbnail_url"] and link["expires_at"] >= server.parts.clock.now() + 299
    resp = await fetch(server, link["url"])
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/jpeg"
    assert resp.headers["Content-Disposition"].startswith("inline;")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert resp.headers["Cache-Control"].startswith("private")
    async with server.http.get(server.url + link["url"]) as r:  # type: ignore[union-attr]
        photo = await r.read()
    with Image.open(io.BytesIO(photo)) as image:
        assert image.size == (640, 480)
        assert dict(image.getexif()) == {} and not image.getexif().get_ifd(GPS_IFD)
        assert not {"exif", "icc_profile", "comment"} & set(image.info)
    assert b"Shopper's Phone" not in photo
    # What the store holds is what was served: the original never reached it.
    assert await server.parts.stores.attachments.attachment_data(meta["attachment_id"]) == photo
    thumb = await fetch(server, link["thumbnail_url"])
    assert thumb.status == 200 and thumb.headers["Content-Type"] == "image/jpeg"

    # The transcript lists the file with its message.
    status, transcript = await server.request("GET", f"/api/conversations/{cid}", token=login["token"])
    assert [a["id"] for a in transcript["attachments"]] == [meta["attachment_id"]]
    assert transcript["attachments"][0]["sender"] == {"kind": "visitor", "name": "Shopper 1"}


@pytest.mark.both_backends  # delivery through the bus; PostgreSQL's store
async def test_an_agents_pdf_reaches_the_visitor_and_is_served_as_a_download(server: LiveServer) -> None:
    shopper, _console, login, cid = await chat(server)
    status, body = await upload(server, cid, login["token"], PDF, name="invoice", client_msg_id="a-f1")
    assert status == 201, body
    message = body["message"]
    assert message["sender"] == {"kind": "agent", "name": "Alice"} and message["body"] == "invoice.pdf"
    assert message["meta"]["content_type"] == "application/pdf" and "width" not in message["meta"]
    assert await shopper.wait_for_seq(cid, message["seq"]) == message
    link = await shopper.call("attachment:link", {"conversation_id": cid,
                                                  "attachment_id": message["meta"]["attachment_id"]})
    assert link["ok"] and link["thumbnail_url"] is None
    resp = await fetch(server, link["url"])
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["Content-Disposition"] == "attachment; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    # Plain text too is a download, never shown inline.
    status, body = await upload(server, cid, shopper.token, b"Order 12 failed at step 3\n", name="log.txt",
                                client_msg_id="v-f2")
    assert status == 201
    link = await shopper.call("attachment:link", {"conversation_id": cid,
                                                  "attachment_id": body["message"]["meta"]["attachment_id"]})
    resp = await fetch(server, link["url"])
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(("data", "name"), [
    (png_bytes(), "invoice.pdf"),  # a lying extension
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "cat.png"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "cat.svg"),
    (b"<!doctype html><script>alert(document.cookie)</script>", "page.html"),
    (b"<html><body>hi</body></html>", "notes.txt"),
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00", "setup.exe"),
    (b"Order 12\n", "order.html"),  # text, but named to be opened as a page
])
async def test_a_file_of_a_type_not_allowed_is_refused_and_nothing_is_stored(server: LiveServer, data: bytes,
                                                                              name: str) -> None:
    shopper, _console, login, cid = await chat(server)
    status, body = await upload(server, cid, shopper.token, data, name=name)
    assert status == 415 and body["error"]["code"] == "file_type_not_allowed", body
    assert await stored_files(server) == []
    assert [m["kind"] for m in await messages(server, cid, login["token"])] == ["system", "text", "system"]


async def test_a_file_too_large_is_refused_declared_or_chunked_and_nothing_is_stored(server: LiveServer) -> None:
    shopper, _console, login, cid = await chat(server)
    status, body = await upload(server, cid, shopper.token, b"a" * (LIMIT + 1), name="big.txt")
    assert status == 413 and body["error"] == {"code": "file_too_large", "message": body["error"]["message"],
                                               "details": {"limit": LIMIT}}

    async def chunks() -> AsyncIterator[bytes]:  # sent chunked: no Content-Length
        for _ in range(LIMIT // 10_000 + 5):
            yield b"b" * 10_000

    status, body = await upload(server, cid, shopper.token, chunks(), name="big.txt")
    assert status == 413 and body["error"]["code"] == "file_too_large"
    status, body = await upload(server, cid, shopper.token, b"c" * LIMIT, name="exactly.txt")
    assert status == 201  # the limit itself is allowed
    assert len(await stored_files(server)) == 1
    assert [m["kind"] for m in await messages(server, cid, login["token"])] == ["system", "text", "system", "file"]


async def test_bad_requests_are_refused_before_anything_is_read_or_stored(server: LiveServer) -> None:
    shopper, _console, login, cid = await chat(server)
    other = await server.visitor_token()
    stranger = await server.add_agent("Mallory")
    cases = [
        (dict(token=None), 401, "auth_required"),
        (dict(token="forged.token"), 401, "invalid_token"),
        (dict(token=other), 404, "not_found"),  # another visitor's conversation looks missing
        (dict(token=stranger["token"]), 403, "forbidden"),
        (dict(token=shopper.token, name=None), 400, "invalid_payload"),
        (dict(token=shopper.token, name=""), 400, "invalid_payload"),
        (dict(token=shopper.token, name="../../etc/passwd"), 400, "invalid_payload"),
        (dict(token=shopper.token, name="a\nb.txt"), 400, "invalid_payload"),
        (dict(token=shopper.token, name="x" * 201 + ".txt"), 400, "invalid_payload"),
        (dict(token=shopper.token, client_msg_id=None), 400, "invalid_payload"),
        (dict(token=shopper.token, client_msg_id="no spaces"), 400, "invalid_payload"),
        (dict(token=shopper.token, cid="missing"), 404, "not_found"),
    ]
    for case, status_wanted, code in cases:
        target = case.pop("cid", cid)
        status, body = await upload(server, str(target), case.pop("token"), png_bytes(),
                                    **{"name": "a.png", **case})  # type: ignore[arg-type]
        assert (status, body["error"]["code"]) == (status_wanted, code), (case, body)
    status, body = await upload(server, cid, shopper.token, b"", name="empty.txt")
    assert status == 400 and body["error"]["code"] == "invalid_payload"
    assert await stored_files(server) == []
    assert len(await messages(server, cid, login["token"])) == 3


async def test_a_closed_conversation_takes_no_file(server: LiveServer) -> None:
    shopper, _console, login, cid = await chat(server)
    await shopper.call("conversation:close", {"conversation_id": cid})
    for token in (shopper.token, login["token"]):
        status, body = await upload(server, cid, token, png_bytes(), name="late.png")
        assert status == 409 and body["error"]["code"] == "conversation_closed"
    assert await stored_files(server) == []


async def test_too_many_uploads_are_refused(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, attachment_uploads_per_minute=2))
    await server.start()
    try:
        shopper, _console, login, cid = await chat(server)
        for n in range(2):
            assert (await upload(server, cid, shopper.token, PDF, name="a.pdf", client_msg_id=f"f-{n}"))[0] == 201
        status, body = await upload(server, cid, shopper.token, PDF, name="a.pdf", client_msg_id="f-3")
        assert status == 429 and body["error"]["code"] == "rate_limited"
        # Another sender has a budget of their own.
        assert (await upload(server, cid, login["token"], PDF, name="a.pdf", client_msg_id="a-1"))[0] == 201
        assert len(await stored_files(server)) == 3
    finally:
        await server.close()


async def test_only_the_participants_and_admins_get_a_link(server: LiveServer) -> None:
    shopper, console, _login, cid = await chat(server)
    _, body = await upload(server, cid, shopper.token, PDF, name="a.pdf")
    attachment_id = body["message"]["meta"]["attachment_id"]
    request = {"conversation_id": cid, "attachment_id": attachment_id}
    other_shopper = await visitor(server)
    refused = await other_shopper.call("attachment:link", request)
    assert refused["error"]["code"] == "not_found"
    stranger = await agent(server, await server.add_agent("Mallory"))
    assert (await stranger.call("attachment:link", request))["error"]["code"] == "forbidden"
    admin = await agent(server, {"token": await server.admin_token()})
    assert (await admin.call("attachment:link", request))["ok"]
    # A file of another conversation, named with this one, is not found.
    other_cid = (await other_shopper.call("chat:start", prechat(2)))["conversation"]["id"]
    assert (await other_shopper.call("attachment:link", {"conversation_id": other_cid,
                                                         "attachment_id": attachment_id}))["error"]["code"] == \
        "not_found"
    for bad in ({"conversation_id": cid}, {**request, "attachment_id": "../x"}, {**request, "extra": 1}, "x"):
        assert (await shopper.call("attachment:link", bad))["error"]["code"] == "invalid_payload"
    # The agent who held the chat keeps reading its files after it closed.
    await shopper.call("conversation:close", {"conversation_id": cid})
    assert (await console.call("attachment:link", request))["ok"]


async def test_a_tampered_or_expired_link_is_refused(clocked: tuple[LiveServer, ManualClock]) -> None:
    server, clock = clocked
    shopper, _console, _login, cid = await chat(server)
    _, first = await upload(server, cid, shopper.token, png_bytes((400, 300)), name="a.png")
    _, second = await upload(server, cid, shopper.token, PDF, name="b.pdf", client_msg_id="f-2")
    a_id, b_id = first["message"]["meta"]["attachment_id"], second["message"]["meta"]["attachment_id"]
    link = await shopper.call("attachment:link", {"conversation_id": cid, "attachment_id": a_id})
    url, thumb = link["url"], link["thumbnail_url"]
    assert (await fetch(server, url)).status == 200
    exp = re.search(r"exp=(\d+)", url)
    assert exp is not None
    tampered = [
        url.replace(a_id, b_id),  # the signature of another file
        url.replace(f"exp={exp[1]}", f"exp={int(exp[1]) + 3600}"),  # a longer life
        url[:-2] + ("AA" if not url.endswith("AA") else "BB"),  # another signature
        url.split("&sig=")[0],  # none
        thumb.replace("&size=thumb", ""),  # the thumbnail's signature for the full file
        url + "&size=thumb",
    ]
    for bad in tampered:
        resp = await fetch(server, bad)
        assert resp.status in (403, 400), bad
        assert resp.headers["Content-Type"].startswith("application/json")
    clock.advance(server.settings.attachment_link_ttl + 1)
    resp = await fetch(server, url)
    assert resp.status == 403
    fresh = await shopper.call("attachment:link", {"conversation_id": cid, "attachment_id": a_id})
    assert (await fetch(server, fresh["url"])).status == 200


async def test_the_upload_route_answers_a_shops_pages(server: LiveServer) -> None:
    assert server.http is not None
    async with server.http.options(f"{server.url}/api/conversations/c1/attachments", headers={
            "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization"}) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    async with server.http.options(f"{server.url}/api/conversations/c1/attachments", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers


async def test_transcripts_show_the_files_and_a_downloaded_page_keeps_the_images(server: LiveServer) -> None:
    shopper, _console, login, cid = await chat(server)
    _, photo = await upload(server, cid, shopper.token, jpeg_with_gps((800, 600)), name="error.jpg")
    _, pdf = await upload(server, cid, login["token"], PDF, name="label.pdf", client_msg_id="a-f1")
    assert server.http is not None
    async with server.http.get(f"{server.url}/api/conversations/{cid}/transcript", params={"format": "html"},
                               headers={"Authorization": f"Bearer {login['token']}"}) as resp:
        page = await resp.text()
        assert "img-src data:" in resp.headers["Content-Security-Policy"]
    assert page.count('src="data:image/jpeg;base64,') == 1  # the photo's thumbnail, in the page itself
    assert "sent a file: error.jpg (" in page and "sent a file: label.pdf (" in page
    assert photo["message"]["meta"]["attachment_id"] not in page.split("<ol>")[0]
    async with server.http.get(f"{server.url}/api/conversations/{cid}/transcript", params={"format": "text"},
                               headers={"Authorization": f"Bearer {login['token']}"}) as resp:
        text = await resp.text()
    assert "Shopper 1: sent a file: error.jpg" in text and "Alice: sent a file: label.pdf (" in text
    _status, transcript = await server.request("GET", f"/api/conversations/{cid}", token=login["token"])
    assert [(a["name"], a["sender"]["kind"]) for a in transcript["attachments"]] == [
        ("error.jpg", "visitor"), ("label.pdf", "agent")]
    assert pdf["message"]["meta"]["attachment_id"] == transcript["attachments"][1]["id"]


@pytest.mark.both_backends  # delivery through the bus; PostgreSQL's store
async def test_a_customers_export_holds_the_files_and_deleting_the_customer_removes_them(
        server: LiveServer) -> None:
    shopper, console, _login, cid = await chat(server)
    _, body = await upload(server, cid, shopper.token, PDF, name="receipt.pdf")
    attachment_id = body["message"]["meta"]["attachment_id"]
    admin = await server.admin_token()
    _, transcript = await server.request("GET", f"/api/conversations/{cid}", token=admin)
    customer_id = transcript["conversation"]["customer_id"]
    status, export = await server.request("GET", f"/api/customers/{customer_id}/export", token=admin)
    assert status == 200
    assert [(f["attachment"]["name"], base64.b64decode(f["data"])) for f in export["files"]] == [
        ("receipt.pdf", PDF)]
    link = await console.call("attachment:link", {"conversation_id": cid, "attachment_id": attachment_id})
    assert await stored_files(server) == [attachment_id]
    status, _ = await server.request("DELETE", f"/api/customers/{customer_id}?force=true", token=admin)
    assert status == 204
    assert await stored_files(server) == []  # the bytes, not only the record
    resp = await fetch(server, link["url"])  # a link made before: the file is gone
    assert resp.status == 404


async def test_retention_deletes_the_files_of_old_conversations(tmp_path: Path) -> None:
    clock = ManualClock(start=time.time())
    server = LiveServer(make_settings(tmp_path, transcript_retention_days=30, retention_interval=3600), clock=clock)
    await server.start()
    try:
        shopper, _console, _login, cid = await chat(server)
        _, body = await upload(server, cid, shopper.token, png_bytes((50, 50)), name="old.png")
        await shopper.call("conversation:close", {"conversation_id": cid})
        newer = await visitor(server)
        other = (await newer.call("chat:start", prechat(2)))["conversation"]["id"]
        _, kept = await upload(server, other, newer.token, PDF, name="new.pdf")
        assert len(await stored_files(server)) == 3  # the image, its thumbnail, the PDF
        clock.advance(31 * 86400)
        await server.parts.domain.customers.apply_retention()  # what the retention loop runs
        assert await stored_files(server) == [kept["message"]["meta"]["attachment_id"]]
        assert await server.parts.stores.attachments.attachment(body["message"]["meta"]["attachment_id"]) is None
    finally:
        await server.close()


async def test_a_waiting_visitor_may_send_a_file_and_a_bomb_is_refused_unread(server: LiveServer) -> None:
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat()))["conversation"]["id"]  # queued: no agent online
    status, body = await upload(server, cid, shopper.token, bomb_png(30_000, 30_000), name="huge.png")
    assert status == 413 and body["error"]["code"] == "file_too_large"
    assert body["error"]["details"] == {"max_pixels": 24_000_000}
    assert await stored_files(server) == []
    status, body = await upload(server, cid, shopper.token, png_bytes((64, 64)), name="small.png")
    assert status == 201 and body["message"]["seq"] == 3
    assert await shopper.wait_for_seq(cid, 3) == body["message"]


async def test_an_agent_reading_a_customers_history_sees_files_named_not_shown(server: LiveServer) -> None:
    shopper, alice_console, alice, first = await chat(server)  # Alice served this customer once
    await shopper.call("conversation:close", {"conversation_id": first})
    await alice_console.call("presence:set", {"status": "away"})
    bob = await server.add_agent("Bob")
    bob_console = await agent(server, bob)
    second = (await shopper.call("chat:start", prechat()))["conversation"]["id"]
    await bob_console.wait_for("conversation:updated", lambda d: d["conversation"]["id"] == second
                               and d["conversation"]["status"] == "assigned")
    _, body = await upload(server, second, shopper.token, png_bytes((60, 40)), name="cart.png")
    attachment_id = body["message"]["meta"]["attachment_id"]
    assert server.http is not None

    async def page(token: str) -> str:
        async with server.http.get(f"{server.url}/api/conversations/{second}/transcript",  # type: ignore[union-attr]
                                   params={"format": "html"}, headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200
            return await r.text()

    # Alice may read the customer's other chat (customers.md), but not fetch its files.
    assert (await alice_console.call("attachment:link", {"conversation_id": second,
                                                         "attachment_id": attachment_id}))["error"]["code"] == \
        "forbidden"
    seen_by_alice = await page(alice["token"])
    assert "sent a file: cart.png" in seen_by_alice and "data:image" not in seen_by_alice
    assert "data:image/jpeg;base64," in await page(bob["token"])  # an opaque image's thumbnail is a JPEG
    assert "data:image/jpeg;base64," in await page(await server.admin_token())
