-- Co-browsing (docs/cobrowse.md): one row per session an agent asked for on a conversation, and
-- one per agent connection that watched it. Only metadata: the page content itself is never
-- stored here.
CREATE TABLE cobrowse_sessions (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    agent_id TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    -- requested -> active <-> paused, then ended; requested -> declined
    status TEXT NOT NULL CHECK (status IN ('requested', 'active', 'paused', 'declined', 'ended')),
    -- remote control: none -> requested -> granted | declined; granted -> revoked
    control TEXT NOT NULL DEFAULT 'none'
        CHECK (control IN ('none', 'requested', 'granted', 'declined', 'revoked')),
    -- why the session is paused, declined or ended (a stable code, see docs/protocol.md)
    reason TEXT,
    requested_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    control_requested_at REAL,
    control_granted_at REAL,
    -- pages the shopper shared (a new page restarts the capture) and bytes of events relayed
    pages INTEGER NOT NULL DEFAULT 0,
    bytes_relayed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX cobrowse_sessions_by_conversation ON cobrowse_sessions (conversation_id, requested_at);
-- At most one live session per conversation.
CREATE UNIQUE INDEX cobrowse_sessions_live ON cobrowse_sessions (conversation_id)
    WHERE status IN ('requested', 'active', 'paused');

CREATE TABLE cobrowse_views (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES cobrowse_sessions (id),
    agent_id TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    joined_at REAL NOT NULL,
    left_at REAL
);
CREATE INDEX cobrowse_views_by_session ON cobrowse_views (session_id, id);
