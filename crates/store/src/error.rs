use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The row changed since it was read (optimistic concurrency).
    #[error("the record was changed by someone else; reload and retry")]
    VersionConflict,
    /// A unique value is taken; `what` names the field.
    #[error("{what} is already taken")]
    Duplicate { what: String },
    /// The idempotency key was used before; the first request's record is returned instead.
    #[error("idempotency key already used")]
    IdempotencyReplay,
    /// Other rows still refer to the one to delete.
    #[error("still in use")]
    InUse,
    /// A reference in the write points at nothing usable.
    #[error("{0}")]
    Invalid(String),
    /// The shared commit of a group of batches failed; none of them was written.
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("database configuration: {0}")]
    Config(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            // SQLite: "UNIQUE constraint failed: users.email"; PostgreSQL names the index.
            let text = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
            let what = [
                "idempotency_keys",
                "user_identities",
                "users_email",
                "users.email",
                "external_id",
                "statuses",
                "custom_fields",
                "groups",
                "organizations",
                "ticket_links",
                "automation_firings",
                "views",
                "mail_messages",
                "mailboxes",
            ]
            .iter()
            .find(|k| text.contains(*k))
            .map(|k| match *k {
                "idempotency_keys" => "idempotency_key",
                "user_identities" | "users_email" | "users.email" => "email",
                "external_id" => "external_id",
                "statuses" | "custom_fields" => "key",
                "ticket_links" => "link",
                "automation_firings" => "firing",
                "views" => "key",
                "mail_messages" => "message_id",
                "mailboxes" => "address",
                _ => "name",
            })
            .unwrap_or("value");
            if what == "idempotency_key" {
                return StoreError::IdempotencyReplay;
            }
            return StoreError::Duplicate { what: what.to_owned() };
        }
        if let sqlx::Error::Database(db) = &e
            && matches!(db.code().as_deref(), Some("40P01") | Some("40001"))
        {
            // PostgreSQL deadlock or serialization failure: another writer got there first;
            // like a stale version, the caller reloads and retries.
            return StoreError::VersionConflict;
        }
        if let sqlx::Error::Database(db) = &e
            && db.is_foreign_key_violation()
        {
            return StoreError::InUse;
        }
        if matches!(e, sqlx::Error::RowNotFound) {
            return StoreError::NotFound;
        }
        StoreError::Db(e)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
