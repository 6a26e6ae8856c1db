//! SQLite backend: the embedded default. WAL, a single writer connection (SQLite allows one
//! writer at a time; queuing in the pool beats `SQLITE_BUSY` retries) and a read pool.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{Backend, ConnectOptions, StoreError};

type Db = sqlx::Sqlite;
type Conn = sqlx::SqliteConnection;
const BACKEND: Backend = Backend::Sqlite;
/// SQLite's LIKE ignores ASCII case already.
const LIKE: &str = "LIKE";
/// After bulk inserts with explicit ids: AUTOINCREMENT follows explicit ids by itself.
const RESEED_TICKETS: Option<&str> = None;
/// The write lock is taken at BEGIN, so a transaction that reads first cannot find its snapshot
/// stale when another process (the CLI) wrote meanwhile.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
/// SQLite has one writer; row locks do not exist and are not needed.
const FOR_UPDATE: &str = "";
/// `BEGIN IMMEDIATE` already holds off every other writer.
const LOCK_TICKETS: Option<&str> = None;
/// The next ticket id when ids are given explicitly: past every id ever handed out.
const NEXT_TICKET_ID: &str = "SELECT MAX(COALESCE((SELECT MAX(id) FROM tickets), 10000), \
     COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'tickets'), 10000)) + 1";
/// `ANALYZE` everything once, then let SQLite decide what needs it.
const OPTIMIZE: &[&str] = &["PRAGMA analysis_limit = 1000", "ANALYZE", "PRAGMA optimize"];
/// Empties the write-ahead log, giving readers of an older snapshot a quarter second to
/// finish (then the next call tries), and puts the writer's usual patience back.
const CHECKPOINT: Option<[&str; 3]> =
    Some(["PRAGMA busy_timeout = 250", "PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA busy_timeout = 10000"]);
/// One writer at a time: nothing to lock, nothing to skip.
const LOCK_ROWS: &str = "";
const SKIP_LOCKED: &str = "";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

// Deliberate: the same implementation compiled against this backend's concrete types.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;
pub use sql::SqlStore as SqliteStore;

/// SQLite's plain creates go through the group writer, which batches them itself.
async fn plain_create(_: &sqlx::Pool<Db>, _: &crate::WriteBatch) -> Option<Result<crate::WriteResult, StoreError>> {
    None
}

/// Ids for rows inserted with explicit ids: the group writer holds SQLite's write lock, so the
/// ids after the largest ever handed out are free.
async fn next_ids(conn: &mut Conn, table: &str, n: usize) -> Result<Vec<i64>, StoreError> {
    let first: i64 = if table == "tickets" {
        sqlx::query_scalar(NEXT_TICKET_ID).fetch_one(&mut *conn).await?
    } else {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")))
            .fetch_one(&mut *conn)
            .await?
    };
    Ok((first..first + n as i64).collect())
}

impl SqliteStore {
    pub async fn open(url: &str, opts: &ConnectOptions) -> Result<Self, StoreError> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // After a checkpoint empties the log, its file is cut back to this size.
            .pragma("journal_size_limit", "8388608")
            .pragma("temp_store", "memory");
        // Page caches are what a long run's memory grows into: 16 MiB for the writer, 4 MiB
        // for each reader (the operating system caches the file besides).
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(base.clone().pragma("cache_size", "-16384"))
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .connect_with(base.pragma("cache_size", "-4096"))
            .await?;
        // A log left large by an earlier run (or a crash) is emptied before serving.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&write).await?;
        Ok(SqliteStore::new(write, read, Some(sql::Grouped::All)))
    }
}
