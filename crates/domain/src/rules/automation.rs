//! Automations over time, and the checks that keep rules from looping.
//!
//! An automation fires at most once per ticket per *window*: the moments its time conditions
//! measure from (when the ticket became pending, was solved …), or, without time conditions,
//! the ticket's last update. A new window opens when the ticket moves again, so "remind after
//! 48 hours pending" reminds once per pending spell, not once a minute.
//!
//! When saved, an automation must undo one of its own conditions (close what it finds solved,
//! tag what it finds untagged) or say it fires once per window; one that would match again
//! right after firing is refused. Triggers fire at most once per update, so they cannot loop on
//! their own; two triggers that flip a field back and forth are refused when saved.

use crate::Code;
use jiff::{SignedDuration, Timestamp};

use super::eval::{Ctx, Requester, anchor_time};
use super::{Action, Anchor, Automation, Condition, Field, Operand, Operator, StatusMatch, Trigger};
use crate::category::Category;
use crate::error::DomainError;
use crate::tickets::Ticket;

impl Automation {
    /// The window this automation would fire in on this ticket now, or `None` when its
    /// conditions do not hold. The caller fires it unless it already fired in that window.
    pub fn window(&self, t: &Ticket, requester: &Requester, categories: &[Category], now: Timestamp) -> Option<String> {
        let ctx = Ctx::new(t, None, None, requester, categories, now);
        if !self.conditions.matches(&ctx) {
            return None;
        }
        let mut anchors: Vec<Anchor> = self
            .conditions
            .all
            .iter()
            .chain(&self.conditions.any)
            .filter_map(|c| if let Field::Time { anchor, .. } = c.field { Some(anchor) } else { None })
            .collect();
        anchors.sort();
        anchors.dedup();
        if anchors.is_empty() {
            return Some(if self.once { "once".into() } else { format!("updated@{}", t.updated_at.as_microsecond()) });
        }
        let parts: Vec<String> = anchors
            .iter()
            .map(|a| format!("{}@{}", a.name(), anchor_time(*a, t).map(|t| t.as_microsecond()).unwrap_or(0)))
            .collect();
        Some(parts.join(","))
    }

    /// Whether its conditions read the requester (the pass then loads requesters).
    pub fn reads_requester(&self) -> bool {
        self.conditions
            .all
            .iter()
            .chain(&self.conditions.any)
            .any(|c| matches!(c.field, Field::VipLevel | Field::RequesterLanguage))
    }

    /// The status categories a ticket must be in for this automation to match at all: lets a
    /// pass skip the rest of the desk. `None`: any non-closed ticket may match.
    pub fn status_scope(&self) -> Option<Vec<crate::tickets::StatusCategory>> {
        self.conditions.all.iter().find_map(|c| match (&c.field, c.op, &c.value) {
            (Field::Status, Operator::Is, Operand::Status(StatusMatch::Category(cat))) => Some(vec![*cat]),
            _ => None,
        })
    }

    /// What a pass can ask the database for before evaluating anything: the status categories
    /// and, for each time condition in `all`, the range its anchor must lie in now. A ticket
    /// outside them cannot match, so the pass reads only the candidates (through the queue
    /// indexes) instead of every open ticket; the candidates are then judged in full.
    pub fn prefilter(&self, now: Timestamp) -> Prefilter {
        let mut bounds = Vec::new();
        for c in &self.conditions.all {
            let (Field::Time { anchor, unit }, Operand::Int(n)) = (&c.field, &c.value) else { continue };
            let span = |k: i64| SignedDuration::from_mins(k.saturating_mul(*unit));
            let at = |k: i64| {
                if *anchor == Anchor::UntilDue { now.checked_add(span(k)) } else { now.checked_sub(span(k)) }
            };
            let (Ok(lo), Ok(hi)) = (at(*n), at(n.saturating_add(1))) else { continue };
            // Since the anchor: more time passed means an earlier anchor; until due: later.
            let until = *anchor == Anchor::UntilDue;
            match (c.op, until) {
                (Operator::GreaterThan, false) => bounds.push(TimeBound { anchor: *anchor, cmp: Cmp::Lt, at: lo }),
                (Operator::LessThan, false) => bounds.push(TimeBound { anchor: *anchor, cmp: Cmp::Gt, at: lo }),
                (Operator::Is, false) => {
                    bounds.push(TimeBound { anchor: *anchor, cmp: Cmp::Le, at: lo });
                    bounds.push(TimeBound { anchor: *anchor, cmp: Cmp::Gt, at: hi });
                }
                (Operator::GreaterThan, true) => bounds.push(TimeBound { anchor: *anchor, cmp: Cmp::Gt, at: lo }),
                (Operator::LessThan, true) => bounds.push(TimeBound { anchor: *anchor, cmp: Cmp::Lt, at: lo }),
                (Operator::Is, true) => {
                    bounds.push(TimeBound { anchor: *anchor, cmp: Cmp::Ge, at: lo });
                    bounds.push(TimeBound { anchor: *anchor, cmp: Cmp::Lt, at: hi });
                }
                _ => {}
            }
        }
        let categories = self.status_scope().unwrap_or_else(|| {
            crate::tickets::StatusCategory::ALL
                .iter()
                .copied()
                .filter(|c| c.is_active() || *c == crate::tickets::StatusCategory::Solved)
                .collect()
        });
        Prefilter { categories, bounds }
    }
}

