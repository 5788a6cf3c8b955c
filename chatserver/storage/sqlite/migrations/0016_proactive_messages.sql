-- Proactive messages (domain/proactive.py): the admins' rules, what was counted of them once per
-- rule and visitor (shown, answered), and the conversations a rule's message led to.
-- ``texts`` holds a JSON object of the message per locale, e.g. '{"de": "Hallo"}'.
CREATE TABLE proactive_rules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    url_pattern TEXT NOT NULL,
    seconds INTEGER NOT NULL,
    min_cart_value REAL,
    checkout_step TEXT,
    business_hours_only INTEGER NOT NULL,
    agent_available_only INTEGER NOT NULL,
    text TEXT NOT NULL,
    texts TEXT NOT NULL DEFAULT '{}',
    enabled INTEGER NOT NULL,
    position INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

-- Deleted with their rule. One key column, as every table a customer's export lists.
CREATE TABLE proactive_events (
    id INTEGER PRIMARY KEY,
    rule_id TEXT NOT NULL REFERENCES proactive_rules (id) ON DELETE CASCADE,
    visitor_id TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('shown', 'answered')),
    at REAL NOT NULL,
    UNIQUE (rule_id, visitor_id, event)
);

-- A conversation keeps the id of the rule that started it, even once the rule is deleted; it
-- goes with the conversation (a customer's deletion follows this key).
CREATE TABLE proactive_conversations (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id),
    rule_id TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX proactive_conversations_by_rule ON proactive_conversations (rule_id);
