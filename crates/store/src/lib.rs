//! The storage contract of Gongdan and its two engines.
//!
//! Everything above this crate talks to `Arc<dyn Store>`; the backend is picked at runtime from
//! the database URL ([`connect`]). The contract is one trait per capability (`contract/`);
//! SQLite and PostgreSQL share one implementation (`sql/`, a file per capability, compiled once
//! per backend with that backend's concrete sqlx types) and keep their own migrations with the
//! same file names. A multi-row change is always one [`WriteBatch`], one transaction: there is
//! no half-written ticket.

mod batch;
mod contract;
mod error;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

pub use contract::*;
pub use error::StoreError;

/// Opens the database a URL names and runs pending migrations when asked to.
pub async fn connect(url: &str, opts: ConnectOptions) -> std::result::Result<Arc<dyn Store>, StoreError> {
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(sqlite::SqliteStore::open(url, &opts).await?)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Arc::new(postgres::PgStore::open(url, &opts).await?)
    } else {
        return Err(StoreError::Config(format!("unsupported database URL `{url}`: use sqlite://PATH or postgres://…")));
    };
    if opts.migrate {
        store.migrate().await?;
    }
    Ok(store)
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub migrate: bool,
    /// Read connections (PostgreSQL: the whole pool).
    pub max_connections: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions { migrate: true, max_connections: 8 }
    }
}
