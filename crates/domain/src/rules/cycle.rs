//! The trigger cycle and the actions every rule kind shares.
//!
//! Triggers run in order over the ticket as the update left it (a ticket closed before the
//! update never gets here; one the update closes changes no further). When one fires and changes the
//! ticket, the cycle starts again from the top, so earlier triggers see what later ones did;
//! each trigger fires at most once per update, and [`FIRING_CAP`] firings end a runaway chain.
//! When no trigger fires any more and the ticket sits unassigned in a group that hands out
//! tickets, the group's strategy picks an agent and the cycle runs once more.
//!
//! Assignment needs the group's roster as it is inside the writing transaction. The cycle is
//! pure, so instead of reading it asks: it returns [`NeedRoster`], the caller loads that roster
//! (under a lock) and runs the cycle again from the start with it. The same input and rosters
//! always give the same outcome; a run changes the caller's rosters only by the assignment
//! that stands at its end (so one writer can decide several tickets over the same rosters).

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::eval::{Ctx, Requester, UpdateFacts};
use super::{Action, Automation, FIRING_CAP, RuleSet, Target};
use crate::event::{EventKind, NewEvent};
use crate::ids::{GroupId, UserId};
use crate::notifications::Texts;
use crate::people;
use crate::routing::{self, Assignment, Needs, Roster};
use crate::template;
use crate::tickets::{PatchContext, StatusCategory, Ticket, TicketPatch};

/// Everything about an update that is not the ticket itself. Owned, so a store can run the
/// cycle again inside its transaction.
#[derive(Debug, Clone, Default)]
pub struct FlowInput {
    /// The ticket before this update; `None` on create.
    pub before: Option<Ticket>,
    pub update: UpdateFacts,
    pub requester: Requester,
    /// Who made the update (macros assign "me"; texts name them).
    pub actor: Option<(UserId, String)>,
    /// Children not solved yet, for rules that solve or close.
    pub open_children: usize,
    pub now: Timestamp,
}

/// The cycle needs this group's roster to assign; load it and run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedRoster(pub GroupId);

/// Who a notification goes to, once the ticket is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    User(UserId),
    /// Every active member of the group.
    Group(GroupId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub rule: String,
    pub to: Recipient,
    /// Placeholders filled in, each language's with its own labels.
    pub texts: Texts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleNote {
    pub rule: String,
    /// With `{{ticket.number}}` left in place on a ticket not yet numbered.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookCall {
    pub rule: String,
    pub webhook_id: i64,
}

/// What the rules did: the ticket as they left it, the events that explain it and the side
/// effects to write in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ticket: Ticket,
    pub events: Vec<NewEvent>,
    pub notes: Vec<RuleNote>,
    pub notices: Vec<Notice>,
    pub webhooks: Vec<WebhookCall>,
    /// The automatic assignment that stands, if any: (group, agent).
    pub assigned: Option<(GroupId, UserId)>,
    /// Rules that fired, in order.
    pub fired: Vec<String>,
    /// The chain hit [`FIRING_CAP`] and was cut off.
    pub capped: bool,
}

impl Outcome {
    fn new(ticket: Ticket) -> Self {
        Outcome {
            ticket,
            events: vec![],
            notes: vec![],
            notices: vec![],
            webhooks: vec![],
            assigned: None,
            fired: vec![],
            capped: false,
        }
    }
}

/// A notification before the ticket is settled (requester and assignee are read at the end).
struct PendingNotice {
    rule: String,
    to: Target,
    texts: Texts,
}

struct Run<'a> {
    rules: &'a RuleSet,
    input: &'a FlowInput,
    rosters: &'a mut BTreeMap<GroupId, Roster>,
    out: Outcome,
    notices: Vec<PendingNotice>,
}

impl RuleSet {
    /// Runs the triggers over `ticket` (the update already applied to it).
    pub fn run(
        &self,
        ticket: Ticket,
        input: &FlowInput,
        rosters: &mut BTreeMap<GroupId, Roster>,
    ) -> Result<Outcome, NeedRoster> {
        self.run_after(None, ticket, input, rosters)
    }

    /// An automation's actions over a ticket as stored, then the triggers over what they did.
    /// The ticket's version goes up by one when anything on it changed (a notification alone
    /// leaves it as it was).
    pub fn run_automation(
        &self,
        a: &Automation,
        ticket: Ticket,
        input: &FlowInput,
        rosters: &mut BTreeMap<GroupId, Roster>,
    ) -> Result<Outcome, NeedRoster> {
        let stored = ticket.clone();
        let mut out = self.run_after(Some((&a.name, &a.actions)), ticket, input, rosters)?;
        if out.ticket != stored {
            out.ticket.version = stored.version + 1;
        }
        Ok(out)
    }

