//! Tickets, their conversation (comments, events, links) and listings.

use async_trait::async_trait;
use gongdan_domain::conversation::{Comment, Event, Link};
use gongdan_domain::event::Via;
use gongdan_domain::ids::{CommentId, EventId, LinkId, TicketId};
use gongdan_domain::page::Page;
use gongdan_domain::tickets::{Ticket, TicketQuery};

use super::Result;
use crate::batch::{NewComment, WriteBatch, WriteResult};

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
    /// Bulk path for seeding and benchmarks: plain inserts of tickets (ids assigned) each with
    /// its comments, in large transactions, skipping per-row events other than `created`.
    async fn bulk_import(&self, tickets: &[Ticket], comments: &[Vec<NewComment>], via: Via) -> Result<()>;
}
