-- Files in conversations (domain/attachments.py): a file is posted as a message of kind 'file'.
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check CHECK (kind IN ('text', 'system', 'file'));

-- An attachment's record, as SQLite's (migration 0014 there).
CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    sender_kind TEXT NOT NULL CHECK (sender_kind IN ('visitor', 'agent')),
    sender_id TEXT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    width INTEGER,
    height INTEGER,
    thumbnail_type TEXT
);
CREATE INDEX attachments_by_conversation ON attachments (conversation_id, created_at);

-- The bytes, in the shared database so every process of every host reads them with no other
-- service (docs/architecture.md): parts of at most 1 MiB each (storage/postgresql/attachments.py),
-- so no single value is large to send or hold. Rows go with their attachment (the foreign key).
CREATE TABLE attachment_parts (
    attachment_id TEXT NOT NULL REFERENCES attachments (id),
    variant TEXT NOT NULL CHECK (variant IN ('file', 'thumbnail')),
    part INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (attachment_id, variant, part)
);
-- Bytes that are already compressed (images, most PDFs) are not compressed again by TOAST.
ALTER TABLE attachment_parts ALTER COLUMN data SET STORAGE EXTERNAL;
