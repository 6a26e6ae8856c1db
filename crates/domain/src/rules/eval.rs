//! Condition matching over a ticket, what the update did to it, and its requester.

use std::borrow::Cow;
use std::cell::OnceCell;

use jiff::Timestamp;
use serde_json::Value;

use super::{Anchor, Condition, Conditions, Field, Operand, Operator, UpdateKind};
use crate::category::{self, Category};
use crate::ids::{OrganizationId, UserId};
use crate::tickets::{StatusCategory, Ticket};

/// What rules may ask about a ticket's requester.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    pub organization_id: Option<OrganizationId>,
    pub vip_level: i64,
    pub language: String,
    pub account_manager_id: Option<UserId>,
}

/// The update a trigger looks at; automations see none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateFacts {
    pub created: bool,
    pub via: &'static str,
    /// The comment this update adds: (public, by the customer, text).
    pub comment: Option<(bool, bool, String)>,
}

/// Everything a condition may read, with the lower-cased texts computed once.
pub(crate) struct Ctx<'a> {
    pub ticket: &'a Ticket,
    pub before: Option<&'a Ticket>,
    pub update: Option<&'a UpdateFacts>,
    pub requester: &'a Requester,
    pub categories: &'a [Category],
    pub now: Timestamp,
    subject: OnceCell<String>,
    description: OnceCell<String>,
    comment: OnceCell<String>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        ticket: &'a Ticket,
        before: Option<&'a Ticket>,
        update: Option<&'a UpdateFacts>,
        requester: &'a Requester,
        categories: &'a [Category],
        now: Timestamp,
    ) -> Self {
        Ctx {
            ticket,
            before,
            update,
            requester,
            categories,
            now,
            subject: OnceCell::new(),
            description: OnceCell::new(),
            comment: OnceCell::new(),
        }
    }

    fn subject(&self) -> &str {
        self.subject.get_or_init(|| self.ticket.subject.to_lowercase())
    }

    fn description(&self) -> &str {
        self.description.get_or_init(|| self.ticket.description.to_lowercase())
    }

    fn comment(&self) -> &str {
        self.comment.get_or_init(|| {
            self.update.and_then(|u| u.comment.as_ref()).map(|(_, _, text)| text.to_lowercase()).unwrap_or_default()
        })
    }

    pub fn kinds(&self) -> Vec<UpdateKind> {
        let mut out = Vec::new();
        let Some(u) = self.update else { return out };
        out.push(if u.created { UpdateKind::Created } else { UpdateKind::Updated });
        // A new ticket's opening comment is its description, not a reply.
        match &u.comment {
            _ if u.created => {}
            Some((true, true, _)) => out.push(UpdateKind::CustomerReplied),
            Some((true, false, _)) => out.push(UpdateKind::AgentReplied),
            Some((false, _, _)) => out.push(UpdateKind::InternalNote),
            None => {}
        }
        let t = self.ticket;
        if self.before.is_some_and(|b| b.status.id != t.status.id) {
            out.push(UpdateKind::StatusChanged);
        }
        if t.assignee_id.is_some() && self.before.map(|b| b.assignee_id) != Some(t.assignee_id) {
            out.push(UpdateKind::Assigned);
        }
        out
    }
}

