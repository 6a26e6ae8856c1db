-- Gongdan core schema (SQLite). Times are Unix microseconds (INTEGER) in both backends so the
-- same SQL and keyset cursors work on each; JSON lives in TEXT columns.

CREATE TABLE organizations (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL,
    domains        TEXT    NOT NULL DEFAULT '[]',
    shared_tickets BOOLEAN NOT NULL DEFAULT FALSE,
    custom_fields  TEXT    NOT NULL DEFAULT '{}',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX organizations_name ON organizations (name);

CREATE TABLE groups (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    tier        INTEGER NOT NULL DEFAULT 1,
    description TEXT    NOT NULL DEFAULT '',
    active      BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE UNIQUE INDEX groups_name ON groups (name);

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    role                 TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    email                TEXT,
    external_id          TEXT,
    organization_id      INTEGER REFERENCES organizations (id),
    language             TEXT    NOT NULL,
    time_zone            TEXT    NOT NULL,
    vip_level            INTEGER NOT NULL DEFAULT 0,
    skills               TEXT    NOT NULL DEFAULT '[]',
    languages            TEXT    NOT NULL DEFAULT '[]',
    restricted_to_groups BOOLEAN NOT NULL DEFAULT FALSE,
    custom_fields        TEXT    NOT NULL DEFAULT '{}',
    password_hash        TEXT,
    active               BOOLEAN NOT NULL DEFAULT TRUE,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE UNIQUE INDEX users_external_id ON users (external_id);
CREATE INDEX users_role ON users (role, id);
CREATE INDEX users_organization ON users (organization_id, id);

CREATE TABLE user_identities (
    id      INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    kind    TEXT    NOT NULL,
    value   TEXT    NOT NULL
);
CREATE UNIQUE INDEX user_identities_value ON user_identities (kind, value);
CREATE INDEX user_identities_user ON user_identities (user_id);

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups (id),
    user_id  INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE custom_fields (
    id       INTEGER PRIMARY KEY,
    scope    TEXT    NOT NULL,
    key      TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    label_zh TEXT    NOT NULL,
    label_en TEXT    NOT NULL,
    options  TEXT    NOT NULL DEFAULT '[]',
    pattern  TEXT,
    active   BOOLEAN NOT NULL DEFAULT TRUE,
    position INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX custom_fields_key ON custom_fields (scope, key);

CREATE TABLE forms (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL,
    fields TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE categories (
    id        INTEGER PRIMARY KEY,
    parent_id INTEGER REFERENCES categories (id),
    name_zh   TEXT    NOT NULL,
    name_en   TEXT    NOT NULL,
    position  INTEGER NOT NULL DEFAULT 0,
    form_id   INTEGER REFERENCES forms (id),
    active    BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX categories_parent ON categories (parent_id);

CREATE TABLE statuses (
    id         INTEGER PRIMARY KEY,
    key        TEXT    NOT NULL,
    category   TEXT    NOT NULL,
    label_zh   TEXT    NOT NULL,
    label_en   TEXT    NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    position   INTEGER NOT NULL DEFAULT 0,
    active     BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE UNIQUE INDEX statuses_key ON statuses (key);

INSERT INTO statuses (key, category, label_zh, label_en, is_default, position) VALUES
    ('new', 'new', '新建', 'New', TRUE, 10),
    ('open', 'open', '受理中', 'Open', TRUE, 20),
    ('pending', 'pending', '等待回复', 'Pending', TRUE, 30),
    ('on_hold', 'on_hold', '挂起', 'On-hold', TRUE, 40),
    ('solved', 'solved', '已解决', 'Solved', TRUE, 50),
    ('closed', 'closed', '已关闭', 'Closed', TRUE, 60);

-- AUTOINCREMENT: a ticket number is never reused.
CREATE TABLE tickets (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subject          TEXT    NOT NULL,
    description      TEXT    NOT NULL,
    requester_id     INTEGER NOT NULL REFERENCES users (id),
    organization_id  INTEGER REFERENCES organizations (id),
    cc_ids           TEXT    NOT NULL DEFAULT '[]',
    assignee_id      INTEGER REFERENCES users (id),
    group_id         INTEGER REFERENCES groups (id),
    status_id        INTEGER NOT NULL REFERENCES statuses (id),
    status_category  TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    tags             TEXT    NOT NULL DEFAULT '',
    due_at           INTEGER,
    category_id      INTEGER REFERENCES categories (id),
    custom_fields    TEXT    NOT NULL DEFAULT '{}',
    merged_into_id   INTEGER REFERENCES tickets (id),
    version          INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    first_replied_at INTEGER,
    solved_at        INTEGER,
    closed_at        INTEGER
);
UPDATE sqlite_sequence SET seq = 10000 WHERE name = 'tickets';
INSERT INTO sqlite_sequence (name, seq) SELECT 'tickets', 10000 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'tickets');
-- Queue indexes: status category first, then who, then the sort key with id as tie-break.
CREATE INDEX tickets_queue_group ON tickets (status_category, group_id, updated_at, id);
CREATE INDEX tickets_queue_assignee ON tickets (assignee_id, status_category, updated_at, id);
CREATE INDEX tickets_updated ON tickets (updated_at, id);
CREATE INDEX tickets_queue_all ON tickets (status_category, updated_at, id);
CREATE INDEX tickets_created ON tickets (created_at, id);
CREATE INDEX tickets_requester ON tickets (requester_id, updated_at, id);
CREATE INDEX tickets_organization ON tickets (organization_id, updated_at, id);
CREATE INDEX tickets_category ON tickets (category_id, updated_at, id);
CREATE INDEX tickets_due ON tickets (status_category, due_at);
CREATE INDEX tickets_merged_into ON tickets (merged_into_id);

CREATE TABLE ticket_tags (
    tag       TEXT    NOT NULL,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    PRIMARY KEY (tag, ticket_id)
);
CREATE INDEX ticket_tags_ticket ON ticket_tags (ticket_id);

-- One row per scalar custom-field value (one per element for lists), for filtering.
CREATE TABLE ticket_field_values (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id),
    field_key TEXT    NOT NULL,
    value     TEXT    NOT NULL
);
CREATE INDEX ticket_field_values_lookup ON ticket_field_values (field_key, value, ticket_id);
CREATE INDEX ticket_field_values_ticket ON ticket_field_values (ticket_id);

CREATE TABLE comments (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    author_id  INTEGER NOT NULL REFERENCES users (id),
    public     BOOLEAN NOT NULL,
    body       TEXT    NOT NULL,
    html_body  TEXT    NOT NULL,
    via        TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX comments_ticket ON comments (ticket_id, id);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    sha256       TEXT    NOT NULL,
    filename     TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    uploader_id  INTEGER NOT NULL REFERENCES users (id),
    comment_id   INTEGER REFERENCES comments (id),
    ticket_id    INTEGER REFERENCES tickets (id),
    created_at   INTEGER NOT NULL
);
CREATE INDEX attachments_comment ON attachments (comment_id);

CREATE TABLE ticket_events (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
    actor_id   INTEGER REFERENCES users (id),
    via        TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    field      TEXT,
    old_value  TEXT,
    new_value  TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);

CREATE TABLE ticket_links (
    id         INTEGER PRIMARY KEY,
    source_id  INTEGER NOT NULL REFERENCES tickets (id),
    target_id  INTEGER NOT NULL REFERENCES tickets (id),
    kind       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX ticket_links_pair ON ticket_links (source_id, target_id, kind);
CREATE INDEX ticket_links_target ON ticket_links (target_id);
-- A ticket has at most one parent, even under concurrent requests.
CREATE UNIQUE INDEX ticket_links_one_parent ON ticket_links (target_id) WHERE kind = 'parent';

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE idempotency_keys (
    user_id       INTEGER NOT NULL REFERENCES users (id),
    key           TEXT    NOT NULL,
    request_hash  TEXT    NOT NULL,
    resource_kind TEXT    NOT NULL,
    resource_id   INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
);
