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
const RESEED_TICKETS: Option<&str> = Some(
    "SELECT setval(pg_get_serial_sequence('tickets', 'id'), GREATEST((SELECT COALESCE(MAX(id), 10000) FROM tickets), \
     COALESCE(pg_sequence_last_value(pg_get_serial_sequence('tickets', 'id')::regclass), 10000)))",
);
const OPTIMIZE: &[&str] = &["VACUUM (ANALYZE)"];
/// PostgreSQL checkpoints its own write-ahead log.
const CHECKPOINT: Option<[&str; 3]> = None;
const BEGIN_WRITE: &str = "BEGIN";
/// Reading the values an update replaces locks the row, so they stay true until commit.
const FOR_UPDATE: &str = " FOR UPDATE";
/// Holds off ticket writers while explicit ids are handed out or counters rebuilt.
const LOCK_TICKETS: Option<&str> = Some("LOCK TABLE tickets IN EXCLUSIVE MODE");
/// The next ticket id when ids are given explicitly: past the table and the identity.
const NEXT_TICKET_ID: &str = "SELECT GREATEST((SELECT COALESCE(MAX(id), 10000) FROM tickets), \
     COALESCE(pg_sequence_last_value(pg_get_serial_sequence('tickets', 'id')::regclass), 10000)) + 1";
/// Locks rows a decision depends on until commit (assignment: the group and its members);
/// `NO KEY UPDATE` does not block the key-share locks of foreign-key checks.
const LOCK_ROWS: &str = " FOR NO KEY UPDATE";
/// Claims jobs without waiting for rows another node is claiming.
const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

// Deliberate: the same implementation compiled against this backend's concrete types.
#[allow(clippy::duplicate_mod)]
#[macro_use]
#[path = "sql/mod.rs"]
mod sql;
pub use sql::SqlStore as PgStore;

/// A plain create (see `sql::is_plain_create`) as one statement: a data-modifying CTE inserts
/// the ticket, its tags, field values, events, opening comment and queue count atomically, in
/// one round trip instead of seven (BEGIN, five statements, COMMIT).
const PLAIN_CREATE: &str = "WITH t AS ( \
        INSERT INTO tickets (subject, description, requester_id, organization_id, cc_ids, assignee_id, group_id, \
        status_id, status_category, channel, kind, priority, tags, due_at, category_id, custom_fields, merged_into_id, \
        version, created_at, updated_at, first_replied_at, solved_at, closed_at, status_changed_at, assigned_at, \
        last_customer_reply_at, last_agent_reply_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, \
        $24, $25, $26, $27) \
        RETURNING id), \
    g AS (INSERT INTO ticket_tags (tag, ticket_id) SELECT x, t.id FROM t, unnest($28::text[]) AS x), \
    v AS (INSERT INTO ticket_field_values (ticket_id, field_key, value) \
        SELECT t.id, u.k, u.val FROM t, unnest($29::text[], $30::text[]) AS u(k, val)), \
    e AS (INSERT INTO ticket_events (ticket_id, actor_id, via, kind, field, old_value, new_value, created_at, rule) \
        SELECT t.id, $31, CASE WHEN u.r IS NULL THEN $32 ELSE 'rule' END, u.k, u.f, u.o, u.n, $33, u.r \
        FROM t, unnest($34::text[], $35::text[], $36::text[], $37::text[], $38::text[]) AS u(k, f, o, n, r)), \
    c AS (INSERT INTO comments (ticket_id, author_id, public, body, html_body, via, created_at) \
        SELECT t.id, $39, $40, $41, $42, $32, $33 FROM t WHERE $43 RETURNING id), \
    n AS (INSERT INTO ticket_counts (status_id, group_key, assignee_key, shard, n) \
        SELECT $8, COALESCE($7, 0), COALESCE($6, 0), t.id % $44, 1 FROM t \
        ON CONFLICT (status_id, group_key, assignee_key, shard) DO UPDATE SET n = ticket_counts.n + 1) \
    SELECT t.id, (SELECT id FROM c) FROM t";

