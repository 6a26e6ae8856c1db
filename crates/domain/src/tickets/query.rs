//! Ticket listings: the filters, scope and sort a listing asks the store for.

use jiff::Timestamp;

use crate::access::TicketScope;
use crate::ids::{CategoryId, GroupId, OrganizationId, StatusId, UserId};
use crate::page::Cursor;
use crate::tickets::{Channel, Priority, StatusCategory};

/// View totals the counters cannot answer stop at this (more reads as one more).
pub const VIEW_COUNT_CAP: i64 = 10_000;

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
