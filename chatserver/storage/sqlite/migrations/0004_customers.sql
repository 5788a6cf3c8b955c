-- Customer records (the contact directory), the visitors (browsers) known to belong to each,
-- and the customer each conversation belongs to.
-- emails and tags hold JSON arrays of strings, e.g. '["ann@example.com"]'.
-- external_id is the shop's own id of an identified customer; NULL for an anonymous visitor's record.
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    external_id TEXT UNIQUE,
    name TEXT,
    emails TEXT NOT NULL DEFAULT '[]',
    phone TEXT,
    notes TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,
    last_seen_at REAL NOT NULL
);
CREATE INDEX customers_by_last_seen ON customers (last_seen_at);

CREATE TABLE customer_visitors (
    visitor_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    linked_at REAL NOT NULL
);
CREATE INDEX customer_visitors_by_customer ON customer_visitors (customer_id);

ALTER TABLE conversations ADD COLUMN customer_id TEXT REFERENCES customers (id);
CREATE INDEX conversations_by_customer ON conversations (customer_id, created_at);
CREATE INDEX conversations_by_created ON conversations (created_at);
-- The retention job looks for closed conversations by the time they closed.
CREATE INDEX conversations_by_closed ON conversations (closed_at) WHERE closed_at IS NOT NULL;

-- Conversations from before customer records: each visitor's become one anonymous customer's,
-- named after the visitor's latest pre-chat form, so every transcript has a customer.
CREATE TEMP TABLE legacy_visitors AS
    SELECT visitor_id, lower(hex(randomblob(16))) AS customer_id, min(created_at) AS first_at,
           max(created_at) AS last_at
    FROM conversations GROUP BY visitor_id;
INSERT INTO customers (id, name, emails, created_at, last_seen_at)
    SELECT l.customer_id,
           (SELECT c.visitor_name FROM conversations c WHERE c.visitor_id = l.visitor_id
            ORDER BY c.created_at DESC LIMIT 1),
           coalesce((SELECT json_array(lower(c.visitor_email)) FROM conversations c
                     WHERE c.visitor_id = l.visitor_id AND c.visitor_email IS NOT NULL
                     ORDER BY c.created_at DESC LIMIT 1), '[]'),
           l.first_at, l.last_at
    FROM legacy_visitors l;
INSERT INTO customer_visitors (visitor_id, customer_id, linked_at)
    SELECT visitor_id, customer_id, last_at FROM legacy_visitors;
UPDATE conversations SET customer_id = (
    SELECT l.customer_id FROM legacy_visitors l WHERE l.visitor_id = conversations.visitor_id);
DROP TABLE legacy_visitors;