    /// A text with its placeholders filled in for a ticket (macro replies).
    pub fn render_text(&self, text: &str, ticket: &Ticket, input: &FlowInput) -> String {
        render(self, text, ticket, input, None)
    }

    /// A text in a language: a notification template's, as a person reading it gets it.
    pub fn render_in(&self, text: &str, ticket: &Ticket, input: &FlowInput, language: people::Language) -> String {
        render(self, text, ticket, input, Some(language.as_str()))
    }

    /// A macro's actions as the agent applying it (no triggers: the caller runs them with the
    /// macro's result as the update). Events carry no rule: the agent made the change.
    pub fn apply_macro(&self, actions: &[Action], ticket: Ticket, input: &FlowInput) -> Outcome {
        let mut rosters = BTreeMap::new();
        let mut run = Run { rules: self, input, rosters: &mut rosters, out: Outcome::new(ticket), notices: vec![] };
        let version = run.out.ticket.version;
        // Macros cannot ask for the group's strategy, so no roster is ever needed.
        let _ = run.apply(None, actions);
        run.out.ticket.version = version;
        run.finish()
    }

    fn run_after(
        &self,
        first: Option<(&str, &[Action])>,
        ticket: Ticket,
        input: &FlowInput,
        rosters: &mut BTreeMap<GroupId, Roster>,
    ) -> Result<Outcome, NeedRoster> {
        // The write bumps the version once, however many rules change the ticket.
        let version = ticket.version;
        // Picks made along the way go to a copy: a run that must start again (it needs another
        // roster) or a pick a later rule undoes leaves the caller's rosters as they were.
        let mut work = rosters.clone();
        let mut run = Run { rules: self, input, rosters: &mut work, out: Outcome::new(ticket), notices: vec![] };
        if let Some((name, actions)) = first {
            run.out.fired.push(name.to_owned());
            run.apply(Some(name), actions)?;
        }
        run.cycle()?;
        run.out.ticket.version = version;
        let mut out = run.finish();
        if let Some((group, agent)) = out.assigned {
            if out.ticket.assignee_id != Some(agent) || out.ticket.group_id != Some(group) {
                out.assigned = None;
            } else {
                take(rosters, group, agent);
            }
        }
        Ok(out)
    }
}

