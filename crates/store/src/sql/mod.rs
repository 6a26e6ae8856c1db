//! The SQL implementation shared by both backends. Each backend module includes this file with
//! its own `Db`, `Conn`, `MIGRATOR` and dialect constants, so the code is written once and
//! compiled against concrete sqlx types twice (no `Any` driver, no generic bounds).
//! Placeholders are `$n`, which both SQLite and PostgreSQL accept.

use std::collections::BTreeMap;

use async_trait::async_trait;
use gongdan_domain::access::{Role, TicketScope};
use gongdan_domain::category::Category;
use gongdan_domain::conversation::{Attachment, Comment, Event, Link, LinkKind};
use gongdan_domain::event::{EventKind, NewEvent, Via};
use gongdan_domain::fields::{CustomFieldDef, FieldKind, FieldScope, Form};
use gongdan_domain::ids::*;
use gongdan_domain::page::Cursor;
use gongdan_domain::people::{Group, Identity, IdentityKind, Language, Organization, User};
use gongdan_domain::routing::{Assignment, Availability, Member, Roster, language_skill};
use gongdan_domain::rules::{Anchor, Cmp, NeedRoster, Prefilter, Recipient, Requester, RuleKind};
use gongdan_domain::template;
use gongdan_domain::tickets::{Channel, Priority, Status, StatusCategory, StatusRef, Ticket, TicketType};
use jiff::Timestamp;
use serde_json::Value;
use sqlx::{AssertSqlSafe, FromRow, Pool, QueryBuilder};
use tokio::sync::{mpsc, oneshot};

use super::{
    BACKEND, BEGIN_WRITE, CHECKPOINT, Conn, Db, FOR_UPDATE, LIKE, LOCK_ROWS, LOCK_TICKETS, MIGRATOR, NEXT_TICKET_ID,
    OPTIMIZE, RESEED_TICKETS, SKIP_LOCKED, next_ids, plain_create,
};
use crate::StoreError;
use crate::contract::*;

/// A batch waiting for the group-commit writer, with where to send its result.
type QueuedWrite = (WriteBatch, oneshot::Sender<Result<WriteResult>>);
/// Batches committed together at most: bounds the wait of the first one.
const GROUP_MAX: usize = 64;

pub struct SqlStore {
    pub(super) write: Pool<Db>,
    pub(super) read: Pool<Db>,
    /// The node's group-commit writer and which batches it takes.
    pub(super) group_commit: Option<(mpsc::Sender<QueuedWrite>, Grouped)>,
}

/// Which writes go through the group-commit writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// This file is compiled once per backend, and each constructs only its own variant.
#[allow(dead_code)]
pub(super) enum Grouped {
    /// Every write (SQLite: one writer at a time anyway).
    All,
    /// Plain creates only (PostgreSQL: updates stay concurrent; creates share statements and
    /// commits).
    PlainCreates,
}

impl SqlStore {
    pub(super) fn new(write: Pool<Db>, read: Pool<Db>, grouped: Option<Grouped>) -> Self {
        // PostgreSQL's connections are sockets of the shared runtime (and shared with readers):
        // driven from another runtime, every wakeup would cross threads.
        let queue = grouped.map(|g| (Self::spawn_writer(write.clone(), g == Grouped::All), g));
        SqlStore { write, read, group_commit: queue }
    }
}

/// Binds the 27 ticket columns in table order with `$bind` (`bind` on a query, `push_bind` in a
/// `push_values` row), so insert, update, bulk and grouped inserts cannot disagree on the order.
/// `$cc` and `$cf` are the CC and custom-field JSON texts, made by the caller (which knows
/// whether it may use `?`).
macro_rules! bind_ticket {
    ($q:expr, $t:expr, $bind:ident, $cc:expr, $cf:expr) => {{
        let t: &gongdan_domain::tickets::Ticket = $t;
        let ts = |v: jiff::Timestamp| v.as_microsecond();
        $q.$bind(t.subject.clone())
            .$bind(t.description.clone())
            .$bind(t.requester_id.0)
            .$bind(t.organization_id.map(|v| v.0))
            .$bind($cc)
            .$bind(t.assignee_id.map(|v| v.0))
            .$bind(t.group_id.map(|v| v.0))
            .$bind(t.status.id.0)
            .$bind(t.status.category.as_str())
            .$bind(t.channel.as_str())
            .$bind(t.kind.as_str())
            .$bind(t.priority.rank())
            .$bind(t.tags.join(" "))
            .$bind(t.due_at.map(ts))
            .$bind(t.category_id.map(|v| v.0))
            .$bind($cf)
            .$bind(t.merged_into_id.map(|v| v.0))
            .$bind(t.version)
            .$bind(ts(t.created_at))
            .$bind(ts(t.updated_at))
            .$bind(t.first_replied_at.map(ts))
            .$bind(t.solved_at.map(ts))
            .$bind(t.closed_at.map(ts))
            .$bind(ts(t.status_changed_at))
            .$bind(t.assigned_at.map(ts))
            .$bind(t.last_customer_reply_at.map(ts))
            .$bind(t.last_agent_reply_at.map(ts))
    }};
}

