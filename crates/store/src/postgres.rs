//! PostgreSQL backend: for several nodes and large desks. One pool serves reads and writes;
//! concurrent writers are safe because every update checks the row version.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::{Backend, ConnectOptions, StoreError};

type Db = sqlx::Postgres;
type Conn = sqlx::PgConnection;
const BACKEND: Backend = Backend::Postgres;
const LIKE: &str = "ILIKE";
/// After bulk inserts with explicit ids the identity must move past them.
const RESEED_TICKETS: Option<&str> =
    Some("SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT COALESCE(MAX(id), 10000) FROM tickets))");
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

// Deliberate: the same implementation compiled against this backend's concrete types.
#[allow(clippy::duplicate_mod)]
#[path = "sql.rs"]
mod sql;
pub use sql::SqlStore as PgStore;

impl PgStore {
    pub async fn open(url: &str, opts: &ConnectOptions) -> Result<Self, StoreError> {
        let conn = PgConnectOptions::from_str(url).map_err(|e| StoreError::Config(e.to_string()))?;
        let pool = PgPoolOptions::new().max_connections(opts.max_connections.max(2)).connect_with(conn).await?;
        Ok(PgStore::new(pool.clone(), pool, false))
    }
}
