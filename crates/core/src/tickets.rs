//! Ticket use cases: create, read, list, update, reply, merge, link, bulk update. Each one
//! checks access, resolves references against storage, lets the domain decide, and writes one
//! batch (one transaction).

use gongdan_domain::Code;
use std::collections::BTreeMap;

use gongdan_domain::DomainError;
use gongdan_domain::access::{Principal, TicketScope};
use gongdan_domain::category;
use gongdan_domain::conversation::{self, Comment, Event, Link, LinkKind};
use gongdan_domain::event::{self, EventKind, NewEvent, Via};
use gongdan_domain::fields::{self, FieldScope};
use gongdan_domain::ids::*;
use gongdan_domain::progress;
use gongdan_domain::tickets::{
    self, Channel, PatchContext, Priority, StatusCategory, StatusRef, Ticket, TicketPatch, TicketType,
};
use gongdan_store::*;
use jiff::Timestamp;
use serde_json::Value;

use crate::access;
use crate::config::Config;
use crate::views::ViewTotal;
use crate::{App, CoreError, Result};

/// Who the ticket is for, when not the caller.
#[derive(Debug, Clone, Default)]
pub struct RequesterInput {
    pub id: Option<UserId>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CreateTicket {
    pub subject: String,
    pub description: String,
    pub html_description: Option<String>,
    pub requester: Option<RequesterInput>,
    pub organization_id: Option<OrganizationId>,
    pub cc_ids: Vec<UserId>,
    pub assignee_id: Option<UserId>,
    pub group_id: Option<GroupId>,
    pub status: Option<String>,
    pub channel: Option<Channel>,
    pub kind: Option<TicketType>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub due_at: Option<Timestamp>,
    pub category_id: Option<CategoryId>,
    pub custom_fields: BTreeMap<String, Value>,
    pub attachment_ids: Vec<AttachmentId>,
    /// The mail the ticket came from, stored with it (the email channel sets it).
    pub mail: Option<MailRecord>,
}

/// A partial update as the client sent it; `Some(None)` clears.
#[derive(Debug, Clone, Default)]
pub struct UpdateTicket {
    pub subject: Option<String>,
    pub status: Option<String>,
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
    /// CCs to add or take off, applied to the ticket as it is when the update lands (a
    /// concurrent change to the list is kept).
    pub add_cc_ids: Vec<UserId>,
    pub remove_cc_ids: Vec<UserId>,
    pub custom_fields: BTreeMap<String, Value>,
}

impl UpdateTicket {
    /// The only change a customer may make: mark their request solved.
    fn customer_may(&self) -> bool {
        let UpdateTicket {
            status,
            subject,
            priority,
            kind,
            assignee_id,
            group_id,
            category_id,
            organization_id,
            due_at,
            tags,
            add_tags,
            remove_tags,
            cc_ids,
            add_cc_ids,
            remove_cc_ids,
            custom_fields,
        } = self;
        status.is_some()
            && subject.is_none()
            && priority.is_none()
            && kind.is_none()
            && assignee_id.is_none()
            && group_id.is_none()
            && category_id.is_none()
            && organization_id.is_none()
            && due_at.is_none()
            && tags.is_none()
            && add_tags.is_empty()
            && remove_tags.is_empty()
            && cc_ids.is_none()
            && add_cc_ids.is_empty()
            && remove_cc_ids.is_empty()
            && custom_fields.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
pub struct AddComment {
    pub body: String,
    pub html_body: Option<String>,
    pub public: bool,
    pub attachment_ids: Vec<AttachmentId>,
    /// The mail the comment came from, stored with it (the email channel sets it).
    pub mail: Option<MailRecord>,
}

/// How a create or reply went: `replayed` when an idempotency key returned an earlier result.
#[derive(Debug, Clone)]
pub struct Created<T> {
    pub value: T,
    pub replayed: bool,
}

/// The result of adding a comment; on a closed ticket it lands on a new follow-up ticket.
#[derive(Debug, Clone)]
pub struct CommentOutcome {
    pub comment: Comment,
    pub ticket: Ticket,
    pub follow_up_of: Option<TicketId>,
}

#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

pub use gongdan_domain::conversation::text_to_html;

/// Cleans client HTML down to the safe subset (remote images held back until asked for).
pub fn sanitize_html(html: &str) -> String {
    crate::conversation::safe_html(html, |_| None)
}

/// The mail a reply is stored with: the message it came in as, and the one it goes out as.
fn mail_out(
    input: &AddComment,
    outbound: &Option<crate::mail::send::Outbound>,
) -> (Vec<MailRecord>, Vec<gongdan_store::NewJob>) {
    let mail = input.mail.iter().cloned().chain(outbound.as_ref().map(|o| o.record.clone())).collect();
    (mail, outbound.iter().map(|o| o.job.clone()).collect())
}

/// Customers act through the web (portal or API), or by mail, which only the email channel says.
fn via_for(p: &Principal, via: Via) -> Via {
    if p.is_staff() || via == Via::Email { via } else { Via::Web }
}

/// A reply's events on `next` (the comment, then what replying does to the ticket) and
/// whether it counts as the customer's word, as triggers and the reply clock hear it.
pub(crate) fn reply_events(
    actor: &Principal,
    next: &mut Ticket,
    public: bool,
    open: &StatusRef,
    now: Timestamp,
) -> (Vec<NewEvent>, bool) {
    let by_customer = !actor.is_staff() || actor.user_id == next.requester_id;
    let detail = if public { "public" } else { "internal" };
    let mut events = vec![NewEvent::plain(EventKind::CommentAdded, Some(detail.to_owned()))];
    events.extend(next.on_reply(by_customer, public, open, now).into_iter().map(NewEvent::from));
    (events, by_customer)
}

impl App {
    async fn visible_ticket(&self, actor: &Principal, id: TicketId) -> Result<Ticket> {
        let t = self.store.get_ticket(id).await?.ok_or(CoreError::NotFound("ticket"))?;
        if actor.can_view(&t) { Ok(t) } else { Err(CoreError::NotFound("ticket")) }
    }

    pub async fn get_ticket(&self, actor: &Principal, id: TicketId) -> Result<Ticket> {
        self.visible_ticket(actor, id).await
    }

    /// Copies someone on a ticket by their address (a new customer when the desk does not know
    /// it); staff only. The requester and those copied already stay as they are.
    pub async fn add_cc(&self, actor: &Principal, id: TicketId, email: &str, via: Via) -> Result<Ticket> {
        if !actor.is_staff() {
            return Err(CoreError::field_forbidden("cc_ids"));
        }
        let email = gongdan_domain::people::normalize_email(email, "email")?;
        if self.config().await?.mailboxes.iter().any(|m| m.address == email) {
            return Err(DomainError::invalid("email", Code::InvalidValue, "one of the desk's own addresses").into());
        }
        let t = self.visible_ticket(actor, id).await?;
        let who = self.requester_by_email(&email, None, None).await?;
        if t.requester_id == who.id || t.cc_ids.contains(&who.id) {
            return Ok(t);
        }
        let input = UpdateTicket { add_cc_ids: vec![who.id], ..Default::default() };
        self.update_ticket(actor, id, input, None, via).await
    }

    /// Takes someone off a ticket's CCs; staff only.
    pub async fn remove_cc(&self, actor: &Principal, id: TicketId, user: UserId, via: Via) -> Result<Ticket> {
        if !actor.is_staff() {
            return Err(CoreError::field_forbidden("cc_ids"));
        }
        let t = self.visible_ticket(actor, id).await?;
        if !t.cc_ids.contains(&user) {
            return Ok(t);
        }
        self.update_ticket(actor, id, UpdateTicket { remove_cc_ids: vec![user], ..Default::default() }, None, via).await
    }

    async fn check_agent(&self, id: UserId, field: &str) -> Result<gongdan_domain::people::User> {
        let u = self.store.get_user(id).await?.filter(|u| u.active && u.role.is_staff());
        u.ok_or_else(|| DomainError::invalid(field, Code::MissingReference, "no such active agent").into())
    }

    fn check_group(cfg: &Config, id: GroupId, field: &str) -> Result<()> {
        match cfg.group(id) {
            Some(g) if g.active => Ok(()),
            _ => Err(DomainError::invalid(field, Code::MissingReference, "no such active group").into()),
        }
    }

    pub(crate) fn check_category(cfg: &Config, id: CategoryId, field: &str) -> Result<()> {
        match cfg.categories.iter().find(|c| c.id == id) {
            Some(c) if c.active => Ok(()),
            _ => Err(DomainError::invalid(field, Code::MissingReference, "no such active category").into()),
        }
    }

    async fn check_users(&self, ids: &[UserId], field: &str) -> Result<()> {
        for (i, id) in ids.iter().enumerate() {
            if self.store.user_brief(*id).await?.is_none() {
                return Err(
                    DomainError::invalid(format!("{field}[{i}]"), Code::MissingReference, "no such user").into()
                );
            }
        }
        Ok(())
    }

    /// Assignee and group together: an assignee must belong to the group; an assignee alone
    /// brings their first group.
    async fn settle_assignment(
        &self,
        cfg: &Config,
        assignee: Option<UserId>,
        group: Option<GroupId>,
    ) -> Result<Option<GroupId>> {
        if let Some(g) = group {
            Self::check_group(cfg, g, "group_id")?;
        }
        let Some(a) = assignee else { return Ok(group) };
        let agent = self.check_agent(a, "assignee_id").await?;
        match group {
            Some(g) if !agent.group_ids.contains(&g) => {
                Err(DomainError::invalid("assignee_id", Code::NotInGroup, "the assignee is not a member of the group")
                    .into())
            }
            Some(g) => Ok(Some(g)),
            None => Ok(agent.group_ids.first().copied()),
        }
    }

    pub(crate) fn check_custom_fields(
        cfg: &Config,
        category: Option<CategoryId>,
        merged: &BTreeMap<String, Value>,
    ) -> Result<()> {
        if let Some(form) = cfg.form_for(category) {
            fields::check_required(form, &cfg.fields, merged)?;
        }
        Ok(())
    }

    /// Returns an earlier result for a reused idempotency key, or `None` to go ahead.
    pub(crate) async fn replay(
        &self,
        actor: &Principal,
        idem: Option<&Idempotency>,
        kind: &str,
    ) -> Result<Option<i64>> {
        let Some(idem) = idem else { return Ok(None) };
        match self.store.find_idempotency(actor.user_id, &idem.key).await? {
            Some(rec) if rec.request_hash == idem.request_hash && rec.resource_kind == kind => {
                Ok(Some(rec.resource_id))
            }
            Some(_) => Err(CoreError::IdempotencyMismatch),
            None => Ok(None),
        }
    }

    pub async fn create_ticket(
        &self,
        actor: &Principal,
        input: CreateTicket,
        via: Via,
        idem: Option<Idempotency>,
    ) -> Result<Created<Ticket>> {
        if let Some(id) = self.replay(actor, idem.as_ref(), "ticket").await? {
            let t = self.store.get_ticket(TicketId(id)).await?.ok_or(CoreError::NotFound("ticket"))?;
            return Ok(Created { value: t, replayed: true });
        }
        let cfg = self.config().await?;
        let staff = actor.is_staff();
        if !staff {
            let forbidden = [
                ("requester", input.requester.is_some()),
                ("organization_id", input.organization_id.is_some()),
                ("assignee_id", input.assignee_id.is_some()),
                ("group_id", input.group_id.is_some()),
                ("status", input.status.is_some()),
                ("tags", !input.tags.is_empty()),
                ("due_at", input.due_at.is_some()),
                ("cc_ids", !input.cc_ids.is_empty()),
            ];
            if let Some((field, _)) = forbidden.iter().find(|(_, set)| *set) {
                return Err(CoreError::field_forbidden(field));
            }
        }
        // Validate everything that needs no writes first, so a bad request creates nothing.
        let subject = tickets::validate_subject(&input.subject)?;
        let description = tickets::validate_description(&input.description)?;
        let tags = tickets::normalize_tags(&input.tags, "tags")?;
        let status = tickets::resolve_status(&cfg.statuses, input.status.as_deref().unwrap_or("new"))?;
        if status.category == StatusCategory::Closed {
            return Err(DomainError::invalid("status", Code::InvalidValue, "a ticket cannot be created closed").into());
        }
        if let Some(c) = input.category_id {
            Self::check_category(&cfg, c, "category_id")?;
        }
        let custom_fields: BTreeMap<String, Value> =
            fields::check_values(&cfg.fields, FieldScope::Ticket, &input.custom_fields)?
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .collect();
        // Mail cannot fill in a form: its ticket is made, and the agent completes the fields.
        if via != Via::Email {
            Self::check_custom_fields(&cfg, input.category_id, &custom_fields)?;
        }
        let group_id = self.settle_assignment(&cfg, input.assignee_id, input.group_id).await?;
        self.check_users(&input.cc_ids, "cc_ids").await?;
        if let Some(o) = input.organization_id
            && self.store.get_organization(o).await?.is_none()
        {
            return Err(DomainError::invalid("organization_id", Code::MissingReference, "no such organisation").into());
        }

        // Who the ticket is for: its id and organisation are all a ticket needs (one indexed read).
        let requester: UserBrief = match (&input.requester, staff) {
            // The caller: what the ticket needs is in its (signed-in, hence active) principal.
            (None, _) => {
                UserBrief { id: actor.user_id, role: actor.role, organization_id: actor.organization_id, active: true }
            }
            (Some(RequesterInput { id: Some(id), .. }), true) => self
                .user_brief(*id)
                .await?
                .ok_or_else(|| DomainError::invalid("requester.id", Code::MissingReference, "no such user"))?,
            (Some(RequesterInput { email: Some(email), name, phone, .. }), true) => {
                self.requester_by_email(email, name.as_deref(), phone.as_deref()).await?
            }
            (Some(_), _) => return Err(DomainError::required("requester.email").into()),
        };
        let now = self.now();
        let mut cc_ids = input.cc_ids.clone();
        cc_ids.sort();
        cc_ids.dedup();
        let t = Ticket {
            id: TicketId(0),
            subject,
            description: description.clone(),
            requester_id: requester.id,
            organization_id: input.organization_id.or(requester.organization_id),
            cc_ids,
            assignee_id: input.assignee_id,
            group_id,
            status: StatusRef::from(status),
            channel: input.channel.unwrap_or(if staff { Channel::Api } else { Channel::Portal }),
            kind: input.kind.unwrap_or(TicketType::Question),
            priority: input.priority.unwrap_or(Priority::Normal),
            tags,
            due_at: input.due_at,
            category_id: input.category_id,
            custom_fields,
            merged_into_id: None,
            version: 1,
            created_at: now,
            updated_at: now,
            first_replied_at: None,
            solved_at: (status.category == StatusCategory::Solved).then_some(now),
            closed_at: None,
            status_changed_at: now,
            assigned_at: input.assignee_id.map(|_| now),
            // The request itself is the customer's first word.
            last_customer_reply_at: (!requester.role.is_staff()).then_some(now),
            last_agent_reply_at: None,
        };
        // The description opens the conversation, written by the requester.
        let comment = (!description.trim().is_empty() || !input.attachment_ids.is_empty()).then(|| NewComment {
            author_id: requester.id,
            public: true,
            body: description.clone(),
            html_body: input
                .html_description
                .as_deref()
                .map(sanitize_html)
                .unwrap_or_else(|| text_to_html(&description)),
            attachment_ids: input.attachment_ids.clone(),
        });
        let idem_again = idem.clone();
        let opening = (true, true, t.description.clone());
        let mut batch = WriteBatch {
            actor: Some(actor.user_id),
            via: via_for(actor, via),
            at: now,
            writes: vec![TicketWrite {
                ticket: t,
                expected_version: None,
                comment,
                events: vec![NewEvent::plain(EventKind::Created, Some(status.key.clone()))],
            }],
            links: vec![],
            unlinks: vec![],
            idempotency: idem.map(|i| IdempotencyClaim {
                user_id: actor.user_id,
                key: i.key,
                request_hash: i.request_hash,
                resource: ClaimedResource::Ticket(0),
            }),
            mail: input.mail.iter().cloned().collect(),
            ..Default::default()
        };
        self.run_triggers(&cfg, &mut batch, None, Some(opening), Some(actor)).await?;
        match self.write(batch).await {
            Ok(mut r) => r
                .tickets
                .pop()
                .map(|t| Created { value: t, replayed: false })
                .ok_or(CoreError::Internal("empty write".into())),
            // A concurrent retry with the same key won the race: answer with its result.
            Err(StoreError::IdempotencyReplay) => match self.replay(actor, idem_again.as_ref(), "ticket").await? {
                Some(id) => {
                    let t = self.store.get_ticket(TicketId(id)).await?.ok_or(CoreError::NotFound("ticket"))?;
                    Ok(Created { value: t, replayed: true })
                }
                None => Err(CoreError::IdempotencyMismatch),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// The checks of an update that need no ticket: subject, tags, status, category and the
    /// kinds of custom-field values.
    fn check_change(cfg: &Config, input: &UpdateTicket) -> Result<()> {
        if let Some(s) = &input.subject {
            tickets::validate_subject(s)?;
        }
        if let Some(tags) = &input.tags {
            tickets::normalize_tags(tags, "tags")?;
        }
        tickets::normalize_tags(&input.add_tags, "add_tags")?;
        tickets::normalize_tags(&input.remove_tags, "remove_tags")?;
        if let Some(name) = &input.status {
            tickets::resolve_status(&cfg.statuses, name)?;
        }
        if let Some(Some(c)) = input.category_id {
            Self::check_category(cfg, c, "category_id")?;
        }
        fields::check_values(&cfg.fields, FieldScope::Ticket, &input.custom_fields)?;
        Ok(())
    }

    /// Resolves an update's references and builds the domain patch.
    async fn build_patch(&self, cfg: &Config, t: &Ticket, input: &UpdateTicket) -> Result<TicketPatch> {
        let status = match &input.status {
            Some(name) => Some(StatusRef::from(tickets::resolve_status(&cfg.statuses, name)?)),
            None => None,
        };
        if let Some(Some(c)) = input.category_id {
            Self::check_category(cfg, c, "category_id")?;
        }
        let assignee = input.assignee_id.unwrap_or(t.assignee_id);
        let group = input.group_id.unwrap_or(t.group_id);
        let mut group_change = input.group_id;
        if input.assignee_id.is_some() || input.group_id.is_some() {
            let settled = self.settle_assignment(cfg, assignee, group).await?;
            if settled != group {
                group_change = Some(settled);
            }
        }
        if let Some(cc) = &input.cc_ids {
            self.check_users(cc, "cc_ids").await?;
        }
        self.check_users(&input.add_cc_ids, "add_cc_ids").await?;
        let cc_ids = match &input.cc_ids {
            Some(cc) => Some(cc.clone()),
            None if input.add_cc_ids.is_empty() && input.remove_cc_ids.is_empty() => None,
            None => {
                let mut cc: Vec<UserId> =
                    t.cc_ids.iter().copied().filter(|c| !input.remove_cc_ids.contains(c)).collect();
                cc.extend(input.add_cc_ids.iter().filter(|c| !t.cc_ids.contains(c) && **c != t.requester_id));
                Some(cc)
            }
        };
        if let Some(Some(o)) = input.organization_id
            && self.store.get_organization(o).await?.is_none()
        {
            return Err(DomainError::invalid("organization_id", Code::MissingReference, "no such organisation").into());
        }
        let custom_fields = fields::check_values(&cfg.fields, FieldScope::Ticket, &input.custom_fields)?;
        Ok(TicketPatch {
            subject: input.subject.clone(),
            status,
            priority: input.priority,
            kind: input.kind,
            assignee_id: input.assignee_id,
            group_id: group_change,
            category_id: input.category_id,
            organization_id: input.organization_id,
            due_at: input.due_at,
            tags: input.tags.clone(),
            add_tags: input.add_tags.clone(),
            remove_tags: input.remove_tags.clone(),
            cc_ids,
            custom_fields,
        })
    }

    /// Applies a partial update. `expected_version` (from `If-Match` or the body) makes a stale
    /// update fail with a conflict instead of overwriting someone else's change.
    pub async fn update_ticket(
        &self,
        actor: &Principal,
        id: TicketId,
        input: UpdateTicket,
        expected_version: Option<i64>,
        via: Via,
    ) -> Result<Ticket> {
        let input = &input;
        self.on_current(id, expected_version, || async move {
            let t = self.visible_ticket(actor, id).await?;
            let cfg = self.config().await?;
            if !actor.is_staff() {
                let solving = input
                    .status
                    .as_deref()
                    .and_then(|s| tickets::resolve_status(&cfg.statuses, s).ok())
                    .is_some_and(|s| s.category == StatusCategory::Solved);
                if !(input.customer_may() && solving) {
                    return Err(CoreError::forbidden("customers may only mark their request solved"));
                }
            }
            if expected_version.is_some_and(|v| v != t.version) {
                return Err(CoreError::VersionConflict);
            }
            let patch = self.build_patch(&cfg, &t, input).await?;
            let ctx = PatchContext {
                open_children: if patch.status.as_ref().is_some_and(|s| !s.category.is_active()) {
                    self.store.open_children(t.id).await?
                } else {
                    0
                },
            };
            let mut next = t.clone();
            let changes = next.apply(&patch, ctx, self.now())?;
            if changes.is_empty() {
                return Ok(t);
            }
            if input.category_id.is_some() || !input.custom_fields.is_empty() {
                Self::check_custom_fields(&cfg, next.category_id, &next.custom_fields)?;
            }
            let mut batch = WriteBatch {
                actor: Some(actor.user_id),
                via: via_for(actor, via),
                at: next.updated_at,
                writes: vec![TicketWrite {
                    ticket: next,
                    expected_version: Some(t.version),
                    comment: None,
                    events: changes.into_iter().map(NewEvent::from).collect(),
                }],
                ..Default::default()
            };
            self.run_triggers(&cfg, &mut batch, Some(&t), None, Some(actor)).await?;
            let mut r = self.write(batch).await?;
            r.tickets.pop().ok_or(CoreError::Internal("empty write".into()))
        })
        .await
    }

    /// Adds a reply or internal note. A customer's reply reopens a pending or solved ticket; a
    /// reply to a closed ticket opens a follow-up linked to it; a reply to a merged ticket goes
    /// to the ticket it was merged into.
    pub async fn add_comment(
        &self,
        actor: &Principal,
        id: TicketId,
        input: AddComment,
        via: Via,
        idem: Option<Idempotency>,
    ) -> Result<Created<CommentOutcome>> {
        if self.replay(actor, idem.as_ref(), "comment").await?.is_some() {
            return self.replayed_comment(actor, idem.as_ref()).await;
        }
        conversation::validate_body(&input.body)?;
        if !actor.is_staff() && !input.public {
            return Err(CoreError::forbidden("customers cannot write internal notes"));
        }
        let html_body = input.html_body.as_deref().map(sanitize_html).unwrap_or_else(|| text_to_html(&input.body));
        // Replies to one ticket queue on its lock (see `locks`): each applies on top of the last.
        let mut guard = self.ticket_locks.lock(id.0).await;
        let mut target = self.visible_ticket(actor, id).await?;
        target = self.follow_merges(actor, target).await?;
        if target.id != id {
            drop(guard);
            guard = self.ticket_locks.lock(target.id.0).await;
            target = self.store.get_ticket(target.id).await?.ok_or(CoreError::NotFound("ticket"))?;
            target = self.follow_merges(actor, target).await?;
        }
        let _guard = guard;
        // A public reply by the desk is mailed to the customer: queued with it.
        let outbound = match input.public && actor.is_staff() {
            true => self.outbound_reply(&target).await?,
            false => None,
        };
        let comment = NewComment {
            author_id: actor.user_id,
            public: input.public,
            body: input.body.clone(),
            html_body,
            attachment_ids: input.attachment_ids.clone(),
        };
        let claim = |res| {
            idem.clone().map(|i| IdempotencyClaim {
                user_id: actor.user_id,
                key: i.key,
                request_hash: i.request_hash,
                resource: res,
            })
        };
        let via = via_for(actor, via);
        if target.status.category == StatusCategory::Closed {
            if !input.public {
                // A note belongs to its ticket; a follow-up would show it to the requester.
                return Err(DomainError::TicketClosed.into());
            }
            return self
                .follow_up(
                    actor,
                    &target,
                    comment,
                    via,
                    claim(ClaimedResource::Comment(0)),
                    mail_out(&input, &outbound),
                )
                .await;
        }
        // A reply must not fail because the ticket moved meanwhile (another node, an
        // automation): re-read and retry.
        for _ in 0..crate::locks::ATTEMPTS {
            let cfg = self.config().await?;
            let open = StatusRef::from(tickets::default_status(&cfg.statuses, StatusCategory::Open)?);
            let mut next = target.clone();
            let now = self.now();
            let (events, by_customer) = reply_events(actor, &mut next, input.public, &open, now);
            let (mail, jobs) = mail_out(&input, &outbound);
            let mut batch = WriteBatch {
                actor: Some(actor.user_id),
                via,
                at: now,
                writes: vec![TicketWrite {
                    ticket: next,
                    expected_version: Some(target.version),
                    comment: Some(comment.clone()),
                    events,
                }],
                idempotency: claim(ClaimedResource::Comment(0)),
                mail,
                jobs,
                ..Default::default()
            };
            let said = Some((input.public, by_customer, input.body.clone()));
            self.run_triggers(&cfg, &mut batch, Some(&target), said, Some(actor)).await?;
            match self.write(batch).await {
                Ok(mut r) => {
                    let ticket = r.tickets.pop().ok_or(CoreError::Internal("empty write".into()))?;
                    let comment =
                        r.comments.pop().flatten().ok_or(CoreError::Internal("comment not written".into()))?;
                    return Ok(Created {
                        value: CommentOutcome { comment, ticket, follow_up_of: None },
                        replayed: false,
                    });
                }
                Err(StoreError::VersionConflict) => {
                    target = self.store.get_ticket(target.id).await?.ok_or(CoreError::NotFound("ticket"))?;
                    target = self.follow_merges(actor, target).await?;
                    if target.status.category == StatusCategory::Closed {
                        if !input.public {
                            return Err(DomainError::TicketClosed.into());
                        }
                        return self
                            .follow_up(
                                actor,
                                &target,
                                comment,
                                via,
                                claim(ClaimedResource::Comment(0)),
                                mail_out(&input, &outbound),
                            )
                            .await;
                    }
                }
                Err(StoreError::IdempotencyReplay) => return self.replayed_comment(actor, idem.as_ref()).await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::VersionConflict)
    }

    /// The ticket a reply really goes to: through merges (bounded), and only if the caller may
    /// see where it lands.
    async fn follow_merges(&self, actor: &Principal, mut t: Ticket) -> Result<Ticket> {
        for _ in 0..16 {
            let Some(next) = t.merged_into_id else { break };
            t = self.store.get_ticket(next).await?.ok_or(CoreError::NotFound("ticket"))?;
        }
        if actor.can_view(&t) { Ok(t) } else { Err(CoreError::NotFound("ticket")) }
    }

    /// The result of the first request that used this idempotency key for a comment.
    async fn replayed_comment(&self, actor: &Principal, idem: Option<&Idempotency>) -> Result<Created<CommentOutcome>> {
        let cid = self.replay(actor, idem, "comment").await?.ok_or(CoreError::IdempotencyMismatch)?;
        let comment = self.store.get_comment(CommentId(cid)).await?.ok_or(CoreError::NotFound("comment"))?;
        let ticket = self.visible_ticket(actor, comment.ticket_id).await?;
        // A reply that opened a follow-up is that ticket's first comment, made with it.
        let follow_up_of = if ticket.created_at == comment.created_at {
            self.store
                .list_links(ticket.id)
                .await?
                .into_iter()
                .find(|l| l.kind == LinkKind::FollowUp && l.source_id == ticket.id)
                .map(|l| l.target_id)
        } else {
            None
        };
        Ok(Created { value: CommentOutcome { comment, ticket, follow_up_of }, replayed: true })
    }

    async fn follow_up(
        &self,
        actor: &Principal,
        closed: &Ticket,
        comment: NewComment,
        via: Via,
        idempotency: Option<IdempotencyClaim>,
        (mail, jobs): (Vec<MailRecord>, Vec<gongdan_store::NewJob>),
    ) -> Result<Created<CommentOutcome>> {
        let cfg = self.config().await?;
        let now = self.now();
        let status = StatusRef::from(tickets::default_status(
            &cfg.statuses,
            if actor.is_staff() { StatusCategory::Open } else { StatusCategory::New },
        )?);
        let t = Ticket {
            id: TicketId(0),
            description: comment.body.clone(),
            cc_ids: closed.cc_ids.clone(),
            status: status.clone(),
            tags: closed.tags.clone(),
            due_at: None,
            merged_into_id: None,
            version: 1,
            created_at: now,
            updated_at: now,
            first_replied_at: None,
            solved_at: None,
            closed_at: None,
            status_changed_at: now,
            assigned_at: closed.assignee_id.map(|_| now),
            last_customer_reply_at: (!actor.is_staff()).then_some(now),
            last_agent_reply_at: None,
            ..closed.clone()
        };
        let said = (true, !actor.is_staff(), comment.body.clone());
        let mut batch = WriteBatch {
            actor: Some(actor.user_id),
            via,
            at: now,
            writes: vec![TicketWrite {
                ticket: t,
                expected_version: None,
                comment: Some(comment),
                events: vec![
                    NewEvent::plain(EventKind::Created, Some(status.key.clone())),
                    NewEvent::plain(EventKind::FollowUp, Some(closed.id.to_string())),
                ],
            }],
            links: vec![NewLink {
                source: TicketRef::Batch(0),
                target: TicketRef::Id(closed.id),
                kind: LinkKind::FollowUp,
            }],
            idempotency: idempotency.clone(),
            mail,
            jobs,
            ..Default::default()
        };
        self.run_triggers(&cfg, &mut batch, None, Some(said), Some(actor)).await?;
        let mut r = match self.write(batch).await {
            Ok(r) => r,
            Err(StoreError::IdempotencyReplay) => {
                let idem = idempotency.map(|c| Idempotency { key: c.key, request_hash: c.request_hash });
                return self.replayed_comment(actor, idem.as_ref()).await;
            }
            Err(e) => return Err(e.into()),
        };
        let ticket = r.tickets.pop().ok_or(CoreError::Internal("empty write".into()))?;
        let comment = r.comments.pop().flatten().ok_or(CoreError::Internal("comment not written".into()))?;
        Ok(Created { value: CommentOutcome { comment, ticket, follow_up_of: Some(closed.id) }, replayed: false })
    }

    /// The conversation: the ticket's comments and those of tickets merged into it. Customers
    /// never see internal notes.
    pub async fn list_comments(
        &self,
        actor: &Principal,
        id: TicketId,
        after: Option<CommentId>,
        limit: i64,
    ) -> Result<Vec<Comment>> {
        let t = self.visible_ticket(actor, id).await?;
        // This ticket and everything merged into it, at any depth (bounded).
        let mut ids = vec![t.id];
        let mut i = 0;
        while i < ids.len() && ids.len() < 1000 {
            let more = self.store.merged_into(ids[i]).await?;
            ids.extend(more.into_iter().filter(|m| !ids.contains(m)).collect::<Vec<_>>());
            i += 1;
        }
        Ok(self.store.list_comments(&ids, actor.is_staff(), after, limit).await?)
    }

    /// The timeline; customers see the life of their request, not internal changes.
    pub async fn list_events(
        &self,
        actor: &Principal,
        id: TicketId,
        after: Option<EventId>,
        limit: i64,
    ) -> Result<Vec<Event>> {
        let t = self.visible_ticket(actor, id).await?;
        let mut events = self.store.list_events(t.id, after, limit).await?;
        if !actor.is_staff() {
            events.retain(|e| {
                event::customer_visible(e.kind, e.field.as_deref(), e.new_value.as_deref() == Some("public"))
            });
            // Rules are the desk's own business: the customer sees the change, not its rule.
            for e in &mut events {
                e.rule = None;
            }
            // Status values as the customer sees them: on-hold reads as open.
            let cfg = self.config().await?;
            let shown = |key: &mut Option<String>| {
                if let Some(k) = key.as_deref()
                    && let Some(s) = cfg.statuses.iter().find(|s| s.key == k)
                    && s.category.customer_view() != s.category
                {
                    *key = Some(s.category.customer_view().as_str().to_owned());
                }
            };
            for e in events.iter_mut().filter(|e| e.field.as_deref() == Some("status") || e.kind == EventKind::Created)
            {
                shown(&mut e.old_value);
                shown(&mut e.new_value);
            }
        }
        Ok(events)
    }

    /// The request's progress as its customer follows it (see `gongdan_domain::progress`).
    pub async fn progress(&self, actor: &Principal, id: TicketId) -> Result<Vec<progress::Step>> {
        let t = self.visible_ticket(actor, id).await?;
        let cfg = self.config().await?;
        let events = self.store.list_events(t.id, None, 1000).await?;
        Ok(progress::steps(&events, t.group_id, |key| cfg.statuses.iter().find(|s| s.key == key).map(|s| s.category)))
    }

    /// Names of the people a page mentions, by id.
    pub async fn user_labels(&self, ids: impl IntoIterator<Item = UserId>) -> Result<BTreeMap<UserId, UserLabel>> {
        let mut ids: Vec<UserId> = ids.into_iter().collect();
        ids.sort();
        ids.dedup();
        Ok(self.store.user_labels(&ids).await?.into_iter().map(|u| (u.id, u)).collect())
    }

    /// The totals of several listings at once, each in the caller's scope (a workspace's views):
    /// exact from the queue counters, otherwise counted up to `VIEW_COUNT_CAP`.
    pub async fn count_tickets(&self, actor: &Principal, queries: Vec<TicketQuery>) -> Result<Vec<ViewTotal>> {
        let cfg = self.config().await?;
        let mut prepared = Vec::with_capacity(queries.len());
        for q in queries {
            let mut q = self.scoped(actor, q).await?;
            if q.status_ids.is_empty() && !q.status_categories.is_empty() {
                // Counters are kept per status: name the statuses, not their categories, so the
                // counting needs no lookup of its own.
                q.status_ids =
                    cfg.statuses.iter().filter(|s| q.status_categories.contains(&s.category)).map(|s| s.id).collect();
                q.status_categories.clear();
                if q.status_ids.is_empty() {
                    q.status_ids.push(StatusId(-1));
                }
            }
            prepared.push(q);
        }
        let counts = self.store.count_tickets(&prepared).await?;
        Ok(counts.into_iter().zip(&prepared).map(|(n, q)| ViewTotal::new(n, q.total_from_counters())).collect())
    }

    pub async fn list_tickets(&self, actor: &Principal, q: TicketQuery) -> Result<Page<Ticket>> {
        let q = self.scoped(actor, q).await?;
        Ok(self.store.list_tickets(&q).await?)
    }

    /// A listing as the caller may have it: their scope, categories with their subtrees, and
    /// for customers statuses as they see them.
    async fn scoped(&self, actor: &Principal, mut q: TicketQuery) -> Result<TicketQuery> {
        let allowed = actor.scope();
        // A customer may narrow their listing to their own requests and those they are copied
        // on (the portal's "mine"), leaving out the organisation's; nobody widens theirs.
        let narrowed = matches!(
            (&q.scope, &allowed),
            (TicketScope::Requester { user, organization: None }, TicketScope::Requester { user: me, .. }) if user == me
        );
        if !narrowed {
            q.scope = allowed;
        }
        if !q.category_ids.is_empty() {
            // "category is under": a filter on a category includes its subcategories.
            let cfg = self.config().await?;
            let mut all = Vec::new();
            for c in &q.category_ids {
                all.extend(category::subtree(&cfg.categories, *c));
            }
            all.sort();
            all.dedup();
            q.category_ids = if all.is_empty() { vec![CategoryId(-1)] } else { all };
        }
        if matches!(q.scope, TicketScope::Requester { .. }) {
            // Customers filter only on what they can see of their requests, where on-hold is open.
            q.group_ids.clear();
            q.assignee = None;
            q.tag = None;
            let cfg = self.config().await?;
            let mut cats: Vec<StatusCategory> = q.status_categories.iter().map(|c| c.customer_view()).collect();
            cats.extend(
                q.status_ids
                    .iter()
                    .filter_map(|id| cfg.statuses.iter().find(|s| s.id == *id))
                    .map(|s| s.category.customer_view()),
            );
            if cats.contains(&StatusCategory::Open) {
                cats.push(StatusCategory::OnHold);
            }
            cats.sort();
            cats.dedup();
            q.status_categories = cats;
            q.status_ids.clear();
        }
        Ok(q)
    }

    /// Merges `source` into `target`: the source closes and points at the target, its
    /// requester joins the target's CCs, and both timelines say so.
    pub async fn merge(&self, actor: &Principal, source: TicketId, target: TicketId, via: Via) -> Result<Ticket> {
        access::require_staff(actor, "only agents merge tickets")?;
        if source == target {
            return Err(
                DomainError::invalid("target_id", Code::InvalidValue, "a ticket cannot be merged into itself").into()
            );
        }
        let s = self.visible_ticket(actor, source).await?;
        let t = self
            .visible_ticket(actor, target)
            .await
            .map_err(|_| DomainError::invalid("target_id", Code::MissingReference, "no such ticket"))?;
        for (ticket, field) in [(&s, "id"), (&t, "target_id")] {
            if ticket.status.category == StatusCategory::Closed || ticket.merged_into_id.is_some() {
                return Err(DomainError::invalid(
                    field,
                    Code::TicketNotOpen,
                    "closed or merged tickets cannot be merged",
                )
                .into());
            }
        }
        if self.store.open_children(s.id).await? > 0 {
            return Err(DomainError::OpenChildren.into());
        }
        let cfg = self.config().await?;
        let closed = StatusRef::from(tickets::default_status(&cfg.statuses, StatusCategory::Closed)?);
        let now = self.now();
        let mut s2 = s.clone();
        s2.set_status(closed.clone(), now);
        s2.merged_into_id = Some(t.id);
        s2.version += 1;
        s2.updated_at = now;
        let mut t2 = t.clone();
        if s.requester_id != t.requester_id && !t2.cc_ids.contains(&s.requester_id) {
            t2.cc_ids.push(s.requester_id);
            t2.cc_ids.sort();
        }
        t2.version += 1;
        t2.updated_at = now;
        let batch = WriteBatch {
            actor: Some(actor.user_id),
            via: via_for(actor, via),
            at: now,
            writes: vec![
                TicketWrite {
                    ticket: s2,
                    expected_version: Some(s.version),
                    comment: None,
                    events: vec![
                        NewEvent::field(
                            EventKind::FieldChanged,
                            "status",
                            Some(s.status.key.clone()),
                            Some(closed.key),
                        ),
                        NewEvent::plain(EventKind::MergedInto, Some(t.id.to_string())),
                    ],
                },
                TicketWrite {
                    ticket: t2,
                    expected_version: Some(t.version),
                    comment: None,
                    events: vec![NewEvent::plain(EventKind::Merged, Some(s.id.to_string()))],
                },
            ],
            ..Default::default()
        };
        let mut r = self.write(batch).await?;
        r.tickets.pop().ok_or(CoreError::Internal("empty write".into()))
    }

    /// Links are internal structure (they name other customers' tickets): staff only.
    pub async fn list_links(&self, actor: &Principal, id: TicketId) -> Result<Vec<Link>> {
        let t = self.visible_ticket(actor, id).await?;
        access::require_staff(actor, "links are visible to agents only")?;
        Ok(self.store.list_links(t.id).await?)
    }

    /// Links two tickets. For `parent`, `id` becomes the parent of `target`.
    pub async fn link(
        &self,
        actor: &Principal,
        id: TicketId,
        target: TicketId,
        kind: LinkKind,
        via: Via,
    ) -> Result<Link> {
        access::require_staff(actor, "only agents link tickets")?;
        if kind == LinkKind::FollowUp {
            return Err(DomainError::invalid(
                "kind",
                Code::InvalidValue,
                "follow-up links are made by replying to a closed ticket",
            )
            .into());
        }
        let s = self.visible_ticket(actor, id).await?;
        let t = self
            .visible_ticket(actor, target)
            .await
            .map_err(|_| DomainError::invalid("target_id", Code::MissingReference, "no such ticket"))?;
        let ancestors = self.store.parent_chain(s.id).await?;
        conversation::check_link(s.id, t.id, kind, &ancestors)?;
        if kind == LinkKind::Parent && !s.status.category.is_active() && t.status.category.is_active() {
            return Err(DomainError::invalid(
                "target_id",
                Code::InvalidLink,
                "a solved or closed ticket cannot take an open child",
            )
            .into());
        }
        if kind == LinkKind::Parent && !self.store.parent_chain(t.id).await?.is_empty() {
            return Err(DomainError::invalid("target_id", Code::InvalidLink, "the ticket already has a parent").into());
        }
        let now = self.now();
        let detail = |other: TicketId| NewEvent::field(EventKind::Linked, kind.as_str(), None, Some(other.to_string()));
        let mut s2 = s.clone();
        s2.version += 1;
        s2.updated_at = now;
        let mut t2 = t.clone();
        t2.version += 1;
        t2.updated_at = now;
        let batch = WriteBatch {
            actor: Some(actor.user_id),
            via: via_for(actor, via),
            at: now,
            writes: vec![
                TicketWrite {
                    ticket: s2,
                    expected_version: Some(s.version),
                    comment: None,
                    events: vec![detail(t.id)],
                },
                TicketWrite {
                    ticket: t2,
                    expected_version: Some(t.version),
                    comment: None,
                    events: vec![detail(s.id)],
                },
            ],
            links: vec![NewLink { source: TicketRef::Id(s.id), target: TicketRef::Id(t.id), kind }],
            ..Default::default()
        };
        let mut r = self.write(batch).await.map_err(|e| match e {
            StoreError::Duplicate { .. } => CoreError::Duplicate { field: "target_id".into() },
            e => e.into(),
        })?;
        r.links.pop().ok_or(CoreError::Internal("link not written".into()))
    }

    pub async fn unlink(&self, actor: &Principal, id: TicketId, link: LinkId, via: Via) -> Result<()> {
        access::require_staff(actor, "only agents link tickets")?;
        let t = self.visible_ticket(actor, id).await?;
        let l = self
            .store
            .get_link(link)
            .await?
            .filter(|l| l.source_id == t.id || l.target_id == t.id)
            .ok_or(CoreError::NotFound("link"))?;
        let now = self.now();
        let mut t2 = t.clone();
        t2.version += 1;
        t2.updated_at = now;
        let other = if l.source_id == t.id { l.target_id } else { l.source_id };
        let batch = WriteBatch {
            actor: Some(actor.user_id),
            via: via_for(actor, via),
            at: now,
            writes: vec![TicketWrite {
                ticket: t2,
                expected_version: Some(t.version),
                comment: None,
                events: vec![NewEvent::field(EventKind::Unlinked, l.kind.as_str(), Some(other.to_string()), None)],
            }],
            unlinks: vec![l.id],
            ..Default::default()
        };
        self.write(batch).await?;
        Ok(())
    }

    /// Applies the same change to many tickets, each in its own transaction, and reports each.
    pub async fn bulk_update(
        &self,
        actor: &Principal,
        ids: &[TicketId],
        input: &UpdateTicket,
        via: Via,
    ) -> Result<Vec<(TicketId, Result<Ticket>)>> {
        access::require_staff(actor, "only agents update tickets in bulk")?;
        if ids.is_empty() || ids.len() > 100 {
            return Err(DomainError::invalid("ids", Code::InvalidValue, "1–100 ticket ids").into());
        }
        // What is wrong with the change itself is wrong for every ticket: one 422, not a
        // hundred item errors (nor none, when no ticket is found).
        let cfg = self.config().await?;
        Self::check_change(&cfg, input).map_err(|e| match e {
            CoreError::Domain(DomainError::Invalid { field, code, message }) => {
                DomainError::Invalid { field: format!("changes.{field}"), code, message }.into()
            }
            e => e,
        })?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push((*id, self.update_ticket(actor, *id, input.clone(), None, via).await));
        }
        Ok(out)
    }
}
