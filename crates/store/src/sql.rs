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
use gongdan_domain::routing::{Assignment, Availability};
use gongdan_domain::ticket::{Channel, Priority, Status, StatusCategory, StatusRef, Ticket, TicketType};
use jiff::Timestamp;
use serde_json::Value;
use sqlx::{AssertSqlSafe, FromRow, Pool, QueryBuilder};
use tokio::sync::{mpsc, oneshot};

use super::{
    BACKEND, BEGIN_WRITE, CHECKPOINT, Conn, Db, FOR_UPDATE, LIKE, LOCK_ROWS, LOCK_TICKETS, MIGRATOR, NEXT_TICKET_ID,
    OPTIMIZE, RESEED_TICKETS, SKIP_LOCKED,
};
use crate::StoreError;
use crate::contract::*;

/// A batch waiting for the group-commit writer, with where to send its result.
type Job = (WriteBatch, oneshot::Sender<Result<WriteResult>>);
/// Batches committed together at most: bounds the wait of the first one.
const GROUP_MAX: usize = 64;

pub struct SqlStore {
    pub(super) write: Pool<Db>,
    pub(super) read: Pool<Db>,
    /// The node's group-commit writer and which batches it takes.
    pub(super) group_commit: Option<(mpsc::Sender<Job>, Grouped)>,
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
        let t: &gongdan_domain::ticket::Ticket = $t;
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

/// A ticket's columns that its index rows (tags, CCs, custom-field values) mirror, as stored.
struct IndexedColumns {
    tags: String,
    cc_ids: String,
    custom_fields: String,
}

/// `id, role, organization_id, active` of a user.
type BriefRow = (i64, String, Option<i64>, bool);

fn brief_from_row((id, role, org, active): BriefRow) -> Result<UserBrief> {
    Ok(UserBrief {
        id: UserId(id),
        role: Role::parse(&role, "role").map_err(corrupt)?,
        organization_id: org.map(OrganizationId),
        active,
    })
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

/// The counter-table version of the filters `TicketQuery::total_from_counters` allows.
fn push_count_filters(qb: &mut QueryBuilder<Db>, q: &TicketQuery) {
    if let TicketScope::Groups { groups, assignee } = &q.scope {
        push_group_scope(qb, "c.assignee_key", "c.group_key", groups, *assignee);
    }
    if !q.status_categories.is_empty() {
        // A hashed lookup of a handful of status ids; cheaper per counter row than a join.
        qb.push(" AND c.status_id IN (SELECT id FROM statuses WHERE category IN ");
        push_list(qb, q.status_categories.iter().map(|c| c.as_str()));
        qb.push(")");
    }
    push_in(qb, "c.status_id", q.status_ids.iter().map(|s| s.0));
    push_in(qb, "c.group_key", q.group_ids.iter().map(|g| g.0));
    if let Some(a) = q.assignee {
        qb.push(" AND c.assignee_key = ").push_bind(a.map_or(0, |a| a.0));
    }
}

/// A value the filters bind.
trait Bindable: for<'q> sqlx::Encode<'q, Db> + sqlx::Type<Db> + Send + 'static {}
impl<T: for<'q> sqlx::Encode<'q, Db> + sqlx::Type<Db> + Send + 'static> Bindable for T {}

/// `(a, b, …)` with each item bound.
fn push_list<T: Bindable>(qb: &mut QueryBuilder<Db>, items: impl IntoIterator<Item = T>) {
    qb.push("(");
    let mut sep = qb.separated(", ");
    for item in items {
        sep.push_bind(item);
    }
    qb.push(")");
}

/// ` AND {col} IN (…)` over `items`; nothing for no items (an empty filter means "any").
fn push_in<T: Bindable>(qb: &mut QueryBuilder<Db>, col: &str, items: impl IntoIterator<Item = T>) {
    let mut items = items.into_iter().peekable();
    if items.peek().is_some() {
        qb.push(format!(" AND {col} IN "));
        push_list(qb, items);
    }
}

/// A group-restricted agent's scope: assigned to them, or in one of their groups.
fn push_group_scope(
    qb: &mut QueryBuilder<Db>,
    assignee_col: &str,
    group_col: &str,
    groups: &[GroupId],
    assignee: UserId,
) {
    qb.push(format!(" AND ({assignee_col} = ")).push_bind(assignee.0);
    if !groups.is_empty() {
        qb.push(format!(" OR {group_col} IN "));
        push_list(qb, groups.iter().map(|g| g.0));
    }
    qb.push(")");
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

// ---- rows --------------------------------------------------------------------------------

const TICKET_COLS: &str = "t.id, t.subject, t.description, t.requester_id, t.organization_id, t.cc_ids, \
    t.assignee_id, t.group_id, t.status_id, s.key AS status_key, t.status_category, t.channel, t.kind, \
    t.priority, t.tags, t.due_at, t.category_id, t.custom_fields, t.merged_into_id, t.version, \
    t.created_at, t.updated_at, t.first_replied_at, t.solved_at, t.closed_at, t.status_changed_at, t.assigned_at, \
    t.last_customer_reply_at, t.last_agent_reply_at";
const TICKET_FROM: &str = "tickets t JOIN statuses s ON s.id = t.status_id";

#[derive(FromRow)]
struct TicketRow {
    id: i64,
    subject: String,
    description: String,
    requester_id: i64,
    organization_id: Option<i64>,
    cc_ids: String,
    assignee_id: Option<i64>,
    group_id: Option<i64>,
    status_id: i64,
    status_key: String,
    status_category: String,
    channel: String,
    kind: String,
    priority: i64,
    tags: String,
    due_at: Option<i64>,
    category_id: Option<i64>,
    custom_fields: String,
    merged_into_id: Option<i64>,
    version: i64,
    created_at: i64,
    updated_at: i64,
    first_replied_at: Option<i64>,
    solved_at: Option<i64>,
    closed_at: Option<i64>,
    status_changed_at: i64,
    assigned_at: Option<i64>,
    last_customer_reply_at: Option<i64>,
    last_agent_reply_at: Option<i64>,
}

impl TryFrom<TicketRow> for Ticket {
    type Error = StoreError;
    fn try_from(r: TicketRow) -> Result<Ticket> {
        Ok(Ticket {
            id: TicketId(r.id),
            subject: r.subject,
            description: r.description,
            requester_id: UserId(r.requester_id),
            organization_id: r.organization_id.map(OrganizationId),
            cc_ids: json(&r.cc_ids)?,
            assignee_id: r.assignee_id.map(UserId),
            group_id: r.group_id.map(GroupId),
            status: StatusRef {
                id: StatusId(r.status_id),
                key: r.status_key,
                category: StatusCategory::parse(&r.status_category, "status_category").map_err(corrupt)?,
            },
            channel: Channel::parse(&r.channel, "channel").map_err(corrupt)?,
            kind: TicketType::parse(&r.kind, "type").map_err(corrupt)?,
            priority: Priority::from_rank(r.priority)
                .ok_or_else(|| StoreError::Corrupt(format!("priority {}", r.priority)))?,
            tags: r.tags.split_whitespace().map(str::to_owned).collect(),
            due_at: opt_ts(r.due_at)?,
            category_id: r.category_id.map(CategoryId),
            custom_fields: json(&r.custom_fields)?,
            merged_into_id: r.merged_into_id.map(TicketId),
            version: r.version,
            created_at: from_ts(r.created_at)?,
            updated_at: from_ts(r.updated_at)?,
            first_replied_at: opt_ts(r.first_replied_at)?,
            solved_at: opt_ts(r.solved_at)?,
            closed_at: opt_ts(r.closed_at)?,
            status_changed_at: from_ts(r.status_changed_at)?,
            assigned_at: opt_ts(r.assigned_at)?,
            last_customer_reply_at: opt_ts(r.last_customer_reply_at)?,
            last_agent_reply_at: opt_ts(r.last_agent_reply_at)?,
        })
    }
}

#[derive(FromRow)]
struct UserRow {
    id: i64,
    role: String,
    name: String,
    email: Option<String>,
    external_id: Option<String>,
    organization_id: Option<i64>,
    language: String,
    time_zone: String,
    vip_level: i64,
    skills: String,
    languages: String,
    restricted_to_groups: bool,
    custom_fields: String,
    active: bool,
    created_at: i64,
    updated_at: i64,
    availability: String,
    capacity: Option<i64>,
    account_manager_id: Option<i64>,
}

const USER_COLS: &str = "id, role, name, email, external_id, organization_id, language, time_zone, vip_level, \
    skills, languages, restricted_to_groups, custom_fields, active, created_at, updated_at, availability, capacity, \
    account_manager_id";

#[derive(FromRow)]
struct OrgRow {
    id: i64,
    name: String,
    domains: String,
    shared_tickets: bool,
    custom_fields: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<OrgRow> for Organization {
    type Error = StoreError;
    fn try_from(r: OrgRow) -> Result<Organization> {
        Ok(Organization {
            id: OrganizationId(r.id),
            name: r.name,
            domains: json(&r.domains)?,
            shared_tickets: r.shared_tickets,
            custom_fields: json(&r.custom_fields)?,
            created_at: from_ts(r.created_at)?,
            updated_at: from_ts(r.updated_at)?,
        })
    }
}

#[derive(FromRow)]
struct CommentRow {
    id: i64,
    ticket_id: i64,
    author_id: i64,
    public: bool,
    body: String,
    html_body: String,
    via: String,
    created_at: i64,
}

#[derive(FromRow)]
struct AttachmentRow {
    id: i64,
    sha256: String,
    filename: String,
    content_type: String,
    size: i64,
    uploader_id: i64,
    comment_id: Option<i64>,
    ticket_id: Option<i64>,
    created_at: i64,
}

impl AttachmentRow {
    fn into_domain(self) -> Result<(Attachment, Option<TicketId>)> {
        Ok((
            Attachment {
                id: AttachmentId(self.id),
                sha256: self.sha256,
                filename: self.filename,
                content_type: self.content_type,
                size: self.size,
                uploader_id: UserId(self.uploader_id),
                comment_id: self.comment_id.map(CommentId),
                created_at: from_ts(self.created_at)?,
            },
            self.ticket_id.map(TicketId),
        ))
    }
}

const ATTACHMENT_COLS: &str =
    "id, sha256, filename, content_type, size, uploader_id, comment_id, ticket_id, created_at";

#[derive(FromRow)]
struct LinkRow {
    id: i64,
    source_id: i64,
    target_id: i64,
    kind: String,
    created_at: i64,
}

impl TryFrom<LinkRow> for Link {
    type Error = StoreError;
    fn try_from(r: LinkRow) -> Result<Link> {
        Ok(Link {
            id: LinkId(r.id),
            source_id: TicketId(r.source_id),
            target_id: TicketId(r.target_id),
            kind: LinkKind::parse(&r.kind, "kind").map_err(corrupt)?,
            created_at: from_ts(r.created_at)?,
        })
    }
}

#[derive(FromRow)]
struct TokenRow {
    id: i64,
    user_id: i64,
    name: String,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<TokenRow> for ApiToken {
    type Error = StoreError;
    fn try_from(r: TokenRow) -> Result<ApiToken> {
        Ok(ApiToken {
            id: TokenId(r.id),
            user_id: UserId(r.user_id),
            name: r.name,
            expires_at: opt_ts(r.expires_at)?,
            revoked_at: opt_ts(r.revoked_at)?,
            created_at: from_ts(r.created_at)?,
        })
    }
}

/// `$1, $2, …` for an IN list starting at `from`.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

// ---- ticket writes -----------------------------------------------------------------------

impl SqlStore {
    async fn insert_ticket(conn: &mut Conn, t: &Ticket, explicit_id: bool) -> Result<TicketId> {
        let sql = format!(
            "INSERT INTO tickets ({}subject, description, requester_id, organization_id, cc_ids, assignee_id, group_id, \
             status_id, status_category, channel, kind, priority, tags, due_at, category_id, custom_fields, merged_into_id, \
             version, created_at, updated_at, first_replied_at, solved_at, closed_at, status_changed_at, assigned_at, \
             last_customer_reply_at, last_agent_reply_at) \
             VALUES ({}{}) RETURNING id",
            if explicit_id { "id, " } else { "" },
            if explicit_id { "$28, " } else { "" },
            placeholders(1, 27)
        );
        let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.as_str()));
        q = bind_ticket!(q, t, bind, to_json(&t.cc_ids)?, to_json(&t.custom_fields)?);
        if explicit_id {
            q = q.bind(t.id.0);
        }
        Ok(TicketId(q.fetch_one(&mut *conn).await?))
    }

    async fn update_ticket(conn: &mut Conn, t: &Ticket, expected: i64) -> Result<()> {
        let sql = "UPDATE tickets SET subject = $1, description = $2, requester_id = $3, organization_id = $4, cc_ids = $5, \
             assignee_id = $6, group_id = $7, status_id = $8, status_category = $9, channel = $10, kind = $11, priority = $12, \
             tags = $13, due_at = $14, category_id = $15, custom_fields = $16, merged_into_id = $17, version = $18, \
             created_at = $19, updated_at = $20, first_replied_at = $21, solved_at = $22, closed_at = $23, \
             status_changed_at = $24, assigned_at = $25, last_customer_reply_at = $26, last_agent_reply_at = $27 \
             WHERE id = $28 AND version = $29";
        let mut q = sqlx::query(sql);
        q = bind_ticket!(q, t, bind, to_json(&t.cc_ids)?, to_json(&t.custom_fields)?);
        let done = q.bind(t.id.0).bind(expected).execute(&mut *conn).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::VersionConflict);
        }
        Ok(())
    }

    /// Writes the tag, CC and custom-field index rows of a ticket: all of them for a new one;
    /// for an update only those whose column changed (most replies and updates change none,
    /// and each part saved is a delete and an insert on the one writer).
    async fn index_ticket(conn: &mut Conn, t: &Ticket, before: Option<&IndexedColumns>) -> Result<()> {
        let cc = before.is_none_or(|b| b.cc_ids != to_json(&t.cc_ids).unwrap_or_default());
        let tags = before.is_none_or(|b| b.tags != t.tags.join(" "));
        let fields = before.is_none_or(|b| b.custom_fields != to_json(&t.custom_fields).unwrap_or_default());
        if before.is_some() {
            for (changed, table) in [(cc, "ticket_ccs"), (tags, "ticket_tags"), (fields, "ticket_field_values")] {
                if changed {
                    sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE ticket_id = $1")))
                        .bind(t.id.0)
                        .execute(&mut *conn)
                        .await?;
                }
            }
        }
        if cc {
            Self::insert_ccs(conn, std::iter::once((t.id.0, t))).await?;
        }
        if tags && !t.tags.is_empty() {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_tags (tag, ticket_id) ");
            qb.push_values(&t.tags, |mut b, tag| {
                b.push_bind(tag.clone()).push_bind(t.id.0);
            });
            qb.build().execute(&mut *conn).await?;
        }
        let values: Vec<(&String, String)> = if fields {
            t.custom_fields
                .iter()
                .flat_map(|(k, v)| field_value_texts(v).into_iter().map(move |text| (k, text)))
                .collect()
        } else {
            vec![]
        };
        if !values.is_empty() {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_field_values (ticket_id, field_key, value) ");
            qb.push_values(values, |mut b, (key, text)| {
                b.push_bind(t.id.0).push_bind(key.clone()).push_bind(text);
            });
            qb.build().execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// The CC index rows of new tickets, given with their ids.
    async fn insert_ccs(conn: &mut Conn, tickets: impl Iterator<Item = (i64, &Ticket)>) -> Result<()> {
        let pairs: Vec<(i64, i64)> = tickets.flat_map(|(id, t)| t.cc_ids.iter().map(move |u| (u.0, id))).collect();
        for part in pairs.chunks(5000) {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_ccs (user_id, ticket_id) ");
            qb.push_values(part, |mut b, (user, ticket)| {
                b.push_bind(*user).push_bind(*ticket);
            });
            qb.build().execute(&mut *conn).await?;
        }
        Ok(())
    }

    async fn insert_events(
        conn: &mut Conn,
        ticket: TicketId,
        actor: Option<UserId>,
        via: Via,
        at: Timestamp,
        events: &[NewEvent],
    ) -> Result<()> {
        for e in events {
            sqlx::query(
                "INSERT INTO ticket_events (ticket_id, actor_id, via, kind, field, old_value, new_value, created_at, rule) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(ticket.0)
            .bind(actor.map(|a| a.0))
            .bind(e.via(via).as_str())
            .bind(e.kind.as_str())
            .bind(e.field.as_deref())
            .bind(e.old.as_deref())
            .bind(e.new.as_deref())
            .bind(ts(at))
            .bind(e.rule.as_deref())
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Adds a comment; its attachments must be unattached uploads of `uploader` (the acting
    /// user, who may write on the requester's behalf).
    async fn insert_comment(
        conn: &mut Conn,
        ticket: TicketId,
        c: &NewComment,
        uploader: UserId,
        via: Via,
        at: Timestamp,
    ) -> Result<Comment> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO comments (ticket_id, author_id, public, body, html_body, via, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(ticket.0)
        .bind(c.author_id.0)
        .bind(c.public)
        .bind(&c.body)
        .bind(&c.html_body)
        .bind(via.as_str())
        .bind(ts(at))
        .fetch_one(&mut *conn)
        .await?;
        let mut attachments = Vec::new();
        for a in &c.attachment_ids {
            let done = sqlx::query(
                "UPDATE attachments SET comment_id = $1, ticket_id = $2 WHERE id = $3 AND uploader_id = $4 AND comment_id IS NULL",
            )
            .bind(id)
            .bind(ticket.0)
            .bind(a.0)
            .bind(uploader.0)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Invalid(format!("attachment {a} is not an unattached upload of yours")));
            }
            let row: AttachmentRow =
                sqlx::query_as(AssertSqlSafe(format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE id = $1")))
                    .bind(a.0)
                    .fetch_one(&mut *conn)
                    .await?;
            attachments.push(row.into_domain()?.0);
        }
        Ok(Comment {
            id: CommentId(id),
            ticket_id: ticket,
            author_id: c.author_id,
            public: c.public,
            body: c.body.clone(),
            html_body: c.html_body.clone(),
            via,
            attachments,
            created_at: at,
        })
    }

    async fn attachments_for(&self, comment_ids: &[i64]) -> Result<BTreeMap<i64, Vec<Attachment>>> {
        let mut out: BTreeMap<i64, Vec<Attachment>> = BTreeMap::new();
        if comment_ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT {ATTACHMENT_COLS} FROM attachments WHERE comment_id IN ({}) ORDER BY id",
            placeholders(1, comment_ids.len())
        );
        let mut q = sqlx::query_as::<_, AttachmentRow>(AssertSqlSafe(sql.as_str()));
        for id in comment_ids {
            q = q.bind(id);
        }
        for row in q.fetch_all(&self.read).await? {
            let (a, _) = row.into_domain()?;
            if let Some(c) = a.comment_id {
                out.entry(c.0).or_default().push(a);
            }
        }
        Ok(out)
    }

    async fn comments_from_rows(&self, rows: Vec<CommentRow>) -> Result<Vec<Comment>> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut files = self.attachments_for(&ids).await?;
        rows.into_iter()
            .map(|r| {
                Ok(Comment {
                    id: CommentId(r.id),
                    ticket_id: TicketId(r.ticket_id),
                    author_id: UserId(r.author_id),
                    public: r.public,
                    body: r.body,
                    html_body: r.html_body,
                    via: Via::parse(&r.via, "via").map_err(corrupt)?,
                    attachments: files.remove(&r.id).unwrap_or_default(),
                    created_at: from_ts(r.created_at)?,
                })
            })
            .collect()
    }

    async fn hydrate_users(&self, rows: Vec<UserRow>) -> Result<Vec<User>> {
        if rows.is_empty() {
            return Ok(vec![]);
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let list = placeholders(1, ids.len());
        let sql_ident =
            format!("SELECT user_id, kind, value FROM user_identities WHERE user_id IN ({list}) ORDER BY id");
        let sql_groups =
            format!("SELECT user_id, group_id FROM group_members WHERE user_id IN ({list}) ORDER BY group_id");
        let mut q1 = sqlx::query_as::<_, (i64, String, String)>(AssertSqlSafe(sql_ident.as_str()));
        let mut q2 = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(sql_groups.as_str()));
        for id in &ids {
            q1 = q1.bind(id);
            q2 = q2.bind(id);
        }
        let mut idents: BTreeMap<i64, Vec<Identity>> = BTreeMap::new();
        for (uid, kind, value) in q1.fetch_all(&self.read).await? {
            idents
                .entry(uid)
                .or_default()
                .push(Identity { kind: IdentityKind::parse(&kind, "kind").map_err(corrupt)?, value });
        }
        let mut groups: BTreeMap<i64, Vec<GroupId>> = BTreeMap::new();
        for (uid, gid) in q2.fetch_all(&self.read).await? {
            groups.entry(uid).or_default().push(GroupId(gid));
        }
        rows.into_iter()
            .map(|r| {
                Ok(User {
                    id: UserId(r.id),
                    role: Role::parse(&r.role, "role").map_err(corrupt)?,
                    name: r.name,
                    email: r.email,
                    identities: idents.remove(&r.id).unwrap_or_default(),
                    external_id: r.external_id,
                    organization_id: r.organization_id.map(OrganizationId),
                    language: Language::parse(&r.language, "language").map_err(corrupt)?,
                    time_zone: r.time_zone,
                    vip_level: r.vip_level,
                    group_ids: groups.remove(&r.id).unwrap_or_default(),
                    skills: json(&r.skills)?,
                    languages: json(&r.languages)?,
                    restricted_to_groups: r.restricted_to_groups,
                    availability: Availability::parse(&r.availability, "availability").map_err(corrupt)?,
                    capacity: r.capacity,
                    account_manager_id: r.account_manager_id.map(UserId),
                    custom_fields: json(&r.custom_fields)?,
                    active: r.active,
                    created_at: from_ts(r.created_at)?,
                    updated_at: from_ts(r.updated_at)?,
                })
            })
            .collect()
    }

    async fn write_user_children(conn: &mut Conn, u: &User, fresh: bool) -> Result<()> {
        if !fresh {
            sqlx::query("DELETE FROM user_identities WHERE user_id = $1").bind(u.id.0).execute(&mut *conn).await?;
            // Memberships that stay keep their round-robin turn.
            let mut qb = QueryBuilder::<Db>::new("DELETE FROM group_members WHERE user_id = ");
            qb.push_bind(u.id.0);
            if !u.group_ids.is_empty() {
                qb.push(" AND group_id NOT IN ");
                push_list(&mut qb, u.group_ids.iter().map(|g| g.0));
            }
            qb.build().execute(&mut *conn).await?;
        }
        for i in &u.identities {
            sqlx::query("INSERT INTO user_identities (user_id, kind, value) VALUES ($1, $2, $3)")
                .bind(u.id.0)
                .bind(i.kind.as_str())
                .bind(&i.value)
                .execute(&mut *conn)
                .await?;
        }
        for g in &u.group_ids {
            sqlx::query("INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(g.0)
                .bind(u.id.0)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    fn push_ticket_filters(qb: &mut QueryBuilder<Db>, q: &TicketQuery) {
        match &q.scope {
            TicketScope::All => {}
            TicketScope::Groups { groups, assignee } => {
                push_group_scope(qb, "t.assignee_id", "t.group_id", groups, *assignee)
            }
            TicketScope::Requester { user, organization } => {
                qb.push(" AND (t.requester_id = ").push_bind(user.0);
                if let Some(org) = organization {
                    qb.push(" OR t.organization_id = ").push_bind(org.0);
                }
                qb.push(" OR t.id IN (SELECT c.ticket_id FROM ticket_ccs c WHERE c.user_id = ")
                    .push_bind(user.0)
                    .push("))");
            }
        }
        push_in(qb, "t.status_category", q.status_categories.iter().map(|c| c.as_str()));
        push_in(qb, "t.status_id", q.status_ids.iter().map(|s| s.0));
        push_in(qb, "t.group_id", q.group_ids.iter().map(|g| g.0));
        push_in(qb, "t.category_id", q.category_ids.iter().map(|c| c.0));
        push_in(qb, "t.priority", q.priorities.iter().map(|p| p.rank()));
        push_in(qb, "t.channel", q.channels.iter().map(|c| c.as_str()));
        match q.assignee {
            Some(Some(a)) => {
                qb.push(" AND t.assignee_id = ").push_bind(a.0);
            }
            Some(None) => {
                qb.push(" AND t.assignee_id IS NULL");
            }
            None => {}
        }
        if let Some(r) = q.requester_id {
            qb.push(" AND t.requester_id = ").push_bind(r.0);
        }
        if let Some(o) = q.organization_id {
            qb.push(" AND t.organization_id = ").push_bind(o.0);
        }
        if let Some(tag) = &q.tag {
            qb.push(" AND EXISTS (SELECT 1 FROM ticket_tags g WHERE g.ticket_id = t.id AND g.tag = ")
                .push_bind(tag.clone())
                .push(")");
        }
        if let Some((key, value)) = &q.custom_field {
            qb.push(" AND EXISTS (SELECT 1 FROM ticket_field_values v WHERE v.ticket_id = t.id AND v.field_key = ")
                .push_bind(key.clone())
                .push(" AND v.value = ")
                .push_bind(value.clone())
                .push(")");
        }
        for (col, op, v) in [
            ("t.created_at", ">=", q.created_after),
            ("t.created_at", "<", q.created_before),
            ("t.updated_at", ">=", q.updated_after),
            ("t.updated_at", "<", q.updated_before),
        ] {
            if let Some(v) = v {
                qb.push(format!(" AND {col} {op} ")).push_bind(ts(v));
            }
        }
        if !q.include_merged {
            qb.push(" AND t.merged_into_id IS NULL");
        }
    }
}

/// The sort expression, its direction and how a row's key is read back for the cursor.
/// Slices of a listing sorted by update time that spans several status categories or groups.
/// The queue indexes (`status_category, group_id, updated_at`, `assignee_id, status_category,
/// updated_at`, `status_category, updated_at`) order one slice, not a union of them: over an
/// `IN` list the database would read every matching row and sort them. One slice per
/// (category, group) pair is read in index order, a page at most each, and merged.
fn merge_slices(q: &TicketQuery) -> Option<Vec<TicketQuery>> {
    const MAX_SLICES: usize = 24;
    if !matches!(q.sort, TicketSort::UpdatedDesc | TicketSort::UpdatedAsc) || !q.status_ids.is_empty() {
        return None;
    }
    // A value named twice must not make two slices (every row would come twice).
    let mut cats = q.status_categories.clone();
    cats.sort();
    cats.dedup();
    let mut groups = q.group_ids.clone();
    groups.sort();
    groups.dedup();
    if (cats.len() <= 1 && groups.len() <= 1) || cats.len().max(1) * groups.len().max(1) > MAX_SLICES {
        return None;
    }
    let cats: Vec<Vec<StatusCategory>> =
        if cats.is_empty() { vec![vec![]] } else { cats.iter().map(|c| vec![*c]).collect() };
    let groups: Vec<Vec<GroupId>> =
        if groups.is_empty() { vec![vec![]] } else { groups.iter().map(|g| vec![*g]).collect() };
    let mut out = Vec::with_capacity(cats.len() * groups.len());
    for c in &cats {
        for g in &groups {
            let mut slice = q.clone();
            slice.status_categories = c.clone();
            slice.group_ids = g.clone();
            slice.cursor = None;
            out.push(slice);
        }
    }
    Some(out)
}

fn sort_spec(sort: TicketSort) -> (&'static str, bool) {
    match sort {
        TicketSort::UpdatedDesc => ("t.updated_at", true),
        TicketSort::UpdatedAsc => ("t.updated_at", false),
        TicketSort::CreatedDesc => ("t.created_at", true),
        TicketSort::CreatedAsc => ("t.created_at", false),
        TicketSort::PriorityDesc => ("t.priority", true),
        TicketSort::DueAsc => ("COALESCE(t.due_at, 9223372036854775807)", false),
    }
}

fn sort_key(t: &Ticket, sort: TicketSort) -> i64 {
    match sort {
        TicketSort::UpdatedDesc | TicketSort::UpdatedAsc => ts(t.updated_at),
        TicketSort::CreatedDesc | TicketSort::CreatedAsc => ts(t.created_at),
        TicketSort::PriorityDesc => t.priority.rank(),
        TicketSort::DueAsc => t.due_at.map(ts).unwrap_or(i64::MAX),
    }
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

impl SqlStore {
    /// Writes a batch: through the group-commit writer when it takes this kind of batch, else
    /// in a transaction of its own.
    async fn write_batch(&self, batch: WriteBatch) -> Result<WriteResult> {
        if let Some((queue, grouped)) = &self.group_commit
            && (*grouped == Grouped::All || is_plain_create(&batch) || is_assigning_create(&batch))
        {
            let (done, result) = oneshot::channel();
            queue.send((batch, done)).await.map_err(|_| StoreError::Commit("the writer has stopped".into()))?;
            return result.await.map_err(|_| StoreError::Commit("the writer has stopped".into()))?;
        }
        if is_plain_create(&batch)
            && let Some(done) = super::plain_create(&self.write, &batch).await
        {
            return done;
        }
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        let r = Self::apply_batch(&mut tx, &batch).await?;
        tx.commit().await?;
        Ok(r)
    }
}

impl SqlStore {
    /// Adds counter changes: one multi-row upsert in key order (keys are unique, as PostgreSQL
    /// refuses the same key twice in one upsert; zero changes are dropped).
    async fn apply_counts(conn: &mut Conn, deltas: BTreeMap<CountKey, i64>) -> Result<()> {
        let rows: Vec<(CountKey, i64)> = deltas.into_iter().filter(|(_, n)| *n != 0).collect();
        for part in rows.chunks(1000) {
            let mut qb =
                QueryBuilder::<Db>::new("INSERT INTO ticket_counts (status_id, group_key, assignee_key, shard, n) ");
            qb.push_values(part, |mut b, (k, n)| {
                b.push_bind(k.0).push_bind(k.1).push_bind(k.2).push_bind(k.3).push_bind(*n);
            });
            qb.push(" ON CONFLICT (status_id, group_key, assignee_key, shard) DO UPDATE SET n = ticket_counts.n + excluded.n");
            qb.build().execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Adds one to the counter of each newly inserted ticket.
    async fn count_inserted<'a>(conn: &mut Conn, tickets: impl Iterator<Item = &'a Ticket>) -> Result<()> {
        let mut deltas: BTreeMap<CountKey, i64> = BTreeMap::new();
        for t in tickets {
            *deltas.entry(count_key(t)).or_default() += 1;
        }
        Self::apply_counts(conn, deltas).await
    }

    /// Rebuilds the queue counters from the tickets, with writers held off meanwhile: after an
    /// upgrade by several nodes, or whenever in doubt.
    async fn recount(&self) -> Result<()> {
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        if let Some(lock) = LOCK_TICKETS {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM ticket_counts").execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO ticket_counts (status_id, group_key, assignee_key, shard, n) \
             SELECT status_id, COALESCE(group_id, 0), COALESCE(assignee_id, 0), id % $1, COUNT(*) FROM tickets \
             GROUP BY status_id, COALESCE(group_id, 0), COALESCE(assignee_id, 0), id % $1",
        )
        .bind(COUNT_SHARDS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records an idempotency key for the resource a transaction creates; a key used before
    /// fails with a unique violation (`IdempotencyReplay`), rolling the transaction back.
    async fn insert_claim(conn: &mut Conn, claim: &IdempotencyClaim, kind: &str, id: i64, at: Timestamp) -> Result<()> {
        sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, resource_kind, resource_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(claim.user_id.0)
        .bind(&claim.key)
        .bind(&claim.request_hash)
        .bind(kind)
        .bind(id)
        .bind(ts(at))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Applies one batch on a connection inside an open transaction.
    async fn apply_batch(tx: &mut Conn, batch: &WriteBatch) -> Result<WriteResult> {
        // Rules that must read inside the transaction run first and fold into the batch.
        let ran;
        let batch = match &batch.flow {
            Some(run) => {
                ran = Self::run_flow(tx, batch, run).await?;
                &ran
            }
            None => batch,
        };
        let mut tickets: Vec<Ticket> = Vec::with_capacity(batch.writes.len());
        let mut comments = Vec::with_capacity(batch.writes.len());
        let mut counts: BTreeMap<CountKey, i64> = BTreeMap::new();
        for w in &batch.writes {
            let mut t = w.ticket.clone();
            match w.expected_version {
                None => {
                    t.id = Self::insert_ticket(tx, &t, false).await?;
                    *counts.entry(count_key(&t)).or_default() += 1;
                }
                Some(v) => {
                    // Read before the versioned update: if the update succeeds, no one changed
                    // the row in between, so these are the values the counters and the index
                    // rows hold.
                    type Old = (i64, Option<i64>, Option<i64>, String, String, String);
                    let old: Option<Old> = sqlx::query_as(AssertSqlSafe(format!(
                        "SELECT status_id, group_id, assignee_id, tags, cc_ids, custom_fields FROM tickets \
                         WHERE id = $1{FOR_UPDATE}"
                    )))
                    .bind(t.id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                    Self::update_ticket(tx, &t, v).await?;
                    let Some((status, group, assignee, tags, cc_ids, custom_fields)) = old else {
                        return Err(StoreError::VersionConflict);
                    };
                    let before = (status, group.unwrap_or(0), assignee.unwrap_or(0), t.id.0 % COUNT_SHARDS);
                    let after = count_key(&t);
                    if before != after {
                        *counts.entry(before).or_default() -= 1;
                        *counts.entry(after).or_default() += 1;
                    }
                    Self::index_ticket(tx, &t, Some(&IndexedColumns { tags, cc_ids, custom_fields })).await?;
                }
            }
            if w.expected_version.is_none() {
                Self::index_ticket(tx, &t, None).await?;
            }
            Self::insert_events(tx, t.id, batch.actor, batch.via, batch.at, &w.events).await?;
            let comment = match &w.comment {
                Some(c) => Some(
                    Self::insert_comment(tx, t.id, c, batch.actor.unwrap_or(c.author_id), batch.via, batch.at).await?,
                ),
                None => None,
            };
            comments.push(comment);
            tickets.push(t);
        }
        // Counter rows last and in key order, so concurrent batches lock them in one order.
        Self::apply_counts(tx, counts).await?;
        let resolve = |r: TicketRef| -> Result<TicketId> {
            match r {
                TicketRef::Id(id) => Ok(id),
                TicketRef::Batch(i) => tickets
                    .get(i)
                    .map(|t| t.id)
                    .ok_or_else(|| StoreError::Invalid(format!("no ticket #{i} in the batch"))),
            }
        };
        let mut links = Vec::new();
        for l in &batch.links {
            let (source, target) = (resolve(l.source)?, resolve(l.target)?);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO ticket_links (source_id, target_id, kind, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(source.0)
            .bind(target.0)
            .bind(l.kind.as_str())
            .bind(ts(batch.at))
            .fetch_one(&mut *tx)
            .await?;
            links.push(Link {
                id: LinkId(id),
                source_id: source,
                target_id: target,
                kind: l.kind,
                created_at: batch.at,
            });
        }
        for id in &batch.unlinks {
            sqlx::query("DELETE FROM ticket_links WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
        }
        if let Some(claim) = &batch.idempotency {
            let (kind, id) = match claim.resource {
                ClaimedResource::Ticket(i) => ("ticket", tickets.get(i).map(|t| t.id.0)),
                ClaimedResource::Comment(i) => ("comment", comments.get(i).and_then(|c| c.as_ref()).map(|c| c.id.0)),
                ClaimedResource::User => ("user", None),
            };
            let id = id.ok_or_else(|| StoreError::Invalid("idempotency claim names nothing in the batch".into()))?;
            Self::insert_claim(tx, claim, kind, id, batch.at).await?;
        }
        Self::write_extras(tx, batch, &tickets).await?;
        Ok(WriteResult { tickets, comments, links })
    }

    /// The SQLite writer: takes every batch waiting, runs each in its own savepoint (a failed
    /// batch rolls back alone) and commits them together, so concurrent requests share one
    /// commit instead of each rewriting the same index pages.
    /// Starts the group-commit writer and gives its queue. With `own_thread` (SQLite) it runs
    /// on a thread and runtime of its own: each of its statements is a hop to SQLite's thread
    /// and back, and on a busy node, waiting behind the request handlers for a worker at every
    /// hop made the writer, not the database, the limit on writes.
    fn spawn_writer(pool: Pool<Db>, own_thread: bool) -> mpsc::Sender<Job> {
        if own_thread && let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            let (tx, rx) = mpsc::channel(1024);
            let writer = pool.clone();
            let thread = std::thread::Builder::new().name("gongdan-writer".into());
            if thread.spawn(move || runtime.block_on(Self::group_commit(writer, rx))).is_ok() {
                return tx;
            }
        }
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(Self::group_commit(pool, rx));
        tx
    }

    async fn group_commit(pool: Pool<Db>, mut queue: mpsc::Receiver<Job>) {
        while let Some(first) = queue.recv().await {
            let mut jobs = vec![first];
            while jobs.len() < GROUP_MAX {
                match queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            // Alone and a plain create: the backend's one-statement create, if it has one.
            if jobs.len() == 1
                && is_plain_create(&jobs[0].0)
                && let Some(r) = super::plain_create(&pool, &jobs[0].0).await
            {
                if let Some((_, done)) = jobs.pop() {
                    let _ = done.send(r);
                }
                continue;
            }
            let mut outcome = Self::commit_group(&pool, &jobs).await;
            if matches!(outcome, Err(StoreError::VersionConflict)) {
                // A deadlock with another node's writer (their rosters locked in another
                // order): the group rolled back whole, and once more is nearly always enough.
                outcome = Self::commit_group(&pool, &jobs).await;
            }
            match outcome {
                Ok(results) => {
                    for ((_, done), r) in jobs.into_iter().zip(results) {
                        let _ = done.send(r);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, batches = jobs.len(), "group commit failed");
                    for (_, done) in jobs {
                        let _ = done.send(Err(StoreError::Commit(e.to_string())));
                    }
                }
            }
        }
    }

    async fn commit_group(pool: &Pool<Db>, jobs: &[Job]) -> Result<Vec<Result<WriteResult>>> {
        use sqlx::Connection;
        let mut tx = pool.begin_with(BEGIN_WRITE).await?;
        let mut results: Vec<Option<Result<WriteResult>>> = (0..jobs.len()).map(|_| None).collect();
        // Rules that assign decide first, one batch after another over one read of each
        // roster (this writer is the only one, so the rosters stay true while it holds them);
        // the batches they leave are ordinary writes, most of them plain creates.
        let mut decisions = flow::Decisions::default();
        // The groups the creates land in, locked in id order before any decision, so two
        // nodes' writers never wait for each other's rosters in opposite orders (a rule that
        // routes elsewhere may still lock another one later).
        let mut landing: Vec<GroupId> = jobs
            .iter()
            .filter(|(b, _)| b.flow.is_some())
            .filter_map(|(b, _)| b.writes.first().and_then(|w| w.ticket.group_id))
            .collect();
        landing.sort();
        landing.dedup();
        for g in landing {
            Self::preload_roster(&mut tx, g, &mut decisions).await?;
        }
        let mut decided: Vec<Option<WriteBatch>> = (0..jobs.len()).map(|_| None).collect();
        for (i, (batch, _)) in jobs.iter().enumerate() {
            if let Some(run) = &batch.flow {
                match Self::run_flow_with(&mut tx, batch, run, &mut decisions).await {
                    Ok(b) => decided[i] = Some(b),
                    // A failed statement (a deadlock over a roster above all) aborts the whole
                    // transaction on PostgreSQL: the group goes back whole, to be retried.
                    Err(e @ (StoreError::Db(_) | StoreError::VersionConflict)) => return Err(e),
                    Err(e) => results[i] = Some(Err(e)),
                }
            }
        }
        let batch_of = |i: usize| decided[i].as_ref().unwrap_or(&jobs[i].0);
        // Plain creates go in together: a handful of multi-row statements for the whole group
        // instead of several round trips each. If that fails, each is retried on its own below.
        let plain: Vec<usize> =
            (0..jobs.len()).filter(|i| results[*i].is_none() && is_plain_create(batch_of(*i))).collect();
        if plain.len() > 1 {
            let batches: Vec<&WriteBatch> = plain.iter().map(|i| batch_of(*i)).collect();
            let mut savepoint = Connection::begin(&mut *tx).await?;
            match Self::insert_many(&mut savepoint, &batches).await {
                Ok(written) => {
                    savepoint.commit().await?;
                    for (i, r) in plain.iter().zip(written) {
                        results[*i] = Some(Ok(r));
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "grouped insert failed; writing one by one");
                    savepoint.rollback().await?;
                }
            }
        }
        // The rest under one savepoint: a savepoint each is two more round trips per batch on
        // the one writer, and batches seldom fail. If one does, all go back and each is written
        // under its own savepoint below, so the failure stays its own.
        let rest: Vec<usize> = (0..jobs.len()).filter(|i| results[*i].is_none()).collect();
        if rest.len() > 1 {
            let mut savepoint = Connection::begin(&mut *tx).await?;
            let mut written = Vec::with_capacity(rest.len());
            for i in &rest {
                match Self::apply_batch(&mut savepoint, batch_of(*i)).await {
                    Ok(r) => written.push(r),
                    Err(_) => break,
                }
            }
            if written.len() == rest.len() {
                savepoint.commit().await?;
                for (i, r) in rest.iter().zip(written) {
                    results[*i] = Some(Ok(r));
                }
            } else {
                savepoint.rollback().await?;
            }
        }
        for (i, slot) in results.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            let mut savepoint = Connection::begin(&mut *tx).await?;
            match Self::apply_batch(&mut savepoint, batch_of(i)).await {
                Ok(r) => {
                    savepoint.commit().await?;
                    *slot = Some(Ok(r));
                }
                Err(e) => {
                    savepoint.rollback().await?;
                    *slot = Some(Err(e));
                }
            }
        }
        tx.commit().await?;
        Ok(results.into_iter().map(|r| r.unwrap_or_else(|| Err(StoreError::Commit("batch skipped".into())))).collect())
    }

    /// Inserts several plain creates (see [`is_plain_create`]) with multi-row statements and
    /// explicit ids, which the backend hands out (`next_ids`). Only the group-commit writer calls
    /// this.
    async fn insert_many(tx: &mut Conn, batches: &[&WriteBatch]) -> Result<Vec<WriteResult>> {
        let ticket_ids = super::next_ids(&mut *tx, "tickets", batches.len()).await?;
        let with_comment = batches.iter().filter(|b| b.writes[0].comment.is_some()).count();
        let mut comment_ids = super::next_ids(&mut *tx, "comments", with_comment).await?.into_iter();
        let mut tickets = Vec::with_capacity(batches.len());
        for (b, id) in batches.iter().zip(&ticket_ids) {
            let mut t = b.writes[0].ticket.clone();
            t.id = TicketId(*id);
            tickets.push(t);
        }
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO tickets (id, subject, description, requester_id, organization_id, cc_ids, assignee_id, group_id, \
             status_id, status_category, channel, kind, priority, tags, due_at, category_id, custom_fields, merged_into_id, \
             version, created_at, updated_at, first_replied_at, solved_at, closed_at, status_changed_at, assigned_at, \
             last_customer_reply_at, last_agent_reply_at) ",
        );
        let cells = tickets
            .iter()
            .map(|t| Ok((t, to_json(&t.cc_ids)?, to_json(&t.custom_fields)?)))
            .collect::<Result<Vec<_>>>()?;
        qb.push_values(&cells, |mut b, (t, cc, cf)| {
            bind_ticket!(b.push_bind(t.id.0), t, push_bind, cc.clone(), cf.clone());
        });
        qb.build().execute(&mut *tx).await?;
        Self::count_inserted(tx, tickets.iter()).await?;

        Self::insert_ccs(tx, tickets.iter().map(|t| (t.id.0, t))).await?;
        let tags: Vec<(i64, &String)> = tickets.iter().flat_map(|t| t.tags.iter().map(move |g| (t.id.0, g))).collect();
        if !tags.is_empty() {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_tags (tag, ticket_id) ");
            qb.push_values(&tags, |mut b, (id, tag)| {
                b.push_bind((*tag).clone()).push_bind(*id);
            });
            qb.build().execute(&mut *tx).await?;
        }
        let values: Vec<(i64, &String, String)> = tickets
            .iter()
            .flat_map(|t| {
                t.custom_fields
                    .iter()
                    .flat_map(move |(k, v)| field_value_texts(v).into_iter().map(move |x| (t.id.0, k, x)))
            })
            .collect();
        if !values.is_empty() {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_field_values (ticket_id, field_key, value) ");
            qb.push_values(&values, |mut b, (id, k, v)| {
                b.push_bind(*id).push_bind((*k).clone()).push_bind(v.clone());
            });
            qb.build().execute(&mut *tx).await?;
        }
        let events: Vec<(i64, &WriteBatch, &NewEvent)> = batches
            .iter()
            .zip(&tickets)
            .flat_map(|(b, t)| b.writes[0].events.iter().map(move |e| (t.id.0, *b, e)))
            .collect();
        if !events.is_empty() {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO ticket_events (ticket_id, actor_id, via, kind, field, old_value, new_value, created_at, rule) ",
            );
            qb.push_values(&events, |mut b, (id, batch, e)| {
                b.push_bind(*id)
                    .push_bind(batch.actor.map(|a| a.0))
                    .push_bind(e.via(batch.via).as_str())
                    .push_bind(e.kind.as_str())
                    .push_bind(e.field.clone())
                    .push_bind(e.old.clone())
                    .push_bind(e.new.clone())
                    .push_bind(ts(batch.at))
                    .push_bind(e.rule.clone());
            });
            qb.build().execute(&mut *tx).await?;
        }
        let mut comments: Vec<Option<Comment>> = Vec::with_capacity(batches.len());
        for (b, t) in batches.iter().zip(&tickets) {
            let comment = match &b.writes[0].comment {
                Some(c) => {
                    let id = comment_ids.next().ok_or_else(|| StoreError::Invalid("no comment id".into()))?;
                    Some(c.written(CommentId(id), t.id, b.via, b.at))
                }
                None => None,
            };
            comments.push(comment);
        }
        let rows: Vec<&Comment> = comments.iter().flatten().collect();
        if !rows.is_empty() {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO comments (id, ticket_id, author_id, public, body, html_body, via, created_at) ",
            );
            qb.push_values(&rows, |mut b, c| {
                b.push_bind(c.id.0)
                    .push_bind(c.ticket_id.0)
                    .push_bind(c.author_id.0)
                    .push_bind(c.public)
                    .push_bind(c.body.clone())
                    .push_bind(c.html_body.clone())
                    .push_bind(c.via.as_str())
                    .push_bind(ts(c.created_at));
            });
            qb.build().execute(&mut *tx).await?;
        }
        for b in batches {
            if let Some((group, agent)) = b.assigned {
                Self::take_turn(tx, group, agent).await?;
            }
        }
        Ok(tickets
            .into_iter()
            .zip(comments)
            .map(|(t, c)| WriteResult { tickets: vec![t], comments: vec![c], links: vec![] })
            .collect())
    }
}

/// A batch that only creates one ticket (with events, an opening comment without attachments,
/// tags and field values): the common case the group writer inserts many at a time.
pub(super) fn is_plain_create(b: &WriteBatch) -> bool {
    !b.has_extras() && creates_one(b)
}

/// A batch that creates one ticket and nothing beside it (no links, claims or attachments).
fn creates_one(b: &WriteBatch) -> bool {
    b.writes.len() == 1
        && b.writes[0].expected_version.is_none()
        && b.writes[0].comment.as_ref().is_none_or(|c| c.attachment_ids.is_empty())
        && b.links.is_empty()
        && b.unlinks.is_empty()
        && b.idempotency.is_none()
}

/// A create whose rules assign it: the group writer decides a whole group of them over one
/// read of each roster (held locked until the group commits), where a transaction each would
/// take the rosters' locks one create at a time.
fn is_assigning_create(b: &WriteBatch) -> bool {
    b.flow.is_some() && creates_one(b)
}

#[async_trait]
impl TicketStore for SqlStore {
    async fn write(&self, batch: WriteBatch) -> Result<WriteResult> {
        self.write_batch(batch).await
    }

    async fn get_ticket(&self, id: TicketId) -> Result<Option<Ticket>> {
        let row: Option<TicketRow> =
            sqlx::query_as(AssertSqlSafe(format!("SELECT {TICKET_COLS} FROM {TICKET_FROM} WHERE t.id = $1")))
                .bind(id.0)
                .fetch_optional(&self.read)
                .await?;
        row.map(Ticket::try_from).transpose()
    }

    async fn list_tickets(&self, q: &TicketQuery) -> Result<Page<Ticket>> {
        let (key, desc) = sort_spec(q.sort);
        let dir = if desc { "DESC" } else { "ASC" };
        let cursor = |qb: &mut QueryBuilder<Db>| {
            if let Some(c) = &q.cursor {
                qb.push(format!(" AND ({key}, t.id) {} (", if desc { "<" } else { ">" }))
                    .push_bind(c.key)
                    .push(", ")
                    .push_bind(c.id)
                    .push(")");
            }
        };
        let rows: Vec<TicketRow> = if q.limit <= 0 {
            // Only the total is wanted (a view's count).
            vec![]
        } else if let Some(slices) = merge_slices(q) {
            // Each slice is read in index order up to a page, then the slices are merged.
            let mut qb = QueryBuilder::<Db>::new("");
            for (i, slice) in slices.iter().enumerate() {
                if i > 0 {
                    qb.push(" UNION ALL ");
                }
                qb.push(format!("SELECT * FROM (SELECT {TICKET_COLS} FROM {TICKET_FROM} WHERE 1 = 1"));
                Self::push_ticket_filters(&mut qb, slice);
                cursor(&mut qb);
                qb.push(format!(" ORDER BY {key} {dir}, t.id {dir} LIMIT ")).push_bind(q.limit + 1);
                qb.push(format!(") s{i}"));
            }
            qb.push(format!(" ORDER BY updated_at {dir}, id {dir} LIMIT ")).push_bind(q.limit + 1);
            qb.build_query_as().fetch_all(&self.read).await?
        } else {
            let mut qb = QueryBuilder::<Db>::new(format!("SELECT {TICKET_COLS} FROM {TICKET_FROM} WHERE 1 = 1"));
            Self::push_ticket_filters(&mut qb, q);
            cursor(&mut qb);
            qb.push(format!(" ORDER BY {key} {dir}, t.id {dir} LIMIT ")).push_bind(q.limit + 1);
            qb.build_query_as().fetch_all(&self.read).await?
        };
        let mut items = rows.into_iter().map(Ticket::try_from).collect::<Result<Vec<_>>>()?;
        let next_cursor = if items.len() as i64 > q.limit {
            items.truncate(q.limit.max(0) as usize);
            items.last().map(|t| Cursor { sort: q.sort.name().to_owned(), key: sort_key(t, q.sort), id: t.id.0 })
        } else {
            None
        };
        let total = if q.with_total && q.total_from_counters() {
            // Queue totals come from the counters: a handful of rows, however long the queue.
            let mut cq = QueryBuilder::<Db>::new(
                "SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM ticket_counts c WHERE 1 = 1",
            );
            push_count_filters(&mut cq, q);
            Some(cq.build_query_scalar::<i64>().fetch_one(&self.read).await?)
        } else if q.with_total {
            let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM tickets t WHERE 1 = 1");
            Self::push_ticket_filters(&mut cq, q);
            Some(cq.build_query_scalar::<i64>().fetch_one(&self.read).await?)
        } else {
            None
        };
        Ok(Page { items, next_cursor, total })
    }

    async fn count_tickets(&self, queries: &[TicketQuery]) -> Result<Vec<i64>> {
        let counted: Vec<usize> = (0..queries.len()).filter(|i| queries[*i].total_from_counters()).collect();
        let mut out = vec![0; queries.len()];
        if !counted.is_empty() {
            // One scan of the counters (a few rows per status, group and agent), one conditional
            // sum per query: cheaper than a lookup per query (measured on both engines).
            let mut qb = QueryBuilder::<Db>::new("SELECT ");
            for (n, i) in counted.iter().enumerate() {
                if n > 0 {
                    qb.push(", ");
                }
                qb.push("CAST(COALESCE(SUM(CASE WHEN 1 = 1");
                push_count_filters(&mut qb, &queries[*i]);
                qb.push(" THEN c.n ELSE 0 END), 0) AS BIGINT)");
            }
            qb.push(" FROM ticket_counts c");
            let row = qb.build().fetch_one(&self.read).await?;
            for (n, i) in counted.iter().enumerate() {
                out[*i] = sqlx::Row::try_get::<i64, _>(&row, n)?;
            }
        }
        // Other filters count the rows they match, through their index, up to a cap: a view
        // total must never cost a scan of the desk.
        for (i, q) in queries.iter().enumerate().filter(|(i, _)| !counted.contains(i)) {
            let mut cq = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM (SELECT 1 FROM tickets t WHERE 1 = 1");
            Self::push_ticket_filters(&mut cq, q);
            cq.push(" LIMIT ").push_bind(VIEW_COUNT_CAP + 1).push(") x");
            out[i] = cq.build_query_scalar::<i64>().fetch_one(&self.read).await?;
        }
        Ok(out)
    }

    async fn open_children(&self, id: TicketId) -> Result<usize> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM ticket_links l JOIN tickets c ON c.id = l.target_id \
             WHERE l.source_id = $1 AND l.kind = 'parent' AND c.status_category NOT IN ('solved', 'closed')",
        )
        .bind(id.0)
        .fetch_one(&self.read)
        .await?;
        Ok(n.max(0) as usize)
    }

    async fn parent_chain(&self, id: TicketId) -> Result<Vec<TicketId>> {
        let mut out = Vec::new();
        let mut cur = id;
        // Bounded: links are checked for cycles on insert, this guards corrupt data.
        for _ in 0..64 {
            let parent: Option<i64> = sqlx::query_scalar(
                "SELECT source_id FROM ticket_links WHERE target_id = $1 AND kind = 'parent' ORDER BY id LIMIT 1",
            )
            .bind(cur.0)
            .fetch_optional(&self.read)
            .await?;
            match parent {
                Some(p) if !out.contains(&TicketId(p)) => {
                    out.push(TicketId(p));
                    cur = TicketId(p);
                }
                _ => break,
            }
        }
        Ok(out)
    }

    async fn merged_into(&self, id: TicketId) -> Result<Vec<TicketId>> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM tickets WHERE merged_into_id = $1 ORDER BY id")
            .bind(id.0)
            .fetch_all(&self.read)
            .await?;
        Ok(ids.into_iter().map(TicketId).collect())
    }

    async fn list_comments(
        &self,
        tickets: &[TicketId],
        include_internal: bool,
        after: Option<CommentId>,
        limit: i64,
    ) -> Result<Vec<Comment>> {
        if tickets.is_empty() {
            return Ok(vec![]);
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, ticket_id, author_id, public, body, html_body, via, created_at FROM comments WHERE ticket_id IN (",
        );
        let mut sep = qb.separated(", ");
        for t in tickets {
            sep.push_bind(t.0);
        }
        qb.push(")");
        if !include_internal {
            qb.push(" AND public = ").push_bind(true);
        }
        if let Some(a) = after {
            qb.push(" AND id > ").push_bind(a.0);
        }
        qb.push(" ORDER BY id LIMIT ").push_bind(limit);
        let rows: Vec<CommentRow> = qb.build_query_as().fetch_all(&self.read).await?;
        self.comments_from_rows(rows).await
    }

    async fn get_comment(&self, id: CommentId) -> Result<Option<Comment>> {
        let rows: Vec<CommentRow> = sqlx::query_as(
            "SELECT id, ticket_id, author_id, public, body, html_body, via, created_at FROM comments WHERE id = $1",
        )
        .bind(id.0)
        .fetch_all(&self.read)
        .await?;
        Ok(self.comments_from_rows(rows).await?.pop())
    }

    async fn list_events(&self, ticket: TicketId, after: Option<EventId>, limit: i64) -> Result<Vec<Event>> {
        type Row = (
            i64,
            i64,
            Option<i64>,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, ticket_id, actor_id, via, kind, field, old_value, new_value, created_at, rule FROM ticket_events \
             WHERE ticket_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(ticket.0)
        .bind(after.map(|a| a.0).unwrap_or(0))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, ticket_id, actor, via, kind, field, old_value, new_value, at, rule)| {
                Ok(Event {
                    id: EventId(id),
                    ticket_id: TicketId(ticket_id),
                    actor_id: actor.map(UserId),
                    via: Via::parse(&via, "via").map_err(corrupt)?,
                    kind: EventKind::parse(&kind, "kind").map_err(corrupt)?,
                    field,
                    old_value,
                    new_value,
                    rule,
                    created_at: from_ts(at)?,
                })
            })
            .collect()
    }

    async fn list_links(&self, ticket: TicketId) -> Result<Vec<Link>> {
        let rows: Vec<LinkRow> = sqlx::query_as(
            "SELECT id, source_id, target_id, kind, created_at FROM ticket_links WHERE source_id = $1 OR target_id = $1 ORDER BY id",
        )
        .bind(ticket.0)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(Link::try_from).collect()
    }

    async fn get_link(&self, id: LinkId) -> Result<Option<Link>> {
        let row: Option<LinkRow> =
            sqlx::query_as("SELECT id, source_id, target_id, kind, created_at FROM ticket_links WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&self.read)
                .await?;
        row.map(Link::try_from).transpose()
    }

    async fn insert_attachment(&self, a: &Attachment, quota: &UploadQuota) -> Result<Option<Attachment>> {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO attachments (sha256, filename, content_type, size, uploader_id, created_at) \
             SELECT $1, $2, $3, $4, $5, $6 FROM (SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS total \
               FROM attachments WHERE uploader_id = $5 AND comment_id IS NULL AND created_at >= $7) AS used \
             WHERE used.n < $8 AND used.total + $4 <= $9 RETURNING id",
        )
        .bind(&a.sha256)
        .bind(&a.filename)
        .bind(&a.content_type)
        .bind(a.size)
        .bind(a.uploader_id.0)
        .bind(ts(a.created_at))
        .bind(ts(quota.since))
        .bind(quota.files)
        .bind(quota.bytes)
        .fetch_optional(&self.write)
        .await?;
        Ok(id.map(|id| Attachment { id: AttachmentId(id), comment_id: None, ..a.clone() }))
    }

    async fn upload_fits(&self, user: UserId, size: i64, quota: &UploadQuota) -> Result<bool> {
        let (n, total): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM attachments \
             WHERE uploader_id = $1 AND comment_id IS NULL AND created_at >= $2",
        )
        .bind(user.0)
        .bind(ts(quota.since))
        .fetch_one(&self.read)
        .await?;
        Ok(n < quota.files && total + size <= quota.bytes)
    }

    async fn get_attachment(&self, id: AttachmentId) -> Result<Option<(Attachment, Option<TicketId>)>> {
        let row: Option<AttachmentRow> =
            sqlx::query_as(AssertSqlSafe(format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE id = $1")))
                .bind(id.0)
                .fetch_optional(&self.read)
                .await?;
        row.map(AttachmentRow::into_domain).transpose()
    }

    async fn bulk_import(&self, tickets: &[Ticket], comments: &[Vec<NewComment>], via: Via) -> Result<()> {
        const TICKETS_PER_STATEMENT: usize = 400;
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        if let Some(lock) = LOCK_TICKETS {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        let next: i64 = sqlx::query_scalar(NEXT_TICKET_ID).fetch_one(&mut *tx).await?;
        let mut id = next;
        for (chunk_no, chunk) in tickets.chunks(TICKETS_PER_STATEMENT).enumerate() {
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO tickets (id, subject, description, requester_id, organization_id, cc_ids, assignee_id, group_id, \
                 status_id, status_category, channel, kind, priority, tags, due_at, category_id, custom_fields, merged_into_id, \
                 version, created_at, updated_at, first_replied_at, solved_at, closed_at, status_changed_at, assigned_at, \
                 last_customer_reply_at, last_agent_reply_at) ",
            );
            let first_id = id;
            let cells = chunk
                .iter()
                .map(|t| Ok((t, to_json(&t.cc_ids)?, to_json(&t.custom_fields)?)))
                .collect::<Result<Vec<_>>>()?;
            qb.push_values(cells.iter().enumerate(), |mut b, (i, (t, cc, cf))| {
                bind_ticket!(b.push_bind(first_id + i as i64), t, push_bind, cc.clone(), cf.clone());
            });
            qb.build().execute(&mut *tx).await?;

            let ids: Vec<(i64, &Ticket)> = chunk.iter().enumerate().map(|(i, t)| (first_id + i as i64, t)).collect();
            let counted: Vec<Ticket> = ids.iter().map(|(id, t)| Ticket { id: TicketId(*id), ..(*t).clone() }).collect();
            Self::count_inserted(&mut tx, counted.iter()).await?;
            Self::insert_ccs(&mut tx, ids.iter().map(|(id, t)| (*id, *t))).await?;
            let tags: Vec<(i64, &String)> =
                ids.iter().flat_map(|(id, t)| t.tags.iter().map(move |g| (*id, g))).collect();
            for part in tags.chunks(5000) {
                let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_tags (tag, ticket_id) ");
                qb.push_values(part, |mut b, (id, tag)| {
                    b.push_bind((*tag).clone()).push_bind(*id);
                });
                qb.build().execute(&mut *tx).await?;
            }
            let values: Vec<(i64, &String, String)> = ids
                .iter()
                .flat_map(|(id, t)| {
                    t.custom_fields
                        .iter()
                        .flat_map(move |(k, v)| field_value_texts(v).into_iter().map(move |x| (*id, k, x)))
                })
                .collect();
            for part in values.chunks(5000) {
                let mut qb = QueryBuilder::<Db>::new("INSERT INTO ticket_field_values (ticket_id, field_key, value) ");
                qb.push_values(part, |mut b, (id, k, v)| {
                    b.push_bind(*id).push_bind((*k).clone()).push_bind(v.clone());
                });
                qb.build().execute(&mut *tx).await?;
            }
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO ticket_events (ticket_id, actor_id, via, kind, field, old_value, new_value, created_at) ",
            );
            qb.push_values(&ids, |mut b, (id, t)| {
                b.push_bind(*id)
                    .push_bind(t.requester_id.0)
                    .push_bind(via.as_str())
                    .push_bind(EventKind::Created.as_str())
                    .push_bind(None::<String>)
                    .push_bind(None::<String>)
                    .push_bind(Some(t.status.key.clone()))
                    .push_bind(ts(t.created_at));
            });
            qb.build().execute(&mut *tx).await?;

            let base = chunk_no * TICKETS_PER_STATEMENT;
            let rows: Vec<(i64, &NewComment, i64)> = ids
                .iter()
                .enumerate()
                .flat_map(|(i, (id, t))| {
                    let at = ts(t.created_at);
                    comments
                        .get(base + i)
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(move |(n, c)| (*id, c, at + n as i64 * 60_000_000))
                })
                .collect();
            for part in rows.chunks(2000) {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO comments (ticket_id, author_id, public, body, html_body, via, created_at) ",
                );
                qb.push_values(part, |mut b, (id, c, at)| {
                    b.push_bind(*id)
                        .push_bind(c.author_id.0)
                        .push_bind(c.public)
                        .push_bind(c.body.clone())
                        .push_bind(c.html_body.clone())
                        .push_bind(via.as_str())
                        .push_bind(*at);
                });
                qb.build().execute(&mut *tx).await?;
            }
            id += chunk.len() as i64;
        }
        if let Some(sql) = RESEED_TICKETS {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl PeopleStore for SqlStore {
    async fn insert_user(
        &self,
        u: &User,
        password_hash: Option<&str>,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<User> {
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (role, name, email, external_id, organization_id, language, time_zone, vip_level, skills, \
             languages, restricted_to_groups, custom_fields, password_hash, active, created_at, updated_at, availability, \
             capacity, account_manager_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id",
        )
        .bind(u.role.as_str())
        .bind(&u.name)
        .bind(u.email.as_deref())
        .bind(u.external_id.as_deref())
        .bind(u.organization_id.map(|o| o.0))
        .bind(u.language.as_str())
        .bind(&u.time_zone)
        .bind(u.vip_level)
        .bind(to_json(&u.skills)?)
        .bind(to_json(&u.languages)?)
        .bind(u.restricted_to_groups)
        .bind(to_json(&u.custom_fields)?)
        .bind(password_hash)
        .bind(u.active)
        .bind(ts(u.created_at))
        .bind(ts(u.updated_at))
        .bind(u.availability.as_str())
        .bind(u.capacity)
        .bind(u.account_manager_id.map(|a| a.0))
        .fetch_one(&mut *tx)
        .await?;
        let saved = User { id: UserId(id), ..u.clone() };
        Self::write_user_children(&mut tx, &saved, true).await?;
        if let Some(c) = claim {
            Self::insert_claim(&mut tx, c, "user", id, u.created_at).await?;
        }
        tx.commit().await?;
        Ok(saved)
    }

    async fn update_user(&self, u: &User) -> Result<User> {
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        let done = sqlx::query(
            "UPDATE users SET role = $1, name = $2, email = $3, external_id = $4, organization_id = $5, language = $6, \
             time_zone = $7, vip_level = $8, skills = $9, languages = $10, restricted_to_groups = $11, custom_fields = $12, \
             active = $13, updated_at = $14, availability = $15, capacity = $16, account_manager_id = $17 WHERE id = $18",
        )
        .bind(u.role.as_str())
        .bind(&u.name)
        .bind(u.email.as_deref())
        .bind(u.external_id.as_deref())
        .bind(u.organization_id.map(|o| o.0))
        .bind(u.language.as_str())
        .bind(&u.time_zone)
        .bind(u.vip_level)
        .bind(to_json(&u.skills)?)
        .bind(to_json(&u.languages)?)
        .bind(u.restricted_to_groups)
        .bind(to_json(&u.custom_fields)?)
        .bind(u.active)
        .bind(ts(u.updated_at))
        .bind(u.availability.as_str())
        .bind(u.capacity)
        .bind(u.account_manager_id.map(|a| a.0))
        .bind(u.id.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Self::write_user_children(&mut tx, u, false).await?;
        tx.commit().await?;
        Ok(u.clone())
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(AssertSqlSafe(format!("SELECT {USER_COLS} FROM users WHERE id = $1")))
            .bind(id.0)
            .fetch_all(&self.read)
            .await?;
        Ok(self.hydrate_users(rows).await?.pop())
    }

    async fn user_brief(&self, id: UserId) -> Result<Option<UserBrief>> {
        let row: Option<BriefRow> = sqlx::query_as("SELECT id, role, organization_id, active FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?;
        row.map(brief_from_row).transpose()
    }

    async fn user_brief_by_identity(&self, kind: IdentityKind, value: &str) -> Result<Option<UserBrief>> {
        let row: Option<BriefRow> = sqlx::query_as(
            "SELECT u.id, u.role, u.organization_id, u.active FROM user_identities i \
             JOIN users u ON u.id = i.user_id WHERE i.kind = $1 AND i.value = $2",
        )
        .bind(kind.as_str())
        .bind(value)
        .fetch_optional(&self.read)
        .await?;
        row.map(brief_from_row).transpose()
    }

    async fn user_labels(&self, ids: &[UserId]) -> Result<Vec<UserLabel>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut qb = QueryBuilder::<Db>::new("SELECT id, name, email, role FROM users WHERE id IN ");
        push_list(&mut qb, ids.iter().map(|i| i.0));
        let rows: Vec<(i64, String, Option<String>, String)> = qb.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter()
            .map(|(id, name, email, role)| {
                Ok(UserLabel { id: UserId(id), name, email, role: Role::parse(&role, "role").map_err(corrupt)? })
            })
            .collect()
    }

    async fn find_user_by_identity(&self, kind: IdentityKind, value: &str) -> Result<Option<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {USER_COLS} FROM users WHERE id = (SELECT user_id FROM user_identities WHERE kind = $1 AND value = $2)"
        )))
        .bind(kind.as_str())
        .bind(value)
        .fetch_all(&self.read)
        .await?;
        Ok(self.hydrate_users(rows).await?.pop())
    }

    async fn list_users(&self, q: &UserQuery) -> Result<Vec<User>> {
        // User 0 is the system (the author of rule notes), never a person.
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {USER_COLS} FROM users u WHERE id > 0"));
        if let Some(r) = q.role {
            qb.push(" AND role = ").push_bind(r.as_str());
        }
        if q.staff {
            qb.push(" AND role <> 'customer'");
        }
        if let Some(o) = q.organization_id {
            qb.push(" AND organization_id = ").push_bind(o.0);
        }
        if let Some(g) = q.group_id {
            qb.push(" AND EXISTS (SELECT 1 FROM group_members m WHERE m.user_id = u.id AND m.group_id = ")
                .push_bind(g.0)
                .push(")");
        }
        if let Some(text) = &q.q {
            let pattern = like_pattern(text);
            qb.push(format!(" AND (name {LIKE} "))
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\' OR EXISTS (SELECT 1 FROM user_identities i WHERE i.user_id = u.id AND i.value ")
                .push(LIKE)
                .push(" ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'))");
        }
        if let Some(a) = q.after {
            qb.push(" AND id > ").push_bind(a.0);
        }
        qb.push(" ORDER BY id LIMIT ").push_bind(q.limit);
        let rows: Vec<UserRow> = qb.build_query_as().fetch_all(&self.read).await?;
        self.hydrate_users(rows).await
    }

    async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id > 0").fetch_one(&self.read).await?)
    }

    async fn password_hash(&self, id: UserId) -> Result<Option<String>> {
        let h: Option<Option<String>> = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?;
        Ok(h.flatten())
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id.0)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn insert_organization(&self, o: &Organization) -> Result<Organization> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO organizations (name, domains, shared_tickets, custom_fields, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&o.name)
        .bind(to_json(&o.domains)?)
        .bind(o.shared_tickets)
        .bind(to_json(&o.custom_fields)?)
        .bind(ts(o.created_at))
        .bind(ts(o.updated_at))
        .fetch_one(&self.write)
        .await?;
        Ok(Organization { id: OrganizationId(id), ..o.clone() })
    }

    async fn update_organization(&self, o: &Organization) -> Result<Organization> {
        let done = sqlx::query(
            "UPDATE organizations SET name = $1, domains = $2, shared_tickets = $3, custom_fields = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&o.name)
        .bind(to_json(&o.domains)?)
        .bind(o.shared_tickets)
        .bind(to_json(&o.custom_fields)?)
        .bind(ts(o.updated_at))
        .bind(o.id.0)
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(o.clone())
    }

    async fn get_organization(&self, id: OrganizationId) -> Result<Option<Organization>> {
        let row: Option<OrgRow> = sqlx::query_as(
            "SELECT id, name, domains, shared_tickets, custom_fields, created_at, updated_at FROM organizations WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?;
        row.map(Organization::try_from).transpose()
    }

    async fn delete_organization(&self, id: OrganizationId) -> Result<()> {
        let done = sqlx::query("DELETE FROM organizations WHERE id = $1").bind(id.0).execute(&self.write).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn list_organizations(
        &self,
        q: Option<&str>,
        after: Option<OrganizationId>,
        limit: i64,
    ) -> Result<Vec<Organization>> {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT id, name, domains, shared_tickets, custom_fields, created_at, updated_at FROM organizations WHERE id > ",
        );
        qb.push_bind(after.map(|a| a.0).unwrap_or(0));
        if let Some(text) = q.map(str::trim).filter(|t| !t.is_empty()) {
            qb.push(format!(" AND (name {LIKE} ")).push_bind(like_pattern(text)).push(" ESCAPE '\\')");
        }
        qb.push(" ORDER BY id LIMIT ").push_bind(limit);
        let rows: Vec<OrgRow> = qb.build_query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(Organization::try_from).collect()
    }

    async fn organization_for_domain(&self, domain: &str) -> Result<Option<Organization>> {
        // Domains are few per organisation and organisations few per desk; the JSON text
        // match narrows, the exact check below decides.
        let needle = format!("%\"{}\"%", domain.replace('%', "").replace('_', "\\_"));
        let rows: Vec<OrgRow> = sqlx::query_as(
            "SELECT id, name, domains, shared_tickets, custom_fields, created_at, updated_at FROM organizations \
             WHERE domains LIKE $1 ESCAPE '\\' ORDER BY id",
        )
        .bind(needle)
        .fetch_all(&self.read)
        .await?;
        for row in rows {
            let org = Organization::try_from(row)?;
            if org.domains.iter().any(|d| d == domain) {
                return Ok(Some(org));
            }
        }
        Ok(None)
    }

    async fn insert_group(&self, g: &Group) -> Result<Group> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO groups (name, tier, description, active, assignment, online_only, escalation_group_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&g.name)
        .bind(g.tier)
        .bind(&g.description)
        .bind(g.active)
        .bind(g.assignment.as_str())
        .bind(g.online_only)
        .bind(g.escalation_group_id.map(|e| e.0))
        .fetch_one(&self.write)
        .await?;
        Ok(Group { id: GroupId(id), ..g.clone() })
    }

    async fn update_group(&self, g: &Group) -> Result<Group> {
        let done = sqlx::query(
            "UPDATE groups SET name = $1, tier = $2, description = $3, active = $4, assignment = $5, online_only = $6, \
             escalation_group_id = $7 WHERE id = $8",
        )
        .bind(&g.name)
        .bind(g.tier)
        .bind(&g.description)
        .bind(g.active)
        .bind(g.assignment.as_str())
        .bind(g.online_only)
        .bind(g.escalation_group_id.map(|e| e.0))
        .bind(g.id.0)
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(g.clone())
    }

    async fn list_groups(&self) -> Result<Vec<Group>> {
        type Row = (i64, String, i64, String, bool, String, bool, Option<i64>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, name, tier, description, active, assignment, online_only, escalation_group_id FROM groups \
             ORDER BY tier, name",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, name, tier, description, active, assignment, online_only, escalation)| {
                Ok(Group {
                    id: GroupId(id),
                    name,
                    tier,
                    description,
                    active,
                    assignment: Assignment::parse(&assignment, "assignment").map_err(corrupt)?,
                    online_only,
                    escalation_group_id: escalation.map(GroupId),
                })
            })
            .collect()
    }
}

#[async_trait]
impl ConfigStore for SqlStore {
    async fn list_statuses(&self) -> Result<Vec<Status>> {
        type Row = (i64, String, String, String, String, bool, i64, bool);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, key, category, label_zh, label_en, is_default, position, active FROM statuses ORDER BY position, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, key, category, label_zh, label_en, is_default, position, active)| {
                Ok(Status {
                    id: StatusId(id),
                    key,
                    category: StatusCategory::parse(&category, "category").map_err(corrupt)?,
                    label_zh,
                    label_en,
                    is_default,
                    position,
                    active,
                })
            })
            .collect()
    }

    async fn save_status(&self, s: &Status) -> Result<Status> {
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        if s.is_default {
            sqlx::query("UPDATE statuses SET is_default = FALSE WHERE category = $1 AND id <> $2")
                .bind(s.category.as_str())
                .bind(s.id.0)
                .execute(&mut *tx)
                .await?;
        }
        let id = if s.id.0 == 0 {
            sqlx::query_scalar(
                "INSERT INTO statuses (key, category, label_zh, label_en, is_default, position, active) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&s.key)
            .bind(s.category.as_str())
            .bind(&s.label_zh)
            .bind(&s.label_en)
            .bind(s.is_default)
            .bind(s.position)
            .bind(s.active)
            .fetch_one(&mut *tx)
            .await?
        } else {
            // The key and category are fixed once tickets may carry the status.
            let done = sqlx::query("UPDATE statuses SET label_zh = $1, label_en = $2, is_default = $3, position = $4, active = $5 WHERE id = $6")
                .bind(&s.label_zh)
                .bind(&s.label_en)
                .bind(s.is_default)
                .bind(s.position)
                .bind(s.active)
                .bind(s.id.0)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            s.id.0
        };
        tx.commit().await?;
        Ok(Status { id: StatusId(id), ..s.clone() })
    }

    async fn list_categories(&self) -> Result<Vec<Category>> {
        type Row = (i64, Option<i64>, String, String, i64, Option<i64>, bool);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, parent_id, name_zh, name_en, position, form_id, active FROM categories ORDER BY position, id",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, parent, name_zh, name_en, position, form, active)| Category {
                id: CategoryId(id),
                parent_id: parent.map(CategoryId),
                name_zh,
                name_en,
                position,
                form_id: form.map(FormId),
                active,
            })
            .collect())
    }

    async fn save_category(&self, c: &Category) -> Result<Category> {
        let id = if c.id.0 == 0 {
            sqlx::query_scalar(
                "INSERT INTO categories (parent_id, name_zh, name_en, position, form_id, active) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(c.parent_id.map(|p| p.0))
            .bind(&c.name_zh)
            .bind(&c.name_en)
            .bind(c.position)
            .bind(c.form_id.map(|f| f.0))
            .bind(c.active)
            .fetch_one(&self.write)
            .await?
        } else {
            let done = sqlx::query(
                "UPDATE categories SET parent_id = $1, name_zh = $2, name_en = $3, position = $4, form_id = $5, active = $6 WHERE id = $7",
            )
            .bind(c.parent_id.map(|p| p.0))
            .bind(&c.name_zh)
            .bind(&c.name_en)
            .bind(c.position)
            .bind(c.form_id.map(|f| f.0))
            .bind(c.active)
            .bind(c.id.0)
            .execute(&self.write)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            c.id.0
        };
        Ok(Category { id: CategoryId(id), ..c.clone() })
    }

    async fn list_fields(&self) -> Result<Vec<CustomFieldDef>> {
        type Row = (i64, String, String, String, String, String, String, Option<String>, bool, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, scope, key, kind, label_zh, label_en, options, pattern, active, position FROM custom_fields ORDER BY position, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|(id, scope, key, kind, label_zh, label_en, options, pattern, active, position)| {
                Ok(CustomFieldDef {
                    id: FieldId(id),
                    scope: FieldScope::parse(&scope, "scope").map_err(corrupt)?,
                    key,
                    kind: FieldKind::parse(&kind, "kind").map_err(corrupt)?,
                    label_zh,
                    label_en,
                    options: json(&options)?,
                    pattern,
                    active,
                    position,
                })
            })
            .collect()
    }

    async fn save_field(&self, f: &CustomFieldDef) -> Result<CustomFieldDef> {
        let id = if f.id.0 == 0 {
            sqlx::query_scalar(
                "INSERT INTO custom_fields (scope, key, kind, label_zh, label_en, options, pattern, active, position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(f.scope.as_str())
            .bind(&f.key)
            .bind(f.kind.as_str())
            .bind(&f.label_zh)
            .bind(&f.label_en)
            .bind(to_json(&f.options)?)
            .bind(f.pattern.as_deref())
            .bind(f.active)
            .bind(f.position)
            .fetch_one(&self.write)
            .await?
        } else {
            // Scope, key and kind stay: stored values were validated against them.
            let done = sqlx::query(
                "UPDATE custom_fields SET label_zh = $1, label_en = $2, options = $3, pattern = $4, active = $5, position = $6 WHERE id = $7",
            )
            .bind(&f.label_zh)
            .bind(&f.label_en)
            .bind(to_json(&f.options)?)
            .bind(f.pattern.as_deref())
            .bind(f.active)
            .bind(f.position)
            .bind(f.id.0)
            .execute(&self.write)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            f.id.0
        };
        Ok(CustomFieldDef { id: FieldId(id), ..f.clone() })
    }

    async fn list_forms(&self) -> Result<Vec<Form>> {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, name, fields FROM forms ORDER BY id").fetch_all(&self.read).await?;
        rows.into_iter().map(|(id, name, fields)| Ok(Form { id: FormId(id), name, fields: json(&fields)? })).collect()
    }

    async fn save_form(&self, f: &Form) -> Result<Form> {
        let id = if f.id.0 == 0 {
            sqlx::query_scalar("INSERT INTO forms (name, fields) VALUES ($1, $2) RETURNING id")
                .bind(&f.name)
                .bind(to_json(&f.fields)?)
                .fetch_one(&self.write)
                .await?
        } else {
            let done = sqlx::query("UPDATE forms SET name = $1, fields = $2 WHERE id = $3")
                .bind(&f.name)
                .bind(to_json(&f.fields)?)
                .bind(f.id.0)
                .execute(&self.write)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            f.id.0
        };
        Ok(Form { id: FormId(id), ..f.clone() })
    }

    async fn delete_form(&self, id: FormId) -> Result<()> {
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        sqlx::query("UPDATE categories SET form_id = NULL WHERE form_id = $1").bind(id.0).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM forms WHERE id = $1").bind(id.0).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_settings(&self) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as("SELECT key, value FROM settings ORDER BY key").fetch_all(&self.read).await?)
    }

    async fn save_settings(&self, values: &[(String, String)]) -> Result<()> {
        let mut tx = self.write.begin_with(BEGIN_WRITE).await?;
        for (k, v) in values {
            sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl AuthStore for SqlStore {
    async fn insert_token(
        &self,
        user_id: UserId,
        name: &str,
        token_hash: &str,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<ApiToken> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id.0)
        .bind(name)
        .bind(token_hash)
        .bind(expires_at.map(ts))
        .bind(ts(now))
        .fetch_one(&self.write)
        .await?;
        Ok(ApiToken { id: TokenId(id), user_id, name: name.to_owned(), expires_at, revoked_at: None, created_at: now })
    }

    async fn list_tokens(&self, user_id: UserId) -> Result<Vec<ApiToken>> {
        let rows: Vec<TokenRow> =
            sqlx::query_as("SELECT id, user_id, name, expires_at, revoked_at, created_at FROM api_tokens WHERE user_id = $1 ORDER BY id")
                .bind(user_id.0)
                .fetch_all(&self.read)
                .await?;
        rows.into_iter().map(ApiToken::try_from).collect()
    }

    async fn revoke_token(&self, id: TokenId, now: Timestamp) -> Result<()> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(ts(now))
            .bind(id.0)
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT id, user_id, name, expires_at, revoked_at, created_at FROM api_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.map(ApiToken::try_from).transpose()
    }

    async fn get_token(&self, id: TokenId) -> Result<Option<ApiToken>> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT id, user_id, name, expires_at, revoked_at, created_at FROM api_tokens WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?;
        row.map(ApiToken::try_from).transpose()
    }

    async fn insert_session(
        &self,
        token_hash: &str,
        user_id: UserId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id.0)
            .bind(ts(expires_at))
            .bind(ts(now))
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn find_session(&self, token_hash: &str) -> Result<Option<(UserId, Timestamp)>> {
        let row: Option<(i64, i64)> = sqlx::query_as("SELECT user_id, expires_at FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.read)
            .await?;
        row.map(|(u, e)| Ok((UserId(u), from_ts(e)?))).transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.write).await?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: UserId, keep: Option<&str>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id.0)
            .bind(keep.unwrap_or(""))
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    async fn revoke_user_tokens(&self, user_id: UserId, now: Timestamp) -> Result<u64> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(ts(now))
            .bind(user_id.0)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }

    async fn find_idempotency(&self, user_id: UserId, key: &str) -> Result<Option<IdempotencyRecord>> {
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT request_hash, resource_kind, resource_id FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(user_id.0)
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|(request_hash, resource_kind, resource_id)| IdempotencyRecord {
            user_id,
            key: key.to_owned(),
            request_hash,
            resource_kind,
            resource_id,
        }))
    }
}

// The flow engine's tables and the parts of a write that rules add.
#[path = "sql_flow.rs"]
mod flow;
