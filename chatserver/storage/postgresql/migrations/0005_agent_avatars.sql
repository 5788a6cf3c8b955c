-- Agents' avatars, as SQLite's (migration 0015 there): one per agent, encoded by this server;
-- the random ``id`` names it in its public URL.
CREATE TABLE agent_avatars (
    agent_id TEXT PRIMARY KEY REFERENCES agents (id),
    id TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg')),
    data BYTEA NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
