-- The knowledge base (docs/knowledge-base.md): categories, articles with their FAQ order, the
-- full-text index of the published articles, and what the help step was used for.
CREATE TABLE kb_categories (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

-- n is the article's row in the index (kb_search.rowid), id its public id. body is the Markdown
-- as written, body_html its sanitized rendering, body_text the words the index holds.
-- source_conversation_id has no foreign key: deleting a conversation (retention, a customer's
-- deletion) leaves the article the agents wrote from it.
CREATE TABLE kb_articles (
    n INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    slug TEXT NOT NULL UNIQUE,
    locale TEXT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    body_html TEXT NOT NULL,
    body_text TEXT NOT NULL,
    category_id TEXT REFERENCES kb_categories (id),
    tags TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL CHECK (status IN ('draft', 'in_review', 'published')),
    assignee_id TEXT REFERENCES agents (id),
    source_conversation_id TEXT,
    faq_position INTEGER,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    published_at REAL
);
CREATE INDEX kb_articles_by_category ON kb_articles (category_id, faq_position);
CREATE INDEX kb_articles_by_status ON kb_articles (status, updated_at);
CREATE INDEX kb_articles_by_assignee ON kb_articles (assignee_id, status);

-- Published articles only, written in the same transaction as the article. Accents are folded
-- and every word of 2 or 3 letters has a prefix index, for the search-as-you-type prefixes.
CREATE VIRTUAL TABLE kb_search USING fts5 (
    title, body, tags, locale UNINDEXED, category_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
-- The vocabulary of the published articles, written with them: each word and how many articles
-- hold it (the row for the empty word counts the published articles), and each word's variants
-- with one letter deleted (a word is its own variant too). A mistyped word's variants meet the
-- right word's here, which is how a typo is corrected with a few index lookups.
CREATE TABLE kb_words (
    word TEXT PRIMARY KEY,
    docs INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE kb_word_variants (
    variant TEXT NOT NULL,
    word TEXT NOT NULL,
    PRIMARY KEY (variant, word)
) WITHOUT ROWID;

-- Searches as typed (normalized: lower case, e-mail addresses and long numbers masked), with no
-- visitor id or address; deleted after kb_search_retention_days.
CREATE TABLE kb_searches (
    id INTEGER PRIMARY KEY,
    query TEXT NOT NULL,
    results INTEGER NOT NULL,
    source TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX kb_searches_by_time ON kb_searches (created_at);

-- What the widget's help step led to: an article answered the shopper, or they went on to a
-- chat or an offline ticket. Same privacy and retention as kb_searches.
CREATE TABLE kb_outcomes (
    id INTEGER PRIMARY KEY,
    outcome TEXT NOT NULL CHECK (outcome IN ('answered', 'chat_started', 'ticket_created')),
    query TEXT,
    article_id TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX kb_outcomes_by_time ON kb_outcomes (created_at);
