"""The help centre at /help/: server-rendered pages of the published articles, escaped, under a
policy without scripts; drafts and unknown pages are 404 pages; its searches are logged."""

from __future__ import annotations

import re

from ..kb_corpus import seed
from ..storage.support import server_database, write
from ..support import LiveServer


async def _page(server: LiveServer, path: str) -> tuple[int, str, dict[str, str]]:
    assert server.http is not None
    async with server.http.get(server.url + path, allow_redirects=False) as resp:
        return resp.status, await resp.text(), dict(resp.headers)


async def test_the_help_centre_lists_categories_faq_and_articles(server: LiveServer) -> None:
    ids = await seed(server)
    admin = await server.admin_token()
    await server.request("PUT", f"/api/kb/categories/{ids['category:payment']}/faq", token=admin,
                         json={"article_ids": [ids["declined"]]})
    status, html, headers = await _page(server, "/help/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "script-src" not in headers["Content-Security-Policy"] and "default-src 'none'" in headers[
        "Content-Security-Policy"]
    assert "<script" not in html
    assert [m for m in re.findall(r'<h2><a href="/help/categories/([a-z-]+)">', html)] == [
        "returns", "shipping", "payment", "account"]
    assert '<details class="faq"><summary>Why was my payment declined?</summary>' in html
    assert 'href="/help/articles/how-do-i-get-a-refund"' in html and "Refund secrets" not in html

    status, html, _ = await _page(server, "/help/categories/payment")
    assert status == 200 and "<h1>Payment</h1>" in html and "Paying with PayPal" in html
    status, html, headers = await _page(server, "/help/articles/how-do-i-get-a-refund")
    assert status == 200 and "<h1>How do I get a refund?</h1>" in html
    assert "<strong>5 business days</strong>" in html and headers["Cache-Control"].startswith("public")
    assert '<meta name="description" content="Refunds are paid back' in html
    assert 'href="/help/categories/returns">Returns and refunds</a>' in html and "Returning an item" in html
    status, html, _ = await _page(server, "/help/articles/ruckgabe-und-erstattung")
    assert status == 200 and '<html lang="de">' in html
    status, html, _ = await _page(server, "/help/categories/returns?locale=de")
    assert "Rückgabe und Erstattung" in html and 'href="/help/articles/ruckgabe-und-erstattung?locale=de"' in html
    status, _, headers = await _page(server, "/help")
    assert status == 308 and headers["Location"] == "/help/"
    status, css, headers = await _page(server, "/help/help.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css") and "details.faq" in css


async def test_drafts_and_unknown_pages_are_not_found(server: LiveServer) -> None:
    ids = await seed(server)
    draft = (await server.request("GET", f"/api/kb/articles/{ids['draft']}", token=await server.admin_token()))[1]
    for path in [f"/help/articles/{draft['article']['slug']}", "/help/articles/nothing-here", "/help/categories/none",
                 "/help/articles/Not%20A%20Slug", "/help/articles/" + "a" * 81, "/help/nothing"]:
        status, html, _headers = await _page(server, path)
        assert status == 404, path
        assert "Internal" not in html and ("<h1>Page not found</h1>" in html or "not_found" in html), path


async def test_everything_on_a_page_is_escaped(server: LiveServer) -> None:
    admin = await server.admin_token()
    status, body = await server.request("POST", "/api/kb/categories", token=admin, json={
        "name": '<script>alert("c")</script>', "slug": "evil", "description": '"><img src=x onerror=alert(1)>'})
    assert status == 201
    status, body = await server.request("POST", "/api/kb/articles", token=admin, json={
        "title": "<img src=x onerror=alert(2)> Evil", "slug": "evil", "status": "published",
        "category_id": body["category"]["id"], "tags": ["<b>tag</b>"],
        "body": "<script>alert(3)</script> [x](javascript:alert(4)) <iframe src=//evil.example></iframe>"})
    assert status == 201
    for path in ["/help/", "/help/categories/evil", "/help/articles/evil",
                 "/help/search?q=%3Cscript%3Ealert(5)%3C%2Fscript%3E+evil", "/help/search?q=%22%3E%3Cb%3E"]:
        status, html, _ = await _page(server, path)
        assert status == 200, path
        assert "<script" not in html and "<img src=x" not in html and "<iframe" not in html, path
        assert "javascript:" not in html.replace("[x](javascript:alert(4))", ""), path
        assert '"><b>' not in html and "<b>tag</b>" not in html, path
    _, html, _ = await _page(server, "/help/articles/evil")
    assert "&lt;img src=x onerror=alert(2)&gt; Evil" in html and "&lt;script&gt;alert(3)&lt;/script&gt;" in html


async def test_a_stored_body_changed_behind_the_applications_back_is_sanitized_again(server: LiveServer) -> None:
    admin = await server.admin_token()
    status, _body = await server.request("POST", "/api/kb/articles", token=admin, json={
        "title": "Tampered", "slug": "tampered", "body": "Fine.", "status": "published"})
    assert status == 201
    await write(server_database(server),
                "UPDATE kb_articles SET body_html = '<p onclick=\"alert(1)\">Hi</p><script>alert(2)</script>"
                "<a href=\"javascript:alert(3)\">x</a><img src=\"data:image/svg+xml,x\" onerror=\"alert(4)\">' "
                "WHERE slug = 'tampered'")
    _, html, _ = await _page(server, "/help/articles/tampered")
    assert "<p>Hi</p>" in html and "<script" not in html and "onclick" not in html and "onerror" not in html
    assert "javascript:" not in html and "data:" not in html


async def test_searching_the_help_centre_shows_and_logs_results(server: LiveServer) -> None:
    await seed(server)
    status, html, headers = await _page(server, "/help/search?q=refnud")
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    assert "Showing results for <strong>refund</strong>" in html
    assert html.index("How do I get a refund?") < html.index("</ol>")
    assert 'value="refnud"' in html
    status, html, _ = await _page(server, "/help/search?q=xylophone")
    assert status == 200 and "No articles match" in html
    status, html, _ = await _page(server, "/help/search")
    assert status == 200 and "Type what you are looking for" in html
    status, html, _ = await _page(server, f"/help/search?q={'x' * 201}")
    assert status == 400 and "limited to 200 characters" in html
    _, report = await server.request("GET", "/api/reports/knowledge-base", token=await server.admin_token())
    assert report["searches"] == 2 and report["no_result_searches"] == [{"query": "xylophone", "count": 1}]
