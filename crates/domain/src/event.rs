//! Every change to a ticket is an event: the audit trail, the timeline and (later) the source
//! of reports.

use serde::{Deserialize, Serialize};

use crate::str_enum;
use crate::ticket::FieldChange;

str_enum!(
    /// How a change reached the ticket.
    Via { Web = "web", Api = "api", Email = "email", Rule = "rule", System = "system" }
);
str_enum!(
    EventKind {
        Created = "created",
        FieldChanged = "field_changed",
        CommentAdded = "comment_added",
        Merged = "merged",
        MergedInto = "merged_into",
        Linked = "linked",
        Unlinked = "unlinked",
        FollowUp = "follow_up",
    }
);

/// An event before it is stored; the actor, via and time come with the write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub kind: EventKind,
    pub field: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl NewEvent {
    pub fn plain(kind: EventKind, detail: Option<String>) -> Self {
        NewEvent { kind, field: None, old: None, new: detail }
    }
}

impl From<FieldChange> for NewEvent {
    fn from(c: FieldChange) -> Self {
        NewEvent { kind: EventKind::FieldChanged, field: Some(c.field), old: c.old, new: c.new }
    }
}

/// Whether a customer may see this event on their request's timeline: its life (created,
/// status, replies, merges), never internal assignments, tags or notes.
pub fn customer_visible(kind: EventKind, field: Option<&str>, public_comment: bool) -> bool {
    match kind {
        EventKind::Created | EventKind::Merged | EventKind::MergedInto | EventKind::FollowUp => true,
        EventKind::FieldChanged => field == Some("status"),
        EventKind::CommentAdded => public_comment,
        EventKind::Linked | EventKind::Unlinked => false,
    }
}
