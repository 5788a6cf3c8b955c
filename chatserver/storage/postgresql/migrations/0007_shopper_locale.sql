-- The shopper's language, as SQLite's (migration 0017 there): the language of the mails the
-- server writes for the conversation or ticket. NULL: the shop's default_locale.
ALTER TABLE conversations ADD COLUMN locale TEXT;
ALTER TABLE tickets ADD COLUMN locale TEXT;
