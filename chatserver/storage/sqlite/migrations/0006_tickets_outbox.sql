-- Offline tickets and their answers, webhook endpoints, and the outbox of mail and webhook
-- deliveries (sent by background workers, retried, kept across restarts).
CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    visitor_id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    order_number TEXT,
    description TEXT NOT NULL,
    page_url TEXT,
    status TEXT NOT NULL CHECK (status IN ('open', 'answered')),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX tickets_by_status ON tickets (status, created_at);
CREATE INDEX tickets_by_visitor ON tickets (visitor_id, created_at);

CREATE TABLE ticket_answers (
    id INTEGER PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    agent_id TEXT,
    agent_name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX ticket_answers_by_ticket ON ticket_answers (ticket_id, id);

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL,
    created_at REAL NOT NULL
);

-- One row per email or per (webhook endpoint, event). A worker claims due rows by pushing
-- next_attempt_at past a lease, so two processes sharing the file never send a row twice at once.
-- visitor_id names the visitor the row is about (deleting a customer's data deletes its rows);
-- a sent or failed row keeps no payload, and is deleted after outbox_keep_days.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    visitor_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('mail', 'webhook')),
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    created_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX outbox_due ON outbox (kind, status, next_attempt_at);
CREATE INDEX outbox_by_visitor ON outbox (visitor_id);
