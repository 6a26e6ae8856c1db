-- Who is copied on which ticket, so a customer's list can include the requests they are CC'd
-- on (a merge adds the merged ticket's requester this way) through an index, not a scan of
-- every ticket's `cc_ids` text. Filled from the tickets already there.
CREATE TABLE ticket_ccs (
    user_id   BIGINT NOT NULL REFERENCES users (id),
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    PRIMARY KEY (user_id, ticket_id)
);
CREATE INDEX ticket_ccs_ticket ON ticket_ccs (ticket_id);
INSERT INTO ticket_ccs (user_id, ticket_id)
    SELECT DISTINCT (j.value)::bigint, t.id FROM tickets t, jsonb_array_elements_text(t.cc_ids::jsonb) j
    ON CONFLICT DO NOTHING;

-- Ending a user's sessions (a password change, a deactivation) finds them by user.
CREATE INDEX sessions_user ON sessions (user_id);

-- The upload quota counts a user's uploads not yet attached to a comment.
CREATE INDEX attachments_unattached ON attachments (uploader_id, created_at) WHERE comment_id IS NULL;
