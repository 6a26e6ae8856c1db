//! A write batch: everything one user action changes, written in one transaction.

use gongdan_domain::conversation::{Comment, Link, LinkKind, text_to_html};
use gongdan_domain::event::{EventKind, NewEvent, Via};
use gongdan_domain::ids::{AttachmentId, CommentId, GroupId, LinkId, SYSTEM_USER, TicketId, UserId};
use gongdan_domain::rules::Outcome;
use gongdan_domain::tickets::Ticket;
use jiff::Timestamp;
use serde_json::json;

use crate::contract::jobs::NewJob;
use crate::contract::notifications::{NewNotification, WEBHOOK_ATTEMPTS, WEBHOOK_JOB};
use crate::contract::rules::{Firing, FlowRun};

/// A comment to add in a write.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub author_id: UserId,
    pub public: bool,
    pub body: String,
    pub html_body: String,
    /// Uploaded by the author and not yet attached anywhere.
    pub attachment_ids: Vec<AttachmentId>,
}

impl NewComment {
    /// The comment as stored under `id` (attachments are added by whoever binds them).
    pub fn written(&self, id: CommentId, ticket: TicketId, via: Via, at: Timestamp) -> Comment {
        Comment {
            id,
            ticket_id: ticket,
            author_id: self.author_id,
            public: self.public,
            body: self.body.clone(),
            html_body: self.html_body.clone(),
            via,
            attachments: vec![],
            created_at: at,
        }
    }
}

/// Refers to a ticket already stored or to one inserted earlier in the same batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketRef {
    Id(TicketId),
    Batch(usize),
}

/// One ticket's part of a write: its new state plus what to record with it.
#[derive(Debug, Clone)]
pub struct TicketWrite {
    pub ticket: Ticket,
    /// `None` inserts (the id is assigned); `Some(v)` updates only if the stored version is `v`.
    pub expected_version: Option<i64>,
    pub comment: Option<NewComment>,
    pub events: Vec<NewEvent>,
}

#[derive(Debug, Clone)]
pub struct NewLink {
    pub source: TicketRef,
    pub target: TicketRef,
    pub kind: LinkKind,
}

/// Claims an idempotency key for the resource this batch creates.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    pub user_id: UserId,
    pub key: String,
    pub request_hash: String,
    pub resource: ClaimedResource,
}

#[derive(Debug, Clone, Copy)]
pub enum ClaimedResource {
    Ticket(usize),
    Comment(usize),
    /// The user an `insert_user` creates.
    User,
}

/// Everything one user action changes, written in one transaction: the tickets with their
/// comments and events, and what the rules that ran on the first ticket did besides.
#[derive(Debug, Clone)]
pub struct WriteBatch {
    pub actor: Option<UserId>,
    pub via: Via,
    pub at: Timestamp,
    pub writes: Vec<TicketWrite>,
    pub links: Vec<NewLink>,
    pub unlinks: Vec<LinkId>,
    pub idempotency: Option<IdempotencyClaim>,
    /// Rules to run inside the transaction over the first ticket (see [`FlowRun`]).
    pub flow: Option<Box<FlowRun>>,
    /// Internal notes rules wrote on the first ticket.
    pub notes: Vec<NewComment>,
    pub notices: Vec<NewNotification>,
    pub jobs: Vec<NewJob>,
    /// Automations that fired on the first ticket (the ledger keeps them from firing twice).
    pub firings: Vec<Firing>,
    /// An automatic assignment made by the rules: (group, agent), for the group's turn order.
    pub assigned: Option<(GroupId, UserId)>,
    /// The mail the first write's comment came from and goes out as, stored with it: a
    /// Message-ID seen before fails the whole batch (`Duplicate { what: "message_id" }`).
    pub mail: Vec<crate::contract::mail::MailRecord>,
}

impl Default for WriteBatch {
    fn default() -> Self {
        WriteBatch {
            actor: None,
            via: Via::System,
            at: Timestamp::UNIX_EPOCH,
            writes: vec![],
            links: vec![],
            unlinks: vec![],
            idempotency: None,
            flow: None,
            notes: vec![],
            notices: vec![],
            jobs: vec![],
            firings: vec![],
            assigned: None,
            mail: vec![],
        }
    }
}

#[derive(Debug, Clone)]
pub struct WriteResult {
    /// The tickets as written, in the order of `writes`.
    pub tickets: Vec<Ticket>,
    /// The comment each write added, if any.
    pub comments: Vec<Option<Comment>>,
    pub links: Vec<Link>,
}

impl WriteBatch {
    /// Takes in what the rules did to the batch's first ticket: its new state, the events
    /// that explain it, notes, notifications and webhook calls, all written with it.
    pub fn absorb(&mut self, out: Outcome) {
        let at = self.at;
        let Some(w) = self.writes.first_mut() else { return };
        w.ticket = out.ticket;
        w.events.extend(out.events);
        for n in out.notes {
            w.events.push(NewEvent::plain(EventKind::CommentAdded, Some("internal".into())).by_rule(&n.rule));
            self.notes.push(NewComment {
                author_id: SYSTEM_USER,
                public: false,
                html_body: text_to_html(&n.body),
                body: n.body,
                attachment_ids: vec![],
            });
        }
        self.notices.extend(out.notices.into_iter().map(|n| NewNotification {
            to: n.to,
            ticket: Some(TicketRef::Batch(0)),
            rule: Some(n.rule),
            texts: n.texts,
            mail: false,
        }));
        self.jobs.extend(out.webhooks.into_iter().map(|c| NewJob {
            kind: WEBHOOK_JOB.into(),
            unique_key: None,
            payload: json!({"webhook_id": c.webhook_id, "rule": c.rule, "event": if w.expected_version.is_none() { "ticket.created" } else { "ticket.updated" }}),
            run_at: at,
            max_attempts: WEBHOOK_ATTEMPTS,
            ticket: Some(TicketRef::Batch(0)),
        }));
        if let Some(a) = out.assigned {
            self.assigned = Some(a);
        }
    }

    /// Whether the batch carries anything beyond its tickets, comments, events and the turn
    /// an automatic assignment took (which the grouped inserts write too).
    pub fn has_extras(&self) -> bool {
        self.flow.is_some()
            || !self.notes.is_empty()
            || !self.notices.is_empty()
            || !self.jobs.is_empty()
            || !self.firings.is_empty()
            || !self.mail.is_empty()
    }
}
