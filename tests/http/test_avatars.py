"""Agents' avatars over REST, against a real server: an agent sets a picture (a phone photo with
GPS in its EXIF), which is served re-encoded, square, 128 px, without the metadata, with nosniff,
a CSP and a cache lifetime, at a URL that changes with the picture; shoppers see it in their
conversation's agent; it is cleared. SVG, HTML, a huge file, a pixel bomb and a non-image are
refused and change nothing."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ..domain.test_file_checks import GPS_IFD, jpeg_with_gps, png_bytes
from ..support import LiveServer, agent, make_settings, prechat, visitor

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


@pytest.fixture
async def shop(tmp_path: Path, backend_settings: dict[str, str]) -> AsyncIterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, **backend_settings))
    await live.start()
    try:
        yield live
    finally:
        await live.close()


def _body(data: bytes) -> dict[str, str]:
    return {"image": base64.b64encode(data).decode()}


def _error(status: int, body: Any) -> tuple[int, str]:
    assert set(body) == {"error"} and body["error"]["message"], body
    return status, str(body["error"]["code"])


def _png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG whose header declares 900 MP (its pixel data is a few bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _avatar_of(update: dict[str, Any]) -> str | None:
    """The agent's avatar_url in a conversation:updated ("" when it names no agent)."""
    agent = update["conversation"]["agent"]
    return agent["avatar_url"] if agent else ""


async def _image(shop: LiveServer, url: str) -> tuple[int, dict[str, str], bytes]:
    assert shop.http is not None
    async with shop.http.get(shop.url + url) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_an_agent_sets_an_avatar_shoppers_see_and_clears_it(shop: LiveServer) -> None:
    login = await shop.add_agent("Alice")
    token = login["token"]
    assert await shop.request("GET", "/api/me/avatar", token=token) == (200, {"avatar_url": None})

    status, body = await shop.request("PUT", "/api/me/avatar", token=token, json=_body(jpeg_with_gps((300, 200))))
    assert status == 200, body
    first = body["avatar_url"]
    assert first.startswith("/avatars/")
    assert await shop.request("GET", "/api/me/avatar", token=token) == (200, {"avatar_url": first})
    status, headers, data = await _image(shop, first)
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.format == "JPEG" and picture.size == (128, 128)
        assert not picture.getexif() and not picture.getexif().get_ifd(GPS_IFD)
        assert "icc_profile" not in picture.info and "comment" not in picture.info
    assert b"Shopper's Phone" not in data and b"home sweet home" not in data

    # The shopper's view of the conversation names the agent's picture.
    alice = await agent(shop, login)
    shopper = await visitor(shop)
    cid = (await shopper.call("chat:start", prechat(1)))["conversation"]["id"]
    assigned = await shopper.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    assert assigned["conversation"]["agent"] == {"name": "Alice", "avatar_url": first}
    resumed = await shopper.call("session:resume", {})
    assert resumed["conversation"]["agent"]["avatar_url"] == first
    # Agents' own views are unchanged (no avatar_url there).
    joined = await alice.call("conversation:join", {"conversation_id": cid})
    assert joined["conversation"]["agent"] == {"name": "Alice"}

    # A new picture (with transparency) has a new URL; the old one is gone.
    status, body = await shop.request("PUT", "/api/me/avatar", token=token,
                                      json=_body(png_bytes((40, 90), mode="RGBA")))
    assert status == 200, body
    second = body["avatar_url"]
    assert second != first
    # The shopper in the agent's chat is told at once.
    told = await shopper.wait_for("conversation:updated", lambda d: _avatar_of(d) == second)
    assert told["conversation"]["id"] == cid
    assert (await _image(shop, first))[0] == 404
    status, headers, data = await _image(shop, second)
    assert status == 200 and headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.size == (128, 128) and picture.mode == "RGBA"
    rejoined = await shopper.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
    assert rejoined["conversation"]["agent"]["avatar_url"] == second

    # Cleared: initials again.
    status, _ = await shop.request("DELETE", "/api/me/avatar", token=token)
    assert status == 204
    await shopper.wait_for("conversation:updated", lambda d: _avatar_of(d) is None)
    assert await shop.request("GET", "/api/me/avatar", token=token) == (200, {"avatar_url": None})
    assert (await _image(shop, second))[0] == 404
    assert (await shopper.call("session:resume", {}))["conversation"]["agent"]["avatar_url"] is None
    assert (await shop.request("DELETE", "/api/me/avatar", token=token))[0] == 204  # none to clear: fine


async def test_bad_pictures_and_requests_are_refused_and_change_nothing(shop: LiveServer) -> None:
    token = (await shop.add_agent("Bob"))["token"]
    status, body = await shop.request("PUT", "/api/me/avatar", token=token, json=_body(png_bytes((64, 64))))
    assert status == 200
    kept = body["avatar_url"]
    _, _, kept_bytes = await _image(shop, kept)

    refused = [
        (_body(SVG), (415, "file_type_not_allowed")),
        (_body(HTML), (415, "file_type_not_allowed")),
        (_body(b"%PDF-1.4\n%%EOF"), (415, "file_type_not_allowed")),
        (_body(b"just some text"), (415, "file_type_not_allowed")),
        (_body(b"\x89PNG\r\n\x1a\n broken"), (415, "file_type_not_allowed")),
        (_body(_png_bomb()), (413, "file_too_large")),
        (_body(b"\xff\xd8\xff" + b"\0" * (512 * 1024)), (400, "invalid_payload")),  # over 512 KiB
        ({"image": "not base64!"}, (400, "invalid_payload")),
        ({"image": ""}, (400, "invalid_payload")),
        ({}, (400, "invalid_payload")),
        ({**_body(png_bytes()), "name": "x"}, (400, "invalid_payload")),
        ([], (400, "invalid_payload")),
    ]
    for payload, expected in refused:
        status, body = await shop.request("PUT", "/api/me/avatar", token=token, json=payload)
        assert _error(status, body) == expected, payload if isinstance(payload, list) else list(payload)
    status, body = await shop.request("PUT", "/api/me/avatar", token=token, data=png_bytes(),
                                      headers={"Content-Type": "image/png"})
    assert _error(status, body) == (415, "unsupported_media_type")
    status, body = await shop.request("PUT", "/api/me/avatar", json=_body(png_bytes()))
    assert _error(status, body) == (401, "auth_required")
    assert (await shop.request("DELETE", "/api/me/avatar"))[0] == 401
    huge = {"image": base64.b64encode(b"\xff\xd8\xff" + bytes(8 * 1024 * 1024)).decode()}
    status, body = await shop.request("PUT", "/api/me/avatar", token=token, json=huge)
    assert _error(status, body) == (413, "payload_too_large")

    # Nothing changed: the same picture at the same URL.
    assert await shop.request("GET", "/api/me/avatar", token=token) == (200, {"avatar_url": kept})
    status, _, data = await _image(shop, kept)
    assert status == 200 and data == kept_bytes
    for path in ("/avatars/no-such-avatar", "/avatars/" + "a" * 65):
        assert (await _image(shop, path))[0] == 404
