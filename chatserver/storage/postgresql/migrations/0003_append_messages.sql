-- Participants' messages stored many to a statement: the group commit hands this function every
-- message of a batch that are next to each other (postgresql/messages.py), which runs for each,
-- in order, what one message's statement does alone: the next number taken only if the sender
-- may write, the message inserted unless it is a resend (same conversation, sender and client
-- id), whose number then goes back. One row per message, in order: the conversation as its
-- UPDATE left it (NULL when the sender may not write: nothing was written for it) and the
-- message's number (NULL for a resend). A call is one round trip and one statement for the
-- protocol, where each message alone was one of each.
CREATE FUNCTION chat_append_messages(
    conversation_ids TEXT[], kinds TEXT[], sender_kinds TEXT[], sender_ids TEXT[], client_msg_ids TEXT[],
    bodies TEXT[], metas TEXT[], created_ats DOUBLE PRECISION[], agent_names TEXT[]
) RETURNS TABLE (out_conversation conversations, out_seq INTEGER)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    i INTEGER;
    c conversations;
    stored INTEGER;
BEGIN
    FOR i IN 1 .. coalesce(array_length(conversation_ids, 1), 0) LOOP
        IF sender_kinds[i] = 'visitor' THEN
            UPDATE conversations SET last_seq = last_seq + 1
                WHERE id = conversation_ids[i] AND status <> 'closed' AND visitor_id = sender_ids[i]
                RETURNING * INTO c;
        ELSE
            UPDATE conversations SET last_seq = last_seq + 1
                WHERE id = conversation_ids[i] AND status <> 'closed' AND agent_id = sender_ids[i]
                RETURNING * INTO c;
        END IF;
        IF NOT FOUND THEN
            out_conversation := NULL;
            out_seq := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        stored := NULL;
        INSERT INTO messages (conversation_id, kind, sender_kind, sender_id, client_msg_id, body, meta,
                              created_at, seq, sender_name)
            VALUES (conversation_ids[i], kinds[i], sender_kinds[i], sender_ids[i], client_msg_ids[i], bodies[i],
                    metas[i], created_ats[i], c.last_seq,
                    CASE WHEN sender_kinds[i] = 'visitor' THEN c.visitor_name ELSE agent_names[i] END)
            ON CONFLICT (conversation_id, sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
            RETURNING seq INTO stored;
        IF stored IS NULL THEN
            UPDATE conversations SET last_seq = last_seq - 1 WHERE id = conversation_ids[i] RETURNING * INTO c;
        END IF;
        out_conversation := c;
        out_seq := stored;
        RETURN NEXT;
    END LOOP;
END
$$;
