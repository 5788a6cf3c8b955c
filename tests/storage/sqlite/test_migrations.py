"""Databases left by older versions, with data in every table, migrated to the newest schema
(storage/sqlite/migrations/) with every row kept and each store reading them."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatserver.domain.attachments import Attachment
from chatserver.domain.avatars import AgentAvatar
from chatserver.domain.lockout import LockoutPolicy
from chatserver.domain.models import PartyKind
from chatserver.domain.outbox import OutboxItem, OutboxKind
from chatserver.domain.ports import NewMessage
from chatserver.domain.proactive import ProactiveEvent, ProactiveRule
from chatserver.domain.tickets import TranscriptEmail, TranscriptLimits
from chatserver.errors import RateLimited
from chatserver.storage.sqlite import SQLiteStores, open_sqlite
from chatserver.storage.sqlite.database import migrations


def _database_at(path: Path, version: int) -> sqlite3.Connection:
    raw = sqlite3.connect(path)
    for number, sql in migrations():
        if number <= version:
            raw.executescript(sql)
    raw.execute(f"PRAGMA user_version = {version}")
    return raw


def _fill_version_8(raw: sqlite3.Connection) -> None:
    """Rows in every table of version 8: two agents, and two customers each with a conversation
    (messages, assignment, notes, a co-browse session with the agents who watched it), a ticket
    with an answer and an outbox row; a rating, a canned response, a webhook endpoint and a
    locked-out email."""
    raw.executemany("INSERT INTO agents (id, email, name, password_hash, role, capacity, disabled, token_version, "
                    "created_at, departments) VALUES (?, ?, ?, 'x', 'agent', 3, 0, 0, 1.0, 'billing')",
                    [("a1", "bo@example.com", "Bo"), ("a2", "cy@example.com", "Cy")])
    raw.executemany("INSERT INTO customers (id, external_id, name, emails, phone, notes, tags, created_at, "
                    "last_seen_at) VALUES (?, ?, ?, ?, NULL, ?, '[\"vip\"]', 1.0, ?)",
                    [("cu1", "shop-1", "Ann", '["ann@example.com"]', "likes calls", 5.0),
                     ("cu2", None, "Cleo", "[]", None, 6.0)])
    raw.executemany("INSERT INTO customer_visitors (visitor_id, customer_id, linked_at) VALUES (?, ?, 1.0)",
                    [("v1", "cu1"), ("v2", "cu2")])
    raw.executemany(
        "INSERT INTO conversations (id, visitor_id, status, visitor_name, visitor_email, question, order_number, "
        "page_url, created_at, agent_id, agent_name, assigned_at, closed_at, closed_by, last_seq, page_title, "
        "checkout, department, priority, customer_id, tags, resolution_note) "
        "VALUES (?, ?, ?, ?, NULL, ?, 'ORD-1', 'https://shop.example/pay', 1.0, ?, ?, 2.0, ?, ?, 2, 'Pay', 1, "
        "'billing', 1, ?, '[\"refund\"]', ?)",
        [("c1", "v1", "closed", "Ann", "Where is my refund?", "a1", "Bo", 20.0, "agent", "cu1", "sent a label"),
         ("c2", "v2", "assigned", "Cleo", "Can I pay later?", "a2", "Cy", None, None, "cu2", None)])
    raw.executemany("INSERT INTO messages (conversation_id, seq, kind, sender_kind, sender_id, sender_name, "
                    "client_msg_id, body, created_at) VALUES (?, ?, 'text', ?, ?, ?, ?, ?, ?)",
                    [("c1", 1, "visitor", "v1", "Ann", "m1", "Where is my refund?", 1.0),
                     ("c1", 2, "agent", "a1", "Bo", "m2", "On its way.", 3.0),
                     ("c2", 1, "visitor", "v2", "Cleo", "m1", "Can I pay later?", 1.0),
                     ("c2", 2, "agent", "a2", "Cy", "m2", "Let me look.", 3.0)])
    raw.executemany("INSERT INTO assignment_events (conversation_id, agent_id, event, reason, at) "
                    "VALUES (?, ?, 'assigned', NULL, 2.0)", [("c1", "a1"), ("c2", "a2")])
    raw.execute("INSERT INTO ratings (conversation_id, rating, comment, created_at) VALUES ('c1', 4, 'ok', 21.0)")
    raw.executemany("INSERT INTO conversation_notes (conversation_id, agent_id, agent_name, body, created_at) "
                    "VALUES (?, ?, ?, ?, 2.5)", [("c1", "a1", "Bo", "VIP"), ("c2", "a2", "Cy", "new")])
    raw.execute("INSERT INTO canned_responses (id, shortcut, body, created_at, updated_at) "
                "VALUES ('r1', 'hi', 'Hello!', 1.0, 1.0)")
    raw.executemany(
        "INSERT INTO cobrowse_sessions (id, conversation_id, agent_id, agent_name, status, control, reason, "
        "requested_at, started_at, ended_at, control_requested_at, control_granted_at, pages, bytes_relayed) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 4.0, 5.0, ?, ?, ?, ?, ?)",
        [("s1", "c1", "a1", "Bo", "ended", "revoked", "agent_ended", 12.0, 6.0, 7.0, 2, 4096),
         ("s2", "c2", "a2", "Cy", "active", "none", None, None, None, None, 1, 512)])
    raw.executemany("INSERT INTO cobrowse_views (session_id, agent_id, agent_name, joined_at, left_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [("s1", "a1", "Bo", 5.0, 12.0), ("s1", "a2", "Cy", 8.0, 11.0), ("s2", "a2", "Cy", 5.0, None)])
    raw.executemany("INSERT INTO tickets (id, visitor_id, name, email, order_number, description, page_url, "
                    "status, created_at, updated_at, customer_id) VALUES (?, ?, ?, ?, NULL, ?, NULL, 'open', "
                    "1.0, 1.0, ?)",
                    [("t1", "v1", "Ann", "ann@example.com", "The refund never came", "cu1"),
                     ("t2", "v2", "Cleo", "cleo@example.com", "Invoice?", "cu2")])
    raw.execute("INSERT INTO ticket_answers (ticket_id, agent_id, agent_name, body, created_at) "
                "VALUES ('t1', 'a1', 'Bo', 'Sent again', 2.0)")
    raw.execute("INSERT INTO webhook_endpoints (id, url, secret, events, created_at) "
                "VALUES ('e1', 'https://shop.example/hook', 's', '[\"ticket.created\"]', 1.0)")
    raw.executemany("INSERT INTO outbox (id, visitor_id, kind, target, payload, status, next_attempt_at, "
                    "created_at, customer_id) VALUES (?, ?, 'webhook', 'e1', '{}', 'pending', 0, 0, ?)",
                    [("o1", "v1", "cu1"), ("o2", "v2", "cu2")])
    raw.execute("INSERT INTO login_failures (email, failures, last_failure_at, locked_until) "
                "VALUES ('eve@example.com', 5, 1.0, 301.0)")


def _fill_version_10(raw: sqlite3.Connection) -> None:
    """Version 8's rows and the knowledge base's: a category, a draft and a published article
    drafted from Ann's chat, an admin's own published article (both in the index and its
    vocabulary), a logged search and a help-step outcome."""
    _fill_version_8(raw)
    raw.execute("INSERT INTO kb_categories (id, slug, name, description, position, created_at, updated_at) "
                "VALUES ('kc1', 'returns', 'Returns', '', 1, 1.0, 1.0)")
    raw.executemany(
        "INSERT INTO kb_articles (n, id, slug, title, body, body_html, body_text, category_id, status, assignee_id, "
        "source_conversation_id, created_by, created_at, updated_at, published_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'kc1', ?, 'a1', ?, 'a1', 30.0, 30.0, ?)",
        [(1, "k1", "where-is-my-refund", "Where is my refund?", "On its way.", "<p>On its way.</p>", "On its way.",
          "draft", "c1", None),
         (2, "k2", "refund-times", "Refund times", "Five days.", "<p>Five days.</p>", "Five days.", "published",
          "c1", 31.0),
         (3, "k3", "opening-hours", "Opening hours", "Mon-Fri.", "<p>Mon-Fri.</p>", "Mon-Fri.", "published",
          None, 31.0)])
    raw.executemany("INSERT INTO kb_search (rowid, title, body, tags, locale, category_id) "
                    "VALUES (?, ?, ?, '', NULL, 'kc1')",
                    [(2, "Refund times", "Five days."), (3, "Opening hours", "Mon-Fri.")])
    raw.executemany("INSERT INTO kb_words (word, docs) VALUES (?, ?)",
                    [("", 2), ("refund", 1), ("times", 1), ("five", 1), ("days", 1), ("opening", 1),
                     ("hours", 1), ("mon", 1), ("fri", 1)])
    raw.execute("INSERT INTO kb_word_variants (variant, word) VALUES ('refnd', 'refund')")
    raw.execute("INSERT INTO kb_searches (query, results, source, created_at) VALUES ('refund', 1, 'widget', 32.0)")
    raw.execute("INSERT INTO kb_outcomes (outcome, query, article_id, created_at) "
                "VALUES ('answered', 'refund', 'k2', 33.0)")


def _snapshot(raw: sqlite3.Connection, columns: dict[str, list[str]]) -> dict[str, list[Any]]:
    """Every table's rows in ``columns`` (by table: the ones an older version had), sorted."""
    return {table: sorted((tuple(row) for row in raw.execute(
        f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{table}"')), key=repr)
        for table, cols in columns.items()}


def _columns(raw: sqlite3.Connection) -> dict[str, list[str]]:
    """Every table's columns, but those of the full-text index's own tables (SQLite rewrites
    them as it likes; the index is read through ``kb_search`` itself)."""
    names = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kb\\_search\\_%' ESCAPE '\\'")]
    return {t: [r[1] for r in raw.execute(f'PRAGMA table_info("{t}")')] for t in names}


@contextlib.asynccontextmanager
async def _opened_from(path: Path, version: int) -> AsyncIterator[tuple[SQLiteStores, dict[str, list[Any]],
                                                                         dict[str, list[str]]]]:
    """A database at ``version`` holding version 10's rows (``_fill_version_10``; later versions
    added columns and tables only), opened and so migrated to the newest: its stores, the rows
    before, and the columns they were read with; the database closed after."""
    with _database_at(path, version) as raw:
        _fill_version_10(raw)
        columns = _columns(raw)
        before = _snapshot(raw, columns)
    stores = await open_sqlite(path)
    try:
        assert await stores.database.schema_version() == migrations()[-1][0]
        yield stores, before, columns
    finally:
        await stores.database.close()


async def test_a_database_at_version_8_with_co_browse_sessions_is_migrated_to_the_newest_with_its_data(
        tmp_path: Path) -> None:
    path = tmp_path / "v8.db"
    with _database_at(path, 8) as raw:
        _fill_version_8(raw)
        columns = _columns(raw)
        before = _snapshot(raw, columns)
    assert {"cobrowse_sessions", "cobrowse_views", "customers", "conversations"} <= set(before)
    assert not [t for t, rows in before.items() if not rows]  # every table of version 8 holds data
    stores = await open_sqlite(path)
    try:
        assert await stores.database.schema_version() == migrations()[-1][0] > 8
        cobrowse = stores.cobrowse
        [session] = await cobrowse.sessions_for("c1")
        assert (session.visitor_id, session.agent_name, session.status, session.control, session.reason) == (
            "v1", "Bo", "ended", "revoked", "agent_ended")
        assert (session.pages, session.bytes_relayed, session.ended_at, session.control_granted_at) == (
            2, 4096, 12.0, 7.0)
        assert [(v.agent_name, v.joined_at, v.left_at) for v in await cobrowse.views_for("c1")] == [
            ("Bo", 5.0, 12.0), ("Cy", 8.0, 11.0)]
        live = await cobrowse.live_session_for("c2")
        assert live is not None and live.id == "s2"
        transcript = await stores.conversations.transcript("c1")
        assert transcript is not None and [m.body for m in transcript.messages] == ["Where is my refund?",
                                                                                   "On its way."]
        assert transcript.rating is not None and transcript.conversation.prechat.checkout is True
        customers = stores.customers
        data = await customers.customer_data("cu1")
        assert data is not None and data.customer.external_id == "shop-1" and data.visitor_ids == ["v1"]
        assert [r["id"] for r in data.related["cobrowse_sessions"]] == ["s1"]
        assert sorted(r["agent_name"] for r in data.related["cobrowse_views"]) == ["Bo", "Cy"]
    finally:
        await stores.database.close()
    with sqlite3.connect(path) as raw:
        assert _snapshot(raw, columns) == before  # every row kept, in the columns version 8 had
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []

    # The migrated database deletes a customer with their co-browse metadata, and only theirs.
    stores = await open_sqlite(path)
    try:
        assert await stores.customers.delete_customer("cu1")
    finally:
        await stores.database.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT id FROM cobrowse_sessions").fetchall() == [("s2",)]
        assert raw.execute("SELECT session_id FROM cobrowse_views").fetchall() == [("s2",)]
        assert raw.execute("SELECT id FROM conversations").fetchall() == [("c2",)]


async def test_a_database_at_version_10_with_data_in_every_table_is_migrated_to_the_newest(
        tmp_path: Path) -> None:
    newest = migrations()[-1][0]
    path = tmp_path / "v10.db"
    with _database_at(path, 10) as raw:
        _fill_version_10(raw)
        columns = _columns(raw)
        before = _snapshot(raw, columns)
    assert "kb_search" in before and not [t for t, rows in before.items() if not rows]  # every table holds data
    stores = await open_sqlite(path)
    try:
        assert await stores.database.schema_version() == newest
        knowledge = stores.knowledge
        # Migration 0011: articles drafted from a conversation name its customer.
        drafted, published, own = [await knowledge.article(a) for a in ("k1", "k2", "k3")]
        assert drafted is not None and published is not None and own is not None
        assert (drafted.source_customer_id, published.source_customer_id, own.source_customer_id) == (
            "cu1", "cu1", None)
        assert drafted.title == "Where is my refund?" and drafted.status == "draft"
        hits = await knowledge.match([["refund"]], locale=None, category_id=None, limit=5)
        assert [h.article.id for h in hits] == ["k2"]
        transcript = await stores.conversations.transcript("c1")
        assert transcript is not None and len(transcript.messages) == 2
        data = await stores.customers.customer_data("cu1")
        assert data is not None and sorted(r["id"] for r in data.related["kb_articles"]) == ["k1", "k2"]
    finally:
        await stores.database.close()
    with sqlite3.connect(path) as raw:
        assert _snapshot(raw, columns) == before  # every row kept, in the columns the previous version had
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_a_database_at_version_11_with_data_in_every_table_is_migrated_to_the_newest(
        tmp_path: Path) -> None:
    newest = migrations()[-1][0]
    path = tmp_path / "v11.db"
    with _database_at(path, 11) as raw:
        _fill_version_10(raw)  # version 11 added a column only
        raw.execute("INSERT INTO login_failures (email, failures, last_failure_at, locked_until) "
                    "VALUES ('bo@example.com', 2, 250.0, 0)")
        columns = _columns(raw)
        before = _snapshot(raw, columns)
    assert not [t for t, rows in before.items() if not rows]  # every table holds data
    stores = await open_sqlite(path)
    try:
        assert await stores.database.schema_version() == newest
        # Migration 0012: the failures counted per email become the count over every address: a
        # lock in force stays in force for every address, a count goes on.
        attempts = stores.console
        assert await attempts.locked_until("eve@example.com", "198.51.100.1") == 301.0
        assert await attempts.locked_until("eve@example.com", "2001:db8::/64") == 301.0
        policy = LockoutPolicy(failures=5, lock_seconds=300, global_failures=3, global_lock_seconds=60)
        assert await attempts.record_login_failure("bo@example.com", "198.51.100.1", 260.0, policy) == 320.0
        assert await attempts.locked_until("bo@example.com", "198.51.100.9") == 320.0
    finally:
        await stores.database.close()
    with sqlite3.connect(path) as raw:
        kept = _snapshot(raw, columns)
        assert {t: rows for t, rows in kept.items() if t != "login_failures"} == {
            t: rows for t, rows in before.items() if t != "login_failures"}  # every row kept
        assert kept["login_failures"] == [("bo@example.com", 0, 260.0, 320.0),  # counted on, and locked
                                          ("eve@example.com", 5, 1.0, 301.0)]
        assert raw.execute("SELECT email, address, failures FROM login_failures_by_address").fetchall() == [
            ("bo@example.com", "198.51.100.1", 1)]
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_a_database_at_version_12_with_data_in_every_table_is_migrated_to_the_newest(
        tmp_path: Path) -> None:
    previous, newest = 12, migrations()[-1][0]
    path = tmp_path / "v12.db"
    with _database_at(path, previous) as raw:
        _fill_version_10(raw)  # versions 11 and 12 added a column and an empty table
        raw.execute("INSERT INTO login_failures_by_address (email, address, failures, last_failure_at, locked_until) "
                    "VALUES ('bo@example.com', '198.51.100.1', 1, 250.0, 0)")
        columns = _columns(raw)
        before = _snapshot(raw, columns)
    assert not [t for t, rows in before.items() if not rows]  # every table holds data
    stores = await open_sqlite(path)
    try:
        assert await stores.database.schema_version() == newest
        # Migration 0013: transcripts sent are counted, and go with their customer.
        tickets = stores.tickets
        limits = TranscriptLimits(per_conversation=1, per_address_per_day=5)
        sent = TranscriptEmail(conversation_id="c1", visitor_id="v1", address="ann@example.com", sent_at=40.0)
        await tickets.enqueue_transcript(sent, _mail("m1"), limits)
        with pytest.raises(RateLimited):
            await tickets.enqueue_transcript(sent, _mail("m2"), limits)
        data = await stores.customers.customer_data("cu1")
        assert data is not None and [r["address"] for r in data.related["transcript_emails"]] == ["ann@example.com"]
        assert await stores.customers.delete_customer("cu1", force=True)
    finally:
        await stores.database.close()
    with sqlite3.connect(path) as raw:
        kept = _snapshot(raw, columns)
        assert {t: rows for t, rows in kept.items() if t in ("agents", "login_failures", "login_failures_by_address",
                                                             "kb_categories", "webhook_endpoints")} == {
            t: rows for t, rows in before.items() if t in ("agents", "login_failures", "login_failures_by_address",
                                                           "kb_categories", "webhook_endpoints")}
        assert raw.execute("SELECT count(*) FROM transcript_emails").fetchone() == (0,)  # deleted with cu1
        assert [r[0] for r in raw.execute("SELECT id FROM outbox WHERE kind = 'mail'")] == []
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_a_database_at_the_previous_version_with_data_in_every_table_is_migrated_to_the_newest(
        tmp_path: Path) -> None:
    # Version 13 to the newest: migration 0014 (attachments) and those after it.
    previous, newest = 13, migrations()[-1][0]
    path = tmp_path / "previous.db"
    with _database_at(path, previous) as raw:
        _fill_version_10(raw)  # versions 11 to 13 added a column and empty tables
        raw.execute("INSERT INTO login_failures_by_address (email, address, failures, last_failure_at, locked_until) "
                    "VALUES ('bo@example.com', '198.51.100.1', 1, 250.0, 0)")
        raw.execute("INSERT INTO transcript_emails (conversation_id, visitor_id, address, sent_at) "
                    "VALUES ('c1', 'v1', 'ann@example.com', 40.0)")
        columns = _columns(raw)
        before = _snapshot(raw, columns)
    assert not [t for t, rows in before.items() if not rows]  # every table holds data
    stores = await open_sqlite(path)
    try:
        assert await stores.database.schema_version() == newest
        # Migration 0014: the messages table, made again, takes file messages; attachments are
        # stored and go with their customer.
        transcript = await stores.conversations.transcript("c2")
        assert transcript is not None and [m.body for m in transcript.messages] == ["Can I pay later?",
                                                                                      "Let me look."]
        file = NewMessage(conversation_id="c2", kind="file", sender_kind=PartyKind.AGENT, sender_id="a2",
                          sender_name="Cy", body="label.pdf", created_at=41.0, client_msg_id="m3",
                          meta={"attachment_id": "att-00001"})
        _, stored, created = await stores.conversations.append_message(file)
        assert created and (stored.seq, stored.kind) == (3, "file")
        _, again, created = await stores.conversations.append_message(file)
        assert not created and again == stored  # the idempotency index was made again too
        upload = stores.attachments.directory.parent / "upload-att-00001"  # as the spool hands it over
        upload.write_bytes(b"%PDF-1.4")
        await stores.attachments.save_attachment(Attachment(
            id="att-00001", conversation_id="c2", sender_kind=PartyKind.AGENT, sender_id="a2", name="label.pdf",
            content_type="application/pdf", size=8, created_at=41.0), upload, None)
        assert await stores.customers.delete_customer("cu2", force=True)
        assert await stores.attachments.attachment_data("att-00001") is None
    finally:
        await stores.database.close()
    with sqlite3.connect(path) as raw:
        kept = _snapshot(raw, columns)
        untouched = ("agents", "login_failures", "login_failures_by_address", "kb_categories", "webhook_endpoints")
        assert {t: kept[t] for t in untouched} == {t: before[t] for t in untouched}
        assert kept["customers"] == [r for r in before["customers"] if r[0] == "cu1"]  # cu2 went, with c2
        assert [r for r in kept["messages"] if r[0] == "c1"] == [r for r in before["messages"] if r[0] == "c1"]
        assert raw.execute("SELECT count(*) FROM attachments").fetchone() == (0,)
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_a_database_at_version_14_takes_agents_avatars_and_keeps_every_row(
        tmp_path: Path) -> None:
    # Version 14 to the newest: migration 0015 (agents' avatars) and those after it.
    path = tmp_path / "previous.db"
    async with _opened_from(path, 14) as (stores, before, columns):
        # Migration 0015: agents' avatars, one per agent, gone with nothing else.
        agent_id = str(before["agents"][0][0])
        avatar = AgentAvatar(id="av-1", agent_id=agent_id, content_type="image/png", data=b"\x89PNG", created_at=5.0)
        await stores.avatars.save_avatar(avatar)
        assert await stores.avatars.avatar("av-1") == avatar
    with sqlite3.connect(path) as raw:
        assert _snapshot(raw, columns) == before  # every row of version 14 as it was
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_a_database_at_version_15_takes_proactive_rules_and_keeps_every_row(
        tmp_path: Path) -> None:
    # Version 15 to the newest: migration 0016 (proactive messages) and those after it.
    path = tmp_path / "previous.db"
    async with _opened_from(path, 15) as (stores, before, columns):
        # Migration 0016: proactive rules, their counts and the conversations they led to.
        conversation_id = str(before["conversations"][0][0])
        rule = ProactiveRule(id="r1", name="Payment", url_pattern="*/payment*", seconds=20, min_cart_value=None,
                             checkout_step="payment", business_hours_only=True, agent_available_only=False,
                             text="Need a hand?", texts={"de": "Hilfe?"}, enabled=True, position=0, created_at=5.0,
                             updated_at=5.0)
        await stores.proactive.save_proactive_rule(rule)
        assert await stores.proactive.record_proactive_event("r1", "v1", ProactiveEvent.SHOWN, 6.0)
        assert await stores.proactive.record_proactive_chat(conversation_id, "r1", 7.0)
        assert await stores.proactive.proactive_rules() == [rule]
        assert await stores.proactive.proactive_counts() == {"r1": (1, 0, 1)}
    with sqlite3.connect(path) as raw:
        assert _snapshot(raw, columns) == before  # every row of version 15 as it was
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_a_database_at_version_16_takes_the_shopper_s_language_and_keeps_every_row(
        tmp_path: Path) -> None:
    path = tmp_path / "v16.db"
    async with _opened_from(path, 16) as (stores, before, columns):
        # Migration 0017: conversations and tickets of before have no language (the default's).
        conversation = await stores.conversations.get_conversation("c1")
        assert conversation is not None and conversation.prechat.locale is None
        assert [t.locale for t in await stores.tickets.list_tickets(status=None, limit=10, offset=0)] == [None, None]
    with sqlite3.connect(path) as raw:
        assert _snapshot(raw, columns) == before  # every row of version 16 as it was
        assert raw.execute("SELECT count(*) FROM conversations WHERE locale IS NOT NULL").fetchone() == (0,)
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_a_database_at_the_previous_version_counts_the_readers_of_each_conversation_from_0(
        tmp_path: Path) -> None:
    previous = migrations()[-2][0]
    assert previous == 17, "fill the tables of the previous version and check what the newest migration does"
    path = tmp_path / "previous.db"
    async with _opened_from(path, previous) as (stores, before, columns):
        # Migration 0018: each conversation counts the connections that started reading it, from
        # 0; a participant's message stored reports the count as of its append.
        conversations = stores.conversations
        await conversations.reader_joined("c2")
        await conversations.reader_joined("c2")
        await conversations.reader_joined("no-such-conversation")  # changes nothing
        stored, message, created = await conversations.append_message(NewMessage(
            conversation_id="c2", kind="text", sender_kind=PartyKind.VISITOR, sender_id="v2", sender_name=None,
            body="Still there?", created_at=50.0, client_msg_id="m3"))
        assert created and message.seq == 3 and stored.readers_version == 2
    with sqlite3.connect(path) as raw:
        kept = _snapshot(raw, columns)
        assert {t: rows for t, rows in kept.items() if t not in ("conversations", "messages", "outbox")} == {
            t: rows for t, rows in before.items() if t not in ("conversations", "messages", "outbox")}
        assert raw.execute("SELECT id, readers_version FROM conversations ORDER BY id").fetchall() == [
            ("c1", 0), ("c2", 2)]
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


def _mail(item_id: str) -> OutboxItem:
    return OutboxItem(id=item_id, kind=OutboxKind.MAIL, target="ann@example.com", payload="{}", created_at=40.0,
                      next_attempt_at=40.0, visitor_id="v1")


async def test_a_database_at_version_5_with_data_in_every_table_is_migrated_to_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    with _database_at(path, 5) as raw:
        raw.execute("INSERT INTO agents (id, email, name, password_hash, role, capacity, disabled, token_version, "
                    "created_at, departments) VALUES ('a1', 'a@example.com', 'Bo', 'x', 'agent', 3, 0, 0, 1.0, '')")
        raw.execute("INSERT INTO customers (id, external_id, name, emails, created_at, last_seen_at) "
                    "VALUES ('cu1', 'shop-1', 'Ann', '[\"ann@example.com\"]', 1.0, 2.0)")
        raw.execute("INSERT INTO customer_visitors (visitor_id, customer_id, linked_at) VALUES ('v1', 'cu1', 1.0)")
        raw.execute("INSERT INTO conversations (id, visitor_id, status, visitor_name, question, created_at, last_seq, "
                    "agent_id, agent_name, closed_at, customer_id, tags, resolution_note, checkout, priority) "
                    "VALUES ('c1', 'v1', 'closed', 'Ann', 'Q', 1.0, 2, 'a1', 'Bo', 3.0, 'cu1', '[\"refund\"]', "
                    "'sent a label', 1, 1)")
        raw.execute("INSERT INTO messages (conversation_id, seq, kind, sender_kind, body, created_at) "
                    "VALUES ('c1', 1, 'text', 'visitor', 'kept', 1.0), ('c1', 2, 'system', 'system', 'closed', 3.0)")
        raw.execute("INSERT INTO assignment_events (conversation_id, agent_id, event, reason, at) "
                    "VALUES ('c1', 'a1', 'assigned', NULL, 2.0)")
        raw.execute("INSERT INTO ratings (conversation_id, rating, comment, created_at) VALUES ('c1', 5, 'ok', 4.0)")
        raw.execute("INSERT INTO conversation_notes (conversation_id, agent_id, agent_name, body, created_at) "
                    "VALUES ('c1', 'a1', 'Bo', 'VIP', 2.5)")
        raw.execute("INSERT INTO canned_responses (id, shortcut, body, created_at, updated_at) "
                    "VALUES ('r1', 'hi', 'Hello!', 1.0, 1.0)")
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'sqlite_%'")}
        empty = [t for t in tables if raw.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] == 0]
        assert set(empty) <= {"login_failures"}, empty  # every table of version 5 holds data but one
    stores = await open_sqlite(path)
    try:
        assert await stores.database.schema_version() == migrations()[-1][0]
        transcript = await stores.conversations.transcript("c1")
        assert transcript is not None
        assert [m.body for m in transcript.messages] == ["kept", "closed"]
        assert transcript.rating is not None and transcript.rating.comment == "ok"
        assert [a.event for a in transcript.assignments] == ["assigned"]
        assert transcript.conversation.prechat.checkout is True and transcript.conversation.priority == 1
        agent = await stores.agents.agent_by_id("a1")
        assert agent is not None and agent.name == "Bo"
    finally:
        await stores.database.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT customer_id, tags, resolution_note FROM conversations").fetchall() == [
            ("cu1", '["refund"]', "sent a label")]
        assert raw.execute("SELECT body FROM conversation_notes").fetchall() == [("VIP",)]
        assert raw.execute("SELECT shortcut FROM canned_responses").fetchall() == [("hi",)]
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_a_database_at_version_6_gets_its_tickets_and_outbox_rows_linked_to_customers(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    with _database_at(path, 6) as raw:
        raw.execute("INSERT INTO customers (id, name, emails, created_at, last_seen_at) "
                    "VALUES ('cu1', 'Ann', '[]', 1.0, 2.0)")
        raw.execute("INSERT INTO customer_visitors (visitor_id, customer_id, linked_at) VALUES ('v1', 'cu1', 1.0)")
        for tid, visitor, name, email, at in [("t1", "v1", "Ann", "ann@example.com", 1.0),
                                              ("t2", "v2", "Tina", "Tina@Example.com", 2.0),
                                              ("t3", "v2", "Tina T.", "tina@example.com", 3.0)]:
            raw.execute("INSERT INTO tickets (id, visitor_id, name, email, order_number, description, status, "
                        "created_at, updated_at) VALUES (?, ?, ?, ?, 'ORD-1', 'help', 'open', ?, ?)",
                        (tid, visitor, name, email, at, at))
        raw.execute("INSERT INTO ticket_answers (ticket_id, agent_name, body, created_at) "
                    "VALUES ('t2', 'Bo', 'Mon', 4)")
        for oid, visitor, payload in [
            ("o1", "v2", '{"type": "ticket.created"}'), (
                "o2", None, '{"type": "customer.updated", "data": {"customer": {"id": "cu1"}}}'),
            ("o3", None, '{"type": "customer.updated", "data": {"customer": {"id": "gone"}}}'),
        ]:
            raw.execute("INSERT INTO outbox (id, visitor_id, kind, target, payload, status, next_attempt_at, "
                        "created_at) VALUES (?, ?, 'webhook', 'e1', ?, 'pending', 0, 0)", (oid, visitor, payload))
    stores = await open_sqlite(path)
    await stores.database.close()
    with sqlite3.connect(path) as raw:
        linked = dict(raw.execute("SELECT id, customer_id FROM tickets").fetchall())
        assert linked["t1"] == "cu1" and linked["t2"] == linked["t3"] != "cu1"
        name, emails = raw.execute("SELECT name, emails FROM customers WHERE id = ?", (linked["t2"],)).fetchone()
        assert (name, emails) == ("Tina T.", '["tina@example.com"]')  # the latest ticket's
        assert raw.execute("SELECT customer_id FROM customer_visitors WHERE visitor_id = 'v2'").fetchone() == (
            linked["t2"],)
        outbox = dict(raw.execute("SELECT id, customer_id FROM outbox").fetchall())
        assert outbox == {"o1": linked["t2"], "o2": "cu1", "o3": None}
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
