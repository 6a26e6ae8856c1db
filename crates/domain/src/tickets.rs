//! The ticket, its closed vocabularies and the status machine.

use crate::Code;
use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{CategoryId, GroupId, OrganizationId, StatusId, TicketId, UserId};
use crate::str_enum;

mod query;
pub use query::{TicketQuery, TicketSort, VIEW_COUNT_CAP};

str_enum!(
    /// Where a request came from.
    Channel { Email = "email", Web = "web", Portal = "portal", Chat = "chat", Phone = "phone", Wechat = "wechat", Api = "api" }
);
str_enum!(
    TicketType { Question = "question", Incident = "incident", Problem = "problem", Task = "task" }
);
str_enum!(
    /// Declared low to urgent so that `Ord` sorts by urgency.
    Priority { Low = "low", Normal = "normal", High = "high", Urgent = "urgent" }
);
str_enum!(
    /// The fixed categories every admin-defined status belongs to. The category, not the
    /// status, decides transitions, SLA clocks and what the customer sees.
    StatusCategory { New = "new", Open = "open", Pending = "pending", OnHold = "on_hold", Solved = "solved", Closed = "closed" }
);

impl Priority {
    /// Stored as a small integer so queues sort by it.
    pub fn rank(self) -> i64 {
        match self {
            Priority::Low => 1,
            Priority::Normal => 2,
            Priority::High => 3,
            Priority::Urgent => 4,
        }
    }

    pub fn from_rank(rank: i64) -> Option<Self> {
        Priority::ALL.iter().copied().find(|p| p.rank() == rank)
    }
}

impl StatusCategory {
    /// Work remains on the ticket (not solved or closed).
    pub fn is_active(self) -> bool {
        !matches!(self, StatusCategory::Solved | StatusCategory::Closed)
    }

    /// A customer reply on a ticket in this category puts it back to open.
    pub fn reopens_on_customer_reply(self) -> bool {
        matches!(self, StatusCategory::Pending | StatusCategory::Solved)
    }

    /// The category a customer is shown: on-hold is internal detail, so it reads as open.
    pub fn customer_view(self) -> StatusCategory {
        match self {
            StatusCategory::OnHold => StatusCategory::Open,
            other => other,
        }
    }
}

/// Whether a ticket may move between two status categories.
///
/// Nothing returns to new, and closed is final. Everything else is allowed: desks differ in
/// their flows, and triggers (later) narrow them per business.
pub fn check_transition(from: StatusCategory, to: StatusCategory) -> Result<(), DomainError> {
    if from == StatusCategory::Closed {
        return Err(DomainError::TicketClosed);
    }
    if to == StatusCategory::New && from != StatusCategory::New {
        return Err(DomainError::InvalidTransition { from: from.as_str(), to: to.as_str() });
    }
    Ok(())
}

/// An admin-defined status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Status {
    pub id: StatusId,
    /// Stable key used in the API (`open`, `waiting_vendor` …).
    pub key: String,
    pub category: StatusCategory,
    pub label_zh: String,
    pub label_en: String,
    /// The status a bare category name (`"status": "open"`) resolves to.
    pub is_default: bool,
    pub position: i64,
    pub active: bool,
}

/// Picks the status a request names: a category name (`open`) means that category's default
/// status; anything else is an admin-defined status key (`waiting_vendor`).
pub fn resolve_status<'a>(statuses: &'a [Status], name: &str) -> Result<&'a Status, DomainError> {
    if let Ok(category) = StatusCategory::parse(name, "status") {
        return default_status(statuses, category);
    }
    statuses
        .iter()
        .find(|s| s.key == name && s.active)
        .ok_or_else(|| DomainError::invalid("status", Code::UnknownStatus, format!("no active status `{name}`")))
}

