"""`chatserver customer export|delete`, run as a real process against a real database file."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from chatserver.domain.clock import SystemClock
from chatserver.domain.customers import CustomerService
from chatserver.domain.identity import sign_identity
from chatserver.domain.knowledge import Article, ArticleFilter, ArticleStatus
from chatserver.domain.models import Conversation, ConversationStatus, PartyKind, PreChat
from chatserver.domain.ports import NewMessage
from chatserver.storage.sqlite import open_sqlite

from .test_cli import _run, _run_at_once


async def _seed(db: Path, status: ConversationStatus = ConversationStatus.CLOSED) -> str:
    """A conversation (closed unless said) of an identified customer; returns the customer's id."""
    stores = await open_sqlite(db)
    try:
        clock = SystemClock()
        conversation = Conversation(id="c1", visitor_id="v1", status=status,
                                    prechat=PreChat(name="Ann", question="Where is my parcel?"),
                                    created_at=clock.now())
        await stores.conversations.create_conversation(conversation, [NewMessage(
            conversation_id="c1", kind="text", sender_kind=PartyKind.VISITOR, sender_id="v1", sender_name="Ann",
            body="Where is my parcel?", created_at=clock.now())])
        customers = CustomerService(customers=stores.customers, conversations=stores.conversations, clock=clock,
                                    new_id=lambda: uuid.uuid4().hex, identity_secret="s")
        await customers.attach_chat("v1", conversation.prechat)
        customer = await customers.identify_visitor("v1", sign_identity("s", {"external_id": "shop-1",
                                                                              "iat": clock.now()}))
        # A draft an agent made from the chat (POST /api/kb/drafts): the customer's until published.
        await stores.knowledge.save_article(Article(
            id="kb1", slug="where-is-my-parcel", title="Where is my parcel?", body="", body_html="", body_text="",
            status=ArticleStatus.DRAFT, created_by="a1", created_at=clock.now(), updated_at=clock.now(),
            source_conversation_id="c1", source_customer_id=customer.id))
        return customer.id
    finally:
        await stores.database.close()


async def _article_ids(db: Path) -> list[str]:
    stores = await open_sqlite(db)
    try:
        return [a.id for a in (await stores.knowledge.articles(
            ArticleFilter(statuses=tuple(ArticleStatus)), 10, 0))[0]]
    finally:
        await stores.database.close()


def test_customer_export_and_delete(tmp_path: Path) -> None:
    customer_id = asyncio.run(_seed(tmp_path / "chatserver.db"))
    exported = _run("customer", "export", "--external-id", "shop-1", data_dir=tmp_path)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["customer"]["id"] == customer_id and data["visitor_ids"] == ["v1"]
    assert [m["body"] for m in data["conversations"][0]["messages"]] == ["Where is my parcel?"]
    assert [(a["id"], a["title"]) for a in data["related"]["kb_articles"]] == [("kb1", "Where is my parcel?")]

    out = tmp_path / "export.json"
    to_file = _run("customer", "export", "--id", customer_id, "--output", str(out), data_dir=tmp_path)
    assert to_file.returncode == 0 and json.loads(out.read_text()) == data
    assert out.stat().st_mode & 0o777 == 0o600

    unconfirmed = _run("customer", "delete", "--id", customer_id, data_dir=tmp_path)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    assert _run("customer", "export", "--id", customer_id, data_dir=tmp_path).returncode == 0
    assert asyncio.run(_article_ids(tmp_path / "chatserver.db")) == ["kb1"]
    deleted = _run("customer", "delete", "--id", customer_id, "--yes", data_dir=tmp_path)
    assert deleted.returncode == 0, deleted.stderr
    assert asyncio.run(_article_ids(tmp_path / "chatserver.db")) == []
    *gone, unnamed = _run_at_once((["customer", "export", "--id", customer_id], None),
                                  (["customer", "delete", "--id", customer_id, "--yes"], None),
                                  (["customer", "export", "--external-id", "shop-1"], None),
                                  (["customer", "export"], None), data_dir=tmp_path)
    for refused in gone:
        assert refused.returncode == 2 and refused.stderr.startswith("chatserver: "), refused.args
    assert unnamed.returncode == 2  # --id or --external-id is required


