//! The storage contract: narrow traits per aggregate, bundled as [`Store`].

use async_trait::async_trait;
use gongdan_domain::access::TicketScope;
use gongdan_domain::category::Category;
use gongdan_domain::conversation::{Attachment, Comment, Event, Link, LinkKind};
use gongdan_domain::event::{NewEvent, Via};
use gongdan_domain::fields::{CustomFieldDef, Form};
use gongdan_domain::ids::*;
use gongdan_domain::page::Cursor;
use gongdan_domain::people::{Group, IdentityKind, Organization, User};
use gongdan_domain::ticket::{Channel, Priority, Status, StatusCategory, Ticket};
use jiff::Timestamp;

use crate::StoreError;
use crate::flow::*;

pub type Result<T> = std::result::Result<T, StoreError>;

/// View totals the counters cannot answer stop at this (more reads as one more).
pub const VIEW_COUNT_CAP: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A page of a keyset listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Cursor>,
    pub total: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketSort {
    UpdatedDesc,
    UpdatedAsc,
    CreatedDesc,
    CreatedAsc,
    PriorityDesc,
    DueAsc,
}

impl TicketSort {
    pub const ALL: [(&'static str, TicketSort); 6] = [
        ("-updated_at", TicketSort::UpdatedDesc),
        ("updated_at", TicketSort::UpdatedAsc),
        ("-created_at", TicketSort::CreatedDesc),
        ("created_at", TicketSort::CreatedAsc),
        ("-priority", TicketSort::PriorityDesc),
        ("due_at", TicketSort::DueAsc),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, s)| *s == self).map(|(n, _)| *n).unwrap_or("-updated_at")
    }
}

/// How much one user may have uploaded and not yet attached.
#[derive(Debug, Clone, Copy)]
pub struct UploadQuota {
    pub since: Timestamp,
    pub files: i64,
    pub bytes: i64,
}

/// A ticket listing: every filter is optional; `scope` always applies.
#[derive(Debug, Clone)]
pub struct TicketQuery {
    pub scope: TicketScope,
    pub status_categories: Vec<StatusCategory>,
    pub status_ids: Vec<StatusId>,
    /// `Some(None)`: unassigned tickets.
    pub assignee: Option<Option<UserId>>,
    pub group_ids: Vec<GroupId>,
    pub requester_id: Option<UserId>,
    pub organization_id: Option<OrganizationId>,
    pub tag: Option<String>,
    /// Already expanded to the subtree by the caller.
    pub category_ids: Vec<CategoryId>,
    pub priorities: Vec<Priority>,
    pub channels: Vec<Channel>,
    /// (field key, value as text)
    pub custom_field: Option<(String, String)>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    pub updated_after: Option<Timestamp>,
    pub updated_before: Option<Timestamp>,
    pub include_merged: bool,
    pub sort: TicketSort,
    pub cursor: Option<Cursor>,
    pub limit: i64,
    pub with_total: bool,
}

impl TicketQuery {
    /// Whether this listing's total is summed from the queue counters (exact, however long
    /// the queue): its filters (and the caller's scope) involve only status, group and
    /// assignee. Other totals are counted, views' up to `VIEW_COUNT_CAP`.
    pub fn total_from_counters(&self) -> bool {
        !matches!(self.scope, TicketScope::Requester { .. })
        && self.requester_id.is_none()
        && self.organization_id.is_none()
        && self.tag.is_none()
        && self.category_ids.is_empty()
        && self.priorities.is_empty()
        && self.channels.is_empty()
        && self.custom_field.is_none()
        && self.created_after.is_none()
        && self.created_before.is_none()
        && self.updated_after.is_none()
        && self.updated_before.is_none()
        && self.include_merged
        // Counters file "none" under 0, so an id of 0 or less must be counted for real.
        && self.group_ids.iter().all(|g| g.0 > 0)
        && !matches!(self.assignee, Some(Some(a)) if a.0 <= 0)
        && !matches!(&self.scope, TicketScope::Groups { groups, assignee } if assignee.0 <= 0 || groups.iter().any(|g| g.0 <= 0))
    }