impl Run<'_> {
    fn ctx_matches(&self, t: &super::Trigger) -> bool {
        let i = self.input;
        let ctx =
            Ctx::new(&self.out.ticket, i.before.as_ref(), Some(&i.update), &i.requester, &self.rules.categories, i.now);
        t.conditions.matches(&ctx)
    }

    fn cycle(&mut self) -> Result<(), NeedRoster> {
        let mut fired = vec![false; self.rules.triggers.len()];
        let mut firings = 0;
        let mut auto_done = false;
        'cycle: loop {
            for (i, t) in self.rules.triggers.iter().enumerate() {
                if fired[i] || !self.ctx_matches(t) {
                    continue;
                }
                fired[i] = true;
                firings += 1;
                if firings > FIRING_CAP {
                    self.out.capped = true;
                    self.out.events.push(
                        NewEvent::plain(
                            EventKind::RuleError,
                            Some(format!("more than {FIRING_CAP} triggers fired in one update; the rest were skipped")),
                        )
                        .by_rule(&t.name),
                    );
                    break 'cycle;
                }
                self.out.fired.push(t.name.clone());
                if self.apply(Some(&t.name), &t.actions)? {
                    continue 'cycle;
                }
            }
            if !auto_done && self.lands_unassigned() {
                auto_done = true;
                if self.assign_auto("assignment")? {
                    continue 'cycle;
                }
            }
            break;
        }
        Ok(())
    }

    /// The ticket arrived in (or moved to) a group that hands out tickets, with nobody on it.
    fn lands_unassigned(&self) -> bool {
        let t = &self.out.ticket;
        let arrived = self.input.before.as_ref().is_none_or(|b| b.group_id != t.group_id);
        t.assignee_id.is_none()
            && t.status.category.is_active()
            && arrived
            && t.group_id.and_then(|g| self.rules.group(g)).is_some_and(|g| g.assignment != Assignment::Manual)
    }

    /// Applies a rule's actions; true when the ticket changed.
    fn apply(&mut self, rule: Option<&str>, actions: &[Action]) -> Result<bool, NeedRoster> {
        let mut changed = false;
        for a in actions {
            changed |= self.act(rule, a)?;
        }
        Ok(changed)
    }

    fn patch(&mut self, rule: Option<&str>, patch: TicketPatch) -> bool {
        // Closed is final, also when this very update closed it: later triggers may still
        // notify or call out, but change nothing.
        if self.out.ticket.status.category == StatusCategory::Closed {
            return false;
        }
        let ctx = PatchContext { open_children: self.input.open_children };
        match self.out.ticket.apply(&patch, ctx, self.input.now) {
            Ok(changes) => {
                let any = !changes.is_empty();
                for c in changes {
                    let e = NewEvent::from(c);
                    self.out.events.push(match rule {
                        Some(r) => e.by_rule(r),
                        None => e,
                    });
                }
                any
            }
            Err(err) => {
                self.error(rule, err.to_string());
                false
            }
        }
    }

    fn error(&mut self, rule: Option<&str>, message: String) {
        let e = NewEvent::plain(EventKind::RuleError, Some(message));
        self.out.events.push(match rule {
            Some(r) => e.by_rule(r),
            None => e,
        });
    }

    fn is_member(&self, agent: UserId, group: GroupId) -> bool {
        self.rules.agent_groups.get(&agent).is_some_and(|g| g.contains(&group))
    }

    /// Moves the ticket to a group; an assignee who is not a member lets go of it.
    fn move_to_group(&mut self, rule: Option<&str>, group: Option<GroupId>) -> bool {
        let mut p = TicketPatch { group_id: Some(group), ..Default::default() };
        if let (Some(a), Some(g)) = (self.out.ticket.assignee_id, group)
            && !self.is_member(a, g)
        {
            p.assignee_id = Some(None);
        }
        self.patch(rule, p)
    }

    fn give_to(&mut self, rule: Option<&str>, agent: Option<UserId>) -> bool {
        let mut p = TicketPatch { assignee_id: Some(agent), ..Default::default() };
        if let Some(a) = agent {
            let in_group = self.out.ticket.group_id.is_some_and(|g| self.is_member(a, g));
            if !in_group && let Some(first) = self.rules.agent_groups.get(&a).and_then(|g| g.first()) {
                p.group_id = Some(Some(*first));
            }
        }
        self.patch(rule, p)
    }

    fn needs(&self) -> Needs {
        let t = &self.out.ticket;
        let r = &self.input.requester;
        let mut skills = vec![routing::language_skill(&r.language)];
        if r.vip_level > 0 {
            skills.push("vip".into());
        }
        skills.extend(t.tags.iter().cloned());
        for v in t.custom_fields.values() {
            match v {
                serde_json::Value::String(s) => skills.push(s.to_lowercase()),
                serde_json::Value::Array(items) => {
                    skills.extend(items.iter().filter_map(|i| i.as_str()).map(str::to_lowercase))
                }
                _ => {}
            }
        }
        skills.sort();
        skills.dedup();
        Needs { skills, account_manager: r.account_manager_id }
    }

    /// The group's strategy picks an agent; true when the ticket got one.
    fn assign_auto(&mut self, rule: &str) -> Result<bool, NeedRoster> {
        let Some(group) = self.out.ticket.group_id else {
            self.error(Some(rule), "the ticket has no group to assign from".into());
            return Ok(false);
        };
        let needs = self.needs();
        let roster = self.rosters.get(&group).ok_or(NeedRoster(group))?;
        let Some(agent) = roster.pick(&needs) else { return Ok(false) };
        // Later picks in this run see this one.
        take(self.rosters, group, agent);
        let changed = self.patch(Some(rule), TicketPatch { assignee_id: Some(Some(agent)), ..Default::default() });
        if changed {
            self.out.assigned = Some((group, agent));
        }
        Ok(changed)
    }

    fn render(&self, text: &str) -> String {
        render(self.rules, text, &self.out.ticket, self.input, None)
    }

    fn act(&mut self, rule: Option<&str>, a: &Action) -> Result<bool, NeedRoster> {
        Ok(match a {
            Action::Status(s) => self.patch(rule, TicketPatch { status: Some(s.clone()), ..Default::default() }),
            Action::Priority(p) => self.patch(rule, TicketPatch { priority: Some(*p), ..Default::default() }),
            Action::Type(k) => self.patch(rule, TicketPatch { kind: Some(*k), ..Default::default() }),
            Action::Group(g) => self.move_to_group(rule, *g),
            Action::Assignee(a) => self.give_to(rule, *a),
            Action::AssignMe => {
                let me = self.input.actor.as_ref().map(|(id, _)| *id);
                self.give_to(rule, me)
            }
            Action::AssignAuto => self.assign_auto(rule.unwrap_or("assignment"))?,
            Action::Category(c) => self.patch(rule, TicketPatch { category_id: Some(*c), ..Default::default() }),
            Action::Custom(k, v) => {
                let mut p = TicketPatch::default();
                p.custom_fields.insert(k.clone(), v.clone());
                self.patch(rule, p)
            }
            Action::TagsAdd(t) => self.patch(rule, TicketPatch { add_tags: t.clone(), ..Default::default() }),
            Action::TagsRemove(t) => self.patch(rule, TicketPatch { remove_tags: t.clone(), ..Default::default() }),
            Action::TagsSet(t) => self.patch(rule, TicketPatch { tags: Some(t.clone()), ..Default::default() }),
            Action::Escalate(reason) => {
                let from = self.out.ticket.group_id;
                match people::escalation_target(&self.rules.groups, from).map(|g| g.id) {
                    Some(to) => {
                        let reason = self.render(reason);
                        let moved = self.move_to_group(rule, Some(to));
                        if moved {
                            let e = NewEvent::field(
                                EventKind::Escalated,
                                "group_id",
                                from.map(|g| g.to_string()),
                                Some(reason),
                            );
                            self.out.events.push(match rule {
                                Some(r) => e.by_rule(r),
                                None => e,
                            });
                        }
                        moved
                    }
                    None => {
                        self.error(rule, "no group of a higher tier to escalate to".into());
                        false
                    }
                }
            }
            Action::Note(body) => {
                let body = self.render(body);
                self.out.notes.push(RuleNote { rule: rule.unwrap_or_default().to_owned(), body });
                false
            }
            Action::Notify { to, texts, .. } => {
                let texts = texts.clone();
                self.notices.push(PendingNotice { rule: rule.unwrap_or_default().to_owned(), to: *to, texts });
                false
            }
            Action::Webhook(id) => {
                let rule = rule.unwrap_or_default().to_owned();
                self.out.events.push(NewEvent::plain(EventKind::WebhookQueued, Some(id.to_string())).by_rule(&rule));
                self.out.webhooks.push(WebhookCall { rule, webhook_id: *id });
                false
            }
        })
    }

    /// Settles who the notifications go to and fills in their texts, now that the ticket is
    /// final: a notice a rule wrote before a later rule routed the ticket names the new group.
    fn finish(mut self) -> Outcome {
        let t = &self.out.ticket;
        for n in std::mem::take(&mut self.notices) {
            let to = match n.to {
                Target::Requester => Some(Recipient::User(t.requester_id)),
                Target::Assignee => t.assignee_id.map(Recipient::User),
                Target::Group => t.group_id.map(Recipient::Group),
                Target::User(u) => Some(Recipient::User(u)),
            };
            let Some(to) = to else { continue };
            let whom = match to {
                Recipient::User(u) => format!("user:{u}"),
                Recipient::Group(g) => format!("group:{g}"),
            };
            self.out.events.push(NewEvent::plain(EventKind::Notified, Some(whom)).by_rule(&n.rule));
            let texts = n.texts.map(|text, language| render(self.rules, text, t, self.input, Some(language.as_str())));
            self.out.notices.push(Notice { rule: n.rule, to, texts });
        }
        self.out
    }
}