/// A field's value on one ticket, in a comparable form.
#[derive(Debug, Clone, PartialEq)]
enum Val<'a> {
    Id(Option<i64>),
    Text(Cow<'a, str>),
    Tags(&'a [String]),
    Int(i64),
    Json(Option<&'a Value>),
    Kinds(Vec<UpdateKind>),
    Time(Option<Timestamp>),
}

fn value<'a>(f: &Field, t: &'a Ticket, c: &'a Ctx) -> Val<'a> {
    match f {
        Field::Status => Val::Text(Cow::Borrowed(&t.status.key)),
        Field::Priority => Val::Int(t.priority.rank()),
        Field::Type => Val::Text(Cow::Borrowed(t.kind.as_str())),
        Field::Channel => Val::Text(Cow::Borrowed(t.channel.as_str())),
        Field::Via => Val::Text(Cow::Borrowed(c.update.map(|u| u.via).unwrap_or_default())),
        Field::GroupId => Val::Id(t.group_id.map(|g| g.0)),
        Field::AssigneeId => Val::Id(t.assignee_id.map(|a| a.0)),
        Field::RequesterId => Val::Id(Some(t.requester_id.0)),
        Field::OrganizationId => Val::Id(t.organization_id.map(|o| o.0)),
        Field::CategoryId => Val::Id(t.category_id.map(|c| c.0)),
        Field::Tags => Val::Tags(&t.tags),
        // Subject and description never change within a cycle: the cached lower-case text
        // is the current ticket's (`before` reads are compared raw).
        Field::Subject if std::ptr::eq(t, c.ticket) => Val::Text(Cow::Borrowed(c.subject())),
        Field::Subject => Val::Text(Cow::Owned(t.subject.to_lowercase())),
        Field::Description => Val::Text(Cow::Borrowed(c.description())),
        Field::Comment => Val::Text(Cow::Borrowed(c.comment())),
        Field::Text => Val::Text(Cow::Owned(format!("{}\n{}\n{}", c.subject(), c.description(), c.comment()))),
        Field::Custom(k) => Val::Json(t.custom_fields.get(k)),
        Field::VipLevel => Val::Int(c.requester.vip_level),
        Field::RequesterLanguage => Val::Text(Cow::Owned(c.requester.language.to_lowercase())),
        Field::Update => Val::Kinds(c.kinds()),
        Field::DueAt => Val::Time(t.due_at),
        Field::Time { .. } => Val::Time(None),
    }
}

/// Whether a JSON value equals an operand value (numbers compared as numbers).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn json_cmp(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        // Decimals arrive as text, dates as ISO text.
        (Value::String(x), Value::String(y)) => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(p), Ok(q)) => p.partial_cmp(&q),
            _ => Some(x.cmp(y)),
        },
        _ => None,
    }
}

fn is_blank(v: &Val) -> bool {
    match v {
        Val::Id(None) | Val::Json(None) | Val::Time(None) => true,
        Val::Json(Some(j)) => crate::fields::is_empty(j),
        Val::Text(t) => t.is_empty(),
        Val::Tags(t) => t.is_empty(),
        _ => false,
    }
}

/// `field is operand` on one value.
fn equals(f: &Field, v: &Val, operand: &Operand, t: &Ticket) -> bool {
    match (v, operand) {
        (_, Operand::Status(m)) if *f == Field::Status => m.matches(&t.status),
        (Val::Id(a), Operand::Id(b)) => a == b,
        (Val::Int(a), Operand::Priority(p)) => *a == p.rank(),
        (Val::Int(a), Operand::Int(b)) => a == b,
        (Val::Text(a), Operand::Text(b)) => a.as_ref() == b,
        (Val::Json(Some(a)), Operand::Json(b)) => json_eq(a, b),
        (Val::Json(None), Operand::Json(_)) => false,
        (Val::Kinds(k), Operand::Texts(names)) => k.iter().any(|k| names.iter().any(|n| n == k.as_str())),
        _ => false,
    }
}

fn contains(v: &Val, operand: &Operand) -> bool {
    match (v, operand) {
        (Val::Text(a), Operand::Text(b)) => a.contains(b.as_str()),
        (Val::Tags(tags), Operand::Texts(want)) => want.iter().any(|w| tags.contains(w)),
        (Val::Json(Some(Value::Array(items))), Operand::Text(b)) => {
            items.iter().any(|i| i.as_str().is_some_and(|s| s.to_lowercase() == *b))
        }
        (Val::Json(Some(Value::String(s))), Operand::Text(b)) => s.to_lowercase().contains(b.as_str()),
        _ => false,
    }
}

fn compare(v: &Val, operand: &Operand) -> Option<std::cmp::Ordering> {
    match (v, operand) {
        (Val::Int(a), Operand::Priority(p)) => Some(a.cmp(&p.rank())),
        (Val::Int(a), Operand::Int(b)) => Some(a.cmp(b)),
        (Val::Json(Some(a)), Operand::Json(b)) => json_cmp(a, b),
        _ => None,
    }
}

