-- Who is copied on which ticket, so a customer's list can include the requests they are CC'd
-- on (a merge adds the merged ticket's requester this way) through an index, not a scan of
-- every ticket's `cc_ids` text. Filled from the tickets already there.
CREATE TABLE ticket_ccs (
    user_id   INTEGER NOT NULL REFERENCES users (id),
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    PRIMARY KEY (user_id, ticket_id)
);
CREATE INDEX ticket_ccs_ticket ON ticket_ccs (ticket_id);
INSERT OR IGNORE INTO ticket_ccs (user_id, ticket_id)
    SELECT CAST(j.value AS INTEGER), t.id FROM tickets t, json_each(t.cc_ids) j;

-- Ending a user's sessions (a password change, a deactivation) finds them by user.
CREATE INDEX sessions_user ON sessions (user_id);

-- The upload quota counts a user's uploads not yet attached to a comment.
CREATE INDEX attachments_unattached ON attachments (uploader_id, created_at) WHERE comment_id IS NULL;
