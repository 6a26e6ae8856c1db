-- Who sent each message taken in, so the per-sender limit counts across every node; whom each
-- of the desk's own messages went to, and which of them a delivery report returned, so a
-- bounce for one CC marks the reply partly failed rather than failed.
ALTER TABLE mail_messages ADD COLUMN sender TEXT NOT NULL DEFAULT '';
ALTER TABLE mail_messages ADD COLUMN recipients TEXT NOT NULL DEFAULT '[]';
ALTER TABLE mail_messages ADD COLUMN bounced TEXT NOT NULL DEFAULT '[]';
CREATE INDEX mail_messages_sender ON mail_messages (sender, created_at) WHERE sender <> '';

-- Work one node does at a time without being a job (watching a mailbox over IMAP IDLE): the
-- holder renews its lease while it works; another node takes over once it runs out.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    held_until INTEGER NOT NULL
);