/// The time an anchor measures from on this ticket, if it applies now.
pub(crate) fn anchor_time(a: Anchor, t: &Ticket) -> Option<Timestamp> {
    match a {
        Anchor::Created => Some(t.created_at),
        Anchor::Updated => Some(t.updated_at),
        Anchor::StatusChanged => Some(t.status_changed_at),
        Anchor::Pending => (t.status.category == StatusCategory::Pending).then_some(t.status_changed_at),
        Anchor::OnHold => (t.status.category == StatusCategory::OnHold).then_some(t.status_changed_at),
        Anchor::Solved => t.solved_at,
        Anchor::Assigned => t.assigned_at,
        Anchor::CustomerReply => t.last_customer_reply_at,
        Anchor::AgentReply => t.last_agent_reply_at,
        Anchor::Due | Anchor::UntilDue => t.due_at,
    }
}

fn time_matches(anchor: Anchor, unit: i64, op: Operator, n: i64, t: &Ticket, now: Timestamp) -> bool {
    let Some(at) = anchor_time(anchor, t) else { return false };
    // Elapsed (or, until due, remaining) in microseconds, compared exactly against N units.
    let span = if anchor == Anchor::UntilDue {
        at.as_microsecond() - now.as_microsecond()
    } else {
        now.as_microsecond() - at.as_microsecond()
    };
    let unit_us = unit * 60_000_000;
    let bound = n.saturating_mul(unit_us);
    match op {
        Operator::GreaterThan => span > bound,
        Operator::LessThan => span < bound,
        Operator::Is => span.div_euclid(unit_us) == n,
        _ => false,
    }
}

impl Condition {
    pub(crate) fn matches(&self, c: &Ctx) -> bool {
        let t = c.ticket;
        if let (Field::Time { anchor, unit }, Operand::Int(n)) = (&self.field, &self.value) {
            return time_matches(*anchor, *unit, self.op, *n, t, c.now);
        }
        let v = value(&self.field, t, c);
        match self.op {
            Operator::Is => equals(&self.field, &v, &self.value, t),
            Operator::IsNot => !equals(&self.field, &v, &self.value, t),
            Operator::Contains => contains(&v, &self.value),
            Operator::NotContains => !contains(&v, &self.value),
            Operator::GreaterThan => compare(&v, &self.value) == Some(std::cmp::Ordering::Greater),
            Operator::LessThan => compare(&v, &self.value) == Some(std::cmp::Ordering::Less),
            Operator::IsUnder | Operator::NotUnder => {
                let under = match (&v, &self.value) {
                    (Val::Id(Some(id)), Operand::Id(Some(root))) => {
                        category::is_under(c.categories, crate::ids::CategoryId(*id), crate::ids::CategoryId(*root))
                    }
                    _ => false,
                };
                under == (self.op == Operator::IsUnder)
            }
            Operator::Present => !is_blank(&v),
            Operator::Blank => is_blank(&v),
            Operator::Changed | Operator::NotChanged => {
                let changed = match c.before {
                    Some(b) => value(&self.field, b, c) != v,
                    None => !is_blank(&v),
                };
                changed == (self.op == Operator::Changed)
            }
            Operator::ChangedTo => {
                let was = c.before.map(|b| value(&self.field, b, c));
                was.as_ref() != Some(&v) && equals(&self.field, &v, &self.value, t)
            }
            Operator::ChangedFrom => match c.before {
                Some(b) => {
                    value(&self.field, b, c) != v && equals(&self.field, &value(&self.field, b, c), &self.value, b)
                }
                None => false,
            },
        }
    }
}

impl Conditions {
    pub(crate) fn matches(&self, c: &Ctx) -> bool {
        self.all.iter().all(|x| x.matches(c)) && (self.any.is_empty() || self.any.iter().any(|x| x.matches(c)))
    }
}
