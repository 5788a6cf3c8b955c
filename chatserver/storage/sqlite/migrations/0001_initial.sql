-- Agents, conversations, messages and assignment history.
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    capacity INTEGER NOT NULL CHECK (capacity > 0),
    disabled INTEGER NOT NULL DEFAULT 0,
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    visitor_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'assigned', 'closed')),
    visitor_name TEXT NOT NULL,
    visitor_email TEXT,
    question TEXT NOT NULL,
    order_number TEXT,
    page_url TEXT,
    created_at REAL NOT NULL,
    queue_rank REAL,
    agent_id TEXT REFERENCES agents (id),
    agent_name TEXT,
    assigned_at REAL,
    closed_at REAL,
    closed_by TEXT,
    last_seq INTEGER NOT NULL DEFAULT 0,
    visitor_read_seq INTEGER NOT NULL DEFAULT 0,
    agent_read_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conversations_by_visitor ON conversations (visitor_id, status);
CREATE INDEX conversations_by_status ON conversations (status, queue_rank);
CREATE INDEX conversations_by_agent ON conversations (agent_id, status);

CREATE TABLE messages (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('text', 'system')),
    sender_kind TEXT NOT NULL CHECK (sender_kind IN ('visitor', 'agent', 'system')),
    sender_id TEXT,
    sender_name TEXT,
    client_msg_id TEXT,
    body TEXT NOT NULL,
    meta TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
-- A resent message (same sender, same client id) is found here instead of being stored twice.
CREATE UNIQUE INDEX messages_idempotency ON messages (conversation_id, sender_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;

CREATE TABLE assignment_events (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    agent_id TEXT,
    event TEXT NOT NULL,
    reason TEXT,
    at REAL NOT NULL
);
CREATE INDEX assignment_events_by_conversation ON assignment_events (conversation_id, id);
