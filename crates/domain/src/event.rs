//! Every change to a ticket is an event: the audit trail, the timeline and (later) the source
//! of reports.

use serde::{Deserialize, Serialize};

use crate::str_enum;
use crate::tickets::FieldChange;

str_enum!(
    /// How a change reached the ticket.
    Via { Web = "web", Api = "api", Email = "email", Rule = "rule", System = "system" }
);
str_enum!(
    /// What happened. `escalated` and `transferred` carry the reason in `new` (the group change
    /// is its own event); `notified` names whom, `webhook_queued` which webhook, and
    /// `rule_error` what a rule could not do (or that a chain of rules was cut off).
    EventKind {
        Created = "created",
        FieldChanged = "field_changed",
        CommentAdded = "comment_added",
        Merged = "merged",
        MergedInto = "merged_into",
        Linked = "linked",
        Unlinked = "unlinked",
        FollowUp = "follow_up",
        Escalated = "escalated",
        Transferred = "transferred",
        Notified = "notified",
        WebhookQueued = "webhook_queued",
        RuleError = "rule_error",
    }
);

/// An event before it is stored; the actor, via and time come with the write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub kind: EventKind,
    pub field: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
    /// The rule that made this change (its via is then `rule`).
    #[serde(default)]
    pub rule: Option<String>,
}

impl NewEvent {
    pub fn plain(kind: EventKind, detail: Option<String>) -> Self {
        NewEvent { kind, field: None, old: None, new: detail, rule: None }
    }

    pub fn field(kind: EventKind, field: &str, old: Option<String>, new: Option<String>) -> Self {
        NewEvent { kind, field: Some(field.to_owned()), old, new, rule: None }
    }

    /// The same event, made by a rule.
    pub fn by_rule(mut self, rule: &str) -> Self {
        self.rule = Some(rule.to_owned());
        self
    }

    /// How this event reached the ticket, given how its write did.
    pub fn via(&self, write: Via) -> Via {
        if self.rule.is_some() { Via::Rule } else { write }
    }
}

impl From<FieldChange> for NewEvent {
    fn from(c: FieldChange) -> Self {
        NewEvent { kind: EventKind::FieldChanged, field: Some(c.field), old: c.old, new: c.new, rule: None }
    }
}

/// Whether a customer may see this event on their request's timeline: its life (created,
/// status, replies, merges), never internal assignments, tags or notes.
pub fn customer_visible(kind: EventKind, field: Option<&str>, public_comment: bool) -> bool {
    match kind {
        EventKind::Created | EventKind::Merged | EventKind::MergedInto | EventKind::FollowUp => true,
        EventKind::FieldChanged => field == Some("status"),
        EventKind::CommentAdded => public_comment,
        EventKind::Linked
        | EventKind::Unlinked
        | EventKind::Escalated
        | EventKind::Transferred
        | EventKind::Notified
        | EventKind::WebhookQueued
        | EventKind::RuleError => false,
    }
}
