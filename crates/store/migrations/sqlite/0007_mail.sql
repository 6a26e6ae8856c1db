-- The email channel: the addresses the desk receives at, every Message-ID it stored (so a
-- reply finds its ticket and a message taken in twice is one comment), and the mail it could
-- not take in, kept whole until someone re-processes or discards it.

CREATE TABLE mailboxes (
    id          INTEGER PRIMARY KEY,
    address     TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    group_id    INTEGER REFERENCES groups (id),
    category_id INTEGER REFERENCES categories (id),
    priority    TEXT,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX mailboxes_address ON mailboxes (address);

-- direction: 'in' (received) or 'out' (sent by the desk). reasons: the threading decision's
-- reasons, a JSON array of sentences.
CREATE TABLE mail_messages (
    message_id TEXT    PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    comment_id INTEGER REFERENCES comments (id),
    mailbox_id INTEGER REFERENCES mailboxes (id),
    direction  TEXT    NOT NULL,
    reasons    TEXT    NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
);
CREATE INDEX mail_messages_comment ON mail_messages (comment_id);

CREATE TABLE mail_quarantine (
    id          INTEGER PRIMARY KEY,
    mailbox_id  INTEGER REFERENCES mailboxes (id) ON DELETE SET NULL,
    message_id  TEXT    NOT NULL DEFAULT '',
    sender      TEXT    NOT NULL DEFAULT '',
    subject     TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL,
    raw         BLOB    NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX mail_quarantine_received ON mail_quarantine (received_at);
