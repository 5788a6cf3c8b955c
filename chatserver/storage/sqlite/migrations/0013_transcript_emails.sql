-- Transcripts emailed at a visitor's request (transcript:email), counted per conversation and
-- per address so nobody can use the server to mail others (domain/tickets.py). The address is
-- stored lower case. Rows go with their conversation and with the visitor's customer (export,
-- deletion and retention follow the foreign key and visitor_id).
CREATE TABLE transcript_emails (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    visitor_id TEXT NOT NULL,
    address TEXT NOT NULL,
    sent_at REAL NOT NULL
);
CREATE INDEX transcript_emails_by_conversation ON transcript_emails (conversation_id);
CREATE INDEX transcript_emails_by_address ON transcript_emails (address, sent_at);
CREATE INDEX transcript_emails_by_visitor ON transcript_emails (visitor_id);
