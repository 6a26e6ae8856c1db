-- A notification's mail is tried at mail_at: a claim ('sending') holds it until then (a worker
-- that died mid-send lets it go again), a failed try puts it back for later with a growing
-- back-off, so one server that keeps refusing never holds up the mail behind it.
ALTER TABLE notifications ADD COLUMN mail_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN mail_attempts BIGINT NOT NULL DEFAULT 0;
DROP INDEX notifications_mail_pending;
CREATE INDEX notifications_mail_due ON notifications (mail_at, id) WHERE mail IN ('pending', 'sending');
