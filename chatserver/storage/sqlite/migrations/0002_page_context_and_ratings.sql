-- Page context the widget sends with a new chat, and the visitor's rating after it.
ALTER TABLE conversations ADD COLUMN page_title TEXT;
ALTER TABLE conversations ADD COLUMN checkout INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN cart_value REAL;

CREATE TABLE ratings (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id),
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment TEXT,
    created_at REAL NOT NULL
);
