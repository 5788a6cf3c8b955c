"""Ordered, exactly-once delivery of a conversation's messages to each subscribed connection.

Every subscription keeps a watermark: the highest sequence number that connection has been
given. Live messages and replays for one subscription go through one lock, so a connection gets
each sequence number once and in order: a message at or below the watermark is skipped (the
replay already sent it), and a gap (messages committed by concurrent senders, delivered out of
order) is filled from storage before the new message goes out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..constants import EV_MESSAGE_NEW, SYS_CLOSED
from ..domain.models import Message
from ..domain.ports import ConversationStore
from ..wire.views import message_view

Emit = Callable[[str, Any, str, str], Awaitable[None]]  # (event, data, sid, namespace)
# The same without suspending; False, with nothing done, when it must go through Emit.
EmitNow = Callable[[str, Any, str, str], bool]
Announce = Callable[[str], Awaitable[None]]  # (conversation_id): a reader starts, told to storage
REPLAY_PAGE = 500


@dataclass
class _Subscription:
    namespace: str
    party_id: str
    watermark: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Delivery:
    def __init__(self, store: ConversationStore, emit: Emit, announce: Announce | None = None, *,
                 emit_now: EmitNow | None = None) -> None:
        """``announce``: with several processes, how a subscription is made known before its
        replay reads storage (``ConversationStore.reader_joined``): the process storing the next
        message learns from it that it must look again for the processes reading the
        conversation (notifier.py). ``emit_now``: ``emit`` without suspending where it can be
        (a WebSocket written to at once), so that a live message is given without the lock."""
        self._store = store
        self._emit = emit
        self._emit_now = emit_now
        self._announce = announce
        self._subs: dict[str, dict[str, _Subscription]] = {}
        self._by_sid: dict[str, set[str]] = {}

    async def join(self, sid: str, namespace: str, party_id: str, conversation_id: str, after_seq: int) -> int:
        """Subscribe ``sid`` and replay every message after ``after_seq``; returns the watermark."""
        subs = self._subs.setdefault(conversation_id, {})
        sub = subs.get(sid)
        if sub is None:
            sub = subs[sid] = _Subscription(namespace, party_id, after_seq)
            self._by_sid.setdefault(sid, set()).add(conversation_id)
        async with sub.lock:
            sub.watermark = after_seq
            if self._announce is not None:
                # Committed before the replay reads: a message stored before it is in the
                # replay, one stored after it is sent here by whichever process stored it.
                await self._announce(conversation_id)
            await self._catch_up(sid, sub, conversation_id, upto=None)
            return sub.watermark

    async def deliver(self, message: Message, origin: str | None) -> None:
        seq = message.seq
        emit_now = self._emit_now
        view: dict[str, Any] | None = None
        for sid, sub in list(self._subs.get(message.conversation_id, {}).items()):
            if not sub.lock.locked():
                # Nobody is giving this connection anything (a replay, a gap being filled, a send
                # that waits): what is decided here without suspending needs no lock.
                if seq <= sub.watermark:
                    continue
                if seq == sub.watermark + 1:
                    if sid == origin:
                        sub.watermark = seq
                        continue
                    if emit_now is not None:
                        if view is None:
                            view = message_view(message)
                        if emit_now(EV_MESSAGE_NEW, view, sid, sub.namespace):
                            sub.watermark = seq
                            continue
            async with sub.lock:
                if seq <= sub.watermark:
                    continue
                if seq > sub.watermark + 1:
                    await self._catch_up(sid, sub, message.conversation_id, upto=seq - 1)
                if sid != origin:
                    if view is None:
                        view = message_view(message)
                    await self._emit(EV_MESSAGE_NEW, view, sid, sub.namespace)
                sub.watermark = seq
        if message.kind == "system" and message.body == SYS_CLOSED:
            # A closed conversation's last message: nothing follows it, so its subscriptions go
            # (a console open all day had one for every chat it ever served).
            self.forget(message.conversation_id)

    async def _catch_up(self, sid: str, sub: _Subscription, conversation_id: str, upto: int | None) -> None:
        while upto is None or sub.watermark < upto:
            page = await self._store.messages_after(conversation_id, sub.watermark, REPLAY_PAGE)
            for message in page:
                if upto is not None and message.seq > upto:
                    return
                await self._emit(EV_MESSAGE_NEW, message_view(message), sid, sub.namespace)
                sub.watermark = message.seq
            if len(page) < REPLAY_PAGE:
                return

    async def catch_up_all(self) -> None:
        """Send every subscribed connection what storage holds past its watermark (after events
        from other processes may have been missed)."""
        for conversation_id, subs in list(self._subs.items()):
            for sid, sub in list(subs.items()):
                async with sub.lock:
                    await self._catch_up(sid, sub, conversation_id, upto=None)

    def leave(self, sid: str, conversation_id: str) -> None:
        subs = self._subs.get(conversation_id)
        if subs is not None:
            subs.pop(sid, None)
            if not subs:
                del self._subs[conversation_id]
        conversations = self._by_sid.get(sid)
        if conversations is not None:
            conversations.discard(conversation_id)

    def forget(self, conversation_id: str) -> None:
        """Drop every subscription to a conversation."""
        for sid in list(self._subs.get(conversation_id, {})):
            self.leave(sid, conversation_id)

    def leave_party(self, conversation_id: str, party_id: str) -> None:
        """Drop every subscription a party holds on a conversation (an agent who lost it)."""
        for sid, sub in list(self._subs.get(conversation_id, {}).items()):
            if sub.party_id == party_id:
                self.leave(sid, conversation_id)

    def leave_all(self, sid: str) -> None:
        for conversation_id in list(self._by_sid.pop(sid, ())):
            self.leave(sid, conversation_id)

    def subscribed(self, sid: str) -> set[str]:
        return set(self._by_sid.get(sid, ()))
