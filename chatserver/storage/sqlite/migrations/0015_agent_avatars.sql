-- Agents' avatars (domain/avatars.py): one per agent, as this server encoded it (a small PNG or
-- JPEG, never the upload). ``id`` is random and new for every avatar: it names the avatar in its
-- public URL, so a changed avatar has a new URL.
CREATE TABLE agent_avatars (
    agent_id TEXT PRIMARY KEY REFERENCES agents (id),
    id TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    data BLOB NOT NULL,
    created_at REAL NOT NULL
);