/// How a ticket's moment compares with a bound (`anchor cmp at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// One side of the range an anchor must lie in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBound {
    pub anchor: Anchor,
    pub cmp: Cmp,
    pub at: Timestamp,
}

/// The candidates of an automation: tickets in these categories (never closed) whose anchors
/// lie within these bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefilter {
    pub categories: Vec<crate::tickets::StatusCategory>,
    pub bounds: Vec<TimeBound>,
}

/// Whether doing `a` makes `c` false on a ticket it held on.
fn undoes(a: &Action, c: &Condition) -> bool {
    use Operator::*;
    let changes_ticket = !matches!(a, Action::Notify { .. } | Action::Webhook(_));
    match (&c.field, c.op) {
        // Any change moves the update time; status changes move the status clocks.
        (Field::Time { anchor: Anchor::Updated, .. }, _) => changes_ticket,
        (Field::Time { anchor: Anchor::StatusChanged | Anchor::Pending | Anchor::OnHold | Anchor::Solved, .. }, _) => {
            matches!(a, Action::Status(_))
        }
        (Field::Time { anchor: Anchor::Assigned, .. }, _) => {
            matches!(a, Action::Assignee(_) | Action::AssignAuto | Action::Group(_) | Action::Escalate(_))
        }
        (Field::Status, Is) => matches!((a, &c.value), (Action::Status(s), Operand::Status(m)) if !m.matches(s)),
        (Field::Status, IsNot) => matches!((a, &c.value), (Action::Status(s), Operand::Status(m)) if m.matches(s)),
        (Field::Tags, NotContains) => match (a, &c.value) {
            (Action::TagsAdd(added) | Action::TagsSet(added), Operand::Texts(t)) => t.iter().any(|x| added.contains(x)),
            _ => false,
        },
        (Field::Tags, Contains) => match (a, &c.value) {
            (Action::TagsRemove(removed), Operand::Texts(t)) => t.iter().all(|x| removed.contains(x)),
            (Action::TagsSet(kept), Operand::Texts(t)) => t.iter().all(|x| !kept.contains(x)),
            _ => false,
        },
        (Field::Priority, Is) => matches!((a, &c.value), (Action::Priority(p), Operand::Priority(q)) if p != q),
        (Field::Priority, IsNot) => matches!((a, &c.value), (Action::Priority(p), Operand::Priority(q)) if p == q),
        (Field::Type, Is) => matches!((a, &c.value), (Action::Type(k), Operand::Text(v)) if k.as_str() != v),
        (Field::Type, IsNot) => matches!((a, &c.value), (Action::Type(k), Operand::Text(v)) if k.as_str() == v),
        (Field::GroupId, Is) => match (a, &c.value) {
            (Action::Group(g), Operand::Id(v)) => g.map(|g| g.0) != *v,
            (Action::Escalate(_), Operand::Id(Some(_))) => true,
            _ => false,
        },
        (Field::GroupId, IsNot) => matches!((a, &c.value), (Action::Group(g), Operand::Id(v)) if g.map(|g| g.0) == *v),
        (Field::AssigneeId, Is) => match (a, &c.value) {
            (Action::Assignee(u), Operand::Id(v)) => u.map(|u| u.0) != *v,
            // Asking the strategy for an agent undoes "unassigned" (when someone has room).
            (Action::AssignAuto, Operand::Id(None)) => true,
            _ => false,
        },
        (Field::AssigneeId, IsNot) => {
            matches!((a, &c.value), (Action::Assignee(u), Operand::Id(v)) if u.map(|u| u.0) == *v)
        }
        (Field::CategoryId, Is) => {
            matches!((a, &c.value), (Action::Category(x), Operand::Id(v)) if x.map(|x| x.0) != *v)
        }
        (Field::Custom(k), Is) => {
            matches!((a, &c.value), (Action::Custom(key, v), Operand::Json(want)) if key == k && v != want)
        }
        (Field::Custom(k), Blank) => matches!(a, Action::Custom(key, v) if key == k && !crate::fields::is_empty(v)),
        (Field::Custom(k), Present) => matches!(a, Action::Custom(key, v) if key == k && crate::fields::is_empty(v)),
        (Field::DueAt, _) => false,
        _ => false,
    }
}

