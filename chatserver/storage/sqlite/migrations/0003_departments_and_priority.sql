-- Departments (agents belong to several, a chat to at most one) and chat priority.
ALTER TABLE agents ADD COLUMN departments TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN department TEXT;
ALTER TABLE conversations ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