// ---- conversions -------------------------------------------------------------------------

fn ts(t: Timestamp) -> i64 {
    t.as_microsecond()
}

fn from_ts(v: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn opt_ts(v: Option<i64>) -> Result<Option<Timestamp>> {
    v.map(from_ts).transpose()
}

fn corrupt(e: gongdan_domain::DomainError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    Ok(serde_json::from_str(text)?)
}

/// `%text%` for a `LIKE … ESCAPE '\'`, with the text's own wildcards escaped.
fn like_pattern(text: &str) -> String {
    format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    Ok(serde_json::to_string(v)?)
}

/// Longest value indexed for filtering: B-tree entries must stay well under PostgreSQL's
/// ~2.7 kB limit. Longer values (long text) are kept on the ticket but not filterable.
pub(super) const INDEXED_VALUE_MAX: usize = 512;

/// Queue counters are split over this many rows per key (by ticket id), so concurrent writers
/// on PostgreSQL seldom wait for the same row.
pub(super) const COUNT_SHARDS: i64 = 8;

/// (status, group or 0, assignee or 0, shard): the counter a ticket is counted under.
type CountKey = (i64, i64, i64, i64);

fn count_key(t: &Ticket) -> CountKey {
    (t.status.id.0, t.group_id.map_or(0, |g| g.0), t.assignee_id.map_or(0, |a| a.0), t.id.0 % COUNT_SHARDS)
}

/// Text forms of a custom-field value used for filtering: one per scalar, one per list item.
pub(super) fn field_value_texts(v: &Value) -> Vec<String> {
    let mut out = match v {
        Value::Null => vec![],
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(field_value_texts).collect(),
        other => vec![other.to_string()],
    };
    out.retain(|s| s.len() <= INDEXED_VALUE_MAX);
    out
}

/// `NotFound` when a write by id matched no row.
fn matched(done: <Db as sqlx::Database>::QueryResult) -> Result<()> {
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// `$1, $2, …` for an IN list starting at `from`.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Saves a row of a small admin table: inserts when `id` is 0 (returning the new id), else
/// updates and fails with `NotFound` when nothing matched.
async fn upsert(
    store: &SqlStore,
    table: &str,
    cols: &[&str],
    id: i64,
    bind: impl FnOnce(
        sqlx::query::Query<'_, Db, <Db as sqlx::Database>::Arguments>,
    ) -> sqlx::query::Query<'_, Db, <Db as sqlx::Database>::Arguments>,
) -> Result<i64> {
    if id == 0 {
        let list = cols.join(", ");
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let sql = format!("INSERT INTO {table} ({list}) VALUES ({}) RETURNING id", marks.join(", "));
        let row: (i64,) = {
            use sqlx::Row;
            let r = bind(sqlx::query(AssertSqlSafe(sql))).fetch_one(&store.write).await?;
            (r.try_get(0)?,)
        };
        Ok(row.0)
    } else {
        let sets: Vec<String> = cols.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect();
        let sql = format!("UPDATE {table} SET {} WHERE id = ${}", sets.join(", "), cols.len() + 1);
        let done = bind(sqlx::query(AssertSqlSafe(sql))).bind(id).execute(&store.write).await?;
        matched(done)?;
        Ok(id)
    }
}

async fn delete_row(store: &SqlStore, table: &str, id: i64) -> Result<()> {
    let done =
        sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE id = $1"))).bind(id).execute(&store.write).await?;
    matched(done)?;
    Ok(())
}

// ---- the contract ------------------------------------------------------------------------

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        BACKEND
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.write).await?;
        Ok(())
    }

    async fn optimize(&self) -> Result<()> {
        self.recount().await?;
        for statement in OPTIMIZE {
            sqlx::query(*statement).execute(&self.write).await?;
        }
        Ok(())
    }

    async fn checkpoint(&self) -> Result<bool> {
        let Some([before, run, after]) = CHECKPOINT else { return Ok(true) };
        // On the writer itself (queued behind the writes), waiting only briefly for readers
        // of an older snapshot: the next call tries again.
        let mut conn = self.write.acquire().await?;
        sqlx::query(before).execute(&mut *conn).await?;
        let done: Result<(i64, i64, i64)> = sqlx::query_as(run).fetch_one(&mut *conn).await.map_err(Into::into);
        sqlx::query(after).execute(&mut *conn).await?;
        Ok(done?.0 == 0)
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }
}

// After `bind_ticket`, which they use. A file per capability, and beside them the writing of a batch, the group writer and listings.
mod auth;
mod config;
mod files;
mod group_commit;
mod jobs;
mod listing;
mod macros;
mod mail;
mod notifications;
mod people;
mod routing;
mod rows;
mod rules;
mod sla;
mod tickets;
mod verification;
mod views;
mod write;

use listing::*;
use routing::Decisions;
use rows::*;
use write::is_plain_create;