/// Refuses an automation that would fire on the same ticket again at once.
pub fn check_automation(a: &Automation) -> Result<(), DomainError> {
    if a.once {
        return Ok(());
    }
    let undone_all = a.conditions.all.iter().any(|c| a.actions.iter().any(|x| undoes(x, c)));
    let undone_any =
        !a.conditions.any.is_empty() && a.conditions.any.iter().all(|c| a.actions.iter().any(|x| undoes(x, c)));
    if undone_all || undone_any {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "actions",
            Code::AutomationLoop,
            "no action undoes a condition, so this automation would fire again at once: \
             make an action change what a condition tests (close what it finds solved, add a tag \
             a condition excludes), or set `once` to fire once per ticket and window",
        ))
    }
}

/// A field a trigger pins with `is` and sets to something else: (field, from, to).
fn flips(t: &Trigger) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for c in &t.conditions.all {
        for a in &t.actions {
            let flip = match (&c.field, c.op, &c.value, a) {
                (Field::Priority, Operator::Is, Operand::Priority(from), Action::Priority(to)) if from != to => {
                    Some(("priority".to_owned(), from.as_str().to_owned(), to.as_str().to_owned()))
                }
                (Field::Type, Operator::Is, Operand::Text(from), Action::Type(to)) if from != to.as_str() => {
                    Some(("type".to_owned(), from.clone(), to.as_str().to_owned()))
                }
                (Field::Status, Operator::Is, Operand::Status(StatusMatch::Key(from)), Action::Status(to))
                    if *from != to.key =>
                {
                    Some(("status".to_owned(), from.clone(), to.key.clone()))
                }
                (Field::GroupId, Operator::Is, Operand::Id(from), Action::Group(to)) if *from != to.map(|g| g.0) => {
                    Some(("group_id".to_owned(), format!("{from:?}"), format!("{:?}", to.map(|g| g.0))))
                }
                (Field::AssigneeId, Operator::Is, Operand::Id(from), Action::Assignee(to))
                    if *from != to.map(|u| u.0) =>
                {
                    Some(("assignee_id".to_owned(), format!("{from:?}"), format!("{:?}", to.map(|u| u.0))))
                }
                (Field::Custom(k), Operator::Is, Operand::Json(from), Action::Custom(key, to))
                    if k == key && from != to =>
                {
                    Some((format!("custom_fields.{k}"), from.to_string(), to.to_string()))
                }
                _ => None,
            };
            out.extend(flip);
            // Tags: a tag a trigger requires (or forbids) and takes away (or adds).
            if let (Field::Tags, Operand::Texts(tags)) = (&c.field, &c.value) {
                for tag in tags {
                    let (has, sets) = match (c.op, a) {
                        (Operator::Contains, Action::TagsRemove(r)) if r.contains(tag) => (true, false),
                        (Operator::NotContains, Action::TagsAdd(r)) if r.contains(tag) => (false, true),
                        _ => continue,
                    };
                    out.push((format!("tag:{tag}"), has.to_string(), sets.to_string()));
                }
            }
        }
    }
    out
}

/// Refuses a trigger that, with another active trigger, would flip a field back and forth on
/// every update (one sets A where it finds B, the other B where it finds A).
pub fn check_trigger_loops(t: &Trigger, others: &[Trigger]) -> Result<(), DomainError> {
    let mine = flips(t);
    for o in others.iter().filter(|o| o.id != t.id) {
        for (field, from, to) in flips(o) {
            if mine.iter().any(|(f, a, b)| *f == field && *a == to && *b == from) {
                return Err(DomainError::invalid(
                    "actions",
                    Code::RuleLoop,
                    format!("this trigger and “{}” would set `{field}` back and forth", o.name),
                ));
            }
        }
    }
    Ok(())
}
