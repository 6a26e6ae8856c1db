//! Moving a ticket between groups on purpose: escalation up a tier (L1 → L2 → L3) and transfer
//! to another group, each with a reason the timeline keeps. The receiving group's assignment
//! strategy then hands the ticket on, as the triggers run on the move.

use gongdan_domain::Code;
use gongdan_domain::DomainError;
use gongdan_domain::access::Principal;
use gongdan_domain::event::{EventKind, NewEvent, Via};
use gongdan_domain::ids::{GroupId, TicketId};
use gongdan_domain::people;
use gongdan_domain::tickets::{PatchContext, Ticket, TicketPatch};
use gongdan_store::{TicketWrite, WriteBatch};

use crate::access;
use crate::{App, CoreError, Result};

const REASON_MAX: usize = 1000;

fn reason(text: &str) -> Result<String> {
    let r = text.trim();
    if r.is_empty() {
        return Err(DomainError::required("reason").into());
    }
    if r.chars().count() > REASON_MAX {
        return Err(DomainError::invalid("reason", Code::TooLong, format!("at most {REASON_MAX} characters")).into());
    }
    Ok(r.to_owned())
}

impl App {
    /// Escalates to `group` (or the current group's escalation target, else the next tier's
    /// first group), which must sit on a higher tier.
    pub async fn escalate(
        &self,
        actor: &Principal,
        id: TicketId,
        group: Option<GroupId>,
        why: &str,
        expected_version: Option<i64>,
        via: Via,
    ) -> Result<Ticket> {
        let why = &reason(why)?;
        self.on_current(id, expected_version, || async move {
            let t = self.get_ticket(actor, id).await?;
            let cfg = self.config().await?;
            let tier = t.group_id.and_then(|g| cfg.group(g)).map_or(0, |g| g.tier);
            let target = match group {
                Some(g) => cfg.group(g).filter(|g| g.active),
                None => people::escalation_target(&cfg.groups, t.group_id),
            }
            .ok_or_else(|| {
                DomainError::invalid("group_id", Code::MissingReference, "no active group to escalate to")
            })?;
            if target.tier <= tier {
                return Err(
                    DomainError::invalid("group_id", Code::InvalidValue, "escalation goes to a higher tier").into()
                );
            }
            self.move_to(actor, t, target.id, EventKind::Escalated, why.to_owned(), expected_version, via).await
        })
        .await
    }

    /// Transfers to another group at any tier.
    pub async fn transfer(
        &self,
        actor: &Principal,
        id: TicketId,
        group: GroupId,
        why: &str,
        expected_version: Option<i64>,
        via: Via,
    ) -> Result<Ticket> {
        let why = &reason(why)?;
        self.on_current(id, expected_version, || async move {
            let t = self.get_ticket(actor, id).await?;
            let cfg = self.config().await?;
            if !cfg.group(group).is_some_and(|g| g.active) {
                return Err(DomainError::invalid("group_id", Code::MissingReference, "no such active group").into());
            }
            if t.group_id == Some(group) {
                return Err(DomainError::invalid(
                    "group_id",
                    Code::InvalidValue,
                    "the ticket is in this group already",
                )
                .into());
            }
            self.move_to(actor, t, group, EventKind::Transferred, why.to_owned(), expected_version, via).await
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn move_to(
        &self,
        actor: &Principal,
        t: Ticket,
        group: GroupId,
        kind: EventKind,
        why: String,
        expected_version: Option<i64>,
        via: Via,
    ) -> Result<Ticket> {
        access::require_staff(actor, "only agents move tickets between groups")?;
        if expected_version.is_some_and(|v| v != t.version) {
            return Err(CoreError::VersionConflict);
        }
        let cfg = self.config().await?;
        let mut patch = TicketPatch { group_id: Some(Some(group)), ..Default::default() };
        // Whoever held it lets go unless they belong to the receiving group too (as a rule's
        // move decides it: active members only).
        if let Some(a) = t.assignee_id
            && !cfg.agents.iter().any(|x| x.id == a && x.active && x.group_ids.contains(&group))
        {
            patch.assignee_id = Some(None);
        }
        let mut next = t.clone();
        let changes = next.apply(&patch, PatchContext::default(), self.now())?;
        let mut events: Vec<NewEvent> = changes.into_iter().map(NewEvent::from).collect();
        events.push(NewEvent::field(kind, "group_id", t.group_id.map(|g| g.to_string()), Some(why)));
        let mut batch = WriteBatch {
            actor: Some(actor.user_id),
            // Staff only (checked above), so the channel is theirs to name.
            via,
            at: next.updated_at,
            writes: vec![TicketWrite { ticket: next, expected_version: Some(t.version), comment: None, events }],
            ..Default::default()
        };
        self.run_triggers(&cfg, &mut batch, Some(&t), None, Some(actor)).await?;
        let mut r = self.write(batch).await?;
        r.tickets.pop().ok_or(CoreError::Internal("empty write".into()))
    }
}
