"""Customer records on a real SQLite file: migration 0004 from an empty database and from version 3
with data. (What the customer store does on either database is in ``tests/storage/test_customers.py``.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from chatserver.domain.clock import ManualClock
from chatserver.domain.customers import CustomerService
from chatserver.domain.models import ConversationStatus, PreChat
from chatserver.storage.sqlite import SQLiteStores, open_sqlite
from chatserver.storage.sqlite.database import migrations


async def test_an_empty_database_gets_the_customer_tables(stores: SQLiteStores) -> None:
    assert await stores.database.schema_version() == migrations()[-1][0] >= 4
    with sqlite3.connect(stores.database.path) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = {r[1] for r in raw.execute("PRAGMA table_info(conversations)")}
    assert {"customers", "customer_visitors"} <= tables and "customer_id" in columns


async def test_a_database_at_version_3_is_migrated_and_its_data_survives(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    with sqlite3.connect(path) as raw:
        for version, sql in migrations():
            if version <= 3:
                raw.executescript(sql)
        raw.execute("PRAGMA user_version = 3")
        raw.execute("INSERT INTO agents (id, email, name, password_hash, role, capacity, created_at, departments) "
                    "VALUES ('a1', 'bo@example.com', 'Bo', 'x', 'agent', 3, 1.0, 'billing')")
        raw.execute("INSERT INTO conversations (id, visitor_id, status, visitor_name, question, order_number, "
                    "created_at, last_seq, agent_id, agent_name, department, priority, checkout) "
                    "VALUES ('old', 'v-old', 'closed', 'Ann', 'Q', 'A-1001', 1.0, 1, 'a1', 'Bo', 'billing', 1, 1)")
        raw.execute("INSERT INTO conversations (id, visitor_id, status, visitor_name, visitor_email, question, "
                    "created_at, last_seq) "
                    "VALUES ('later', 'v-old', 'closed', 'Ann S', 'Ann@Example.com', 'Q', 2.0, 0)")
        raw.execute("INSERT INTO conversations (id, visitor_id, status, visitor_name, question, created_at, last_seq) "
                    "VALUES ('other', 'v-2', 'queued', 'Cy', 'Q', 1.5, 0)")
        raw.execute("INSERT INTO messages (conversation_id, seq, kind, sender_kind, body, created_at) "
                    "VALUES ('old', 1, 'text', 'visitor', 'kept', 1.0)")
        raw.execute("INSERT INTO ratings (conversation_id, rating, comment, created_at) VALUES ('old', 4, 'ok', 2.0)")
        raw.execute("INSERT INTO assignment_events (conversation_id, agent_id, event, at) "
                    "VALUES ('old', 'a1', 'assigned', 1.5)")
    stores = await open_sqlite(path)
    try:
        assert await stores.database.schema_version() == migrations()[-1][0]
        transcript = await stores.conversations.transcript("old")
        assert transcript is not None
        c = transcript.conversation
        assert (c.status, c.prechat.order_number, c.prechat.department, c.priority, c.prechat.checkout) == (
            ConversationStatus.CLOSED, "A-1001", "billing", 1, True)
        assert [m.body for m in transcript.messages] == ["kept"]
        assert transcript.rating is not None and transcript.rating.rating == 4
        assert (await stores.agents.agent_by_id("a1")).departments == ("billing",)  # type: ignore[union-attr]
        # every earlier visitor became an anonymous customer, with their conversations
        records = stores.customers
        record = await records.conversation_record("old")
        customer = await records.customer_of_visitor("v-old")
        assert record is not None and customer is not None and record.customer_id == customer.id
        # named after the latest pre-chat form
        assert (customer.name, customer.emails, customer.external_id) == ("Ann S", ("ann@example.com",), None)
        assert (customer.created_at, customer.last_seen_at) == (1.0, 2.0)
        assert await records.conversation_record("other") is not None
        assert (await records.conversation_record("other")).customer_id != customer.id  # type: ignore[union-attr]
        # the old visitor's next chat joins the same record
        service = CustomerService(customers=records, conversations=stores.conversations, clock=ManualClock(),
                                  new_id=lambda: "cu1")
        assert (await service.attach_chat("v-old", PreChat(name="Ann", question="Q"))).id == customer.id
        found, total = await service.search("A-1001", 10, 0)
        assert total == 1 and found[0].id == customer.id
    finally:
        await stores.database.close()
