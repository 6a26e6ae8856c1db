//! The email channel as stored: mailboxes, the Message-IDs of mail the desk took in or sent,
//! and quarantined mail with its raw source.

use async_trait::async_trait;
use gongdan_domain::ids::{CommentId, MailboxId, TicketId};
use gongdan_domain::mail::Mailbox;
use jiff::Timestamp;

use super::Result;

/// A message stored with the comment it became (`WriteBatch::mail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    pub message_id: String,
    pub mailbox_id: Option<MailboxId>,
    /// `in` or `out`.
    pub direction: &'static str,
    /// Why it went where it went.
    pub reasons: Vec<String>,
}

/// A stored Message-ID and where it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    pub message_id: String,
    pub ticket_id: TicketId,
    pub comment_id: Option<CommentId>,
    pub mailbox_id: Option<MailboxId>,
    pub direction: String,
    pub reasons: Vec<String>,
    pub created_at: Timestamp,
}

/// Mail that could not be taken in, kept whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub id: i64,
    pub mailbox_id: Option<MailboxId>,
    pub message_id: String,
    pub sender: String,
    pub subject: String,
    pub reason: String,
    /// Its size in bytes (the raw source is read on its own).
    pub size: i64,
    pub received_at: Timestamp,
}

#[async_trait]
pub trait MailStore: Send + Sync {
    async fn list_mailboxes(&self) -> Result<Vec<Mailbox>>;
    /// Inserts when `id` is 0; a taken address is `Duplicate { what: "address" }`.
    async fn save_mailbox(&self, m: &Mailbox) -> Result<Mailbox>;
    async fn delete_mailbox(&self, id: MailboxId) -> Result<()>;
    /// The stored messages among `ids`, in no particular order.
    async fn mail_messages(&self, ids: &[&str]) -> Result<Vec<MailMessage>>;
    /// The messages a comment came from or went out as.
    async fn comment_mail(&self, comment: CommentId) -> Result<Option<MailMessage>>;
    async fn quarantine(&self, q: &Quarantined, raw: &[u8]) -> Result<Quarantined>;
    /// Newest first.
    async fn list_quarantine(&self, limit: i64) -> Result<Vec<Quarantined>>;
    async fn quarantined_raw(&self, id: i64) -> Result<Option<(Quarantined, Vec<u8>)>>;
    async fn delete_quarantined(&self, id: i64) -> Result<()>;
}
