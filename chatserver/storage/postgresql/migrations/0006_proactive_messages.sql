-- Proactive messages (domain/proactive.py), as SQLite's (migration 0016 there): the admins'
-- rules, what was counted once per rule and visitor (shown, answered), and the conversations a
-- rule's message led to. Flags are INTEGER 0/1 as in 0001 (the db copy moves rows as they are).
-- ``texts`` holds a JSON object of the message per locale, e.g. '{"de": "Hallo"}'.
CREATE TABLE proactive_rules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    url_pattern TEXT NOT NULL,
    seconds INTEGER NOT NULL,
    min_cart_value DOUBLE PRECISION,
    checkout_step TEXT,
    business_hours_only INTEGER NOT NULL,
    agent_available_only INTEGER NOT NULL,
    text TEXT NOT NULL,
    texts TEXT NOT NULL DEFAULT '{}',
    enabled INTEGER NOT NULL,
    position INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);

-- Deleted with their rule.
CREATE TABLE proactive_events (
    rule_id TEXT NOT NULL REFERENCES proactive_rules (id) ON DELETE CASCADE,
    visitor_id TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('shown', 'answered')),
    at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (rule_id, visitor_id, event)
);

-- A conversation keeps the id of the rule that started it, even once the rule is deleted; it
-- goes with the conversation (a customer's deletion follows this key).
CREATE TABLE proactive_conversations (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id),
    rule_id TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX proactive_conversations_by_rule ON proactive_conversations (rule_id);
