"""Co-browsing sessions: the agent of a conversation asks to see the shopper's page, the shopper
consents (and, separately, may let the agent act on the page), either side ends it.

Rules that hold whatever the backend:
- a session belongs to one conversation and to the agent who asked for it; at most one session
  per conversation is live (requested, active or paused);
- only the conversation's visitor answers consent, and only the session's agent, while the
  conversation is still assigned to them, watches or acts: anyone else is refused;
- remote control needs a second consent of its own, asked only while the session is active,
  revocable by the shopper at any moment, and reset when the shopper loads a new page;
- a session ends when the conversation closes or moves to another agent;
- what is stored is metadata (who, when, how long, how much), never the page content.

The page content itself flows through the transport (``transport/cobrowse.py``), which asks this
service whether a session is live before relaying anything.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Protocol

import msgspec

from ..errors import CobrowseStateError, Forbidden, NotFound
from .access import check_access
from .actor import Actor
from .clock import Clock
from .models import Conversation, ConversationStatus, PartyKind
from .ports import ConversationStore

log = logging.getLogger("chatserver.cobrowse")


class CobrowseStatus(StrEnum):
    REQUESTED = "requested"
    ACTIVE = "active"
    PAUSED = "paused"
    DECLINED = "declined"
    ENDED = "ended"


LIVE = frozenset({CobrowseStatus.REQUESTED, CobrowseStatus.ACTIVE, CobrowseStatus.PAUSED})


class ControlState(StrEnum):
    NONE = "none"
    REQUESTED = "requested"
    GRANTED = "granted"
    DECLINED = "declined"
    REVOKED = "revoked"


# Stable reason codes (docs/protocol.md) for paused, declined and ended sessions.
REASON_DECLINED = "declined_by_visitor"
REASON_TIMEOUT = "no_answer"
REASON_CHAT_ENDED = "chat_ended"
REASON_AGENT_CHANGED = "agent_changed"
REASON_VISITOR_LEFT = "visitor_left"
REASON_RATE = "rate_limited"
REASON_TOO_LARGE = "page_too_large"


class CobrowseSession(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    conversation_id: str
    visitor_id: str
    agent_id: str
    agent_name: str
    status: CobrowseStatus
    control: ControlState = ControlState.NONE
    reason: str | None = None
    requested_at: float
    started_at: float | None = None
    ended_at: float | None = None
    control_requested_at: float | None = None
    control_granted_at: float | None = None
    pages: int = 0
    bytes_relayed: int = 0

    @property
    def live(self) -> bool:
        return self.status in LIVE


class CobrowseView(msgspec.Struct, frozen=True, kw_only=True):
    """One agent connection watching a session, from joining to leaving."""

    session_id: str
    agent_id: str
    agent_name: str
    joined_at: float
    left_at: float | None = None


class SessionUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A guarded change: applied only while the session's status (and control state, if given)
    is one of the expected ones. ``None`` fields are left as they are."""

    session_id: str
    expect: frozenset[CobrowseStatus]
    expect_control: frozenset[ControlState] | None = None
    status: CobrowseStatus | None = None
    control: ControlState | None = None
    reason: str | None = None
    clear_reason: bool = False
    started_at: float | None = None
    ended_at: float | None = None
    control_requested_at: float | None = None
    control_granted_at: float | None = None
    add_pages: int = 0


class CobrowseStore(Protocol):
    async def create_session(self, session: CobrowseSession) -> CobrowseSession:
        """Store a new live session; if the conversation already has one, return that instead."""
        ...

    async def get_session(self, session_id: str) -> CobrowseSession | None: ...

    async def live_session_for(self, conversation_id: str) -> CobrowseSession | None: ...

    async def update_session(self, update: SessionUpdate) -> CobrowseSession | None:
        """Apply ``update`` atomically if its expectations hold; ``None`` if they did not."""
        ...

    async def live_sessions(self) -> list[CobrowseSession]: ...

    async def sessions_for(self, conversation_id: str) -> list[CobrowseSession]: ...

    async def add_bytes(self, counts: dict[str, int]) -> None:
        """Add relayed byte counts to sessions (``{session_id: bytes}``)."""
        ...

    async def start_view(self, view: CobrowseView) -> int:
        """Record an agent starting to watch; returns the view's id."""
        ...

    async def end_view(self, view_id: int, at: float) -> None: ...

    async def end_views(self, session_id: str, at: float) -> None:
        """Close every open view of a session (it ended)."""
        ...

    async def views_for(self, conversation_id: str) -> list[CobrowseView]: ...


