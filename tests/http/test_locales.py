"""The widget's and the console's language files (chatserver/http/locales.py): the wanted list
leads to one language's file, at a URL naming its content's hash, cached for good; bad input is
refused and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from ..support import LiveServer, make_settings


async def _get(server: LiveServer, path: str, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    assert server.http is not None
    async with server.http.get(server.url + path, allow_redirects=False, headers=headers) as resp:
        return resp.status, await resp.read(), dict(resp.headers)


async def _file(server: LiveServer, path: str) -> tuple[str, dict[str, object], dict[str, str]]:
    status, _, headers = await _get(server, path)
    assert status == 302, path
    location = "/locales/" + headers["Location"]
    status, body, file_headers = await _get(server, location)
    assert status == 200, location
    return location, json.loads(body), file_headers


async def test_the_wanted_language_or_its_base_or_the_default(server: LiveServer) -> None:
    location, body, headers = await _file(server, "/locales/widget?want=de-AT,en")
    assert location.startswith("/locales/widget/de.") and body["locale"] == "de" and body["dir"] == "ltr"
    messages = body["messages"]
    assert isinstance(messages, dict) and messages["chat.send"] == "Senden"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Access-Control-Allow-Origin"] == "*" and headers["Content-Language"] == "de"
    location, body, _ = await _file(server, "/locales/widget?want=xx,yy")
    assert body["locale"] == "en"
    location, body, _ = await _file(server, "/locales/widget")
    assert body["locale"] == "en"
    _, body, _ = await _file(server, "/locales/console?want=de")
    assert body["locale"] == "de"


async def test_bad_requests_are_refused(server: LiveServer) -> None:
    status, _, _ = await _get(server, "/locales/widget?want=" + "de," * 200)
    assert status == 400
    for path in ["/locales/server", "/locales/../secret", "/locales/widget/de.json",
                 "/locales/widget/xx.0123456789ab.json", "/locales/widget/de.0123456789AB.json",
                 "/locales/server/en.0123456789ab.json"]:
        status, _, _ = await _get(server, path)
        assert status == 404, path
    # An outdated file name (a shop changed its overrides since) is sent on to the current one.
    status, _, headers = await _get(server, "/locales/widget/de.0123456789ab.json")
    assert status == 302 and headers["Location"].startswith("de.") and headers["Cache-Control"] == "no-cache"


async def test_the_shop_default_and_overrides(tmp_path: Path) -> None:
    overrides = tmp_path / "locales" / "widget"
    overrides.mkdir(parents=True)
    (overrides / "de.json").write_text(json.dumps({"launcher.title": "Fragen Sie uns"}), encoding="utf-8")
    live = LiveServer(make_settings(tmp_path, default_locale="de", locale_dir=tmp_path / "locales"))
    await live.start()
    try:
        _, body, _ = await _file(live, "/locales/widget?want=it")
        assert body["locale"] == "de"
        messages = body["messages"]
        assert isinstance(messages, dict) and messages["launcher.title"] == "Fragen Sie uns"
    finally:
        await live.close()