def test_customer_delete_with_an_open_chat_needs_force(tmp_path: Path) -> None:
    customer_id = asyncio.run(_seed(tmp_path / "chatserver.db", ConversationStatus.QUEUED))
    refused = _run("customer", "delete", "--id", customer_id, "--yes", data_dir=tmp_path)
    assert refused.returncode == 2 and "active conversation" in refused.stderr
    assert _run("customer", "export", "--id", customer_id, data_dir=tmp_path).returncode == 0
    forced = _run("customer", "delete", "--id", customer_id, "--yes", "--force", data_dir=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert _run("customer", "export", "--id", customer_id, data_dir=tmp_path).returncode == 2


def test_customer_options_come_from_their_variables(tmp_path: Path) -> None:
    customer_id = asyncio.run(_seed(tmp_path / "chatserver.db", ConversationStatus.QUEUED))
    out = tmp_path / "export.json"
    delete = {"CHATSERVER_CUSTOMER_DELETE_ID": customer_id}
    refusing = [({"CHATSERVER_CUSTOMER_DELETE_YES": "0"}, "--yes"),
                ({"CHATSERVER_CUSTOMER_DELETE_YES": "maybe"}, "CHATSERVER_CUSTOMER_DELETE_YES"),
                ({"CHATSERVER_CUSTOMER_DELETE_YES": "1"}, "active conversation"),
                ({"CHATSERVER_CUSTOMER_DELETE_YES": "1", "CHATSERVER_CUSTOMER_DELETE_FORCE": "perhaps"},
                 "CHATSERVER_CUSTOMER_DELETE_FORCE")]
    # None of these changes anything: they run at once.
    exported, flagged, both, unnamed, *refusals = _run_at_once(
        (["customer", "export"], {"CHATSERVER_CUSTOMER_EXPORT_EXTERNAL_ID": "shop-1",
                                  "CHATSERVER_CUSTOMER_EXPORT_OUTPUT": str(out)}),
        # A flag wins, and makes the other one's variable not count; both variables are refused.
        (["customer", "export", "--id", customer_id], {"CHATSERVER_CUSTOMER_EXPORT_EXTERNAL_ID": "someone-else"}),
        (["customer", "export"], {"CHATSERVER_CUSTOMER_EXPORT_ID": customer_id,
                                  "CHATSERVER_CUSTOMER_EXPORT_EXTERNAL_ID": "shop-1"}),
        # export's variables are not delete's.
        (["customer", "delete", "--yes"], {"CHATSERVER_CUSTOMER_EXPORT_ID": customer_id}),
        *((["customer", "delete"], {**delete, **refused_env}) for refused_env, _ in refusing), data_dir=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(out.read_text())["customer"]["id"] == customer_id
    assert flagged.returncode == 0 and json.loads(flagged.stdout)["customer"]["id"] == customer_id
    assert both.returncode == 2 and "set only one of" in both.stderr
    assert unnamed.returncode == 2 and "CHATSERVER_CUSTOMER_DELETE_ID" in unnamed.stderr
    for (refused_env, says), refused in zip(refusing, refusals, strict=True):
        assert refused.returncode == 2 and says in refused.stderr, (refused_env, refused.stderr)
    assert _run("customer", "export", "--id", customer_id, data_dir=tmp_path).returncode == 0
    forced = _run("customer", "delete", data_dir=tmp_path, env={
        **delete, "CHATSERVER_CUSTOMER_DELETE_YES": "yes", "CHATSERVER_CUSTOMER_DELETE_FORCE": "true"})
    assert forced.returncode == 0, forced.stderr
    assert _run("customer", "export", "--id", customer_id, data_dir=tmp_path).returncode == 2
