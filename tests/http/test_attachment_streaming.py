"""Uploads and downloads stream (chatserver/http/attachments.py, domain/uploads.py), on a real
server on loopback: the body goes to a temporary file as it arrives and never whole into memory
(tracemalloc in this process, where the server runs); a client gone mid-body leaves no temporary
file, no record and no message; one upload more than ``attachment_uploads_in_flight`` is refused
with ``busy`` and the next one after is taken; a 10 MiB file comes back byte for byte on SQLite
and PostgreSQL; a refused upload leaves none either."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ..support import LiveServer, make_settings, wait_until
from .test_attachments import PDF, chat, messages, stored_files, upload

MIB = 1024 * 1024


@pytest.fixture
async def server(tmp_path: Path, backend_settings: dict[str, str]) -> AsyncIterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, attachment_uploads_in_flight=1, attachment_uploads_per_minute=30,
                                    **backend_settings))
    await live.start()
    try:
        yield live
    finally:
        await live.close()


def big_pdf(size: int) -> bytes:
    """A file the server takes as a PDF (its type is decided on the first bytes) of ``size`` bytes."""
    return PDF[:9] + os.urandom(size - 9)


async def in_chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``data`` sent as a chunked body, one slice at a time (never a second copy of it whole)."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


def temporary_files(server: LiveServer) -> list[str]:
    folder = server.settings.data_dir / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def download(server: LiveServer, url: str) -> tuple[int, dict[str, str], str, int]:
    """Status, headers, SHA-256 and size of what ``url`` serves, read in parts."""
    assert server.http is not None
    digest, size = hashlib.sha256(), 0
    async with server.http.get(server.url + url) as resp:
        async for part in resp.content.iter_chunked(64 * 1024):
            digest.update(part)
            size += len(part)
        return resp.status, dict(resp.headers), digest.hexdigest(), size


async def start_upload(server: LiveServer, cid: str, token: str, declared: int, sent: bytes,
                       ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """An upload of ``declared`` bytes of which only ``sent`` went out yet: the connection stays open."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write((f"POST /api/conversations/{cid}/attachments?name=big.pdf&client_msg_id=slow-1 HTTP/1.1\r\n"
                  f"Host: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {token}\r\n"
                  f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n").encode() + sent)
    await writer.drain()
    return reader, writer


def in_flight(server: LiveServer) -> int:
    return server.parts.domain.attachments.spool.in_flight


async def test_a_client_gone_mid_upload_leaves_no_temporary_file_no_record_no_message(server: LiveServer) -> None:
    shopper, _console, login, cid = await chat(server)
    before = await messages(server, cid, login["token"])
    data = big_pdf(2 * MIB)
    _reader, writer = await start_upload(server, cid, shopper.token, len(data), data[:MIB])
    await wait_until(lambda: in_flight(server) == 1 and bool(temporary_files(server)), what="the upload under way")
    writer.close()  # gone, half of the body sent
    await wait_until(lambda: in_flight(server) == 0, what="the upload given up")
    assert temporary_files(server) == []
    assert await stored_files(server) == []
    assert await messages(server, cid, login["token"]) == before
    status, body = await upload(server, cid, shopper.token, PDF, name="after.pdf", client_msg_id="f-2")
    assert status == 201, body  # its place is free again


async def test_one_upload_too_many_is_refused_busy_and_the_next_one_after_is_taken(server: LiveServer) -> None:
    shopper, _console, _login, cid = await chat(server)
    data = big_pdf(MIB)
    reader, writer = await start_upload(server, cid, shopper.token, len(data), data[:1000])
    await wait_until(lambda: in_flight(server) == 1, what="the first upload under way")
    assert server.http is not None
    async with server.http.post(f"{server.url}/api/conversations/{cid}/attachments",
                                params={"name": "second.pdf", "client_msg_id": "f-2"}, data=PDF,
                                headers={"Authorization": f"Bearer {shopper.token}"}) as resp:
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "5"
        error = (await resp.json())["error"]
        assert (error["code"], error["details"]) == ("busy", {"retry_after": 5})
    assert len(await stored_files(server)) == 0
    writer.write(data[1000:])  # the first one completes
    await writer.drain()
    status_line = await reader.readline()
    assert status_line.startswith(b"HTTP/1.1 201"), status_line
    writer.close()
    await wait_until(lambda: in_flight(server) == 0, what="the first upload done")
    status, body = await upload(server, cid, shopper.token, PDF, name="second.pdf", client_msg_id="f-2")
    assert status == 201, body
    assert temporary_files(server) == []


@pytest.mark.both_backends  # the bytes as files, and as 1 MiB rows of PostgreSQL
async def test_a_file_of_the_largest_size_comes_back_byte_for_byte(server: LiveServer) -> None:
    shopper, console, _login, cid = await chat(server)
    data = big_pdf(server.settings.attachment_max_bytes)  # 10 MiB, the limit
    status, body = await upload(server, cid, shopper.token, in_chunks(data), name="invoice.pdf")
    assert status == 201, body
    meta = body["message"]["meta"]
    assert int(meta["size"]) == len(data)
    link = await console.call("attachment:link", {"conversation_id": cid, "attachment_id": meta["attachment_id"]})
    status, headers, digest, size = await download(server, link["url"])
    assert (status, size, digest) == (200, len(data), hashlib.sha256(data).hexdigest())
    assert headers["Content-Length"] == str(len(data))
    assert temporary_files(server) == []
    odd = big_pdf(3 * MIB + 12345)  # parts of 1 MiB and a short last one
    status, body = await upload(server, cid, shopper.token, odd, name="odd.pdf", client_msg_id="f-2")
    assert status == 201, body
    link = await shopper.call("attachment:link", {"conversation_id": cid,
                                                  "attachment_id": body["message"]["meta"]["attachment_id"]})
    assert (await download(server, link["url"]))[2:] == (hashlib.sha256(odd).hexdigest(), len(odd))


async def test_a_10_mib_upload_and_its_download_never_hold_the_file_in_memory(server: LiveServer) -> None:
    shopper, console, _login, cid = await chat(server)
    data = big_pdf(10 * MIB)
    tracemalloc.start()
    try:
        status, body = await upload(server, cid, shopper.token, in_chunks(data), name="manual.pdf")
        assert status == 201, body
        link = await console.call("attachment:link", {"conversation_id": cid,
                                                      "attachment_id": body["message"]["meta"]["attachment_id"]})
        status, _headers, digest, size = await download(server, link["url"])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (status, size, digest) == (200, len(data), hashlib.sha256(data).hexdigest())
    # Client and server together, in this process: a few buffers, not the file (10 MiB).
    assert peak < 3 * MIB, peak


async def test_a_refused_upload_leaves_no_temporary_file(server: LiveServer) -> None:
    shopper, _console, _login, cid = await chat(server)
    stranger = await server.add_agent("Bob")
    limit = server.settings.attachment_max_bytes
    refusals = [
        (await upload(server, cid, shopper.token, b"MZ\x90\x00" + bytes(70_000), name="setup.pdf"), 415),
        (await upload(server, cid, shopper.token, in_chunks(big_pdf(limit + 1))), 413),  # chunked: found on the way
        (await upload(server, cid, shopper.token, PDF, name="invoice.png"), 415),  # a name that lies
        (await upload(server, cid, stranger["token"], PDF, name="from-a-stranger.pdf"), 403),
    ]
    assert [status for (status, _), _ in refusals] == [expected for _, expected in refusals]
    assert in_flight(server) == 0 and temporary_files(server) == []
    assert await stored_files(server) == []
