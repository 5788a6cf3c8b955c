"""Schemathesis against the served OpenAPI document, on a real server, with every conformance check
it has: no generated request, valid or not, gets a 5xx; statuses, content types, headers and
bodies are as documented; requests the document allows are accepted and those it forbids refused;
undocumented methods are refused; authentication is not ignored; a deleted resource is gone."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ..kb_corpus import seed
from ..support import PASSWORD, LiveServer, agent, make_settings, prechat, visitor

ST = Path(sys.executable).with_name("st")
# Bounded so the run stays well under a minute on a 2-core machine: examples per operation of the
# stateful phase and of the logout run. The coverage phase sends every boundary and every invalid
# value the document defines, whatever this says (about 2,600 requests); the fuzzing phase's random
# requests come on top, FUZZING_EXAMPLES per operation: at 15 they were about 800 and a third of
# the run's time, and a run at 5 met as many kinds of answer (method, route, status: 515 against
# 513, neither a subset of the other; docs/benchmarks/test-suite.md).
MAX_EXAMPLES = 15
FUZZING_EXAMPLES = 5
# logout would revoke the admin token this run uses: it has a run of its own below, with a fresh
# login for every call. addWebhook cannot be fuzzed here: each endpoint it stored would have the
# outbox POST signed events to a generated address, outside this machine. metrics takes another
# bearer than the agent's this run sends (the metrics_token setting; 404 without it, as this
# server is): tests/http/test_metrics.py checks its every answer.
EXCLUDED = ("logout", "addWebhook", "metrics")
HOOKS = Path(__file__).with_name("schemathesis_logout_hooks.py")
CHECKS = "all"
# Operations whose requests a schema cannot fully describe, so that a request it allows may still
# be refused (400): an article's body names a category and an assignee that must exist, and a
# published one needs text once its Markdown is rendered; a FAQ names articles of its category; a
# report's from must come before its to; a proactive rule's texts may not name a locale twice in
# another case (de and DE).
SEMANTIC_400 = ("addKbArticle", "updateKbArticle", "draftKbArticle", "setKbFaq", "listConversations",
                "ratingsReport", "kbReport", "addProactiveRule", "updateProactiveRule")
# Operations that take a file as base64 whose content decides: a string the schema allows may not be
# base64 at all (400), or not a picture of an accepted type (415), or too many pixels (413).
CONTENT_CHECKED = ("setMyAvatar",)


async def _seed(server: LiveServer) -> dict[str, list[str]]:
    """Chats (closed, assigned, queued), tickets and customers, through the real clients, so the
    routes that read them have something to answer with; returns their ids."""
    desk = await agent(server, await server.add_agent("Alice", capacity=2))
    conversations, tickets = [], []
    for n in range(4):
        shopper = await visitor(server)
        started = await shopper.call("chat:start", prechat(n, email=f"shopper{n}@example.com",
                                                         order_number=f"ORD-{n}"))
        conversations.append(started["conversation"]["id"])
        await shopper.call("message:send", {"conversation_id": conversations[-1], "client_msg_id": "m1",
                                            "body": f"<b>hello</b> {n}"})
        if n < 2:
            await desk.wait_for("conversation:updated", lambda d, cid=conversations[-1]: d["conversation"]["id"]
                                == cid and d["conversation"]["status"] == "assigned")
        if n == 0:
            await shopper.call("conversation:close", {"conversation_id": conversations[-1]})
            await shopper.call("conversation:rate", {"conversation_id": conversations[-1], "rating": 4})
        ticket = await shopper.call("ticket:create", {"name": f"Shopper {n}", "email": f"shopper{n}@example.com",
                                                      "description": "Where is it?", "order_number": f"T-{n}"})
        tickets.append(ticket["ticket"]["id"])
    _, listing = await server.request("GET", "/api/customers", token=await server.admin_token())
    knowledge = await seed(server)  # the knowledge base's categories and articles (a draft among them)
    return {"conversations": conversations, "tickets": tickets,
            "customers": [c["id"] for c in listing["customers"]],
            "articles": [v for k, v in knowledge.items() if not k.startswith("category:")],
            "categories": [v for k, v in knowledge.items() if k.startswith("category:")]}


def _config(seeded: dict[str, list[str]]) -> str:
    """schemathesis.toml: path ids are drawn half of the time from what was seeded; a body over its
    route's byte limit is refused as too large (413), which counts as refusing it; the operations
    of SEMANTIC_400 may refuse a request their schema allows, those of CONTENT_CHECKED one whose
    file is not what they take; the fuzzing phase draws FUZZING_EXAMPLES per operation, the stateful
    one MAX_EXAMPLES."""
    lines = [f"generation.max-examples = {MAX_EXAMPLES}", "",
             "[phases.fuzzing.generation]", f"max-examples = {FUZZING_EXAMPLES}", "",
             "[checks.negative_data_rejection]",
             'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", '
             '"429"]', "",
             "[[operations]]", f"include-operation-id = {json.dumps(list(SEMANTIC_400))}",
             'checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]',
             "",
             "[[operations]]", f"include-operation-id = {json.dumps(list(CONTENT_CHECKED))}",
             'checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "413", "415"]',
             ""]
    for name, ids in seeded.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(ids)}", ""]
    lines.append("[parameters]")
    for name, parameter in (("conversations", "conversation_id"), ("tickets", "ticket_id"),
                            ("customers", "customer_id"), ("articles", "article_id"), ("categories", "category_id")):
        lines.append(f'"path.{parameter}" = {{ dictionary = "{name}", probability = 0.5 }}')
    return "\n".join(lines) + "\n"


def _statuses(har: Path) -> dict[tuple[str, str], set[int]]:
    """(method, path) -> the statuses the run got, from its HAR report."""
    found: dict[tuple[str, str], set[int]] = {}
    for entry in json.loads(har.read_text())["log"]["entries"]:
        path = entry["request"]["url"].split("://", 1)[1].split("/", 1)[1].split("?")[0]
        found.setdefault((entry["request"]["method"], "/" + path), set()).add(entry["response"]["status"])
    return found


async def _st(server: LiveServer, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """``st run`` against the server's document with ``args`` (and schemathesis.toml in ``tmp_path``,
    if there is one); its report (the run must pass)."""
    proc = await asyncio.create_subprocess_exec(
        str(ST), "run", f"{server.url}/api/openapi.json", "--checks", CHECKS, *args,
        "--seed", "20261123", "--generation-deterministic", "--workers", "1",
        "--suppress-health-check", "all",
        "--request-timeout", "10", "--warnings", "off", "--report", "har", "--report-har-path",
        str(tmp_path / "run.har"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={"NO_COLOR": "1", "PATH": str(ST.parent), "HOME": str(tmp_path), **(env or {})},
        cwd=tmp_path,  # schemathesis keeps a cache directory (and reads its config) here
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 170)
    report = output.decode(errors="replace")
    assert proc.returncode == 0, report[-20000:]
    assert "generated" in report and " passed" in report, report[-5000:]
    return report


async def test_the_server_and_its_openapi_document_agree(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, identity_secret="s", departments=("billing", "sales"),
                                      transcript_retention_days=30))
    await server.start()
    try:
        seeded = await _seed(server)
        (tmp_path / "schemathesis.toml").write_text(_config(seeded))
        token = await server.admin_token()
        excluded = [arg for op in EXCLUDED for arg in ("--exclude-operation-id", op)]
        await _st(server, tmp_path, "--header", f"Authorization: Bearer {token}", *excluded,
                  "--phases", "examples,coverage,fuzzing,stateful")
        # The seeded records were reached: the routes that read them answered 200, not only 4xx.
        statuses = _statuses(tmp_path / "run.har")
        answered: dict[str, Any] = {}
        for method, path in [("GET", "/api/conversations/{}"), ("GET", "/api/conversations/{}/transcript"),
                             ("GET", "/api/customers/{}"), ("GET", "/api/customers/{}/export"),
                             ("GET", "/api/customers/{}/conversations"), ("GET", "/api/tickets/{}"),
                             ("GET", "/api/kb/articles/{}")]:
            kind = "articles" if path.startswith("/api/kb/") else path.split("/")[2]
            answered[path] = any(200 in statuses.get((method, path.format(i)), set()) for i in seeded[kind])
        assert all(answered.values()), answered
    finally:
        await server.close()


async def test_logout_fuzzed_with_a_fresh_token_per_call_gets_no_server_error(tmp_path: Path) -> None:
    """logout on its own: each generated call (with its headers, or its Authorization left out or
    garbled by the negative phases) carries a token from a new login, so every one can succeed."""
    server = LiveServer(make_settings(tmp_path))
    await server.start()
    try:
        login = await server.add_agent("Fuzzed")
        admin = await server.admin_token()
        await _st(server, tmp_path, "--include-operation-id", "logout", "--phases", "examples,coverage,fuzzing",
                  "--max-examples", str(MAX_EXAMPLES),
                  env={"SCHEMATHESIS_HOOKS": str(HOOKS), "FUZZ_LOGIN_URL": f"{server.url}/api/auth/login",
                       "FUZZ_AGENT_EMAIL": login["email"], "FUZZ_AGENT_PASSWORD": PASSWORD})
        entries = json.loads((tmp_path / "run.har").read_text())["log"]["entries"]
        calls = [e for e in entries if e["request"]["url"].endswith("/api/auth/logout")]
        statuses = [e["response"]["status"] for e in calls]
        assert statuses and all(status < 500 for status in statuses), statuses
        # 401 for the calls without a valid token, 405 for the methods logout does not have.
        assert set(statuses) <= {204, 401, 405}, statuses
        # Logged out for real, each time with a token of its own: each logout revoked the tokens
        # before it (a revoked one would have got 401).
        agent = await server.parts.stores.agents.agent_by_id(login["agent"]["id"])
        revoked = agent.token_version if agent is not None else None
        assert revoked == statuses.count(204) >= 5, (revoked, statuses)
        assert (await server.request("GET", "/api/me", token=login["token"]))[0] == 401
        assert (await server.request("GET", "/api/me", token=admin))[0] == 200  # only the fuzzed agent's
    finally:
        await server.close()