/// An agent took a ticket from a group: one more in their load in every roster they are on,
/// and the back of this group's round-robin order.
fn take(rosters: &mut BTreeMap<GroupId, Roster>, group: GroupId, agent: UserId) {
    for (g, roster) in rosters.iter_mut() {
        let next = roster.members.iter().map(|m| m.last_assigned).max().unwrap_or(0) + 1;
        if let Some(m) = roster.members.iter_mut().find(|m| m.id == agent) {
            m.load += 1;
            if *g == group {
                m.last_assigned = next;
            }
        }
    }
}

/// Fills in a rule's text; labels (a status's name) in `language`, else the requester's.
fn render(rules: &RuleSet, text: &str, t: &Ticket, input: &FlowInput, language: Option<&str>) -> String {
    let r = &input.requester;
    let language = language.unwrap_or(&r.language);
    template::render(text, |key| match key {
        // A new ticket has no number until it is stored; the store fills it in.
        "ticket.number" => (t.id.0 != 0).then(|| t.id.to_string()),
        "ticket.subject" => Some(t.subject.clone()),
        "ticket.status" => Some(rules.status_label(&t.status.key, language)),
        "ticket.priority" => Some(t.priority.as_str().to_owned()),
        "ticket.group" => Some(t.group_id.and_then(|g| rules.group(g)).map(|g| g.name.clone()).unwrap_or_default()),
        "ticket.assignee" => Some(t.assignee_id.and_then(|a| rules.agent_names.get(&a)).cloned().unwrap_or_default()),
        "requester.name" => Some(r.name.clone()),
        "requester.email" => Some(r.email.clone().unwrap_or_default()),
        "current_user.name" => Some(input.actor.as_ref().map(|(_, n)| n.clone()).unwrap_or_default()),
        _ => None,
    })
}

impl RuleSet {
    pub fn group(&self, id: GroupId) -> Option<&people::Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// A status's label in a language (`zh-CN` or `en`).
    pub fn status_label(&self, key: &str, language: &str) -> String {
        match self.statuses.iter().find(|s| s.key == key) {
            Some(s) if language.starts_with("zh") => s.label_zh.clone(),
            Some(s) => s.label_en.clone(),
            None => key.to_owned(),
        }
    }
}