Announce = Callable[[CobrowseSession], Awaitable[None]]


class CobrowseService:
    def __init__(self, *, store: CobrowseStore, conversations: ConversationStore, clock: Clock,
                 new_id: Callable[[], str], announce: Announce, request_timeout: float) -> None:
        self.store = store
        self.conversations = conversations
        self.clock = clock
        self.new_id = new_id
        self.announce = announce
        self.request_timeout = request_timeout
        # Sweeping: when each live session's shopper was first seen with no connection.
        self._absent_since: dict[str, float] = {}

    # -- authorization ------------------------------------------------------------------------

    async def session_for(self, actor: Actor, session_id: str) -> CobrowseSession:
        """The session if ``actor`` takes part in it: its conversation's visitor, or its agent
        while the conversation is still assigned to them. Anyone else is refused (visitors as if
        the session did not exist)."""
        session = await self.store.get_session(session_id)
        if session is None:
            raise NotFound("co-browse session not found")
        if actor.kind == PartyKind.VISITOR:
            if session.visitor_id != actor.id:
                raise NotFound("co-browse session not found")
            return session
        if session.agent_id != actor.id:
            raise Forbidden("this co-browse session is not yours")
        if session.live:
            conversation = await self.conversations.get_conversation(session.conversation_id)
            if conversation is None or conversation.agent_id != actor.id:
                raise Forbidden("this conversation is no longer assigned to you")
        return session

    async def _conversation_for(self, actor: Actor, conversation_id: str) -> Conversation:
        # The same check as the chat's (ChatService.conversation_for): its visitor or its agent.
        return check_access(await self.conversations.get_conversation(conversation_id), actor.kind, actor.id)

    @staticmethod
    def _require(session: CobrowseSession, allowed: frozenset[CobrowseStatus], doing: str) -> None:
        if session.status not in allowed:
            raise CobrowseStateError(f"cannot {doing}: the co-browse session is {session.status}",
                                     details={"status": str(session.status), "control": str(session.control)})

    async def _apply(self, update: SessionUpdate, doing: str) -> CobrowseSession:
        changed = await self.store.update_session(update)
        if changed is None:
            current = await self.store.get_session(update.session_id)
            status = str(current.status) if current else "gone"
            control = str(current.control) if current else "none"
            raise CobrowseStateError(f"cannot {doing}: the co-browse session is {status}",
                                     details={"status": status, "control": control})
        if changed.status not in LIVE:
            await self.store.end_views(changed.id, self.clock.now())
            self._absent_since.pop(changed.id, None)
        log.info("cobrowse session=%s conversation=%s status=%s control=%s reason=%s", changed.id,
                 changed.conversation_id, changed.status, changed.control, changed.reason)
        await self.announce(changed)
        return changed

    # -- the agent ----------------------------------------------------------------------------

    async def request(self, actor: Actor, conversation_id: str) -> CobrowseSession:
        """Ask the shopper of an assigned conversation to share their page (or return the
        conversation's live session: asking twice never makes two)."""
        if actor.kind != PartyKind.AGENT:
            raise Forbidden("only the agent asks to co-browse")
        conversation = await self._conversation_for(actor, conversation_id)
        if conversation.status != ConversationStatus.ASSIGNED:
            raise CobrowseStateError("co-browsing needs a conversation that is assigned to you",
                                     details={"status": str(conversation.status)})
        live = await self.store.live_session_for(conversation_id)
        if live is not None:
            return live
        session = await self.store.create_session(CobrowseSession(
            id=self.new_id(), conversation_id=conversation_id, visitor_id=conversation.visitor_id,
            agent_id=actor.id, agent_name=actor.name or "Agent", status=CobrowseStatus.REQUESTED,
            requested_at=self.clock.now(),
        ))
        log.info("cobrowse requested session=%s conversation=%s agent=%s", session.id, conversation_id, actor.id)
        await self.announce(session)
        return session

    async def resume(self, actor: Actor, session_id: str) -> CobrowseSession:
        """Restart a paused session (the shopper's page sends a fresh snapshot; no new consent)."""
        session = await self.session_for(actor, session_id)
        self._require(session, frozenset({CobrowseStatus.PAUSED}), "resume")
        return await self._apply(SessionUpdate(session_id=session.id, expect=frozenset({CobrowseStatus.PAUSED}),
                                               status=CobrowseStatus.ACTIVE, clear_reason=True), "resume")

    async def request_control(self, actor: Actor, session_id: str) -> CobrowseSession:
        session = await self.session_for(actor, session_id)
        if actor.kind != PartyKind.AGENT:
            raise Forbidden("only the agent asks for control")
        self._require(session, frozenset({CobrowseStatus.ACTIVE}), "ask for control")
        if session.control in (ControlState.REQUESTED, ControlState.GRANTED):
            return session
        return await self._apply(SessionUpdate(
            session_id=session.id, expect=frozenset({CobrowseStatus.ACTIVE}),
            expect_control=frozenset({ControlState.NONE, ControlState.DECLINED, ControlState.REVOKED}),
            control=ControlState.REQUESTED, control_requested_at=self.clock.now()), "ask for control")

    # -- the shopper --------------------------------------------------------------------------

    async def live_for_conversation(self, actor: Actor, conversation_id: str) -> CobrowseSession | None:
        """The visitor's live session on their conversation, if any."""
        await self._conversation_for(actor, conversation_id)
        return await self.store.live_session_for(conversation_id)

    async def respond(self, actor: Actor, session_id: str, accept: bool) -> CobrowseSession:
        """The shopper's answer to the request to see their page."""
        session = await self.session_for(actor, session_id)
        if actor.kind != PartyKind.VISITOR:
            raise Forbidden("only the shopper answers a co-browse request")
        self._require(session, frozenset({CobrowseStatus.REQUESTED}), "answer")
        now = self.clock.now()
        if accept:
            update = SessionUpdate(session_id=session.id, expect=frozenset({CobrowseStatus.REQUESTED}),
                                   status=CobrowseStatus.ACTIVE, started_at=now)
        else:
            update = SessionUpdate(session_id=session.id, expect=frozenset({CobrowseStatus.REQUESTED}),
                                   status=CobrowseStatus.DECLINED, reason=REASON_DECLINED, ended_at=now)
        return await self._apply(update, "answer")

    async def respond_control(self, actor: Actor, session_id: str, grant: bool) -> CobrowseSession:
        """Grant control when asked; refusing or revoking works at any moment of a live session."""
        session = await self.session_for(actor, session_id)
        if actor.kind != PartyKind.VISITOR:
            raise Forbidden("only the shopper grants control")
        if grant:
            self._require(session, frozenset({CobrowseStatus.ACTIVE}), "grant control")
            if session.control != ControlState.REQUESTED:
                raise CobrowseStateError("the agent has not asked for control",
                                         details={"status": str(session.status), "control": str(session.control)})
            return await self._apply(SessionUpdate(
                session_id=session.id, expect=frozenset({CobrowseStatus.ACTIVE}),
                expect_control=frozenset({ControlState.REQUESTED}), control=ControlState.GRANTED,
                control_granted_at=self.clock.now()), "grant control")
        if session.control == ControlState.GRANTED:
            refused = ControlState.REVOKED
        elif session.control == ControlState.REQUESTED:
            refused = ControlState.DECLINED
        else:
            return session
        return await self._apply(SessionUpdate(
            session_id=session.id, expect=LIVE, expect_control=frozenset({session.control}), control=refused),
            "refuse control")

    async def new_page(self, actor: Actor, session_id: str) -> CobrowseSession:
        """The shopper's browser loaded a new page while sharing: count it, and drop any control
        granted on the previous page (it must be asked for again)."""
        session = await self.session_for(actor, session_id)
        self._require(session, frozenset({CobrowseStatus.ACTIVE, CobrowseStatus.PAUSED}), "share a new page")
        control = ControlState.NONE if session.control in (ControlState.GRANTED, ControlState.REQUESTED) else None
        return await self._apply(SessionUpdate(session_id=session.id,
                                               expect=frozenset({CobrowseStatus.ACTIVE, CobrowseStatus.PAUSED}),
                                               control=control, add_pages=1), "share a new page")

    # -- both ---------------------------------------------------------------------------------

    async def stop(self, actor: Actor, session_id: str) -> CobrowseSession:
        """End the session at once (either side); stopping an ended session returns it."""
        session = await self.session_for(actor, session_id)
        if not session.live:
            return session
        reason = f"stopped_by_{actor.kind}"
        return await self._apply(SessionUpdate(session_id=session.id, expect=LIVE, status=CobrowseStatus.ENDED,
                                               reason=reason, ended_at=self.clock.now()), "stop")

    # -- the server ---------------------------------------------------------------------------

    async def pause(self, session_id: str, reason: str) -> CobrowseSession | None:
        """Pause an active session that went over its limits; the chat goes on."""
        try:
            return await self._apply(SessionUpdate(session_id=session_id, expect=frozenset({CobrowseStatus.ACTIVE}),
                                                   status=CobrowseStatus.PAUSED, reason=reason), "pause")
        except CobrowseStateError:
            return None

    async def end(self, session_id: str, reason: str) -> CobrowseSession | None:
        try:
            return await self._apply(SessionUpdate(session_id=session_id, expect=LIVE, status=CobrowseStatus.ENDED,
                                                   reason=reason, ended_at=self.clock.now()), "end")
        except CobrowseStateError:
            return None

    async def conversation_changed(self, conversation: Conversation) -> None:
        """End the conversation's live session when the chat ends or moves to another agent."""
        session = await self.store.live_session_for(conversation.id)
        if session is None:
            return
        if conversation.status == ConversationStatus.CLOSED:
            await self.end(session.id, REASON_CHAT_ENDED)
        elif conversation.agent_id != session.agent_id:
            await self.end(session.id, REASON_AGENT_CHANGED)

    async def sweep(self, visitor_connected: Callable[[str], Awaitable[bool]], visitor_away_timeout: float) -> None:
        """Decline requests nobody answered, and end sessions whose shopper has been gone for
        ``visitor_away_timeout`` seconds (between two pages a shopper is briefly away)."""
        now = self.clock.now()
        live = await self.store.live_sessions()
        for session in live:
            if session.status == CobrowseStatus.REQUESTED and now - session.requested_at >= self.request_timeout:
                with contextlib.suppress(CobrowseStateError):  # answered meanwhile
                    await self._apply(SessionUpdate(
                        session_id=session.id, expect=frozenset({CobrowseStatus.REQUESTED}),
                        status=CobrowseStatus.DECLINED, reason=REASON_TIMEOUT, ended_at=now), "expire")
                continue
            if (session.control == ControlState.REQUESTED and session.control_requested_at is not None
                    and now - session.control_requested_at >= self.request_timeout):
                try:
                    session = await self._apply(SessionUpdate(
                        session_id=session.id, expect=LIVE, expect_control=frozenset({ControlState.REQUESTED}),
                        control=ControlState.DECLINED), "expire control")
                except CobrowseStateError:
                    continue
            if await visitor_connected(session.visitor_id):
                self._absent_since.pop(session.id, None)
                continue
            since = self._absent_since.setdefault(session.id, now)
            if now - since >= visitor_away_timeout:
                await self.end(session.id, REASON_VISITOR_LEFT)
        live_ids = {s.id for s in live}
        for session_id in [s for s in self._absent_since if s not in live_ids]:
            del self._absent_since[session_id]

    # -- records ------------------------------------------------------------------------------

    async def watch_started(self, actor: Actor, session: CobrowseSession) -> int:
        return await self.store.start_view(CobrowseView(session_id=session.id, agent_id=actor.id,
                                                        agent_name=actor.name or "Agent", joined_at=self.clock.now()))

    async def watch_ended(self, view_id: int) -> None:
        await self.store.end_view(view_id, self.clock.now())
