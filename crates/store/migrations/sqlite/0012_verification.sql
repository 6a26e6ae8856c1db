-- Addresses proven by mail: when a person last opened a link mailed to their address.
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;

-- Links mailed to an address (confirm it, claim an account the desk made for it, sign in),
-- kept by the SHA-256 of their secret and taken once: used_at set by the one opening.
CREATE TABLE verification_links (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash    TEXT    NOT NULL UNIQUE,
    purpose       TEXT    NOT NULL,
    user_id       INTEGER  NOT NULL REFERENCES users (id),
    email         TEXT    NOT NULL,
    expires_at    INTEGER  NOT NULL,
    used_at       INTEGER,
    created_at    INTEGER  NOT NULL
);
CREATE INDEX verification_links_user ON verification_links (user_id, created_at);
