"""SQLite storage (aiosqlite, WAL) for agents, conversations, messages and assignment history.

One writer connection, guarded by a lock so a transaction's statements never interleave with
another coroutine's, and ``BEGIN IMMEDIATE`` so several processes sharing the file serialize
their writes; one reader connection that sees only committed data.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from ..domain.models import (
    Agent,
    AssignmentEvent,
    Conversation,
    ConversationStatus,
    Message,
    PageContext,
    PartyKind,
    PreChat,
    Rating,
    Role,
    Transcript,
)
from ..domain.ports import NewMessage, OutboxRecorder, Transition
from ..errors import Conflict, ConversationClosed, NotFound
from ._outbox_rows import insert_outbox

_CONVERSATION_COLUMNS = (
    "id, visitor_id, status, visitor_name, visitor_email, question, order_number, page_url, created_at, "
    "queue_rank, agent_id, agent_name, assigned_at, closed_at, closed_by, last_seq, visitor_read_seq, "
    "agent_read_seq, page_title, checkout, cart_value, department, priority"
)
_MESSAGE_COLUMNS = (
    "conversation_id, seq, kind, sender_kind, sender_id, sender_name, client_msg_id, body, meta, created_at"
)
_AGENT_COLUMNS = "id, email, name, password_hash, role, capacity, disabled, token_version, created_at, departments"


def migrations() -> list[tuple[int, str]]:
    """The schema migrations shipped with the package, as ``(version, sql)`` in order."""
    found = []
    for entry in resources.files("chatserver.storage.migrations").iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


def _conversation(row: sqlite3.Row | tuple[Any, ...]) -> Conversation:
    return Conversation(
        id=row[0],
        visitor_id=row[1],
        status=ConversationStatus(row[2]),
        prechat=PreChat(name=row[3], email=row[4], question=row[5], order_number=row[6], page_url=row[7],
                        page_title=row[18], checkout=bool(row[19]), cart_value=row[20], department=row[21]),
        created_at=row[8],
        queue_rank=row[9],
        agent_id=row[10],
        agent_name=row[11],
        assigned_at=row[12],
        closed_at=row[13],
        closed_by=PartyKind(row[14]) if row[14] else None,
        last_seq=row[15],
        visitor_read_seq=row[16],
        agent_read_seq=row[17],
        priority=row[22],
    )


def _message(row: sqlite3.Row | tuple[Any, ...]) -> Message:
    return Message(
        conversation_id=row[0],
        seq=row[1],
        kind=row[2],
        sender_kind=PartyKind(row[3]),
        sender_id=row[4],
        sender_name=row[5],
        client_msg_id=row[6],
        body=row[7],
        meta=json.loads(row[8]) if row[8] else None,
        created_at=row[9],
    )


def _agent(row: sqlite3.Row | tuple[Any, ...]) -> Agent:
    return Agent(
        id=row[0],
        email=row[1],
        name=row[2],
        password_hash=row[3],
        role=Role(row[4]),
        capacity=row[5],
        disabled=bool(row[6]),
        token_version=row[7],
        created_at=row[8],
        departments=tuple(d for d in row[9].split(",") if d),
    )


class SQLiteStore:
    """Implements ``AgentStore`` and ``ConversationStore`` over one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await aiosqlite.connect(self.path, isolation_level=None)
        await self._writer.execute("PRAGMA journal_mode=WAL")
        await self._writer.execute("PRAGMA synchronous=NORMAL")
        await self._writer.execute("PRAGMA busy_timeout=5000")
        await self._writer.execute("PRAGMA foreign_keys=ON")
        await self.migrate()
        self._reader = await aiosqlite.connect(self.path, isolation_level=None)
        await self._reader.execute("PRAGMA busy_timeout=5000")
        await self._reader.execute("PRAGMA query_only=ON")

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def _w(self) -> aiosqlite.Connection:
        assert self._writer is not None, "store is not open"
        return self._writer

    @property
    def _r(self) -> aiosqlite.Connection:
        assert self._reader is not None, "store is not open"
        return self._reader

    async def schema_version(self) -> int:
        async with self._w.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> None:
        """Apply every shipped migration newer than the file's ``user_version``, each atomically."""
        async with self._transaction() as db:
            current = await self.schema_version()
            for version, sql in migrations():
                if version <= current:
                    continue
                for statement in _split_sql(sql):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {version:d}")

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            db = self._w
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            else:
                await db.execute("COMMIT")

    async def ping(self) -> None:
        async with self._r.execute("SELECT 1") as cur:
            await cur.fetchone()

    # -- agents -------------------------------------------------------------------------------

    async def add_agent(self, agent: Agent) -> None:
        try:
            async with self._transaction() as db:
                await db.execute(
                    f"INSERT INTO agents ({_AGENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (agent.id, agent.email, agent.name, agent.password_hash, str(agent.role), agent.capacity,
                     int(agent.disabled), agent.token_version, agent.created_at, ",".join(agent.departments)),
                )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"an agent with email {agent.email!r} already exists") from exc

    async def _one_agent(self, where: str, value: str) -> Agent | None:
        async with self._r.execute(f"SELECT {_AGENT_COLUMNS} FROM agents WHERE {where} = ?", (value,)) as cur:
            row = await cur.fetchone()
        return _agent(row) if row else None

    async def agent_by_id(self, agent_id: str) -> Agent | None:
        return await self._one_agent("id", agent_id)

    async def agent_by_email(self, email: str) -> Agent | None:
        return await self._one_agent("email", email)

    async def list_agents(self) -> list[Agent]:
        async with self._r.execute(f"SELECT {_AGENT_COLUMNS} FROM agents ORDER BY created_at, email") as cur:
            return [_agent(row) for row in await cur.fetchall()]

    async def bump_token_version(self, agent_id: str) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE agents SET token_version = token_version + 1 WHERE id = ?", (agent_id,))

    async def update_agent(self, agent_id: str, *, disabled: bool | None, capacity: int | None,
                           departments: tuple[str, ...] | None) -> Agent | None:
        async with self._transaction() as db:
            # Every expression reads the row as it was: the token version moves only when an
            # enabled agent is disabled.
            await db.execute(
                "UPDATE agents SET capacity = COALESCE(?, capacity), departments = COALESCE(?, departments), "
                "token_version = token_version + (CASE WHEN ? = 1 AND disabled = 0 THEN 1 ELSE 0 END), "
                "disabled = COALESCE(?, disabled) WHERE id = ?",
                (capacity, None if departments is None else ",".join(departments),
                 None if disabled is None else int(disabled), None if disabled is None else int(disabled), agent_id))
            async with db.execute(f"SELECT {_AGENT_COLUMNS} FROM agents WHERE id = ?", (agent_id,)) as cur:
                row = await cur.fetchone()
        return _agent(row) if row else None

    # -- conversations ------------------------------------------------------------------------

    async def create_conversation(self, conversation: Conversation, first: list[NewMessage],
                                  record: OutboxRecorder | None = None) -> list[Message]:
        p = conversation.prechat
        async with self._transaction() as db:
            # The customer the visitor belongs to (customer records link the visitor first), in
            # the same statement: a conversation is never stored without its customer.
            await db.execute(
                f"INSERT INTO conversations ({_CONVERSATION_COLUMNS}, customer_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "(SELECT customer_id FROM customer_visitors WHERE visitor_id = ?))",
                (conversation.id, conversation.visitor_id, str(conversation.status), p.name, p.email, p.question,
                 p.order_number, p.page_url, conversation.created_at, conversation.queue_rank,
                 conversation.agent_id, conversation.agent_name, conversation.assigned_at, None, None, 0, 0, 0,
                 p.page_title, int(p.checkout), p.cart_value, p.department, conversation.priority,
                 conversation.visitor_id),
            )
            stored = [await self._insert_message(db, m) for m in first]
            conversation.last_seq = len(stored)
            if record is not None:
                await insert_outbox(db, record(conversation, await self._customer_of(db, conversation.id)))
        return stored

    @staticmethod
    async def _customer_of(db: aiosqlite.Connection, conversation_id: str) -> str | None:
        async with db.execute("SELECT customer_id FROM conversations WHERE id = ?", (conversation_id,)) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row and row[0] is not None else None

    async def update_page(self, conversation_id: str, page: PageContext) -> Conversation | None:
        async with self._transaction() as db:
            async with db.execute(
                "UPDATE conversations SET page_url = ?, page_title = ?, checkout = ?, cart_value = ? "
                "WHERE id = ? AND status != 'closed' RETURNING id",
                (page.page_url, page.page_title, int(page.checkout), page.cart_value, conversation_id),
            ) as cur:
                if await cur.fetchone() is None:
                    return None
            return await self._get_conversation(db, conversation_id)

    async def idle_conversations(self, before: float, limit: int) -> list[str]:
        async with self._r.execute(
            "SELECT c.id FROM conversations c WHERE c.status IN ('queued', 'assigned') AND coalesce("
            "(SELECT m.created_at FROM messages m WHERE m.conversation_id = c.id ORDER BY m.seq DESC LIMIT 1), "
            "c.created_at) < ? ORDER BY c.created_at LIMIT ?",
            (before, limit),
        ) as cur:
            return [str(row[0]) for row in await cur.fetchall()]

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        return await self._get_conversation(self._r, conversation_id)

    async def get_conversations(self, conversation_ids: list[str]) -> dict[str, Conversation]:
        if not conversation_ids:
            return {}
        marks = ", ".join("?" for _ in conversation_ids)
        async with self._r.execute(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id IN ({marks})", conversation_ids
        ) as cur:
            return {row[0]: _conversation(row) for row in await cur.fetchall()}

    @staticmethod
    async def _get_conversation(db: aiosqlite.Connection, conversation_id: str) -> Conversation | None:
        async with db.execute(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
        ) as cur:
            row = await cur.fetchone()
        return _conversation(row) if row else None

    async def active_conversation_for_visitor(self, visitor_id: str) -> Conversation | None:
        async with self._r.execute(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE visitor_id = ? AND status != 'closed' "
            "ORDER BY created_at DESC LIMIT 1",
            (visitor_id,),
        ) as cur:
            row = await cur.fetchone()
        return _conversation(row) if row else None

    async def conversations_with_status(
        self, statuses: Collection[ConversationStatus], agent_id: str | None = None
    ) -> list[Conversation]:
        marks = ", ".join("?" for _ in statuses)
        sql = f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE status IN ({marks})"
        params: list[Any] = [str(s) for s in statuses]
        if agent_id is not None:
            sql += " AND agent_id = ?"
            params.append(agent_id)
        sql += " ORDER BY queue_rank, created_at"
        async with self._r.execute(sql, params) as cur:
            return [_conversation(row) for row in await cur.fetchall()]

    async def list_conversations(
        self, *, status: ConversationStatus | None, agent_id: str | None, limit: int, offset: int
    ) -> list[Conversation]:
        clauses, params = [], []
        if status is not None:
            clauses.append("status = ?")
            params.append(str(status))
        if agent_id is not None:
            clauses.append("agent_id = ?")
            params.append(agent_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self._r.execute(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations {where} ORDER BY created_at DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ) as cur:
            return [_conversation(row) for row in await cur.fetchall()]

    # -- messages -----------------------------------------------------------------------------

    @staticmethod
    async def _insert_message(db: aiosqlite.Connection, m: NewMessage) -> Message:
        async with db.execute(
            "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq", (m.conversation_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFound("conversation not found")
        seq = int(row[0])
        meta = json.dumps(m.meta) if m.meta else None
        await db.execute(
            f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (m.conversation_id, seq, m.kind, str(m.sender_kind), m.sender_id, m.sender_name, m.client_msg_id,
             m.body, meta, m.created_at),
        )
        return Message(
            conversation_id=m.conversation_id, seq=seq, kind=m.kind, sender_kind=m.sender_kind,
            sender_id=m.sender_id, sender_name=m.sender_name, body=m.body, created_at=m.created_at,
            client_msg_id=m.client_msg_id, meta=m.meta,
        )

    async def append_message(self, message: NewMessage) -> tuple[Message, bool]:
        async with self._transaction() as db:
            if message.client_msg_id is not None:
                async with db.execute(
                    f"SELECT {_MESSAGE_COLUMNS} FROM messages "
                    "WHERE conversation_id = ? AND sender_id IS ? AND client_msg_id = ?",
                    (message.conversation_id, message.sender_id, message.client_msg_id),
                ) as cur:
                    row = await cur.fetchone()
                if row is not None:
                    return _message(row), False
            async with db.execute("SELECT status FROM conversations WHERE id = ?", (message.conversation_id,)) as cur:
                status_row = await cur.fetchone()
            if status_row is None:
                raise NotFound("conversation not found")
            if status_row[0] == ConversationStatus.CLOSED:
                raise ConversationClosed("the conversation has ended")
            return await self._insert_message(db, message), True

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        async with self._r.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (conversation_id, after_seq, limit),
        ) as cur:
            return [_message(row) for row in await cur.fetchall()]

    async def transition(self, change: Transition) -> tuple[Conversation, Message | None] | None:
        async with self._transaction() as db:
            current = await self._get_conversation(db, change.conversation_id)
            if current is None or current.status not in change.expect:
                return None
            assigned_at = change.at if change.status == ConversationStatus.ASSIGNED else current.assigned_at
            closed_at = change.at if change.status == ConversationStatus.CLOSED else None
            department = change.department if change.department is not None else current.prechat.department
            await db.execute(
                "UPDATE conversations SET status = ?, agent_id = ?, agent_name = ?, assigned_at = ?, queue_rank = ?, "
                "closed_at = ?, closed_by = ?, department = ? WHERE id = ?",
                (str(change.status), change.agent_id, change.agent_name, assigned_at, change.queue_rank, closed_at,
                 str(change.closed_by) if change.closed_by else None, department, change.conversation_id),
            )
            await db.execute(
                "INSERT INTO assignment_events (conversation_id, agent_id, event, reason, at) VALUES (?, ?, ?, ?, ?)",
                (change.conversation_id, change.agent_id if change.agent_id else current.agent_id, change.event,
                 change.reason, change.at),
            )
            message = None
            if change.system_message is not None:
                message = await self._insert_message(db, change.system_message)
            updated = await self._get_conversation(db, change.conversation_id)
            assert updated is not None
            if change.record is not None:
                await insert_outbox(db, change.record(updated, await self._customer_of(db, change.conversation_id)))
        return updated, message

    async def mark_read(self, conversation_id: str, party: PartyKind, seq: int) -> int:
        column = "visitor_read_seq" if party == PartyKind.VISITOR else "agent_read_seq"
        async with self._transaction() as db, db.execute(
            f"UPDATE conversations SET {column} = MAX({column}, MIN(?, last_seq)) WHERE id = ? "
            f"RETURNING {column}",
            (seq, conversation_id),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            raise NotFound("conversation not found")
        return int(row[0])

    async def assignments(self, conversation_id: str) -> list[AssignmentEvent]:
        async with self._r.execute(
            "SELECT conversation_id, agent_id, event, reason, at FROM assignment_events "
            "WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [AssignmentEvent(conversation_id=r[0], agent_id=r[1], event=r[2], reason=r[3], at=r[4]) for r in rows]

    async def transcript(self, conversation_id: str) -> Transcript | None:
        conversation = await self.get_conversation(conversation_id)
        if conversation is None:
            return None
        messages = await self.messages_after(conversation_id, 0, 1_000_000)
        return Transcript(
            conversation=conversation, messages=messages, assignments=await self.assignments(conversation_id),
            rating=await self.rating(conversation_id),
        )

    async def rate(self, rating: Rating) -> None:
        """Store the visitor's rating of a closed conversation (a second rating replaces the first)."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO ratings (conversation_id, rating, comment, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (conversation_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment, "
                "created_at = excluded.created_at",
                (rating.conversation_id, rating.rating, rating.comment, rating.created_at),
            )

    async def rating(self, conversation_id: str) -> Rating | None:
        async with self._r.execute(
            "SELECT conversation_id, rating, comment, created_at FROM ratings WHERE conversation_id = ?",
            (conversation_id,),
        ) as cur:
            row = await cur.fetchone()
        return Rating(conversation_id=row[0], rating=row[1], comment=row[2], created_at=row[3]) if row else None

    async def visited_by_agent(self, conversation_id: str, agent_id: str) -> bool:
        """Whether the agent ever held the conversation (their past chats stay readable to them)."""
        async with self._r.execute(
            "SELECT 1 FROM assignment_events WHERE conversation_id = ? AND agent_id = ? LIMIT 1",
            (conversation_id, agent_id),
        ) as cur:
            return await cur.fetchone() is not None


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements (migrations contain no semicolons inside literals)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]
