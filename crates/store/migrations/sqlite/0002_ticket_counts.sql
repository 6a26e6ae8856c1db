-- Queue totals without counting rows: one counter per (status, group, assignee), split into
-- shards (ticket id % 8, `COUNT_SHARDS` in the store) so concurrent writers rarely touch the
-- same row. 0 stands for "none". `Store::optimize` rebuilds these from the tickets.
CREATE TABLE ticket_counts (
    status_id    INTEGER NOT NULL,
    group_key    INTEGER NOT NULL,
    assignee_key INTEGER NOT NULL,
    shard        INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (status_id, group_key, assignee_key, shard)
);

INSERT INTO ticket_counts (status_id, group_key, assignee_key, shard, n)
SELECT status_id, COALESCE(group_id, 0), COALESCE(assignee_id, 0), id % 8, COUNT(*)
FROM tickets
GROUP BY status_id, COALESCE(group_id, 0), COALESCE(assignee_id, 0), id % 8;