pub fn default_status(statuses: &[Status], category: StatusCategory) -> Result<&Status, DomainError> {
    statuses
        .iter()
        .filter(|s| s.category == category && s.active)
        .min_by_key(|s| (!s.is_default, s.position, s.id))
        .ok_or_else(|| {
            DomainError::invalid("status", Code::UnknownStatus, format!("no active status in category `{category}`"))
        })
}

/// The status a ticket carries: enough to decide rules without a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRef {
    pub id: StatusId,
    pub key: String,
    pub category: StatusCategory,
}

impl From<&Status> for StatusRef {
    fn from(s: &Status) -> Self {
        StatusRef { id: s.id, key: s.key.clone(), category: s.category }
    }
}

/// A ticket as stored. `version` increases by one on every write; updates carry the version
/// they read (optimistic concurrency).
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub id: TicketId,
    pub subject: String,
    pub description: String,
    pub requester_id: UserId,
    pub organization_id: Option<OrganizationId>,
    pub cc_ids: Vec<UserId>,
    pub assignee_id: Option<UserId>,
    pub group_id: Option<GroupId>,
    pub status: StatusRef,
    pub channel: Channel,
    pub kind: TicketType,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub due_at: Option<Timestamp>,
    pub category_id: Option<CategoryId>,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
    pub merged_into_id: Option<TicketId>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub first_replied_at: Option<Timestamp>,
    pub solved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// When the status last changed (creation counts): "hours since pending" and the like.
    pub status_changed_at: Timestamp,
    /// When the current assignee got the ticket; `None` while unassigned.
    pub assigned_at: Option<Timestamp>,
    pub last_customer_reply_at: Option<Timestamp>,
    pub last_agent_reply_at: Option<Timestamp>,
}

pub const SUBJECT_MAX: usize = 255;
pub const DESCRIPTION_MAX: usize = 65_536;
pub const TAG_MAX: usize = 64;
pub const TAGS_MAX: usize = 50;

pub fn validate_subject(subject: &str) -> Result<String, DomainError> {
    let s = subject.trim();
    if s.is_empty() {
        return Err(DomainError::required("subject"));
    }
    // The limit is on what was sent, as the API document states it.
    if subject.chars().count() > SUBJECT_MAX {
        return Err(DomainError::invalid("subject", Code::TooLong, format!("at most {SUBJECT_MAX} characters")));
    }
    Ok(s.to_owned())
}

