"""The help centre in the reader's language (docs/knowledge-base.md): the browser's
(Accept-Language), or the one the address names (?lang=, kept in its links), else the shop's
default; Arabic right to left; a language it does not have is no error."""

from __future__ import annotations

from ..kb_corpus import seed
from ..support import LiveServer


async def _page(server: LiveServer, path: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    assert server.http is not None
    async with server.http.get(server.url + path, allow_redirects=False, headers=headers) as resp:
        return resp.status, await resp.text(), dict(resp.headers)


async def test_the_browser_s_language_or_the_address_s(server: LiveServer) -> None:
    await seed(server)
    status, html, headers = await _page(server, "/help/", **{"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"})
    assert status == 200 and '<html lang="de">' in html
    assert "<h1>Wie können wir helfen?</h1>" in html and ">Suchen</button>" in html
    assert "Accept-Language" in headers["Vary"]
    status, html, _ = await _page(server, "/help/?lang=fr", **{"Accept-Language": "de"})
    assert '<html lang="fr">' in html and "Comment pouvons-nous vous aider ?" in html
    assert 'href="/help/categories/returns?lang=fr"' in html and '<input type="hidden" name="lang" value="fr">' in html
    status, html, _ = await _page(server, "/help/search?q=zzzzqqq&lang=ar")
    assert '<html lang="ar" dir="rtl">' in html and "لا توجد مقالات مطابقة" in html
    status, html, _ = await _page(server, "/help/articles/nothing-here?lang=pl")
    assert status == 404 and "<h1>Nie znaleziono strony</h1>" in html


async def test_an_unknown_or_malformed_language_gets_the_default(server: LiveServer) -> None:
    for query, header in [("?lang=xx", "tlh"), ("?lang=%3Cscript%3E", "*"), ("?lang=" + "a" * 300, "??")]:
        status, html, _ = await _page(server, "/help/" + query, **{"Accept-Language": header})
        assert status == 200 and '<html lang="en">' in html and "<h1>How can we help?</h1>" in html, query
