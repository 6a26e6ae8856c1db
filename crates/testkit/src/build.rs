//! Builders for what scenarios write: a ticket with the fields tests look at, a write of it,
//! a batch of writes, a user of a role.

use gongdan_domain::access::Role;
use gongdan_domain::event::Via;
use gongdan_domain::ids::UserId;
use gongdan_domain::people::{Language, User};
use gongdan_domain::tickets::{StatusRef, Ticket, TicketType};
use gongdan_store::{TicketWrite, WriteBatch};
use jiff::Timestamp;

/// The time scenarios start at (a Monday morning in Shanghai).
pub fn start() -> Timestamp {
    "2026-03-02T01:00:00Z".parse().expect("time")
}

/// A ticket with tags and a list-valued custom field, so round trips cover them.
pub fn ticket(requester: UserId, status: StatusRef, at: Timestamp) -> Ticket {
    Ticket {
        kind: TicketType::Task,
        tags: vec!["a".into(), "b".into()],
        custom_fields: [("k".to_owned(), serde_json::json!(["x", "y"]))].into_iter().collect(),
        ..Ticket::new("存储", "d", requester, status, at)
    }
}

/// A write that inserts `ticket` and nothing else.
pub fn fresh(ticket: Ticket) -> TicketWrite {
    TicketWrite { ticket, expected_version: None, comment: None, events: vec![] }
}

/// A batch by the system at `at`.
pub fn batch(at: Timestamp, writes: Vec<TicketWrite>) -> WriteBatch {
    WriteBatch { actor: None, via: Via::System, at, writes, ..Default::default() }
}

/// A user of `role` with `email` as their one identity (named after its local part).
pub fn user(role: Role, email: &str, at: Timestamp) -> User {
    let mut u = User::blank(role, Language::En, "UTC", at);
    u.name = email.split('@').next().unwrap_or("x").to_owned();
    u.email = Some(email.to_owned());
    u.identities = vec![gongdan_domain::people::Identity {
        kind: gongdan_domain::people::IdentityKind::Email,
        value: email.to_owned(),
    }];
    u
}