async fn plain_create(pool: &sqlx::Pool<Db>, b: &crate::WriteBatch) -> Option<Result<crate::WriteResult, StoreError>> {
    // An assignment's turn and CC index rows are written by the transaction path (or the
    // grouped inserts).
    if b.assigned.is_some() || b.writes.first().is_some_and(|w| !w.ticket.cc_ids.is_empty()) {
        return None;
    }
    Some(plain_create_now(pool, b).await)
}

async fn plain_create_now(pool: &sqlx::Pool<Db>, b: &crate::WriteBatch) -> Result<crate::WriteResult, StoreError> {
    use gongdan_domain::ids::{CommentId, TicketId};
    let w = b.writes.first().ok_or_else(|| StoreError::Invalid("empty batch".into()))?;
    let t = &w.ticket;
    let ts = |v: jiff::Timestamp| v.as_microsecond();
    let (keys, values): (Vec<String>, Vec<String>) = t
        .custom_fields
        .iter()
        .flat_map(|(k, v)| sql::field_value_texts(v).into_iter().map(move |x| (k.clone(), x)))
        .unzip();
    let c = w.comment.as_ref();
    let statement = sqlx::query_as(PLAIN_CREATE);
    let (id, comment_id): (i64, Option<i64>) =
        bind_ticket!(statement, t, bind, serde_json::to_string(&t.cc_ids)?, serde_json::to_string(&t.custom_fields)?)
            .bind(&t.tags)
            .bind(keys)
            .bind(values)
            .bind(b.actor.map(|a| a.0))
            .bind(b.via.as_str())
            .bind(ts(b.at))
            .bind(w.events.iter().map(|e| e.kind.as_str().to_owned()).collect::<Vec<_>>())
            .bind(w.events.iter().map(|e| e.field.clone()).collect::<Vec<_>>())
            .bind(w.events.iter().map(|e| e.old.clone()).collect::<Vec<_>>())
            .bind(w.events.iter().map(|e| e.new.clone()).collect::<Vec<_>>())
            .bind(w.events.iter().map(|e| e.rule.clone()).collect::<Vec<_>>())
            .bind(c.map(|c| c.author_id.0))
            .bind(c.is_some_and(|c| c.public))
            .bind(c.map(|c| c.body.clone()))
            .bind(c.map(|c| c.html_body.clone()))
            .bind(c.is_some())
            .bind(sql::COUNT_SHARDS)
            .fetch_one(pool)
            .await?;
    let ticket = gongdan_domain::tickets::Ticket { id: TicketId(id), ..t.clone() };
    let comment = match (c, comment_id) {
        (Some(c), Some(cid)) => Some(c.written(CommentId(cid), ticket.id, b.via, b.at)),
        _ => None,
    };
    Ok(crate::WriteResult { tickets: vec![ticket], comments: vec![comment], links: vec![] })
}

/// Ids for rows inserted with explicit ids, from the table's identity sequence: unique across
/// transactions and nodes without any lock.
async fn next_ids(conn: &mut Conn, table: &str, n: usize) -> Result<Vec<i64>, StoreError> {
    if n == 0 {
        return Ok(vec![]);
    }
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)"
    )))
    .bind(n as i64)
    .fetch_all(&mut *conn)
    .await?)
}

impl PgStore {
    pub async fn open(url: &str, opts: &ConnectOptions) -> Result<Self, StoreError> {
        let conn = PgConnectOptions::from_str(url).map_err(|e| StoreError::Config(e.to_string()))?;
        let pool = PgPoolOptions::new().max_connections(opts.max_connections.max(2)).connect_with(conn).await?;
        // Plain creates share statements and commits in this node's group writer; everything
        // else runs concurrently in transactions of its own.
        Ok(PgStore::new(pool.clone(), pool, Some(sql::Grouped::PlainCreates)))
    }
}
