-- How many times a connection started reading each conversation (conversation:join, and the
-- visitor's chat:start), counted only when several processes share the routing state (Redis):
-- the append that numbers a message returns it, so the process that stored the message knows
-- whether the processes it last found reading the conversation can still be all of them, without
-- asking presence again (transport/notifier.py).
ALTER TABLE conversations ADD COLUMN readers_version INTEGER NOT NULL DEFAULT 0;
