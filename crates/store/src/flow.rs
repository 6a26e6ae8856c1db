//! The storage contract of the flow engine: rules, macros, views and webhooks (small admin
//! tables, read whole), the notification outbox, durable jobs, and what a ticket write carries
//! for the rules it ran (or must run inside its transaction).

use std::sync::Arc;

use async_trait::async_trait;
use gongdan_domain::conversation::text_to_html;
use gongdan_domain::event::{EventKind, NewEvent};
use gongdan_domain::ids::{GroupId, SYSTEM_USER, TicketId, UserId};
use gongdan_domain::rules::{
    ActionSpec, Automation, ConditionsSpec, FlowInput, Outcome, Prefilter, Recipient, Requester, RuleKind, RuleSet,
};
use gongdan_domain::ticket::Ticket;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::contract::{NewComment, Result, TicketRef, WriteBatch};

/// A trigger or automation as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRow {
    pub id: i64,
    pub kind: RuleKind,
    pub name: String,
    /// Groups triggers in the console ("routing", "notifications" …).
    pub category: String,
    pub description: String,
    pub active: bool,
    pub position: i64,
    /// Automations: fire once per ticket and window even without an undoing action.
    pub once: bool,
    pub conditions: ConditionsSpec,
    pub actions: Vec<ActionSpec>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MacroRow {
    pub id: i64,
    pub name: String,
    /// `None`: shared with every agent.
    pub owner_id: Option<UserId>,
    pub active: bool,
    pub position: i64,
    pub actions: Vec<ActionSpec>,
    pub reply_body: String,
    pub reply_public: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ViewRow {
    pub id: i64,
    /// Built-in views have a key (their name is translated).
    pub key: Option<String>,
    pub name: String,
    /// Personal views have an owner; group views a group; shared views neither.
    pub owner_id: Option<UserId>,
    pub group_id: Option<GroupId>,
    pub active: bool,
    pub position: i64,
    /// Filters as the list API takes them (`status`, `assignee_id`, `group_id` …).
    pub filters: Value,
    pub columns: Vec<String>,
    pub sort: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

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

/// A notification to write with a ticket change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub to: Recipient,
    pub ticket: Option<TicketRef>,
    pub rule: Option<String>,
    pub subject: String,
    pub body: String,
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

/// A job to enqueue (with a ticket change, or on its own).
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    /// At most one live job per key: enqueueing a taken key does nothing.
    pub unique_key: Option<String>,
    pub payload: Value,
    pub run_at: Timestamp,
    pub max_attempts: i64,
    /// Puts `"ticket_id"` into the payload once the ticket has its id.
    pub ticket: Option<TicketRef>,
}

/// Done jobs are deleted, so a stored job is waiting (or running) or has failed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(JobState::Pending),
            "failed" => Some(JobState::Failed),
            _ => None,
        }
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub unique_key: Option<String>,
    pub payload: Value,
    pub state: JobState,
    pub run_at: Timestamp,
    pub locked_until: Option<Timestamp>,
    pub locked_by: Option<String>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

impl Job {
    /// The lease the claim that returned this job holds.
    pub fn lease(&self) -> JobLease {
        JobLease { id: self.id, token: self.locked_by.clone().unwrap_or_default() }
    }
}

/// A worker's claim on a job, named by a token unique to that claim: only its holder may
/// finish the job, so a worker whose lease ran out (and whose job another claim took) changes
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    pub id: i64,
    pub token: String,
}

/// An automation fired on a ticket in a window (the ledger row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub automation_id: i64,
    pub window: String,
}

/// Rules a write must run inside its transaction, because their outcome depends on what only
/// the transaction reads consistently (a group's roster for assignment). Applies to the
/// batch's first write.
#[derive(Debug, Clone)]
pub struct FlowRun {
    pub rules: Arc<RuleSet>,
    pub input: FlowInput,
    /// An automation whose actions come first.
    pub automation: Option<Arc<Automation>>,
}

