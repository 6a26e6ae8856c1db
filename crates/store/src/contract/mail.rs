//! The email channel as stored: mailboxes, the Message-IDs of mail the desk took in or sent,
//! and quarantined mail with its raw source.

use async_trait::async_trait;
use gongdan_domain::ids::{CommentId, MailboxId, TicketId};
use gongdan_domain::mail::Mailbox;
use gongdan_domain::mail::reason::Reason;
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
    pub reasons: Vec<Reason>,
    /// `""` for received mail; `queued` for a reply the desk is to send.
    pub status: &'static str,
    /// The sender's address of received mail (the per-sender limit counts it); `""` for ours.
    pub sender: String,
}

/// A stored Message-ID and where it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    pub message_id: String,
    pub ticket_id: TicketId,
    pub comment_id: Option<CommentId>,
    pub mailbox_id: Option<MailboxId>,
    pub direction: String,
    pub reasons: Vec<Reason>,
    /// The delivery of the desk's own mail: `queued`, `retrying`, `sent`, `failed`,
    /// `partly_failed` (`""` for received mail), the server's last answer (or the bounce's
    /// why), and how often it was tried.
    pub status: String,
    pub detail: String,
    pub attempts: i64,
    pub sent_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// Whom the desk's own mail went to (known once the server took it), and whom of them a
    /// delivery report returned.
    pub recipients: Vec<String>,
    pub bounced: Vec<String>,
}

/// Where a mailbox's IMAP fetch stands: the folder's UIDVALIDITY and the last UID taken in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchPosition {
    pub uid_validity: i64,
    pub last_uid: i64,
}

/// Mail that could not be taken in, kept whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub id: i64,
    pub mailbox_id: Option<MailboxId>,
    pub message_id: String,
    pub sender: String,
    pub subject: String,
    pub reason: Reason,
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
    /// The messages these comments came from or went out as.
    async fn comments_mail(&self, comments: &[CommentId]) -> Result<Vec<MailMessage>>;
    /// A ticket's messages, oldest first.
    async fn ticket_mail(&self, ticket: TicketId) -> Result<Vec<MailMessage>>;
    /// Records a delivery attempt of the desk's own message (one more attempt); `recipients`
    /// are whom it went to (empty: unchanged).
    async fn set_delivery(
        &self,
        message_id: &str,
        status: &str,
        detail: &str,
        sent_at: Option<Timestamp>,
        recipients: &[String],
    ) -> Result<()>;
    /// Records what a delivery report said of the desk's message, if its bounced list is still
    /// `expected` (false otherwise: another report came in between; read it again).
    async fn mark_bounced(
        &self,
        message_id: &str,
        expected: &[String],
        bounced: &[String],
        status: &str,
        detail: &str,
    ) -> Result<bool>;
    /// How many messages from `sender` were taken in after `since`.
    async fn count_mail_from(&self, sender: &str, since: Timestamp) -> Result<i64>;
    /// Keeps the Message-ID of mail the desk sent on a ticket outside a comment (a
    /// notification), already sent, so that an answer to it finds the ticket.
    async fn record_sent_mail(
        &self,
        message_id: &str,
        ticket: TicketId,
        mailbox: MailboxId,
        reason: &Reason,
        at: Timestamp,
    ) -> Result<()>;
    async fn fetch_position(&self, mailbox: MailboxId) -> Result<FetchPosition>;
    async fn set_fetch_position(&self, mailbox: MailboxId, at: FetchPosition) -> Result<()>;
    /// The status line: when a fetch last ended and what last failed (`None`: nothing).
    async fn set_mailbox_status(
        &self,
        mailbox: MailboxId,
        fetched_at: Option<Timestamp>,
        error: Option<&str>,
    ) -> Result<()>;
    async fn quarantine(&self, q: &Quarantined, raw: &[u8]) -> Result<Quarantined>;
    /// Newest first.
    async fn list_quarantine(&self, limit: i64) -> Result<Vec<Quarantined>>;
    async fn quarantined_raw(&self, id: i64) -> Result<Option<(Quarantined, Vec<u8>)>>;
    async fn delete_quarantined(&self, id: i64) -> Result<()>;
}
