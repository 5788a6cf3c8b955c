-- Offline tickets belong to customers as conversations do, and outbox rows name the customer
-- they are about, so a customer's search, export, deletion and retention reach both.

ALTER TABLE tickets ADD COLUMN customer_id TEXT REFERENCES customers (id);
CREATE INDEX tickets_by_customer ON tickets (customer_id, created_at);
CREATE INDEX tickets_by_updated ON tickets (updated_at);

ALTER TABLE outbox ADD COLUMN customer_id TEXT REFERENCES customers (id);
CREATE INDEX outbox_by_customer ON outbox (customer_id);

-- Tickets already held: the customer their visitor belongs to ...
UPDATE tickets SET customer_id = (
    SELECT v.customer_id FROM customer_visitors v WHERE v.visitor_id = tickets.visitor_id);

-- ... or, for a visitor who only ever left tickets, a new anonymous customer named after the
-- visitor's latest ticket.
CREATE TEMP TABLE ticket_visitors AS
    SELECT visitor_id, lower(hex(randomblob(16))) AS customer_id, min(created_at) AS first_at,
           max(created_at) AS last_at
    FROM tickets WHERE customer_id IS NULL GROUP BY visitor_id;
INSERT INTO customers (id, name, emails, created_at, last_seen_at)
    SELECT l.customer_id,
           (SELECT t.name FROM tickets t WHERE t.visitor_id = l.visitor_id ORDER BY t.created_at DESC LIMIT 1),
           (SELECT json_array(lower(t.email)) FROM tickets t WHERE t.visitor_id = l.visitor_id
            ORDER BY t.created_at DESC LIMIT 1),
           l.first_at, l.last_at
    FROM ticket_visitors l;
INSERT INTO customer_visitors (visitor_id, customer_id, linked_at)
    SELECT visitor_id, customer_id, last_at FROM ticket_visitors;
UPDATE tickets SET customer_id = (
    SELECT l.customer_id FROM ticket_visitors l WHERE l.visitor_id = tickets.visitor_id)
    WHERE customer_id IS NULL;
DROP TABLE ticket_visitors;

-- Outbox rows already queued: the customer of their visitor, or, for customer.updated (queued
-- without a visitor), the customer the event is about.
UPDATE outbox SET customer_id = (
    SELECT v.customer_id FROM customer_visitors v WHERE v.visitor_id = outbox.visitor_id)
    WHERE visitor_id IS NOT NULL;
UPDATE outbox SET customer_id = json_extract(payload, '$.data.customer.id')
    WHERE customer_id IS NULL AND kind = 'webhook' AND status = 'pending'
      AND json_valid(payload) AND json_extract(payload, '$.type') = 'customer.updated'
      AND json_extract(payload, '$.data.customer.id') IN (SELECT id FROM customers);
