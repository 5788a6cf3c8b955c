-- The knowledge base's search index, PostgreSQL's own (SQLite has FTS5 tables instead):
-- a tsvector of each article computed by the database from the row (so rows written any way,
-- `chatserver db copy` included, are indexed), and the vocabulary of the published articles,
-- kept by a trigger, whose trigram index finds the words a mistyped one was meant to be.

-- Trusted since PostgreSQL 13: the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- What the query side does to a shopper's words (domain/kb_search.py, fold): compatibility
-- decomposition, combining marks dropped, lower case ("Rückgabe" and "ruckgabe" are one word).
-- Built from immutable functions only, so it may compute a generated column; the unaccent
-- extension is not used because its function is only stable (its rules file can change), and
-- wrapping it as immutable would leave stale vectors if it did. Lower case comes last, when the
-- marks are gone, so it does not depend on the database's locale for accented letters.
CREATE FUNCTION kb_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lower(regexp_replace(normalize($1, NFKD),
                                '[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]', '', 'g'))
$$;

-- The 'simple' configuration: no stemming nor stop words, shops write in any language. Weights
-- rank the title (A) above the tags (B) above the body (C); tags are read through jsonb so
-- that escaped characters (\u00fc) are words again.
ALTER TABLE kb_articles ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', kb_fold(title)), 'A')
    || setweight(to_tsvector('simple', kb_fold(tags::jsonb::text)), 'B')
    || setweight(to_tsvector('simple', kb_fold(body_text)), 'C')
) STORED;
CREATE INDEX kb_articles_search ON kb_articles USING gin (search) WHERE status = 'published';

-- Each lexeme of the published articles and how many hold it. "C" collation: byte order is
-- code point order, so the words starting with a prefix are one range of the primary key.
CREATE TABLE kb_words (
    word TEXT COLLATE "C" PRIMARY KEY,
    docs INTEGER NOT NULL
);
CREATE INDEX kb_words_trigrams ON kb_words USING gist (word gist_trgm_ops);

-- An article's lexemes enter the vocabulary when it is published and leave it when it is not
-- any more (edited, unpublished, deleted); only the words that changed are touched, in word
-- order, so two hosts saving articles at once lock shared words in the same order.
CREATE FUNCTION kb_count_words() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before text[] := '{}';
    after text[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'published' THEN
        before := tsvector_to_array(OLD.search);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'published' THEN
        after := tsvector_to_array(NEW.search);
    END IF;
    IF before = after THEN
        RETURN NULL;
    END IF;
    INSERT INTO kb_words (word, docs)
        SELECT w, 1 FROM unnest(after) AS w WHERE NOT w = ANY (before) ORDER BY w COLLATE "C"
        ON CONFLICT (word) DO UPDATE SET docs = kb_words.docs + 1;
    UPDATE kb_words SET docs = docs - 1
        WHERE word IN (SELECT w FROM unnest(before) AS w WHERE NOT w = ANY (after));
    DELETE FROM kb_words WHERE docs <= 0 AND word = ANY (before);
    RETURN NULL;
END
$$;
CREATE TRIGGER kb_articles_words AFTER INSERT OR UPDATE OR DELETE ON kb_articles
    FOR EACH ROW EXECUTE FUNCTION kb_count_words();
