-- The shopper's language (docs/widget.md, Languages), as the widget chose it and sent it with
-- chat:start or ticket:create: the server writes the system lines of the transcript it mails,
-- and the mail answering a ticket, in it. NULL: the shop's default_locale.
ALTER TABLE conversations ADD COLUMN locale TEXT;
ALTER TABLE tickets ADD COLUMN locale TEXT;
