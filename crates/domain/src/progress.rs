//! A request's progress as its customer follows it, like a parcel: received, taken by a group,
//! being handled, waiting for you, solved. Derived from the full event stream, and shown
//! without internals: on-hold reads as being handled, and no agent or note is named.

use jiff::Timestamp;

use crate::conversation::Event;
use crate::event::EventKind;
use crate::ids::{GroupId, TicketId};
use crate::tickets::StatusCategory;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// The request arrived.
    Received,
    /// A group (department) took the request.
    Taken(GroupId),
    /// Someone is working on it (open, or on-hold, which customers see as open).
    Handling,
    /// The desk asked the customer something.
    WaitingForYou,
    Solved,
    Closed,
    /// Joined into another request, where the conversation goes on.
    Merged(TicketId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub kind: StepKind,
    pub at: Timestamp,
}

/// The customer-facing steps, oldest first. `category_of` maps a status key to its category;
/// `current_group` is the ticket's group now (a ticket created with a group has no group event).
pub fn steps(
    events: &[Event],
    current_group: Option<GroupId>,
    category_of: impl Fn(&str) -> Option<StatusCategory>,
) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut shown = StatusCategory::New;
    let first_group_event =
        events.iter().find(|e| e.kind == EventKind::FieldChanged && e.field.as_deref() == Some("group_id"));
    // The group a ticket was created with: the first group change's old value, or, with no
    // change at all, the group it has now.
    let initial_group = match first_group_event {
        Some(e) => e.old_value.as_deref().and_then(|v| v.parse().ok()).map(GroupId),
        None => current_group,
    };
    for e in events {
        match (e.kind, e.field.as_deref()) {
            (EventKind::Created, _) => {
                out.push(Step { kind: StepKind::Received, at: e.created_at });
                if let Some(g) = initial_group {
                    out.push(Step { kind: StepKind::Taken(g), at: e.created_at });
                }
                let cat = e.new_value.as_deref().and_then(&category_of).map(StatusCategory::customer_view);
                if let Some(c) = cat.filter(|c| *c != StatusCategory::New) {
                    push_status(&mut out, &mut shown, c, e.created_at);
                }
            }
            (EventKind::FieldChanged, Some("group_id")) => {
                if let Some(g) = e.new_value.as_deref().and_then(|v| v.parse().ok()).map(GroupId) {
                    out.push(Step { kind: StepKind::Taken(g), at: e.created_at });
                }
            }
            (EventKind::FieldChanged, Some("status")) => {
                if let Some(c) = e.new_value.as_deref().and_then(&category_of) {
                    push_status(&mut out, &mut shown, c.customer_view(), e.created_at);
                }
            }
            (EventKind::MergedInto, _) => {
                if let Some(t) = e.new_value.as_deref().and_then(|v| v.parse().ok()).map(TicketId) {
                    out.push(Step { kind: StepKind::Merged(t), at: e.created_at });
                }
            }
            _ => {}
        }
    }
    out
}

/// Adds a status step when what the customer sees changes (on-hold → open is no news to them).
fn push_status(out: &mut Vec<Step>, shown: &mut StatusCategory, c: StatusCategory, at: Timestamp) {
    if c == *shown {
        return;
    }
    *shown = c;
    let kind = match c {
        StatusCategory::New => return,
        StatusCategory::Open | StatusCategory::OnHold => StepKind::Handling,
        StatusCategory::Pending => StepKind::WaitingForYou,
        StatusCategory::Solved => StepKind::Solved,
        StatusCategory::Closed => StepKind::Closed,
    };
    out.push(Step { kind, at });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Via;
    use crate::ids::EventId;

    fn ev(n: i64, kind: EventKind, field: Option<&str>, old: Option<&str>, new: Option<&str>) -> Event {
        Event {
            id: EventId(n),
            ticket_id: TicketId(1),
            actor_id: None,
            via: Via::Web,
            kind,
            field: field.map(str::to_owned),
            old_value: old.map(str::to_owned),
            new_value: new.map(str::to_owned),
            rule: None,
            created_at: Timestamp::from_second(1_700_000_000 + n).unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }

    fn cat(key: &str) -> Option<StatusCategory> {
        match key {
            "waiting_vendor" => Some(StatusCategory::OnHold),
            other => StatusCategory::parse(other, "status").ok(),
        }
    }

    fn kinds(s: &[Step]) -> Vec<StepKind> {
        s.iter().map(|s| s.kind).collect()
    }

    #[test]
    fn a_request_goes_from_received_to_solved_without_internals() {
        let events = vec![
            ev(1, EventKind::Created, None, None, Some("new")),
            ev(2, EventKind::FieldChanged, Some("group_id"), None, Some("7")),
            ev(3, EventKind::FieldChanged, Some("assignee_id"), None, Some("42")),
            ev(4, EventKind::FieldChanged, Some("status"), Some("new"), Some("open")),
            ev(5, EventKind::FieldChanged, Some("status"), Some("open"), Some("waiting_vendor")),
            ev(6, EventKind::FieldChanged, Some("status"), Some("waiting_vendor"), Some("pending")),
            ev(7, EventKind::CommentAdded, None, None, Some("internal")),
            ev(8, EventKind::FieldChanged, Some("status"), Some("pending"), Some("open")),
            ev(9, EventKind::FieldChanged, Some("status"), Some("open"), Some("solved")),
        ];
        let s = steps(&events, Some(GroupId(7)), cat);
        assert_eq!(
            kinds(&s),
            vec![
                StepKind::Received,
                StepKind::Taken(GroupId(7)),
                StepKind::Handling,
                StepKind::WaitingForYou,
                StepKind::Handling,
                StepKind::Solved
            ],
            "on-hold is not news to the customer; assignments and notes are not shown"
        );
    }

    #[test]
    fn a_ticket_created_with_a_group_shows_it_taken_at_once() {
        let created = vec![ev(1, EventKind::Created, None, None, Some("open"))];
        assert_eq!(
            kinds(&steps(&created, Some(GroupId(3)), cat)),
            vec![StepKind::Received, StepKind::Taken(GroupId(3)), StepKind::Handling]
        );
        // Created with group 3, moved to 5 later: both are steps.
        let moved = vec![
            ev(1, EventKind::Created, None, None, Some("new")),
            ev(2, EventKind::FieldChanged, Some("group_id"), Some("3"), Some("5")),
        ];
        assert_eq!(
            kinds(&steps(&moved, Some(GroupId(5)), cat)),
            vec![StepKind::Received, StepKind::Taken(GroupId(3)), StepKind::Taken(GroupId(5))]
        );
    }

    #[test]
    fn merges_are_steps() {
        let events = vec![
            ev(1, EventKind::Created, None, None, Some("new")),
            ev(2, EventKind::FieldChanged, Some("status"), Some("new"), Some("closed")),
            ev(3, EventKind::MergedInto, None, None, Some("10042")),
        ];
        assert_eq!(
            kinds(&steps(&events, None, cat)),
            vec![StepKind::Received, StepKind::Closed, StepKind::Merged(TicketId(10042))]
        );
    }
}
