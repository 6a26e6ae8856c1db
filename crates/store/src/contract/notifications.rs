//! Webhooks and in-app notifications.

use async_trait::async_trait;
use gongdan_domain::ids::{TicketId, UserId};
use gongdan_domain::notifications::{NotificationTemplate, Texts};
use gongdan_domain::rules::Recipient;
use jiff::Timestamp;

use super::{Result, TicketRef};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// The HMAC key for the signature header.
    pub secret: String,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How often a webhook delivery is tried at most.
pub const WEBHOOK_ATTEMPTS: i64 = 8;
/// The job kind of a webhook call; its payload is `{webhook_id, rule, event, ticket_id}`
/// (`ticket_id` filled in when the batch's ticket has its id), read by the core's delivery.
pub const WEBHOOK_JOB: &str = "webhook";

/// A notification to write with a ticket change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub to: Recipient,
    pub ticket: Option<TicketRef>,
    pub rule: Option<String>,
    /// Each person notified gets the text in their own language.
    pub texts: Texts,
    /// Delivered by mail too (the `mail.notify` job sends it).
    pub mail: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub user_id: UserId,
    pub ticket_id: Option<TicketId>,
    pub rule: Option<String>,
    pub subject: String,
    pub body: String,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}

#[async_trait]
pub trait NotificationStore: Send + Sync {
    async fn list_webhooks(&self) -> Result<Vec<WebhookRow>>;
    async fn save_webhook(&self, w: &WebhookRow) -> Result<WebhookRow>;
    async fn delete_webhook(&self, id: i64) -> Result<()>;

    async fn list_notification_templates(&self) -> Result<Vec<NotificationTemplate>>;
    async fn save_notification_template(&self, t: &NotificationTemplate) -> Result<NotificationTemplate>;
    async fn delete_notification_template(&self, id: i64) -> Result<()>;

    /// A user's notifications, newest first, before `before` (an id) when given.
    async fn list_notifications(
        &self,
        user: UserId,
        unread_only: bool,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Notification>>;
    async fn count_unread(&self, user: UserId) -> Result<i64>;
    /// Notifications due to be mailed (waiting, or a claim that ran out), longest-due first.
    async fn notifications_to_mail(&self, limit: i64, now: Timestamp) -> Result<Vec<Notification>>;
    /// When the next waiting notification's mail is due (after `now`), if one waits.
    async fn next_notification_mail(&self, now: Timestamp) -> Result<Option<Timestamp>>;
    /// Takes one to mail until `until` (`sending`): its tries so far, this one counted, or
    /// `None` when another worker holds it.
    async fn claim_notification_mail(&self, id: i64, now: Timestamp, until: Timestamp) -> Result<Option<i64>>;
    /// Records how mailing one went: `sent`, `failed: …`, or `pending` to try again at `retry_at`.
    async fn set_notification_mail(&self, id: i64, state: &str, retry_at: Option<Timestamp>) -> Result<()>;
    /// Marks these (or, with none, all) of a user's notifications read.
    async fn mark_read(&self, user: UserId, ids: &[i64], at: Timestamp) -> Result<()>;
}
