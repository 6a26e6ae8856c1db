//! The storage contract: one narrow trait per capability (a file each), bundled as [`Store`].

use async_trait::async_trait;

use crate::StoreError;
pub use crate::batch::*;
pub use gongdan_domain::page::Page;
pub use gongdan_domain::people::UserQuery;
pub use gongdan_domain::tickets::{TicketQuery, TicketSort, VIEW_COUNT_CAP};

pub(crate) mod auth;
pub(crate) mod config;
pub(crate) mod files;
pub(crate) mod jobs;
pub(crate) mod macros;
pub(crate) mod mail;
pub(crate) mod notifications;
pub(crate) mod people;
pub(crate) mod rules;
pub(crate) mod sla;
pub(crate) mod tickets;
pub(crate) mod verification;
pub(crate) mod views;

pub use auth::*;
pub use config::*;
pub use files::*;
pub use jobs::*;
pub use macros::*;
pub use mail::*;
pub use notifications::*;
pub use people::*;
pub use rules::*;
pub use sla::*;
pub use tickets::*;
pub use verification::*;
pub use views::*;

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[async_trait]
pub trait Store:
    PeopleStore
    + ConfigStore
    + AuthStore
    + TicketStore
    + FileStore
    + RuleStore
    + MacroStore
    + ViewStore
    + NotificationStore
    + JobStore
    + MailStore
    + VerificationStore
    + SlaStore
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
