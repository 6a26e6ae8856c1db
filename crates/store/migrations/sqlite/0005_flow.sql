-- The flow engine: the times automations measure from, assignment settings, rules, macros,
-- views, webhooks, in-app notifications, durable jobs and the automation firing ledger.

-- When the status last changed, the assignee got the ticket, and the last public replies, so
-- time conditions read a column instead of the event stream. Filled in from the events and
-- comments already there.
ALTER TABLE tickets ADD COLUMN status_changed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN assigned_at INTEGER;
ALTER TABLE tickets ADD COLUMN last_customer_reply_at INTEGER;
ALTER TABLE tickets ADD COLUMN last_agent_reply_at INTEGER;
-- One pass over the table (each UPDATE rewrites every row on PostgreSQL).
UPDATE tickets SET
    status_changed_at = COALESCE((SELECT MAX(e.created_at) FROM ticket_events e
                                  WHERE e.ticket_id = tickets.id AND e.field = 'status'), created_at),
    assigned_at = CASE WHEN assignee_id IS NULL THEN NULL ELSE
        COALESCE((SELECT MAX(e.created_at) FROM ticket_events e
                  WHERE e.ticket_id = tickets.id AND e.field = 'assignee_id'), created_at) END,
    last_customer_reply_at = (SELECT MAX(c.created_at) FROM comments c JOIN users u ON u.id = c.author_id
                              WHERE c.ticket_id = tickets.id AND c.public AND u.role = 'customer'),
    last_agent_reply_at = (SELECT MAX(c.created_at) FROM comments c JOIN users u ON u.id = c.author_id
                           WHERE c.ticket_id = tickets.id AND c.public AND u.role <> 'customer');
-- An automation pass reads the tickets of a few status categories in id order.
CREATE INDEX tickets_status_id ON tickets (status_category, id);

ALTER TABLE ticket_events ADD COLUMN rule TEXT;

ALTER TABLE groups ADD COLUMN assignment TEXT NOT NULL DEFAULT 'manual';
ALTER TABLE groups ADD COLUMN online_only BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE groups ADD COLUMN escalation_group_id INTEGER REFERENCES groups (id);
-- A member's turn in the group's round-robin order: 1 + the group's highest when they last got
-- a ticket from it (0: never).
ALTER TABLE group_members ADD COLUMN last_assigned INTEGER NOT NULL DEFAULT 0;

ALTER TABLE users ADD COLUMN availability TEXT NOT NULL DEFAULT 'offline';
ALTER TABLE users ADD COLUMN capacity INTEGER;
ALTER TABLE users ADD COLUMN account_manager_id INTEGER REFERENCES users (id);
-- The author of notes that rules write. Never signs in, never listed.
INSERT INTO users (id, role, name, language, time_zone, active, created_at, updated_at)
    VALUES (0, 'agent', 'Gongdan', 'zh-CN', 'Asia/Shanghai', FALSE, 0, 0);

-- An agent's load: their counters over the statuses that count.
CREATE INDEX ticket_counts_assignee ON ticket_counts (assignee_key, status_id);

-- Triggers and automations: conditions and actions as the API sends them (JSON).
CREATE TABLE rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    category    TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    position    INTEGER NOT NULL DEFAULT 0,
    once        BOOLEAN NOT NULL DEFAULT FALSE,
    conditions  TEXT    NOT NULL,
    actions     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX rules_kind ON rules (kind, position, id);

INSERT INTO rules (kind, name, position, once, conditions, actions, created_at, updated_at) VALUES
    ('automation', '已解决 96 小时后关闭 · Close 96 h after solved', 10, FALSE,
     '{"all":[{"field":"status","operator":"is","value":"solved"},{"field":"hours_since_solved","operator":"greater_than","value":96}],"any":[]}',
     '[{"field":"status","value":"closed"}]', 0, 0),
    ('automation', '等待回复 48 小时提醒客户 · Remind the customer after 48 h pending', 20, TRUE,
     '{"all":[{"field":"status","operator":"is","value":"pending"},{"field":"hours_since_pending","operator":"greater_than","value":48}],"any":[]}',
     '[{"field":"notify","value":{"to":"requester","subject":"工单 #{{ticket.number}} 在等您回复 · Ticket #{{ticket.number}} awaits your reply","body":"{{requester.name}}，您好：我们在等您对“{{ticket.subject}}”的回复。 · We are waiting for your reply on “{{ticket.subject}}”."}}]', 0, 0),
    ('automation', '等待回复 7 天后标记已解决 · Solve after 7 days pending', 30, FALSE,
     '{"all":[{"field":"status","operator":"is","value":"pending"},{"field":"hours_since_pending","operator":"greater_than","value":168}],"any":[]}',
     '[{"field":"status","value":"solved"}]', 0, 0),
    ('automation', '新工单 30 分钟无人分配通知组 · Tell the group about a new ticket unassigned 30 min', 40, TRUE,
     '{"all":[{"field":"status","operator":"is","value":"new"},{"field":"assignee_id","operator":"is","value":null},{"field":"minutes_since_created","operator":"greater_than","value":30}],"any":[]}',
     '[{"field":"notify","value":{"to":"group","subject":"工单 #{{ticket.number}} 30 分钟无人处理 · Ticket #{{ticket.number}} unassigned for 30 minutes","body":"{{ticket.subject}}"}}]', 0, 0);

