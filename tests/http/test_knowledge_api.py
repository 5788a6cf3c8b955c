"""The knowledge base's REST routes on a real server: who may read and write what, drafts from
finished conversations through review to published, the FAQ order, search and suggestions, the
report, cross-origin calls from a shop, and bad input that changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..kb_corpus import seed
from ..processes import ServerProcess
from ..support import LiveServer, agent, make_settings, prechat, visitor


def _error(body: Any) -> str:
    assert set(body) == {"error"} and body["error"]["message"], body
    return str(body["error"]["code"])


async def _everything(server: LiveServer) -> Any:
    """What a change would show in: every article (Markdown included), the categories, the FAQ, the report."""
    admin = await server.admin_token()
    return [(await server.request("GET", path, token=admin))[1] for path in (
        "/api/kb/articles?status=all&limit=200", "/api/kb/categories", "/api/kb/faq", "/api/reports/knowledge-base")]


async def _closed_chat(server: LiveServer, login: dict[str, Any], question: str,
                       answers: list[str]) -> str:
    console = await agent(server, login)
    shopper = await visitor(server)
    cid = (await shopper.call("chat:start", prechat(1) | {"question": question}))["conversation"]["id"]
    await console.wait_for("conversation:updated", lambda d: d["conversation"]["status"] == "assigned")
    await console.call("conversation:join", {"conversation_id": cid, "after_seq": 0})
    for n, answer in enumerate(answers):
        ack = await console.call("message:send", {"conversation_id": cid, "client_msg_id": f"a-{n}", "body": answer})
        assert "seq" in ack, ack
    await shopper.call("message:send", {"conversation_id": cid, "client_msg_id": "v-1", "body": "Thanks!"})
    assert "conversation" in await console.call("conversation:close", {"conversation_id": cid})
    return str(cid)


async def test_anyone_reads_published_articles_and_only_agents_see_drafts(server: LiveServer) -> None:
    ids = await seed(server)
    status, listing = await server.request("GET", "/api/kb/articles?limit=200")
    assert status == 200 and listing["total"] == 13
    assert ids["draft"] not in {a["id"] for a in listing["articles"]}
    assert all("body" not in a and a["status"] == "published" for a in listing["articles"])
    status, body = await server.request("GET", f"/api/kb/articles/{ids['refund']}")
    assert status == 200 and "<strong>5 business days</strong>" in body["article"]["body_html"]
    assert body["article"]["url"] == "/help/articles/how-do-i-get-a-refund" and "body" not in body["article"]
    assert (await server.request("GET", f"/api/kb/articles/{ids['draft']}"))[0] == 404
    status, body = await server.request("GET", "/api/kb/articles?status=draft")
    assert status == 401 and _error(body) == "auth_required"

    login = await server.add_agent()
    status, body = await server.request("GET", f"/api/kb/articles/{ids['draft']}", token=login["token"])
    assert status == 200 and body["article"]["body"].startswith("Internal") and body["article"]["status"] == "draft"
    status, body = await server.request("GET", "/api/kb/articles?status=draft", token=login["token"])
    assert [a["id"] for a in body["articles"]] == [ids["draft"]]
    status, body = await server.request("GET", "/api/kb/articles?category=payment&tag=vouchers")
    assert [a["id"] for a in body["articles"]] == [ids["voucher"]]
    status, body = await server.request("GET", "/api/kb/categories")
    assert [(c["slug"], c["articles"]) for c in body["categories"]] == [
        ("returns", 3), ("shipping", 3), ("payment", 4), ("account", 3)]


async def test_writing_is_for_admins_and_refused_writes_change_nothing(server: LiveServer) -> None:
    ids = await seed(server)
    login = await server.add_agent()
    before = await _everything(server)
    attempts = [
        ("POST", "/api/kb/articles", {"title": "Mine", "body": "x", "status": "published"}),
        ("PATCH", f"/api/kb/articles/{ids['refund']}", {"title": "Hacked"}),
        ("PATCH", f"/api/kb/articles/{ids['draft']}", {"title": "Not assigned to me"}),
        ("DELETE", f"/api/kb/articles/{ids['refund']}", None),
        ("POST", "/api/kb/categories", {"name": "Mine"}),
        ("PATCH", f"/api/kb/categories/{ids['category:payment']}", {"name": "Hacked"}),
        ("DELETE", f"/api/kb/categories/{ids['category:payment']}", None),
        ("PUT", f"/api/kb/categories/{ids['category:payment']}/faq", {"article_ids": [ids["card"]]}),
        ("GET", "/api/reports/knowledge-base", None),
    ]
    for method, path, payload in attempts:
        status, body = await server.request(method, path, token=login["token"], json=payload)
        assert status == 403 and _error(body) == "forbidden", (method, path, body)
        status, body = await server.request(method, path, json=payload)
        assert status == 401 and _error(body) == "auth_required", (method, path, body)
        status, body = await server.request(method, path, token="forged.token", json=payload)
        assert status == 401 and _error(body) == "invalid_token", (method, path, body)
    assert await _everything(server) == before


async def test_bad_input_is_refused_with_structured_errors_and_changes_nothing(server: LiveServer) -> None:
    ids = await seed(server)
    admin = await server.admin_token()
    await server.request("GET", "/api/kb/search?q=refund&record=true")
    before = await _everything(server)
    payment = ids["category:payment"]
    bad: list[tuple[str, str, Any, int, str]] = [
        ("POST", "/api/kb/articles", {"title": "Long", "body": "x" * 20_001}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "Huge", "body": "x" * 300_000}, 413, "payload_too_large"),
        ("POST", "/api/kb/articles", {"title": ""}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "   "}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"body": "no title"}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "x", "slug": "Not A Slug"}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "x", "slug": "line-break\n"}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "x", "locale": "en\n"}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "x", "slug": "how-do-i-get-a-refund"}, 409, "conflict"),
        ("POST", "/api/kb/articles", {"title": "x", "status": "live"}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "x", "status": "published", "body": ""}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "x", "category_id": "nope"}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "x", "assignee_id": "nobody"}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "x", "tags": [f"t{n}" for n in range(21)]}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "x", "tags": ["a,b"]}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "x", "locale": "not a locale"}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", {"title": "x", "admin": True}, 400, "invalid_payload"),
        ("POST", "/api/kb/articles", [1, 2], 400, "invalid_payload"),
        ("PATCH", f"/api/kb/articles/{ids['refund']}", {"body": "x" * 20_001}, 400, "invalid_payload"),
        ("PATCH", f"/api/kb/articles/{ids['refund']}", {"title": None}, 400, "invalid_payload"),
        ("PATCH", f"/api/kb/articles/{ids['refund']}", {"slug": "returning-an-item"}, 409, "conflict"),
        ("PATCH", f"/api/kb/articles/{ids['refund']}", None, 400, "invalid_payload"),  # no body at all
        ("PATCH", "/api/kb/articles/no-such-article", {"title": "x"}, 404, "not_found"),
        ("PATCH", f"/api/kb/articles/{'x' * 65}", {"title": "x"}, 404, "not_found"),
        ("GET", f"/api/kb/articles/{'x' * 65}", None, 404, "not_found"),
        ("DELETE", "/api/kb/articles/no-such-article", None, 404, "not_found"),
        ("POST", "/api/kb/categories", {"name": "Payment", "slug": "payment"}, 409, "conflict"),
        ("POST", "/api/kb/categories", {"slug": "no-name"}, 400, "invalid_payload"),
        ("POST", "/api/kb/categories", {"name": "x", "position": -1}, 400, "invalid_payload"),
        ("PATCH", "/api/kb/categories/nope", {"name": "x"}, 404, "not_found"),
        ("PATCH", f"/api/kb/categories/{payment}", None, 400, "invalid_payload"),
        ("DELETE", "/api/kb/categories/nope", None, 404, "not_found"),
        # An article of another category: the FAQ is refused (the category itself is there).
        ("PUT", f"/api/kb/categories/{payment}/faq", {"article_ids": [ids["card"], ids["refund"]]}, 400,
         "invalid_payload"),
        ("PUT", f"/api/kb/categories/{payment}/faq", {"article_ids": [ids["card"], ids["card"]]}, 400,
         "invalid_payload"),
        ("PUT", f"/api/kb/categories/{payment}/faq", {"article_ids": "x"}, 400, "invalid_payload"),
        ("PUT", "/api/kb/categories/nope/faq", {"article_ids": []}, 404, "not_found"),
        ("POST", "/api/kb/drafts", {"conversation_id": "nope"}, 404, "not_found"),
        ("POST", "/api/kb/drafts", {}, 400, "invalid_payload"),
        ("GET", "/api/kb/search", None, 400, "invalid_payload"),
        ("GET", "/api/kb/search?q=%20", None, 400, "invalid_payload"),
        ("GET", f"/api/kb/search?q={'x' * 201}", None, 400, "invalid_payload"),
        ("GET", "/api/kb/search?q=refund&limit=0", None, 400, "invalid_payload"),
        ("GET", "/api/kb/search?q=refund&record=maybe", None, 400, "invalid_payload"),
        ("GET", "/api/kb/search?q=refund&source=elsewhere", None, 400, "invalid_payload"),
        ("GET", "/api/kb/search?q=refund&category=nope", None, 404, "not_found"),
        ("GET", "/api/kb/faq?category=nope", None, 404, "not_found"),
        ("GET", f"/api/kb/faq?category={'x' * 81}", None, 400, "invalid_payload"),
        ("GET", "/api/kb/articles?status=deleted", None, 400, "invalid_payload"),
        ("GET", "/api/kb/articles?limit=abc", None, 400, "invalid_payload"),
        ("GET", "/api/kb/suggestions?limit=99", None, 400, "invalid_payload"),
        ("GET", f"/api/kb/suggestions?page_url=https://shop.example/{'x' * 1000}", None, 400, "invalid_payload"),
        ("GET", "/api/kb/suggestions?page_url=javascript:alert(1)", None, 400, "invalid_payload"),
        ("GET", "/api/kb/suggestions?page_url=", None, 400, "invalid_payload"),
        ("GET", "/api/kb/suggestions?page_url=https://shop.example/%0A", None, 400, "invalid_payload"),
        ("POST", "/api/kb/feedback", {"outcome": "loved_it"}, 400, "invalid_payload"),
        ("POST", "/api/kb/feedback", {"outcome": "answered", "article_id": "nope"}, 404, "not_found"),
        ("POST", "/api/kb/feedback", {"outcome": "answered", "article_id": ids["draft"]}, 404, "not_found"),
        ("POST", "/api/kb/feedback", {"outcome": "answered", "query": "q" * 201}, 400, "invalid_payload"),
        ("GET", "/api/reports/knowledge-base?from=yesterday", None, 400, "invalid_payload"),
        ("GET", "/api/reports/knowledge-base?from=2026-02-02&to=2026-02-01", None, 400, "invalid_payload"),
    ]
    for method, path, payload, expected_status, code in bad:
        status, body = await server.request(method, path, token=admin, json=payload)
        assert (status, _error(body)) == (expected_status, code), (method, path, body)
    status, body = await server.request("POST", "/api/kb/articles", token=admin, data=b"{not json",
                                        headers={"Content-Type": "application/json"})
    assert status == 400 and _error(body) == "invalid_payload"
    status, body = await server.request("POST", "/api/kb/articles", token=admin, data=b"x" * 300_000,
                                        headers={"Content-Type": "application/json"})
    assert status == 413 and _error(body) == "payload_too_large"
    assert await _everything(server) == before


async def test_hostile_markdown_is_stored_as_safe_html(server: LiveServer) -> None:
    admin = await server.admin_token()
    body = ("<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[click](javascript:alert(3)) "
            "[data](data:text/html;base64,PHNjcmlwdD4=) ![img](https://example.com/x.png \"t\")\n\n"
            + ">" * 5000 + " deep\n\n" + "[" * 5000)
    status, created = await server.request("POST", "/api/kb/articles", token=admin,
                                           json={"title": "<b>Hostile</b>", "body": body, "status": "published"})
    assert status == 201, created
    html = created["article"]["body_html"]
    assert "<script" not in html and "onerror" not in html.replace("onerror=alert(2)&gt;", "")
    assert "javascript:" not in html.replace("[click](javascript:alert(3))", "") and 'href="data:' not in html
    assert "&lt;script&gt;" in html and '<img src="https://example.com/x.png"' in html
    assert created["article"]["title"] == "<b>Hostile</b>"  # stored as typed; every page escapes it


async def test_a_finished_conversation_becomes_a_draft_then_goes_through_review_to_published(
        server: LiveServer) -> None:
    await seed(server)
    admin = await server.admin_token()
    writer = await server.add_agent("Wendy")
    cid = await _closed_chat(server, writer, "Can I change the delivery address after ordering?",
                             ["Yes: until the parcel ships, open *My orders* and choose **Change address**.",
                              "After it ships, ask the carrier to redirect it."])
    status, body = await server.request("POST", "/api/kb/drafts", token=writer["token"],
                                        json={"conversation_id": cid, "tags": ["delivery"]})
    assert status == 201, body
    draft = body["article"]
    assert draft["status"] == "draft" and draft["title"] == "Can I change the delivery address after ordering?"
    assert draft["body"] == ("Yes: until the parcel ships, open *My orders* and choose **Change address**.\n\n"
                             "After it ships, ask the carrier to redirect it.")
    assert "Thanks!" not in draft["body"] and "<strong>Change address</strong>" in draft["body_html"]
    assert draft["assignee"] == {"id": writer["agent"]["id"], "name": "Wendy"}
    assert draft["source_conversation_id"] == cid and draft["created_by"] == writer["agent"]["id"]
    article_id = draft["id"]
    assert (await server.request("GET", f"/api/kb/articles/{article_id}"))[0] == 404
    _, mine = await server.request("GET", "/api/kb/articles?status=all&assignee=me", token=writer["token"])
    assert [a["id"] for a in mine["articles"]] == [article_id]

    # Assigned to someone else, the draft is theirs to edit.
    colleague = await server.add_agent("Carl")
    status, body = await server.request("POST", "/api/kb/drafts", token=writer["token"], json={
        "conversation_id": cid, "title": "Changing the address", "body": "Ask us.",
        "assignee_id": colleague["agent"]["id"]})
    assert status == 201 and body["article"]["assignee"]["name"] == "Carl"
    status, body = await server.request("PATCH", f"/api/kb/articles/{body['article']['id']}", token=writer["token"],
                                        json={"title": "Not mine any more"})
    assert status == 403 and _error(body) == "forbidden"

    # The assignee edits and sends it for review; only an admin publishes.
    status, body = await server.request("PATCH", f"/api/kb/articles/{article_id}", token=writer["token"],
                                        json={"title": "Changing the delivery address", "status": "in_review"})
    assert status == 200 and body["article"]["status"] == "in_review"
    for change in ({"status": "published"}, {"assignee_id": colleague["agent"]["id"]}):
        status, body = await server.request("PATCH", f"/api/kb/articles/{article_id}", token=writer["token"],
                                            json=change)
        assert status == 403 and _error(body) == "forbidden", change
    status, body = await server.request("PATCH", f"/api/kb/articles/{article_id}", token=admin,
                                        json={"status": "published"})
    assert status == 200 and body["article"]["status"] == "published" and body["article"]["published_at"]
    status, body = await server.request("PATCH", f"/api/kb/articles/{article_id}", token=writer["token"],
                                        json={"title": "Too late"})
    assert status == 403
    status, body = await server.request("GET", "/api/kb/search?q=delivery+address")
    assert body["results"][0]["id"] == article_id

    # Only a finished conversation the agent may read.
    outsider = await server.add_agent()
    status, body = await server.request("POST", "/api/kb/drafts", token=outsider["token"],
                                        json={"conversation_id": cid})
    assert status == 403 and _error(body) == "forbidden"
    shopper = await visitor(server)
    open_cid = (await shopper.call("chat:start", prechat(2)))["conversation"]["id"]
    status, body = await server.request("POST", "/api/kb/drafts", token=admin, json={"conversation_id": open_cid})
    assert status == 409 and _error(body) == "conversation_not_closed"
    status, body = await server.request("POST", "/api/kb/drafts", token=writer["token"],
                                        json={"conversation_id": cid, "status": "published"})
    assert status == 400 and _error(body) == "invalid_payload"


async def test_admins_order_each_categorys_faq(server: LiveServer) -> None:
    ids = await seed(server)
    admin = await server.admin_token()
    payment, shipping = ids["category:payment"], ids["category:shipping"]
    status, body = await server.request("PUT", f"/api/kb/categories/{payment}/faq", token=admin,
                                        json={"article_ids": [ids["declined"], ids["card"]]})
    assert status == 200 and [e["id"] for e in body["entries"]] == [ids["declined"], ids["card"]]
    await server.request("PUT", f"/api/kb/categories/{shipping}/faq", token=admin,
                         json={"article_ids": [ids["tracking"]]})
    _, faq = await server.request("GET", "/api/kb/faq")
    assert [(g["category"]["slug"], [e["id"] for e in g["entries"]]) for g in faq["categories"]] == [
        ("shipping", [ids["tracking"]]), ("payment", [ids["declined"], ids["card"]])]
    assert faq["categories"][0]["entries"][0]["body_html"].startswith("<p>Once your order")
    # Reordered, and an article left out leaves the FAQ.
    await server.request("PUT", f"/api/kb/categories/{payment}/faq", token=admin,
                         json={"article_ids": [ids["card"], ids["paypal"]]})
    _, faq = await server.request("GET", "/api/kb/faq?category=payment")
    assert [e["id"] for e in faq["categories"][0]["entries"]] == [ids["card"], ids["paypal"]]
    _, listing = await server.request("GET", "/api/kb/articles?category=payment")
    assert [a["id"] for a in listing["articles"]][:2] == [ids["card"], ids["paypal"]]
    # Moving an article to another category takes it out of the FAQ; deleting a category keeps its articles.
    await server.request("PATCH", f"/api/kb/articles/{ids['card']}", token=admin, json={"category_id": shipping})
    _, faq = await server.request("GET", "/api/kb/faq?category=payment")
    assert [e["id"] for e in faq["categories"][0]["entries"]] == [ids["paypal"]]
    assert (await server.request("DELETE", f"/api/kb/categories/{payment}", token=admin))[0] == 204
    status, body = await server.request("GET", f"/api/kb/articles/{ids['paypal']}")
    assert status == 200 and body["article"]["category"] is None and body["article"]["faq_position"] is None
    _, found = await server.request("GET", "/api/kb/search?q=paypal")
    assert found["results"][0]["id"] == ids["paypal"] and found["results"][0]["category"] is None


async def test_search_and_page_suggestions(server: LiveServer) -> None:
    status, empty = await server.request("GET", "/api/kb/suggestions?page_url=http://shop.example/payment.html")
    assert status == 200 and empty == {"available": False, "topics": [], "articles": []}
    ids = await seed(server)
    status, body = await server.request("GET", "/api/kb/search?q=refnud&limit=3")
    assert status == 200 and body["corrected"] is True and body["did_you_mean"] == "refund"
    assert body["results"][0]["id"] == ids["refund"] and len(body["results"]) <= 3
    assert body["results"][0]["snippet"] and body["results"][0]["score"] > 0
    assert (await server.request("GET", "/api/kb/search?q=xylophone"))[1]["results"] == []
    _, german = await server.request("GET", "/api/kb/search?q=r%C3%BCckgabe&locale=de")
    assert german["results"][0]["id"] == ids["ruckgabe"]

    _, on_payment = await server.request("GET", "/api/kb/suggestions?page_url=http%3A%2F%2Fshop.example%2Fdemo%2F"
                                                "payment.html&page_title=Payment")
    assert on_payment["available"] is True and on_payment["topics"] == ["payment"]
    assert {a["id"] for a in on_payment["articles"]} <= {ids[k] for k in ("card", "paypal", "declined", "voucher")}
    assert len(on_payment["articles"]) == 4
    _, by_tag = await server.request("GET", "/api/kb/suggestions?topic=tracking&page_title=Shipping")
    assert by_tag["topics"] == ["tracking"] and by_tag["articles"][0]["id"] == ids["tracking"]
    # No topic for the page: the FAQ, once there is one.
    admin = await server.admin_token()
    await server.request("PUT", f"/api/kb/categories/{ids['category:returns']}/faq", token=admin,
                         json={"article_ids": [ids["return"]]})
    _, elsewhere = await server.request("GET", "/api/kb/suggestions?page_url=http://shop.example/about")
    assert elsewhere["topics"] == [] and [a["id"] for a in elsewhere["articles"]] == [ids["return"]]


async def test_the_report_counts_searches_outcomes_and_the_deflection_rate(server: LiveServer) -> None:
    ids = await seed(server)
    admin = await server.admin_token()
    for query in ["refund", "Refund", "refund", "xylophone", "umbrella", "umbrella"]:
        status, _ = await server.request("GET", f"/api/kb/search?q={query}&record=true&source=widget")
        assert status == 200
    await server.request("GET", "/api/kb/search?q=refu")  # as the shopper types: not logged
    for outcome, article in [("answered", "refund"), ("answered", "refund"), ("answered", "paypal"),
                             ("chat_started", None), ("chat_started", None), ("ticket_created", None)]:
        payload = {"outcome": outcome, "query": "refund"} | ({"article_id": ids[article]} if article else {})
        status, body = await server.request("POST", "/api/kb/feedback", json=payload)
        assert status == 204, body
    status, report = await server.request("GET", "/api/reports/knowledge-base", token=admin)
    assert status == 200
    assert report["searches"] == 6 and report["searches_without_results"] == 3
    assert report["top_searches"][0] == {"query": "refund", "count": 3, "results": report["top_searches"][0]["results"]}
    assert report["top_searches"][0]["results"] > 0
    assert report["no_result_searches"] == [{"query": "umbrella", "count": 2}, {"query": "xylophone", "count": 1}]
    assert report["outcomes"] == {"answered": 3, "chat_started": 2, "ticket_created": 1}
    assert report["deflection_rate"] == 0.6
    assert report["top_articles"][0] == {"article_id": ids["refund"], "title": "How do I get a refund?", "count": 2}
    _, later = await server.request("GET", "/api/reports/knowledge-base?from=2999-01-01", token=admin)
    assert later["searches"] == 0 and later["deflection_rate"] is None


async def test_logged_events_are_rate_limited_per_address(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, kb_events_per_minute=3))
    await server.start()
    try:
        await seed(server)
        codes = [(await server.request("POST", "/api/kb/feedback", json={"outcome": "chat_started"}))[0]
                 for _ in range(5)]
        assert codes == [204, 204, 204, 429, 429]
        status, body = await server.request("GET", "/api/kb/search?q=refund&record=true")
        assert status == 200 and body["results"]  # still answered, not logged
        _, report = await server.request("GET", "/api/reports/knowledge-base", token=await server.admin_token())
        assert report["searches"] == 0 and report["outcomes"]["chat_started"] == 3
    finally:
        await server.close()


async def test_shop_origins_may_call_the_help_step_routes(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, allowed_origins=("https://shop.example",)))
    await server.start()
    try:
        ids = await seed(server)
        assert server.http is not None
        shop = {"Origin": "https://shop.example"}
        for path in ["/api/kb/search?q=refund", "/api/kb/suggestions", f"/api/kb/articles/{ids['refund']}"]:
            async with server.http.get(server.url + path, headers=shop) as resp:
                assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "https://shop.example"
            async with server.http.get(server.url + path, headers={"Origin": "https://evil.example"}) as resp:
                assert "Access-Control-Allow-Origin" not in resp.headers
        preflight = {**shop, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
        async with server.http.options(server.url + "/api/kb/feedback", headers=preflight) as resp:
            assert resp.status == 204 and "POST" in resp.headers["Access-Control-Allow-Methods"]
        async with server.http.get(server.url + "/api/kb/categories", headers=shop) as resp:
            assert "Access-Control-Allow-Origin" not in resp.headers  # the help step does not need it
    finally:
        await server.close()


@pytest.mark.timeout(120)
async def test_several_processes_sharing_the_database_search_the_same_articles(tmp_path: Path,
                                                                                redis_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    first = ServerProcess(data, redis_url).start()
    second = ServerProcess(data, redis_url).start()
    server = LiveServer(make_settings(tmp_path))  # a client of the processes (its own server is not started)
    try:
        import aiohttp

        server.http = aiohttp.ClientSession()
        server.port = first.port
        admin = await server.admin_token()
        status, body = await server.request("POST", "/api/kb/articles", token=admin, json={
            "title": "Same-day delivery", "body": "Order before noon for same-day delivery.", "status": "published"})
        assert status == 201
        article_id = body["article"]["id"]
        server.port = second.port
        _, found = await server.request("GET", "/api/kb/search?q=noon")
        assert [r["id"] for r in found["results"]] == [article_id]
        _, corrected = await server.request("GET", "/api/kb/search?q=delivry")
        assert corrected["did_you_mean"] == "delivery" and corrected["results"][0]["id"] == article_id
        status, _ = await server.request("PATCH", f"/api/kb/articles/{article_id}", token=admin,
                                         json={"body": "Order before eleven for same-day delivery."})
        assert status == 200
        server.port = first.port
        assert (await server.request("GET", "/api/kb/search?q=noon"))[1]["results"] == []
        assert [r["id"] for r in (await server.request("GET", "/api/kb/search?q=elevn"))[1]["results"]] == [article_id]
    finally:
        if server.http is not None:
            await server.http.close()
        first.stop()
        second.stop()
