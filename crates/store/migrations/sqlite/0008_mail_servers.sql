-- Mail servers and mail going out. A mailbox may be fetched over IMAP and send through its own
-- SMTP server: the settings as JSON without their passwords, which are kept apart, sealed by
-- the core (AES-256-GCM) before they reach the database; the fetch state (UIDVALIDITY and the
-- last UID taken in) and the status line the console shows.

ALTER TABLE mailboxes ADD COLUMN imap TEXT;
ALTER TABLE mailboxes ADD COLUMN imap_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE mailboxes ADD COLUMN smtp TEXT;
ALTER TABLE mailboxes ADD COLUMN smtp_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE mailboxes ADD COLUMN uid_validity INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN last_uid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN last_fetch_at INTEGER;
ALTER TABLE mailboxes ADD COLUMN last_error TEXT;

-- A reply the desk mails: its delivery, on the row of its Message-ID. status: '' for received
-- mail; queued, retrying, sent or failed for the desk's own. detail: the server's last answer.
ALTER TABLE mail_messages ADD COLUMN status TEXT NOT NULL DEFAULT '';
ALTER TABLE mail_messages ADD COLUMN detail TEXT NOT NULL DEFAULT '';
ALTER TABLE mail_messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mail_messages ADD COLUMN sent_at INTEGER;
CREATE INDEX mail_messages_ticket ON mail_messages (ticket_id, created_at);
