-- The agent console: an agent's wrap-up of a chat (tags, resolution note), internal notes the
-- visitor never sees, canned responses, and failed logins per account (lockout).
-- tags holds a JSON array of strings, e.g. '["refund","shipping"]' (filter with json_each).
ALTER TABLE conversations ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE conversations ADD COLUMN resolution_note TEXT;

-- Notes live outside the messages table: they have no place in the visitor's sequence of
-- messages, so no replay, catch-up or transcript of the visitor's can ever include one.
CREATE TABLE conversation_notes (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    agent_id TEXT NOT NULL,
    agent_name TEXT NOT NULL,
    client_note_id TEXT,
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX conversation_notes_by_conversation ON conversation_notes (conversation_id, id);
-- A resent note (same agent, same client id) is found here instead of being stored twice.
CREATE UNIQUE INDEX conversation_notes_idempotency ON conversation_notes (conversation_id, agent_id, client_note_id)
    WHERE client_note_id IS NOT NULL;

CREATE TABLE canned_responses (
    id TEXT PRIMARY KEY,
    shortcut TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

-- Consecutive failed logins per email (known or not, so a lockout tells nothing about accounts).
CREATE TABLE login_failures (
    email TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure_at REAL NOT NULL,
    locked_until REAL NOT NULL DEFAULT 0
);
