-- Desk-wide settings an admin edits in the console (company name, default language and time
-- zone, attachment limit, portal sign-up). One row per key; the value is JSON.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