pub fn validate_description(text: &str) -> Result<String, DomainError> {
    if text.chars().count() > DESCRIPTION_MAX {
        return Err(DomainError::invalid(
            "description",
            Code::TooLong,
            format!("at most {DESCRIPTION_MAX} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// Normalises tags: trimmed, lower-cased, invisible characters dropped, no spaces or commas,
/// unique, sorted. The limits hold for the list and tags as sent (as the API document states
/// them) and as normalised.
pub fn normalize_tags<S: AsRef<str>>(tags: &[S], field: &str) -> Result<Vec<String>, DomainError> {
    if tags.len() > TAGS_MAX {
        return Err(DomainError::invalid(field, Code::TooMany, format!("at most {TAGS_MAX} tags")));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let t = crate::text::strip_invisible(tag.as_ref()).trim().to_lowercase();
        let long = tag.as_ref().chars().count() > TAG_MAX || t.chars().count() > TAG_MAX;
        if t.is_empty() || long || t.chars().any(|c| c.is_whitespace() || c == ',') {
            return Err(DomainError::invalid(
                format!("{field}[{i}]"),
                Code::InvalidTag,
                format!("a tag is 1–{TAG_MAX} characters without spaces or commas"),
            ));
        }
        out.push(t);
    }
    out.sort();
    out.dedup();
    if out.len() > TAGS_MAX {
        return Err(DomainError::invalid(field, Code::TooMany, format!("at most {TAGS_MAX} tags")));
    }
    Ok(out)
}

/// A field change, recorded as an event: the timeline and audit trail are built from these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// A partial update. `Some(None)` clears a nullable field. Reference fields (assignee, group,
/// category, status) arrive already checked against storage by the caller.
#[derive(Debug, Clone, Default)]
pub struct TicketPatch {
    pub subject: Option<String>,
    pub status: Option<StatusRef>,
    pub priority: Option<Priority>,
    pub kind: Option<TicketType>,
    pub assignee_id: Option<Option<UserId>>,
    pub group_id: Option<Option<GroupId>>,
    pub category_id: Option<Option<CategoryId>>,
    pub organization_id: Option<Option<OrganizationId>>,
    pub due_at: Option<Option<Timestamp>>,
    pub tags: Option<Vec<String>>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    pub cc_ids: Option<Vec<UserId>>,
    /// Already validated values; `Null` removes the key.
    pub custom_fields: BTreeMap<String, serde_json::Value>,
}

/// What else the status machine needs to know about the ticket's surroundings.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatchContext {
    /// Children of this ticket that are not solved or closed.
    pub open_children: usize,
}

fn show<T: ToString>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}

fn ids_text(ids: &[UserId]) -> String {
    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

impl Ticket {
    /// A ticket not stored yet (id 0, version 1): a question by API at normal priority, with
    /// nothing set that the caller does not give. Callers change what they need with
    /// `Ticket { field: …, ..Ticket::new(…) }`.
    pub fn new(subject: &str, description: &str, requester_id: UserId, status: StatusRef, at: Timestamp) -> Ticket {
        Ticket {
            id: TicketId(0),
            subject: subject.to_owned(),
            description: description.to_owned(),
            requester_id,
            organization_id: None,
            cc_ids: vec![],
            assignee_id: None,
            group_id: None,
            status,
            channel: Channel::Api,
            kind: TicketType::Question,
            priority: Priority::Normal,
            tags: vec![],
            due_at: None,
            category_id: None,
            custom_fields: BTreeMap::new(),
            merged_into_id: None,
            version: 1,
            created_at: at,
            updated_at: at,
            first_replied_at: None,
            solved_at: None,
            closed_at: None,
            status_changed_at: at,
            assigned_at: None,
            last_customer_reply_at: None,
            last_agent_reply_at: None,
        }
    }

    /// Applies a patch and returns what changed; bumps `version`/`updated_at` only if something
    /// did. Enforces the status machine and the parent/child rule. On error nothing changes.
    pub fn apply(
        &mut self,
        patch: &TicketPatch,
        ctx: PatchContext,
        now: Timestamp,
    ) -> Result<Vec<FieldChange>, DomainError> {
        if let Some(into) = self.merged_into_id {
            return Err(DomainError::Merged(into.0));
        }
        if self.status.category == StatusCategory::Closed {
            return Err(DomainError::TicketClosed);
        }
        let mut next = self.clone();
        let mut changes = Vec::new();
        let mut record = |field: &str, old: Option<String>, new: Option<String>| {
            if old != new {
                changes.push(FieldChange { field: field.to_owned(), old, new });
            }
        };

        if let Some(subject) = &patch.subject {
            next.subject = validate_subject(subject)?;
            record("subject", Some(self.subject.clone()), Some(next.subject.clone()));
        }
        if let Some(status) = &patch.status {
            check_transition(self.status.category, status.category)?;
            // A parent stays open while any child is: neither solved nor closed.
            if !status.category.is_active() && self.status.category.is_active() && ctx.open_children > 0 {
                return Err(DomainError::OpenChildren);
            }
            next.set_status(status.clone(), now);
            record("status", Some(self.status.key.clone()), Some(next.status.key.clone()));
        }
        if let Some(p) = patch.priority {
            next.priority = p;
            record("priority", Some(self.priority.to_string()), Some(p.to_string()));
        }
        if let Some(k) = patch.kind {
            next.kind = k;
            record("type", Some(self.kind.to_string()), Some(k.to_string()));
        }
        if let Some(a) = patch.assignee_id {
            next.assignee_id = a;
            if a != self.assignee_id {
                next.assigned_at = a.map(|_| now);
            }
            record("assignee_id", show(&self.assignee_id), show(&a));
        }
        if let Some(g) = patch.group_id {
            next.group_id = g;
            record("group_id", show(&self.group_id), show(&g));
        }
        if let Some(c) = patch.category_id {
            next.category_id = c;
            record("category_id", show(&self.category_id), show(&c));
        }
        if let Some(o) = patch.organization_id {
            next.organization_id = o;
            record("organization_id", show(&self.organization_id), show(&o));
        }
        if let Some(d) = patch.due_at {
            next.due_at = d;
            record("due_at", show(&self.due_at), show(&d));
        }
        if patch.tags.is_some() || !patch.add_tags.is_empty() || !patch.remove_tags.is_empty() {
            let mut tags = match &patch.tags {
                Some(t) => normalize_tags(t, "tags")?,
                None => self.tags.clone(),
            };
            tags.extend(normalize_tags(&patch.add_tags, "add_tags")?);
            let remove = normalize_tags(&patch.remove_tags, "remove_tags")?;
            tags.retain(|t| !remove.contains(t));
            // Tags already there and tags added count once.
            tags.sort();
            tags.dedup();
            next.tags = normalize_tags(&tags, "tags")?;
            record("tags", Some(self.tags.join(" ")), Some(next.tags.join(" ")));
        }
        if let Some(cc) = &patch.cc_ids {
            let mut cc = cc.clone();
            cc.sort();
            cc.dedup();
            next.cc_ids = cc;
            record("cc_ids", Some(ids_text(&self.cc_ids)), Some(ids_text(&next.cc_ids)));
        }
        for (key, value) in &patch.custom_fields {
            let old = self.custom_fields.get(key).cloned();
            if value.is_null() {
                next.custom_fields.remove(key);
            } else {
                next.custom_fields.insert(key.clone(), value.clone());
            }
            record(
                &format!("custom_fields.{key}"),
                old.map(|v| v.to_string()),
                next.custom_fields.get(key).map(|v| v.to_string()),
            );
        }

        if !changes.is_empty() {
            next.version += 1;
            next.updated_at = now;
            *self = next;
        }
        Ok(changes)
    }

    /// Moves to a status and keeps the solved/closed timestamps in step with it.
    pub fn set_status(&mut self, status: StatusRef, now: Timestamp) {
        if status.id != self.status.id {
            self.status_changed_at = now;
        }
        match status.category {
            StatusCategory::Solved => {
                if self.status.category != StatusCategory::Solved {
                    self.solved_at = Some(now);
                }
            }
            StatusCategory::Closed => {
                self.closed_at = Some(now);
                self.solved_at.get_or_insert(now);
            }
            _ => self.solved_at = None,
        }
        self.status = status;
    }

    /// Records a reply's effect on the ticket: the first public agent reply is the first
    /// response; a customer reply reopens a pending or solved ticket. Returns the changes.
    pub fn on_reply(
        &mut self,
        by_customer: bool,
        public: bool,
        open_status: &StatusRef,
        now: Timestamp,
    ) -> Vec<FieldChange> {
        let mut changes = Vec::new();
        if by_customer && self.status.category.reopens_on_customer_reply() {
            changes.push(FieldChange {
                field: "status".into(),
                old: Some(self.status.key.clone()),
                new: Some(open_status.key.clone()),
            });
            self.set_status(open_status.clone(), now);
        }
        if !by_customer && public && self.first_replied_at.is_none() {
            self.first_replied_at = Some(now);
        }
        if public {
            if by_customer {
                self.last_customer_reply_at = Some(now);
            } else {
                self.last_agent_reply_at = Some(now);
            }
        }
        self.version += 1;
        self.updated_at = now;
        changes
    }
}

#[cfg(test)]
pub(crate) mod tests;