    pub fn new(scope: TicketScope) -> Self {
        TicketQuery {
            scope,
            status_categories: vec![],
            status_ids: vec![],
            assignee: None,
            group_ids: vec![],
            requester_id: None,
            organization_id: None,
            tag: None,
            category_ids: vec![],
            priorities: vec![],
            channels: vec![],
            custom_field: None,
            created_after: None,
            created_before: None,
            updated_after: None,
            updated_before: None,
            include_merged: true,
            sort: TicketSort::UpdatedDesc,
            cursor: None,
            limit: 50,
            with_total: true,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub role: Option<gongdan_domain::access::Role>,
    /// Staff only (admins, supervisors, agents).
    pub staff: bool,
    pub organization_id: Option<OrganizationId>,
    pub group_id: Option<GroupId>,
    /// Matches name or email.
    pub q: Option<String>,
    pub after: Option<UserId>,
    pub limit: i64,
}

/// A comment to add in a write.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub author_id: UserId,
    pub public: bool,
    pub body: String,
    pub html_body: String,
    /// Uploaded by the author and not yet attached anywhere.
    pub attachment_ids: Vec<AttachmentId>,
}

impl NewComment {
    /// The comment as stored under `id` (attachments are added by whoever binds them).
    pub fn written(&self, id: CommentId, ticket: TicketId, via: Via, at: Timestamp) -> Comment {
        Comment {
            id,
            ticket_id: ticket,
            author_id: self.author_id,
            public: self.public,
            body: self.body.clone(),
            html_body: self.html_body.clone(),
            via,
            attachments: vec![],
            created_at: at,
        }
    }
}

/// Refers to a ticket already stored or to one inserted earlier in the same batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketRef {
    Id(TicketId),
    Batch(usize),
}

/// One ticket's part of a write: its new state plus what to record with it.
#[derive(Debug, Clone)]
pub struct TicketWrite {
    pub ticket: Ticket,
    /// `None` inserts (the id is assigned); `Some(v)` updates only if the stored version is `v`.
    pub expected_version: Option<i64>,
    pub comment: Option<NewComment>,
    pub events: Vec<NewEvent>,
}

#[derive(Debug, Clone)]
pub struct NewLink {
    pub source: TicketRef,
    pub target: TicketRef,
    pub kind: LinkKind,
}

/// The first request that used an idempotency key, so a retry returns its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub user_id: UserId,
    pub key: String,
    pub request_hash: String,
    /// `ticket`, `comment`, `user` …
    pub resource_kind: String,
    pub resource_id: i64,
}

/// Claims an idempotency key for the resource this batch creates.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    pub user_id: UserId,
    pub key: String,
    pub request_hash: String,
    pub resource: ClaimedResource,
}

#[derive(Debug, Clone, Copy)]
pub enum ClaimedResource {
    Ticket(usize),
    Comment(usize),
    /// The user an `insert_user` creates.
    User,
}

/// Everything one user action changes, written in one transaction: the tickets with their
/// comments and events, and what the rules that ran on the first ticket did besides.
#[derive(Debug, Clone)]
pub struct WriteBatch {
    pub actor: Option<UserId>,
    pub via: Via,
    pub at: Timestamp,
    pub writes: Vec<TicketWrite>,
    pub links: Vec<NewLink>,
    pub unlinks: Vec<LinkId>,
    pub idempotency: Option<IdempotencyClaim>,
    /// Rules to run inside the transaction over the first ticket (see [`FlowRun`]).
    pub flow: Option<Box<FlowRun>>,
    /// Internal notes rules wrote on the first ticket.
    pub notes: Vec<NewComment>,
    pub notices: Vec<NewNotification>,
    pub jobs: Vec<NewJob>,
    /// Automations that fired on the first ticket (the ledger keeps them from firing twice).
    pub firings: Vec<Firing>,
    /// An automatic assignment made by the rules: (group, agent), for the group's turn order.
    pub assigned: Option<(GroupId, UserId)>,
}