impl FlowRun {
    pub fn execute(
        &self,
        ticket: Ticket,
        rosters: &mut std::collections::BTreeMap<GroupId, gongdan_domain::routing::Roster>,
    ) -> std::result::Result<Outcome, gongdan_domain::rules::NeedRoster> {
        match &self.automation {
            Some(a) => self.rules.run_automation(a, ticket, &self.input, rosters),
            None => self.rules.run(ticket, &self.input, rosters),
        }
    }
}

/// How often a webhook delivery is tried at most.
pub const WEBHOOK_ATTEMPTS: i64 = 8;
/// The job kind of a webhook call; its payload is `{webhook_id, rule, event, ticket_id}`
/// (`ticket_id` filled in when the batch's ticket has its id), read by the core's delivery.
pub const WEBHOOK_JOB: &str = "webhook";

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
            subject: n.subject,
            body: n.body,
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
    }
}

#[async_trait]
pub trait RuleStore: Send + Sync {
    async fn list_rules(&self, kind: RuleKind) -> Result<Vec<RuleRow>>;
    async fn get_rule(&self, id: i64) -> Result<Option<RuleRow>>;
    /// Inserts (id 0) or updates a rule.
    async fn save_rule(&self, rule: &RuleRow) -> Result<RuleRow>;
    async fn delete_rule(&self, id: i64) -> Result<()>;
    /// Which of these (ticket, window) pairs an automation already fired in: one query for a
    /// page of candidates.
    async fn fired(&self, automation_id: i64, candidates: &[(TicketId, String)]) -> Result<Vec<bool>>;
    /// An automation's candidates, in id order after `after`: tickets in the filter's
    /// categories whose anchors lie within its bounds (an automation pass).
    async fn scan_tickets(&self, filter: &Prefilter, after: TicketId, limit: i64) -> Result<Vec<Ticket>>;
    /// What rules may ask about these requesters (unknown ids are left out).
    async fn requesters(&self, ids: &[UserId]) -> Result<Vec<Requester>>;

    async fn list_macros(&self) -> Result<Vec<MacroRow>>;
    async fn save_macro(&self, m: &MacroRow) -> Result<MacroRow>;
    async fn delete_macro(&self, id: i64) -> Result<()>;

    async fn list_views(&self) -> Result<Vec<ViewRow>>;
    async fn save_view(&self, v: &ViewRow) -> Result<ViewRow>;
    async fn delete_view(&self, id: i64) -> Result<()>;

    async fn list_webhooks(&self) -> Result<Vec<WebhookRow>>;
    async fn save_webhook(&self, w: &WebhookRow) -> Result<WebhookRow>;
    async fn delete_webhook(&self, id: i64) -> Result<()>;
}

#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// A user's notifications, newest first, before `before` (an id) when given.
    async fn list_notifications(
        &self,
        user: UserId,
        unread_only: bool,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Notification>>;
    async fn count_unread(&self, user: UserId) -> Result<i64>;
    /// Marks these (or, with none, all) of a user's notifications read.
    async fn mark_read(&self, user: UserId, ids: &[i64], at: Timestamp) -> Result<()>;
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Enqueues a job; `None` when its unique key is taken by a live job.
    async fn enqueue(&self, job: &NewJob, now: Timestamp) -> Result<Option<i64>>;
    /// Leases up to `limit` due jobs (of these kinds, or any) until `until`, under `token`
    /// (unique per claim). On PostgreSQL several nodes claim at once without waiting on each
    /// other (`SKIP LOCKED`).
    async fn claim(
        &self,
        token: &str,
        now: Timestamp,
        until: Timestamp,
        kinds: &[&str],
        limit: i64,
    ) -> Result<Vec<Job>>;
    /// Finishes a job (deletes it); false when the lease was lost.
    async fn complete(&self, lease: &JobLease) -> Result<bool>;
    /// Puts a job back for another attempt at `run_at`, or fails it for good when it has had
    /// its attempts; false when the lease was lost.
    async fn retry(&self, lease: &JobLease, run_at: Timestamp, error: &str, now: Timestamp) -> Result<bool>;
    /// A recurring job's next run: back to pending, its attempts reset.
    async fn reschedule(&self, lease: &JobLease, run_at: Timestamp, now: Timestamp) -> Result<bool>;
    async fn list_jobs(&self, kind: Option<&str>) -> Result<Vec<Job>>;
}
