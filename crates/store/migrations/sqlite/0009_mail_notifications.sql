-- Notifications delivered by mail too. mail: '' (not to be mailed), 'pending', 'sending' (a
-- worker took it), 'sent', or 'failed: <why>'. The pending ones are what mail.notify reads.

ALTER TABLE notifications ADD COLUMN mail TEXT NOT NULL DEFAULT '';
CREATE INDEX notifications_mail_pending ON notifications (id) WHERE mail = 'pending';
