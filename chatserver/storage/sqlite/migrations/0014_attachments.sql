-- Files in conversations (domain/attachments.py). A file is posted as a message of kind 'file'
-- (its meta names the attachment), so the messages table takes that kind: SQLite cannot change a
-- CHECK in place, so the table is made again with every row, as it was otherwise.
CREATE TABLE messages_0014 (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('text', 'system', 'file')),
    sender_kind TEXT NOT NULL CHECK (sender_kind IN ('visitor', 'agent', 'system')),
    sender_id TEXT,
    sender_name TEXT,
    client_msg_id TEXT,
    body TEXT NOT NULL,
    meta TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
INSERT INTO messages_0014 (conversation_id, seq, kind, sender_kind, sender_id, sender_name, client_msg_id, body,
                           meta, created_at)
    SELECT conversation_id, seq, kind, sender_kind, sender_id, sender_name, client_msg_id, body, meta, created_at
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_0014 RENAME TO messages;
-- A resent message (same sender, same client id) is found here instead of being stored twice.
CREATE UNIQUE INDEX messages_idempotency ON messages (conversation_id, sender_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;

-- An attachment's record; its bytes (and an image's thumbnail) are files under the data
-- directory's attachments/ (storage/sqlite/attachments.py), named by the id. Rows go with their
-- conversation (export, deletion and retention follow the foreign key; the store removes the
-- files once the deletion is committed).
CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    sender_kind TEXT NOT NULL CHECK (sender_kind IN ('visitor', 'agent')),
    sender_id TEXT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at REAL NOT NULL,
    width INTEGER,
    height INTEGER,
    thumbnail_type TEXT
);
CREATE INDEX attachments_by_conversation ON attachments (conversation_id, created_at);
