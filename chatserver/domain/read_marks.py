"""Read marks: how far each party has read a conversation. Only a mark that moves is stored
and announced; marks of one reader that arrive while one of theirs is being stored (several
tabs, a burst) are stored as one, the highest, with one announcement."""

from __future__ import annotations

import asyncio

from ..errors import Unavailable
from .actor import Actor
from .models import PartyKind
from .ports import ConversationStore, Notifier
from .tasks import TaskSupervisor

# A reader: (conversation id, party kind, party id).
ReaderKey = tuple[str, PartyKind, str]


class _ReadRound:
    """Read marks of one reader waiting to be stored as one."""

    __slots__ = ("future", "seq")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        # Retrieved even when every caller went away, so a failure is not reported as unhandled.
        self.future.add_done_callback(lambda f: f.cancelled() or f.exception())


class ReadMarks:
    """Stores and announces read marks, batching each reader's marks that arrive together."""

    def __init__(self, *, conversations: ConversationStore, notifier: Notifier, tasks: TaskSupervisor) -> None:
        self._conversations = conversations
        self._notifier = notifier
        self._tasks = tasks
        # Readers with a read mark being stored, and the marks that wait for it.
        self._reading: set[ReaderKey] = set()
        self._waiting: dict[ReaderKey, _ReadRound] = {}

    async def mark_read(self, actor: Actor, conversation_id: str, seq: int) -> int:
        """Raise the actor's read mark; both parties hear of it when it moved. Marks of one reader
        that arrive while one of theirs is being stored (several tabs, a burst) are stored as one,
        the highest, with one announcement; each caller gets the mark as it then is."""
        key = (conversation_id, actor.kind, actor.id)
        if key in self._reading:
            waiting = self._waiting.get(key)
            if waiting is None:
                waiting = self._waiting[key] = _ReadRound(seq)
            waiting.seq = max(waiting.seq, seq)
            return await asyncio.shield(waiting.future)
        self._reading.add(key)
        try:
            return await self._store(actor, conversation_id, seq)
        finally:
            if key in self._waiting:
                self._tasks.spawn(self._store_waiting(key, actor))
            else:
                self._reading.discard(key)

    def waiting_mark(self, key: ReaderKey) -> int | None:
        """The highest mark of the reader waiting for the one being stored, if any (what the next
        store will write; lets a test see marks gather)."""
        waiting = self._waiting.get(key)
        return None if waiting is None else waiting.seq

    async def _store(self, actor: Actor, conversation_id: str, seq: int) -> int:
        conversation, read, moved = await self._conversations.mark_read(conversation_id, actor.kind, actor.id, seq)
        if moved:
            await self._notifier.read_updated(conversation, actor.kind, read)
        return read

    async def _store_waiting(self, key: ReaderKey, actor: Actor) -> None:
        round_: _ReadRound | None = None
        try:
            while (round_ := self._waiting.pop(key, None)) is not None:
                try:
                    round_.future.set_result(await self._store(actor, key[0], round_.seq))
                except Exception as exc:
                    round_.future.set_exception(exc)
        finally:
            self._reading.discard(key)
            for left in (round_, self._waiting.pop(key, None)):  # cancelled (shutdown)
                if left is not None and not left.future.done():
                    left.future.set_exception(Unavailable("the server is stopping"))
