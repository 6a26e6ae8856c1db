-- PostgreSQL tunes the queue counters' storage in this migration; SQLite rewrites rows in place
-- and needs nothing.
SELECT 1;
