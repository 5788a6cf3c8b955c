"""What the SQLite store costs per chat message, without a server: ``python -m loadtests.store_cost``.

Opens a fresh SQLite file through the real stores (``open_sqlite``), with the ``message.created``
hook the server installs (no webhook endpoint configured, as in the load tests), creates
``--conversations`` assigned conversations, and has one coroutine per conversation append
messages through ``ConversationStore.append_message`` (visitor and agent in turn, each message
with its own client id), so the group commit gathers messages of many conversations per
transaction as it does under ``steady --rate 0``. After ``--warmup`` messages it measures
``--messages`` more and prints, per message: CPU time of this process (``time.process_time``,
which does not depend on what else the machine runs as wall time does), bytes and ``write``
calls (``/proc/self/io``), and the messages per transaction. The figures are printed, never
judged: compare two builds by running each in turn (docs/benchmarks/message-cost.md).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from chatserver.domain.models import Agent, Conversation, ConversationStatus, PartyKind, PreChat, Role
from chatserver.domain.ports import NewMessage
from chatserver.domain.webhooks import Webhooks
from chatserver.storage.sqlite.stores import SQLiteStores
from chatserver.wire.webhooks import WebhookViews


@dataclass(frozen=True)
class StoreCost:
    """One run's figures (per message unless named otherwise)."""

    messages: int
    conversations: int
    cpu_us: float
    wall_us: float
    written_bytes: float  # wchar: what this process handed to write(), the WAL's frames mostly
    write_calls: float
    messages_per_commit: float


class _Commits:
    """A ``DatabaseObserver`` that counts write transactions."""

    def __init__(self) -> None:
        self.count = 0

    def committed(self, seconds: float) -> None:
        self.count += 1

    def queried(self, seconds: float) -> None:
        return None

    def database_failed(self, operation: str) -> None:
        return None


def _io() -> tuple[int, int]:
    """This process's (wchar, syscw) so far; zeros where /proc is not there."""
    try:
        fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    except OSError:
        return 0, 0
    return int(fields["wchar"]), int(fields["syscw"])


async def measure(directory: Path, messages: int, conversations: int, warmup: int) -> StoreCost:
    """Store ``warmup`` and then ``messages`` messages from ``conversations`` concurrent
    conversations in a new file in ``directory``; the figures of the second part."""
    commits = _Commits()
    stores = SQLiteStores.at(directory / "chat.db", observer=commits)
    await stores.database.open()
    try:
        ids = (f"{n:032x}" for n in itertools.count(1))
        webhooks = Webhooks(stores.tickets, time.time, lambda: next(ids), WebhookViews())
        stores.tickets.write_with_messages(webhooks.message_created, lambda: None)
        agent = Agent(id="agent-1", email="agent@example.com", name="Agent", role=Role.AGENT, capacity=10_000,
                      disabled=False, token_version=0, created_at=time.time())
        await stores.agents.add_agent(agent)
        chats = []
        for n in range(conversations):
            chat = Conversation(id=next(ids), visitor_id=f"visitor-{n}", status=ConversationStatus.ASSIGNED,
                                prechat=PreChat(name=f"Visitor {n}", question="Where is my order?",
                                                page_url="https://shop.example/checkout", page_title="Checkout"),
                                created_at=time.time(), agent_id=agent.id, agent_name=agent.name,
                                assigned_at=time.time())
            await stores.conversations.create_conversation(chat, [])
            chats.append(chat)

        remaining = warmup + messages
        started: tuple[float, float, int, int, int] | None = None

        async def talk(chat: Conversation) -> None:
            nonlocal remaining, started
            for n in itertools.count():
                if remaining <= 0:
                    return
                remaining -= 1
                if remaining == messages - 1 and started is None:
                    # The first measured message: everything before it was the warm-up.
                    started = (time.process_time(), time.perf_counter(), commits.count, *_io())
                visitor = n % 2 == 0
                await stores.conversations.append_message(NewMessage(
                    conversation_id=chat.id, kind="text",
                    sender_kind=PartyKind.VISITOR if visitor else PartyKind.AGENT,
                    sender_id=chat.visitor_id if visitor else agent.id, sender_name=None if visitor else agent.name,
                    body=f"message {n} of a chat about an order that has not arrived yet", created_at=time.time(),
                    client_msg_id=f"m{n}"))

        await asyncio.gather(*(talk(chat) for chat in chats))
        assert started is not None
        cpu, wall, commit_count = time.process_time(), time.perf_counter(), commits.count
        wchar, syscw = _io()
        return StoreCost(
            messages=messages, conversations=conversations,
            cpu_us=(cpu - started[0]) / messages * 1e6, wall_us=(wall - started[1]) / messages * 1e6,
            written_bytes=(wchar - started[3]) / messages, write_calls=(syscw - started[4]) / messages,
            messages_per_commit=messages / max(1, commit_count - started[2]),
        )
    finally:
        await stores.database.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.store_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000, help="messages measured (%(default)s)")
    parser.add_argument("--conversations", type=int, default=50,
                        help="conversations written at once, one coroutine each (%(default)s)")
    parser.add_argument("--warmup", type=int, default=2_000, help="messages stored before measuring (%(default)s)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.conversations < 1 or args.warmup < 0:
        parser.error("--messages and --conversations must be at least 1, --warmup at least 0")
    with tempfile.TemporaryDirectory(prefix="store-cost-") as directory:
        cost = asyncio.run(measure(Path(directory), args.messages, args.conversations, args.warmup))
    if args.json:
        print(json.dumps(asdict(cost)))
    else:
        print(f"{cost.messages} messages from {cost.conversations} conversations: "
              f"CPU {cost.cpu_us:.1f} us a message (wall {cost.wall_us:.1f} us), "
              f"{cost.written_bytes / 1024:.1f} KB and {cost.write_calls:.2f} write() calls a message, "
              f"{cost.messages_per_commit:.1f} messages a commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
