-- An article drafted from a conversation also names the conversation's customer, so that
-- customer's export lists it and their deletion reaches it, even after retention deleted the
-- conversation (docs/knowledge-base.md, docs/customers.md). The foreign key makes a merge of
-- customers move it with the customer's other rows; deleting a customer deletes the unpublished
-- ones and unlinks the published ones first (storage/sqlite/customers.py).
ALTER TABLE kb_articles ADD COLUMN source_customer_id TEXT REFERENCES customers (id);
CREATE INDEX kb_articles_by_customer ON kb_articles (source_customer_id);

-- Articles drafted before: the customer of the conversation, while it is still held.
UPDATE kb_articles SET source_customer_id = (
    SELECT c.customer_id FROM conversations c WHERE c.id = kb_articles.source_conversation_id)
WHERE source_conversation_id IS NOT NULL;