-- Once per automation, ticket and window (see the rules module): the ledger that keeps a
-- pass run twice, or on two nodes, from firing twice.
CREATE TABLE automation_firings (
    automation_id INTEGER NOT NULL,
    ticket_id     INTEGER NOT NULL,
    window_key    TEXT    NOT NULL,
    fired_at      INTEGER NOT NULL,
    PRIMARY KEY (automation_id, ticket_id, window_key)
);

-- Macros: shared (no owner) or an agent's own.
CREATE TABLE macros (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    owner_id     INTEGER REFERENCES users (id),
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    position     INTEGER NOT NULL DEFAULT 0,
    actions      TEXT    NOT NULL DEFAULT '[]',
    reply_body   TEXT    NOT NULL DEFAULT '',
    reply_public BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Saved ticket lists: personal (owner), a group's, or shared. `key` marks the built-in ones,
-- whose names the UI translates.
CREATE TABLE views (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key        TEXT,
    name       TEXT    NOT NULL,
    owner_id   INTEGER REFERENCES users (id),
    group_id   INTEGER REFERENCES groups (id),
    active     BOOLEAN NOT NULL DEFAULT TRUE,
    position   INTEGER NOT NULL DEFAULT 0,
    filters    TEXT    NOT NULL DEFAULT '{}',
    columns    TEXT    NOT NULL DEFAULT '[]',
    sort       TEXT    NOT NULL DEFAULT '-updated_at',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX views_key ON views (key);
INSERT INTO views (key, name, position, filters, columns, created_at, updated_at) VALUES
    ('mine', '我的未解决工单 · My unsolved tickets', 10, '{"assignee_id":"me","status":["new","open","pending","on_hold"]}', '[]', 0, 0),
    ('unassigned', '我的组未分配 · Unassigned in my groups', 20, '{"assignee_id":"none","group_id":"mine","status":["new","open","pending","on_hold"]}', '[]', 0, 0),
    ('open', '全部受理中 · All open', 30, '{"status":["new","open"]}', '[]', 0, 0),
    ('pending', '等待回复 · Pending', 40, '{"status":["pending"]}', '[]', 0, 0),
    ('on_hold', '挂起 · On-hold', 50, '{"status":["on_hold"]}', '[]', 0, 0),
    ('solved', '最近已解决 · Recently solved', 60, '{"status":["solved"]}', '[]', 0, 0);

CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- The notification outbox: in-app now; mail and other channels deliver from it later.
CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    ticket_id  INTEGER REFERENCES tickets (id),
    rule       TEXT,
    subject    TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX notifications_user ON notifications (user_id, id);
-- The unread ones, counted on every page an agent or customer loads.
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE read_at IS NULL;

-- Durable jobs: due at run_at, leased to a worker until locked_until under the claim's token
-- (locked_by), at most one live job per unique_key. Done jobs are deleted; failed ones stay
-- with their last error. Ids are never reused (AUTOINCREMENT): a webhook delivery's id is what
-- receivers drop repeats by, and rules' ids key the automation ledger.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    unique_key   TEXT,
    payload      TEXT    NOT NULL DEFAULT '{}',
    state        TEXT    NOT NULL DEFAULT 'pending',
    run_at       INTEGER NOT NULL,
    locked_until INTEGER,
    locked_by    TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 10,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX jobs_unique ON jobs (unique_key);
CREATE INDEX jobs_due ON jobs (state, run_at, id);
