-- Business calendars (SLA): the week's working hours, holidays and make-up days as the API
-- writes them (JSON), in one time zone; at most one is the desk's default.
CREATE TABLE business_calendars (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    spec       TEXT    NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