impl Default for WriteBatch {
    fn default() -> Self {
        WriteBatch {
            actor: None,
            via: Via::System,
            at: Timestamp::UNIX_EPOCH,
            writes: vec![],
            links: vec![],
            unlinks: vec![],
            idempotency: None,
            flow: None,
            notes: vec![],
            notices: vec![],
            jobs: vec![],
            firings: vec![],
            assigned: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct WriteResult {
    /// The tickets as written, in the order of `writes`.
    pub tickets: Vec<Ticket>,
    /// The comment each write added, if any.
    pub comments: Vec<Option<Comment>>,
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// What a page shows of a person it names (an assignee, an author, a requester).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLabel {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    pub role: gongdan_domain::access::Role,
}

/// The few facts about a user that writing a ticket needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserBrief {
    pub id: UserId,
    pub role: gongdan_domain::access::Role,
    pub organization_id: Option<OrganizationId>,
    pub active: bool,
}

impl From<&User> for UserBrief {
    fn from(u: &User) -> Self {
        UserBrief { id: u.id, role: u.role, organization_id: u.organization_id, active: u.active }
    }
}

#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// Inserts a user with its identities and group memberships; `id` is ignored.
    /// With a claim, the idempotency key is recorded in the same transaction.
    async fn insert_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<User>;
    /// Replaces a user's fields, identities and groups.
    async fn update_user(&self, user: &User) -> Result<User>;
    async fn get_user(&self, id: UserId) -> Result<Option<User>>;
    /// One row, no identities or groups: for hot paths that only need to know who.
    async fn user_brief(&self, id: UserId) -> Result<Option<UserBrief>>;
    /// Names and emails of these users, in one query (unknown ids are left out).
    async fn user_labels(&self, ids: &[UserId]) -> Result<Vec<UserLabel>>;
    async fn find_user_by_identity(&self, kind: IdentityKind, value: &str) -> Result<Option<User>>;
    /// The brief of the user with this identity, in one query: how a create finds its requester.
    async fn user_brief_by_identity(&self, kind: IdentityKind, value: &str) -> Result<Option<UserBrief>>;
    async fn list_users(&self, q: &UserQuery) -> Result<Vec<User>>;
    async fn count_users(&self) -> Result<i64>;
    async fn password_hash(&self, id: UserId) -> Result<Option<String>>;
    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<()>;

    async fn insert_organization(&self, org: &Organization) -> Result<Organization>;
    async fn update_organization(&self, org: &Organization) -> Result<Organization>;
    async fn get_organization(&self, id: OrganizationId) -> Result<Option<Organization>>;
    /// Fails with `InUse` while users or tickets refer to it.
    async fn delete_organization(&self, id: OrganizationId) -> Result<()>;
    /// Organisations by id; `q` matches the name.
    async fn list_organizations(
        &self,
        q: Option<&str>,
        after: Option<OrganizationId>,
        limit: i64,
    ) -> Result<Vec<Organization>>;
    /// The organisation that claims an email domain, if any.
    async fn organization_for_domain(&self, domain: &str) -> Result<Option<Organization>>;

    async fn insert_group(&self, group: &Group) -> Result<Group>;
    async fn update_group(&self, group: &Group) -> Result<Group>;
    async fn list_groups(&self) -> Result<Vec<Group>>;
}

/// Admin configuration: small tables, read whole.
#[async_trait]
pub trait ConfigStore: Send + Sync {
    async fn list_statuses(&self) -> Result<Vec<Status>>;
    /// Inserts (id 0) or updates a status; keeps one default per category.
    async fn save_status(&self, status: &Status) -> Result<Status>;
    async fn list_categories(&self) -> Result<Vec<Category>>;
    async fn save_category(&self, category: &Category) -> Result<Category>;
    async fn list_fields(&self) -> Result<Vec<CustomFieldDef>>;
    async fn save_field(&self, field: &CustomFieldDef) -> Result<CustomFieldDef>;
    async fn list_forms(&self) -> Result<Vec<Form>>;
    async fn save_form(&self, form: &Form) -> Result<Form>;
    /// Deletes a form; categories using it fall back to their parent's.
    async fn delete_form(&self, id: FormId) -> Result<()>;
    /// Desk settings as (key, JSON value).
    async fn list_settings(&self) -> Result<Vec<(String, String)>>;
    /// Writes these settings in one transaction (others are kept).
    async fn save_settings(&self, values: &[(String, String)]) -> Result<()>;
}

#[async_trait]
pub trait AuthStore: Send + Sync {
    async fn insert_token(
        &self,
        user_id: UserId,
        name: &str,
        token_hash: &str,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<ApiToken>;
    async fn list_tokens(&self, user_id: UserId) -> Result<Vec<ApiToken>>;
    async fn revoke_token(&self, id: TokenId, now: Timestamp) -> Result<()>;
    /// A token by hash, revoked or not; the caller checks revocation and expiry.
    async fn find_token(&self, token_hash: &str) -> Result<Option<ApiToken>>;
    async fn get_token(&self, id: TokenId) -> Result<Option<ApiToken>>;
    async fn insert_session(
        &self,
        token_hash: &str,
        user_id: UserId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<()>;
    /// The user and expiry of a session.
    async fn find_session(&self, token_hash: &str) -> Result<Option<(UserId, Timestamp)>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Ends every session of a user but the one hashed as `keep`; returns how many ended.
    async fn delete_user_sessions(&self, user_id: UserId, keep: Option<&str>) -> Result<u64>;
    /// Revokes every live token of a user; returns how many.
    async fn revoke_user_tokens(&self, user_id: UserId, now: Timestamp) -> Result<u64>;
    async fn find_idempotency(&self, user_id: UserId, key: &str) -> Result<Option<IdempotencyRecord>>;
}

#[async_trait]
pub trait TicketStore: Send + Sync {
    /// Writes a batch atomically; fails with `VersionConflict` (nothing written) when any
    /// update's expected version is stale, and with `IdempotencyReplay` when its key was used.
    async fn write(&self, batch: WriteBatch) -> Result<WriteResult>;
    async fn get_ticket(&self, id: TicketId) -> Result<Option<Ticket>>;
    async fn list_tickets(&self, q: &TicketQuery) -> Result<Page<Ticket>>;
    /// The totals of several listings at once (a workspace's views): those the queue counters
    /// answer in one pass over the counters, any other by counting, up to 10,000 (more reads
    /// as 10,001). Scopes, cursors and limits
    /// are as in `list_tickets` (cursors and limits do not matter to a total).
    async fn count_tickets(&self, queries: &[TicketQuery]) -> Result<Vec<i64>>;
    /// Children (through parent links) that are not solved or closed.
    async fn open_children(&self, id: TicketId) -> Result<usize>;
    /// Tickets above this one through parent links, nearest first.
    async fn parent_chain(&self, id: TicketId) -> Result<Vec<TicketId>>;
    /// Tickets that were merged into this one.
    async fn merged_into(&self, id: TicketId) -> Result<Vec<TicketId>>;
    async fn list_comments(
        &self,
        tickets: &[TicketId],
        include_internal: bool,
        after: Option<CommentId>,
        limit: i64,
    ) -> Result<Vec<Comment>>;
    async fn get_comment(&self, id: CommentId) -> Result<Option<Comment>>;
    async fn list_events(&self, ticket: TicketId, after: Option<EventId>, limit: i64) -> Result<Vec<Event>>;
    async fn list_links(&self, ticket: TicketId) -> Result<Vec<Link>>;
    async fn get_link(&self, id: LinkId) -> Result<Option<Link>>;
    /// Stores an upload unless its uploader's unattached uploads since `quota.since` would then
    /// exceed the quota (`None`), checked in the same statement as the insert.
    async fn insert_attachment(&self, a: &Attachment, quota: &UploadQuota) -> Result<Option<Attachment>>;
    /// Whether one more upload of `size` bytes fits the uploader's quota now (read before the
    /// file is written; `insert_attachment` checks again).
    async fn upload_fits(&self, user: UserId, size: i64, quota: &UploadQuota) -> Result<bool>;
    async fn get_attachment(&self, id: AttachmentId) -> Result<Option<(Attachment, Option<TicketId>)>>;
    /// Bulk path for seeding and benchmarks: plain inserts of tickets (ids assigned) each with
    /// its comments, in large transactions, skipping per-row events other than `created`.
    async fn bulk_import(&self, tickets: &[Ticket], comments: &[Vec<NewComment>], via: Via) -> Result<()>;
}

#[async_trait]
pub trait Store:
    PeopleStore + ConfigStore + AuthStore + TicketStore + RuleStore + NotificationStore + JobStore
{
    fn backend(&self) -> Backend;
    async fn migrate(&self) -> Result<()>;
    /// Refreshes planner statistics (and on PostgreSQL the visibility map, which index-only
    /// counts need) — after a bulk load, or from a maintenance job.
    async fn optimize(&self) -> Result<()>;
    /// Moves SQLite's write-ahead log into the database and empties it, if no reader holds an
    /// older snapshot right now; returns whether it did. A server calls it every few seconds so
    /// the log stays small; PostgreSQL checkpoints by itself (always `true`).
    async fn checkpoint(&self) -> Result<bool>;
    async fn ping(&self) -> Result<()>;
}
