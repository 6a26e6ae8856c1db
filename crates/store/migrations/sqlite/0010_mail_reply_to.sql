-- A mailbox fed by web forms or a mail service (which send from their own address) may take
-- the requester from Reply-To.
ALTER TABLE mailboxes ADD COLUMN use_reply_to BOOLEAN NOT NULL DEFAULT FALSE;
