"""Socket.IO namespaces, event names and room names, defined once (documented in docs/protocol.md)."""

from __future__ import annotations

import importlib.metadata
from typing import Final

VISITOR_NAMESPACE: Final = "/visitor"
AGENT_NAMESPACE: Final = "/agent"

# Client -> server, both namespaces
EV_MESSAGE_SEND: Final = "message:send"
EV_MESSAGE_READ: Final = "message:read"
EV_TYPING: Final = "typing:update"
EV_CONVERSATION_JOIN: Final = "conversation:join"
EV_CONVERSATION_CLOSE: Final = "conversation:close"
EV_SESSION_RESUME: Final = "session:resume"
EV_ATTACHMENT_LINK: Final = "attachment:link"
# Client -> server, visitor only
EV_CHAT_START: Final = "chat:start"
EV_CONVERSATION_RATE: Final = "conversation:rate"
EV_VISITOR_IDENTIFY: Final = "visitor:identify"
EV_PAGE_UPDATE: Final = "page:update"
# Client -> server, visitor only: a returning shopper's earlier conversations (transport/history.py)
EV_HISTORY_LIST: Final = "history:list"
EV_HISTORY_READ: Final = "history:read"
# Client -> server, visitor only: proactive messages (transport/proactive.py)
EV_PROACTIVE_RULES: Final = "proactive:rules"
EV_PROACTIVE_SHOWN: Final = "proactive:shown"
EV_PROACTIVE_ANSWERED: Final = "proactive:answered"
EV_PROACTIVE_CHAT: Final = "proactive:chat"
# Client -> server, agent only
EV_QUEUE_LIST: Final = "queue:list"
EV_QUEUE_TAKE: Final = "queue:take"
EV_PRESENCE_SET: Final = "presence:set"
EV_CONVERSATION_TRANSFER: Final = "conversation:transfer"
# Client -> server, agent only: the console (transport/console.py)
EV_NOTE_ADD: Final = "note:add"
EV_NOTE_LIST: Final = "note:list"
EV_CONVERSATION_END: Final = "conversation:end"

# Client -> server, both namespaces: whether shoppers can chat now (transport/tickets.py; the
# console says when the shop is closed)
EV_AVAILABILITY_GET: Final = "availability:get"
# Client -> server, visitor only: the offline service (transport/tickets.py)
EV_TICKET_CREATE: Final = "ticket:create"
EV_TICKET_LIST: Final = "ticket:list"
EV_TRANSCRIPT_EMAIL: Final = "transcript:email"

# Co-browsing (transport/cobrowse.py). Client -> server, visitor only
EV_COBROWSE_STATUS: Final = "cobrowse:status"
EV_COBROWSE_RESPOND: Final = "cobrowse:respond"
EV_COBROWSE_CONTROL: Final = "cobrowse:control"
EV_COBROWSE_EVENTS: Final = "cobrowse:events"  # also server -> agent: the relayed batches
EV_COBROWSE_ACTION_RESULT: Final = "cobrowse:action_result"  # also server -> agent
EV_COBROWSE_PONG: Final = "cobrowse:pong"  # also server -> agent
# Client -> server, both namespaces
EV_COBROWSE_STOP: Final = "cobrowse:stop"
# Client -> server, agent only
EV_COBROWSE_REQUEST: Final = "cobrowse:request"
EV_COBROWSE_JOIN: Final = "cobrowse:join"
EV_COBROWSE_LEAVE: Final = "cobrowse:leave"
EV_COBROWSE_RESUME: Final = "cobrowse:resume"
EV_COBROWSE_CONTROL_REQUEST: Final = "cobrowse:control_request"
EV_COBROWSE_POINTER: Final = "cobrowse:pointer"  # also server -> visitor
EV_COBROWSE_SCROLL_TO: Final = "cobrowse:scroll_to"  # also server -> visitor
EV_COBROWSE_ACTION: Final = "cobrowse:action"  # also server -> visitor
EV_COBROWSE_PING: Final = "cobrowse:ping"  # also server -> visitor
# Server -> client
EV_COBROWSE_UPDATED: Final = "cobrowse:updated"  # both namespaces
EV_COBROWSE_SNAPSHOT: Final = "cobrowse:snapshot"  # to the visitor: send a fresh full snapshot

# Server -> client
EV_MESSAGE_NEW: Final = "message:new"
EV_MESSAGE_READ_UPDATED: Final = "message:read"
EV_TYPING_UPDATED: Final = "typing:updated"
EV_CONVERSATION_UPDATED: Final = "conversation:updated"
EV_QUEUE_POSITION: Final = "queue:position"
EV_QUEUE_UPDATED: Final = "queue:updated"
EV_PEER_PRESENCE: Final = "peer:presence"
EV_PRESENCE_UPDATED: Final = "presence:updated"
EV_NOTE_NEW: Final = "note:new"
EV_TICKET_CREATED: Final = "ticket:created"
EV_TICKET_UPDATED: Final = "ticket:updated"
EV_SESSION_ENDED: Final = "session:ended"
EV_CANNED_UPDATED: Final = "canned:updated"
EV_ERROR: Final = "error"

# Why the server ended an agent's session (``session:ended {reason}``, then it disconnects)
SESSION_SIGNED_OUT: Final = "signed_out"
SESSION_DISABLED: Final = "disabled"
SESSION_EXPIRED: Final = "expired"

# System message codes (``kind == "system"`` messages carry one of these as their body)
SYS_CHAT_STARTED: Final = "chat_started"
SYS_AGENT_JOINED: Final = "agent_joined"
SYS_REQUEUED: Final = "requeued"
SYS_CLOSED: Final = "closed"
SYS_TRANSFERRED: Final = "transferred"

# Rooms of the Socket.IO server
ROOM_AGENTS: Final = "agents"


def visitor_room(visitor_id: str) -> str:
    return f"visitor:{visitor_id}"


def agent_room(agent_id: str) -> str:
    return f"agent:{agent_id}"


def listening_line(base_url: str) -> str:
    """What ``chatserver serve`` prints once it listens on ``base_url``: the load tester and the
    tests wait for it (whatever answered on the port before is another process)."""
    return f"chatserver is running on {base_url}/"


def package_version() -> str:
    """The version of the installed package (``chatserver --version``, the start-up line)."""
    try:
        return importlib.metadata.version("chatserver")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"
