//! Business rules: triggers (on create and update), automations (time-based) and macros (one
//! click), written as `all`/`any` conditions and `{field, value}` actions.
//!
//! A rule arrives in its wire form ([`RuleSpec`]) and is compiled against the configuration
//! ([`Catalog`]) into typed conditions and actions: an unknown field, a wrong value type, a
//! read-only field or a reference to something that does not exist is refused there, naming the
//! row (`conditions.all[2].value`). Compiled rules evaluate without parsing anything, so 200
//! triggers cost microseconds per update. The trigger cycle is in [`cycle`], the time windows
//! and the loop checks in [`automation`].

mod automation;
mod cycle;
mod eval;
#[cfg(test)]
mod tests;

use crate::Code;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use automation::{Cmp, Prefilter, TimeBound, check_automation, check_trigger_loops};
pub use cycle::{FlowInput, NeedRoster, Notice, Outcome, Recipient, RuleNote, WebhookCall};
pub use eval::{Requester, UpdateFacts};

use crate::category::Category;
use crate::error::DomainError;
use crate::fields::{self, CustomFieldDef, FieldScope};
use crate::ids::{CategoryId, GroupId, UserId};
use crate::notifications::{self, NotificationTemplate, Texts, Wording};
use crate::people::Group;
use crate::str_enum;
use crate::tickets::{self, Channel, Priority, Status, StatusCategory, StatusRef, TicketType};

/// Firings in one update at most; a chain that reaches it is cut off and logged.
pub const FIRING_CAP: usize = 100;
/// Conditions and actions per rule at most.
pub const ROWS_MAX: usize = 50;

/// One condition row as the API sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    pub field: String,
    pub operator: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::wire_schema::rule_value))]
    pub value: Value,
}

/// `all` must hold, and at least one of `any` when it is not empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConditionsSpec {
    #[serde(default)]
    pub all: Vec<ConditionSpec>,
    #[serde(default)]
    pub any: Vec<ConditionSpec>,
}

/// One action row as the API sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    pub field: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::wire_schema::rule_value))]
    pub value: Value,
}

str_enum!(
    /// What a rule is: it decides which conditions and actions it may use.
    RuleKind { Trigger = "trigger", Automation = "automation", Macro = "macro" }
);

/// Everything a compiled rule may refer to: the configuration at the time.
pub struct Catalog<'a> {
    pub statuses: &'a [Status],
    pub categories: &'a [Category],
    pub fields: &'a [CustomFieldDef],
    pub groups: &'a [Group],
    /// Active staff with their groups.
    pub agents: &'a [(UserId, Vec<GroupId>)],
    /// Active webhooks.
    pub webhooks: &'a [i64],
    pub templates: &'a [NotificationTemplate],
}

// ---- compiled forms ------------------------------------------------------------------------

/// What a time condition measures from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Anchor {
    Created,
    Updated,
    StatusChanged,
    /// Since the status last changed, while it is pending.
    Pending,
    OnHold,
    Solved,
    Assigned,
    CustomerReply,
    AgentReply,
    /// Since the due date passed.
    Due,
    /// Until the due date (negative once it passed).
    UntilDue,
}

impl Anchor {
    /// Every anchor, in the order the console lists them.
    pub const ALL: [Anchor; 11] = [
        Anchor::Created,
        Anchor::Updated,
        Anchor::StatusChanged,
        Anchor::Pending,
        Anchor::OnHold,
        Anchor::Solved,
        Anchor::Assigned,
        Anchor::CustomerReply,
        Anchor::AgentReply,
        Anchor::Due,
        Anchor::UntilDue,
    ];

    /// The condition field that reads this anchor in `unit`s (`hours`, `minutes`):
    /// `hours_since_created`, `minutes_until_due`.
    pub fn field(self, unit: &str) -> String {
        if self == Anchor::UntilDue { format!("{unit}_until_due") } else { format!("{unit}_since_{}", self.name()) }
    }

    const NAMES: [(&'static str, Anchor); 10] = [
        ("created", Anchor::Created),
        ("updated", Anchor::Updated),
        ("status_changed", Anchor::StatusChanged),
        ("pending", Anchor::Pending),
        ("on_hold", Anchor::OnHold),
        ("solved", Anchor::Solved),
        ("assigned", Anchor::Assigned),
        ("customer_reply", Anchor::CustomerReply),
        ("agent_reply", Anchor::AgentReply),
        ("due", Anchor::Due),
    ];

    pub fn name(self) -> &'static str {
        if self == Anchor::UntilDue {
            return "until_due";
        }
        Self::NAMES.iter().find(|(_, a)| *a == self).map(|(n, _)| *n).unwrap_or("created")
    }
}

/// A field a condition reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Status,
    Priority,
    Type,
    Channel,
    Via,
    GroupId,
    AssigneeId,
    RequesterId,
    OrganizationId,
    CategoryId,
    Tags,
    Subject,
    Description,
    /// The comment this update adds.
    Comment,
    /// Subject, description or this update's comment.
    Text,
    Custom(String),
    VipLevel,
    RequesterLanguage,
    /// What kind of update this is.
    Update,
    DueAt,
    /// Minutes (1) or hours (60) since or until an anchor, in minutes per unit.
    Time {
        anchor: Anchor,
        unit: i64,
    },
}

str_enum!(
    Operator {
        Is = "is",
        IsNot = "is_not",
        Contains = "contains",
        NotContains = "not_contains",
        GreaterThan = "greater_than",
        LessThan = "less_than",
        IsUnder = "is_under",
        NotUnder = "not_under",
        Present = "present",
        Blank = "blank",
        Changed = "changed",
        NotChanged = "not_changed",
        ChangedTo = "changed_to",
        ChangedFrom = "changed_from",
    }
);

str_enum!(
    /// The kinds of update a trigger can ask about (`{"field": "update", "operator": "is",
    /// "value": "customer_replied"}`).
    UpdateKind {
        Created = "created",
        Updated = "updated",
        CustomerReplied = "customer_replied",
        AgentReplied = "agent_replied",
        InternalNote = "internal_note",
        StatusChanged = "status_changed",
        Assigned = "assigned",
    }
);

/// A status condition names a status key or a whole category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusMatch {
    Category(StatusCategory),
    Key(String),
}

impl StatusMatch {
    pub fn matches(&self, s: &StatusRef) -> bool {
        match self {
            StatusMatch::Category(c) => s.category == *c,
            StatusMatch::Key(k) => s.key == *k,
        }
    }
}

/// A condition's value, typed for its field.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    None,
    /// Lower-cased (text comparisons ignore case).
    Text(String),
    /// Lower-cased tags, or kinds of update.
    Texts(Vec<String>),
    Int(i64),
    /// An id, or `None` for "none" (unassigned, no group …).
    Id(Option<i64>),
    Status(StatusMatch),
    Priority(Priority),
    Json(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: Field,
    pub op: Operator,
    pub value: Operand,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditions {
    pub all: Vec<Condition>,
    pub any: Vec<Condition>,
}

/// Who a notification goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Requester,
    Assignee,
    Group,
    User(UserId),
}

/// A compiled action.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Status(StatusRef),
    Priority(Priority),
    Type(TicketType),
    Group(Option<GroupId>),
    Assignee(Option<UserId>),
    /// Hand the ticket to its group's assignment strategy.
    AssignAuto,
    /// Macros: the agent applying it.
    AssignMe,
    Category(Option<CategoryId>),
    Custom(String, Value),
    TagsAdd(Vec<String>),
    TagsRemove(Vec<String>),
    TagsSet(Vec<String>),
    /// To the next tier's group (or the group's configured target), with a reason.
    Escalate(String),
    Note(String),
    /// The text in each language: a template's, or the rule's own for everyone.
    Notify {
        to: Target,
        texts: Texts,
        template: Option<i64>,
    },
    Webhook(i64),
}

impl Action {
    /// The ticket field the action writes, for duplicate and conflict checks.
    fn target_field(&self) -> Option<String> {
        Some(match self {
            Action::Status(_) => "status".into(),
            Action::Priority(_) => "priority".into(),
            Action::Type(_) => "type".into(),
            Action::Group(_) | Action::Escalate(_) => "group_id".into(),
            Action::Assignee(_) | Action::AssignAuto | Action::AssignMe => "assignee_id".into(),
            Action::Category(_) => "category_id".into(),
            Action::Custom(k, _) => format!("custom_fields.{k}"),
            Action::TagsSet(_) => "tags".into(),
            _ => return None,
        })
    }
}

/// A compiled trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub id: i64,
    pub name: String,
    pub conditions: Conditions,
    pub actions: Vec<Action>,
}

/// A compiled automation.
#[derive(Debug, Clone, PartialEq)]
pub struct Automation {
    pub id: i64,
    pub name: String,
    pub conditions: Conditions,
    pub actions: Vec<Action>,
    /// Fires at most once per ticket per window even though no action undoes a condition.
    pub once: bool,
}

/// The rules of a desk with what running them needs to know of its configuration. Built once
/// per configuration snapshot and shared.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Active triggers in order.
    pub triggers: Vec<Trigger>,
    pub groups: Vec<Group>,
    pub categories: Vec<Category>,
    pub statuses: Vec<Status>,
    /// Staff names for placeholders.
    pub agent_names: BTreeMap<UserId, String>,
    /// Active staff's groups: rules keep an assignee inside the ticket's group.
    pub agent_groups: BTreeMap<UserId, Vec<GroupId>>,
}

impl RuleSet {
    /// Some trigger can solve or close, so the caller must count open children first.
    pub fn may_solve(&self) -> bool {
        self.triggers.iter().any(|t| solves(&t.actions))
    }
}

/// Whether these actions can solve or close a ticket (a parent may not be while a child is open).
pub fn solves(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::Status(s) if !s.category.is_active()))
}

// ---- compiling -----------------------------------------------------------------------------

fn bad(field: impl Into<String>, code: Code, message: impl Into<String>) -> DomainError {
    DomainError::invalid(field, code, message)
}

/// Read-only ticket fields: a rule may test them but never write them.
const READ_ONLY: &[&str] = &[
    "id",
    "number",
    "subject",
    "description",
    "requester_id",
    "channel",
    "via",
    "version",
    "created_at",
    "updated_at",
    "solved_at",
    "closed_at",
    "first_replied_at",
    "merged_into_id",
    "organization_id",
    "requester.vip_level",
    "requester.language",
    "update",
    "comment",
];

fn parse_field(name: &str, kind: RuleKind, at: &str) -> Result<Field, DomainError> {
    let f = match name {
        "status" => Field::Status,
        "priority" => Field::Priority,
        "type" => Field::Type,
        "channel" => Field::Channel,
        "via" => Field::Via,
        "group_id" => Field::GroupId,
        "assignee_id" => Field::AssigneeId,
        "requester_id" => Field::RequesterId,
        "organization_id" => Field::OrganizationId,
        "category_id" => Field::CategoryId,
        "tags" => Field::Tags,
        "subject" => Field::Subject,
        "description" => Field::Description,
        "comment" => Field::Comment,
        "text" => Field::Text,
        "requester.vip_level" => Field::VipLevel,
        "requester.language" => Field::RequesterLanguage,
        "update" => Field::Update,
        "due_at" => Field::DueAt,
        _ => {
            if let Some(key) = name.strip_prefix("custom_fields.") {
                Field::Custom(key.to_owned())
            } else if let Some(f) = parse_time_field(name) {
                f
            } else {
                return Err(bad(at, Code::UnknownField, format!("`{name}` is not a field rules know")));
            }
        }
    };
    let update_only = matches!(f, Field::Update | Field::Comment | Field::Via);
    match (kind, &f) {
        (RuleKind::Trigger, Field::Time { .. }) => {
            Err(bad(at, Code::InvalidField, "time conditions belong to automations, which run every minute"))
        }
        (RuleKind::Automation, _) if update_only => {
            Err(bad(at, Code::InvalidField, format!("`{name}` describes an update; automations run on their own")))
        }
        _ => Ok(f),
    }
}

/// `hours_since_pending`, `minutes_since_created`, `hours_until_due` …
fn parse_time_field(name: &str) -> Option<Field> {
    let (unit, rest) = if let Some(r) = name.strip_prefix("minutes_") {
        (1, r)
    } else if let Some(r) = name.strip_prefix("hours_") {
        (60, r)
    } else {
        return None;
    };
    if rest == "until_due" {
        return Some(Field::Time { anchor: Anchor::UntilDue, unit });
    }
    let what = rest.strip_prefix("since_")?;
    Anchor::NAMES.iter().find(|(n, _)| *n == what).map(|(_, anchor)| Field::Time { anchor: *anchor, unit })
}

fn text_value(v: &Value, at: &str) -> Result<String, DomainError> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_lowercase()),
        _ => Err(bad(at, Code::InvalidValue, "expected a non-empty text")),
    }
}

fn int_value(v: &Value, at: &str) -> Result<i64, DomainError> {
    v.as_i64().ok_or_else(|| bad(at, Code::InvalidValue, "expected a whole number"))
}

fn id_value(v: &Value, at: &str) -> Result<Option<i64>, DomainError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => {
            n.as_i64().filter(|i| *i > 0).map(Some).ok_or_else(|| bad(at, Code::InvalidValue, "expected an id"))
        }
        Value::String(s) if s == "none" => Ok(None),
        _ => Err(bad(at, Code::InvalidValue, "expected an id, or null for none")),
    }
}

fn status_match(cat: &Catalog, v: &Value, at: &str) -> Result<StatusMatch, DomainError> {
    let name = v.as_str().ok_or_else(|| bad(at, Code::InvalidValue, "expected a status key or category"))?;
    if let Ok(c) = StatusCategory::parse(name, at) {
        return Ok(StatusMatch::Category(c));
    }
    if cat.statuses.iter().any(|s| s.key == name) {
        Ok(StatusMatch::Key(name.to_owned()))
    } else {
        Err(bad(at, Code::UnknownStatus, format!("no status `{name}`")))
    }
}

fn check_group(cat: &Catalog, id: Option<i64>, at: &str) -> Result<Option<GroupId>, DomainError> {
    match id {
        Some(i) if !cat.groups.iter().any(|g| g.id.0 == i && g.active) => {
            Err(bad(at, Code::MissingReference, "no such active group"))
        }
        other => Ok(other.map(GroupId)),
    }
}

fn check_agent(cat: &Catalog, id: Option<i64>, at: &str) -> Result<Option<UserId>, DomainError> {
    match id {
        Some(i) if !cat.agents.iter().any(|(a, _)| a.0 == i) => {
            Err(bad(at, Code::MissingReference, "no such active agent"))
        }
        other => Ok(other.map(UserId)),
    }
}

fn check_category(cat: &Catalog, id: Option<i64>, at: &str) -> Result<Option<CategoryId>, DomainError> {
    match id {
        Some(i) if !cat.categories.iter().any(|c| c.id.0 == i && c.active) => {
            Err(bad(at, Code::MissingReference, "no such active category"))
        }
        other => Ok(other.map(CategoryId)),
    }
}

fn custom_def<'a>(cat: &'a Catalog, key: &str, at: &str) -> Result<&'a CustomFieldDef, DomainError> {
    cat.fields
        .iter()
        .find(|d| d.key == key && d.scope == FieldScope::Ticket && d.active)
        .ok_or_else(|| bad(at, Code::UnknownField, format!("no active ticket field `{key}`")))
}

/// Which operators a field takes.
fn allowed_ops(f: &Field) -> &'static [Operator] {
    use Operator::*;
    match f {
        Field::Status | Field::Type | Field::GroupId | Field::AssigneeId => {
            &[Is, IsNot, Changed, NotChanged, ChangedTo, ChangedFrom]
        }
        Field::Priority => &[Is, IsNot, GreaterThan, LessThan, Changed, NotChanged, ChangedTo, ChangedFrom],
        Field::CategoryId => &[Is, IsNot, IsUnder, NotUnder, Changed, NotChanged, ChangedTo, ChangedFrom],
        Field::Channel | Field::Via | Field::RequesterId | Field::OrganizationId | Field::RequesterLanguage => {
            &[Is, IsNot]
        }
        Field::Update => &[Is, IsNot],
        Field::Tags => &[Contains, NotContains, Changed, NotChanged],
        Field::Subject | Field::Description => &[Is, IsNot, Contains, NotContains, Changed, NotChanged],
        Field::Comment | Field::Text => &[Contains, NotContains],
        Field::Custom(_) => &[
            Is,
            IsNot,
            Contains,
            NotContains,
            GreaterThan,
            LessThan,
            Present,
            Blank,
            Changed,
            NotChanged,
            ChangedTo,
            ChangedFrom,
        ],
        Field::VipLevel => &[Is, IsNot, GreaterThan, LessThan],
        Field::DueAt => &[Present, Blank, Changed, NotChanged],
        Field::Time { .. } => &[Is, GreaterThan, LessThan],
    }
}

fn compile_condition(cat: &Catalog, kind: RuleKind, c: &ConditionSpec, at: &str) -> Result<Condition, DomainError> {
    let field = parse_field(&c.field, kind, &format!("{at}.field"))?;
    let op = Operator::parse(&c.operator, &format!("{at}.operator"))?;
    if !allowed_ops(&field).contains(&op) {
        return Err(bad(
            format!("{at}.operator"),
            Code::InvalidOperator,
            format!("`{}` does not take `{}`", c.field, c.operator),
        ));
    }
    if matches!(op, Operator::Changed | Operator::NotChanged | Operator::ChangedTo | Operator::ChangedFrom)
        && kind != RuleKind::Trigger
    {
        return Err(bad(format!("{at}.operator"), Code::InvalidOperator, "only triggers see what an update changed"));
    }
    let at_v = format!("{at}.value");
    let needs_value = !matches!(op, Operator::Present | Operator::Blank | Operator::Changed | Operator::NotChanged);
    let value = if !needs_value {
        Operand::None
    } else {
        let v = &c.value;
        match &field {
            Field::Status => Operand::Status(status_match(cat, v, &at_v)?),
            Field::Priority => Operand::Priority(Priority::parse(v.as_str().unwrap_or_default(), &at_v)?),
            Field::Type => Operand::Text(TicketType::parse(v.as_str().unwrap_or_default(), &at_v)?.as_str().into()),
            Field::Channel => Operand::Text(Channel::parse(v.as_str().unwrap_or_default(), &at_v)?.as_str().into()),
            Field::Via => {
                Operand::Text(crate::event::Via::parse(v.as_str().unwrap_or_default(), &at_v)?.as_str().into())
            }
            Field::GroupId => Operand::Id(check_group(cat, id_value(v, &at_v)?, &at_v)?.map(|g| g.0)),
            Field::AssigneeId => Operand::Id(check_agent(cat, id_value(v, &at_v)?, &at_v)?.map(|u| u.0)),
            Field::RequesterId | Field::OrganizationId => Operand::Id(id_value(v, &at_v)?),
            Field::CategoryId => {
                let id = check_category(cat, id_value(v, &at_v)?, &at_v)?;
                if matches!(op, Operator::IsUnder | Operator::NotUnder) && id.is_none() {
                    return Err(bad(at_v, Code::InvalidValue, "name the category whose subtree to test"));
                }
                Operand::Id(id.map(|c| c.0))
            }
            Field::Tags => {
                let list: Vec<String> = match v {
                    Value::String(_) => vec![text_value(v, &at_v)?],
                    Value::Array(items) => items.iter().map(|i| text_value(i, &at_v)).collect::<Result<_, _>>()?,
                    _ => return Err(bad(at_v, Code::InvalidValue, "expected a tag or a list of tags")),
                };
                Operand::Texts(tickets::normalize_tags(&list, &at_v)?)
            }
            Field::Subject | Field::Description | Field::Comment | Field::Text | Field::RequesterLanguage => {
                Operand::Text(text_value(v, &at_v)?)
            }
            Field::Custom(key) => {
                let def = custom_def(cat, key, &format!("{at}.field"))?;
                match op {
                    Operator::Contains | Operator::NotContains => Operand::Text(match v {
                        Value::String(s) if !s.is_empty() => s.to_lowercase(),
                        _ => return Err(bad(at_v, Code::InvalidValue, "expected a text or option to look for")),
                    }),
                    Operator::GreaterThan | Operator::LessThan => {
                        if !(v.is_number() || v.is_string()) {
                            return Err(bad(at_v, Code::InvalidValue, "expected a number or a date"));
                        }
                        Operand::Json(def.check_value(v).map_err(|e| relocate(e, &at_v))?)
                    }
                    _ => Operand::Json(def.check_value(v).map_err(|e| relocate(e, &at_v))?),
                }
            }
            Field::VipLevel => Operand::Int(int_value(v, &at_v)?),
            Field::Update => {
                let names: Vec<&Value> = match v {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                };
                let kinds = names
                    .into_iter()
                    .map(|n| UpdateKind::parse(n.as_str().unwrap_or_default(), &at_v).map(|k| k.as_str().to_owned()))
                    .collect::<Result<Vec<_>, _>>()?;
                Operand::Texts(kinds)
            }
            Field::DueAt => Operand::None,
            Field::Time { .. } => {
                let n = int_value(v, &at_v)?;
                if !(0..=1_000_000).contains(&n) {
                    return Err(bad(at_v, Code::InvalidValue, "a duration of 0–1,000,000 units"));
                }
                Operand::Int(n)
            }
        }
    };
    Ok(Condition { field, op, value })
}

/// A value error from a field definition, moved to the row that carried the value.
fn relocate(e: DomainError, at: &str) -> DomainError {
    match e {
        DomainError::Invalid { code, message, .. } => DomainError::Invalid { field: at.to_owned(), code, message },
        other => other,
    }
}

pub fn compile_conditions(cat: &Catalog, kind: RuleKind, spec: &ConditionsSpec) -> Result<Conditions, DomainError> {
    if spec.all.len() + spec.any.len() > ROWS_MAX {
        return Err(bad("conditions", Code::TooMany, format!("at most {ROWS_MAX} conditions")));
    }
    let compile = |list: &[ConditionSpec], name: &str| -> Result<Vec<Condition>, DomainError> {
        list.iter()
            .enumerate()
            .map(|(i, c)| compile_condition(cat, kind, c, &format!("conditions.{name}[{i}]")))
            .collect()
    };
    Ok(Conditions { all: compile(&spec.all, "all")?, any: compile(&spec.any, "any")? })
}

fn compile_target(cat: &Catalog, v: &Value, at: &str) -> Result<Target, DomainError> {
    match v.get("to").and_then(Value::as_str) {
        Some("requester") => Ok(Target::Requester),
        Some("assignee") => Ok(Target::Assignee),
        Some("group") => Ok(Target::Group),
        Some("user") => {
            let id = id_value(v.get("user_id").unwrap_or(&Value::Null), &format!("{at}.user_id"))?
                .ok_or_else(|| DomainError::required(format!("{at}.user_id")))?;
            Ok(Target::User(
                check_agent(cat, Some(id), &format!("{at}.user_id"))?.ok_or_else(|| DomainError::required(at))?,
            ))
        }
        _ => Err(bad(format!("{at}.to"), Code::InvalidValue, "to is requester, assignee, group or user")),
    }
}

fn text_field(v: &Value, key: &str, at: &str, max: usize) -> Result<String, DomainError> {
    let at = format!("{at}.{key}");
    let s = v.get(key).and_then(Value::as_str).map(str::trim).unwrap_or_default();
    if s.is_empty() {
        return Err(DomainError::required(at));
    }
    if s.chars().count() > max {
        return Err(bad(at, Code::TooLong, format!("at most {max} characters")));
    }
    crate::template::check(s, &at)?;
    Ok(s.to_owned())
}

fn tag_list(v: &Value, at: &str) -> Result<Vec<String>, DomainError> {
    let list: Vec<String> = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| bad(at, Code::InvalidValue, "tags are texts")))
            .collect::<Result<_, _>>()?,
        _ => return Err(bad(at, Code::InvalidValue, "expected a tag or a list of tags")),
    };
    tickets::normalize_tags(&list, at)
}

fn compile_action(cat: &Catalog, kind: RuleKind, a: &ActionSpec, at: &str) -> Result<Action, DomainError> {
    let at_f = format!("{at}.field");
    let at_v = format!("{at}.value");
    let v = &a.value;
    if READ_ONLY.contains(&a.field.as_str()) || parse_time_field(&a.field).is_some() {
        return Err(bad(at_f, Code::ReadOnlyField, format!("`{}` cannot be set by a rule", a.field)));
    }
    let in_macro = kind == RuleKind::Macro;
    let action = match a.field.as_str() {
        "status" => {
            let name = v.as_str().ok_or_else(|| bad(&at_v, Code::InvalidValue, "expected a status key or category"))?;
            let s = tickets::resolve_status(cat.statuses, name).map_err(|e| relocate(e, &at_v))?;
            if s.category == StatusCategory::New {
                return Err(bad(at_v, Code::InvalidValue, "nothing returns to new"));
            }
            Action::Status(StatusRef::from(s))
        }
        "priority" => Action::Priority(Priority::parse(v.as_str().unwrap_or_default(), &at_v)?),
        "type" => Action::Type(TicketType::parse(v.as_str().unwrap_or_default(), &at_v)?),
        "group_id" => Action::Group(check_group(cat, id_value(v, &at_v)?, &at_v)?),
        "assignee_id" => match v.as_str() {
            Some("auto") if !in_macro => Action::AssignAuto,
            Some("me") if in_macro => Action::AssignMe,
            _ => Action::Assignee(check_agent(cat, id_value(v, &at_v)?, &at_v)?),
        },
        "category_id" => Action::Category(check_category(cat, id_value(v, &at_v)?, &at_v)?),
        "tags_add" => Action::TagsAdd(tag_list(v, &at_v)?),
        "tags_remove" => Action::TagsRemove(tag_list(v, &at_v)?),
        "tags" => Action::TagsSet(tag_list(v, &at_v)?),
        "escalate" if !in_macro => {
            let reason = match v {
                Value::String(s) if !s.trim().is_empty() => s.trim().to_owned(),
                _ => return Err(DomainError::invalid(at_v, Code::Required, "give the reason for the escalation")),
            };
            crate::template::check(&reason, &at_v)?;
            Action::Escalate(reason)
        }
        "internal_note" if !in_macro => {
            let body = match v {
                Value::String(s) if !s.trim().is_empty() => s.trim().to_owned(),
                _ => return Err(DomainError::required(at_v)),
            };
            crate::template::check(&body, &at_v)?;
            Action::Note(body)
        }
        "notify" if !in_macro => {
            if !v.is_object() {
                return Err(bad(
                    at_v,
                    Code::InvalidValue,
                    "expected {\"to\": …, \"template_id\": …} or {\"to\": …, \"subject\": …, \"body\": …}",
                ));
            }
            let to = compile_target(cat, v, &at_v)?;
            match v.get("template_id").filter(|t| !t.is_null()) {
                Some(_) if v.get("subject").is_some() || v.get("body").is_some() => {
                    return Err(bad(at_v, Code::InvalidValue, "a template_id or a subject and body, not both"));
                }
                Some(t) => {
                    let at_t = format!("{at_v}.template_id");
                    let id = t.as_i64().ok_or_else(|| bad(&at_t, Code::InvalidValue, "a template's id"))?;
                    let found = cat.templates.iter().find(|n| n.id == id);
                    let template = found.ok_or_else(|| bad(&at_t, Code::MissingReference, "no such template"))?;
                    Action::Notify { to, texts: template.texts.clone(), template: Some(id) }
                }
                None => Action::Notify {
                    to,
                    texts: Texts::same(Wording {
                        subject: text_field(v, "subject", &at_v, notifications::SUBJECT_MAX)?,
                        body: text_field(v, "body", &at_v, notifications::BODY_MAX)?,
                    }),
                    template: None,
                },
            }
        }
        "webhook" if !in_macro => {
            let id = v
                .get("webhook_id")
                .unwrap_or(v)
                .as_i64()
                .ok_or_else(|| bad(&at_v, Code::InvalidValue, "expected {\"webhook_id\": …}"))?;
            if !cat.webhooks.contains(&id) {
                return Err(bad(at_v, Code::MissingReference, "no such active webhook"));
            }
            Action::Webhook(id)
        }
        other => {
            if let Some(key) = other.strip_prefix("custom_fields.") {
                let def = custom_def(cat, key, &at_f)?;
                let mut one = BTreeMap::new();
                one.insert(key.to_owned(), v.clone());
                let checked = fields::check_values(std::slice::from_ref(def), FieldScope::Ticket, &one)
                    .map_err(|e| relocate(e, &at_v))?;
                Action::Custom(key.to_owned(), checked.get(key).cloned().unwrap_or(Value::Null))
            } else {
                let what = if in_macro { "macros" } else { "rules" };
                return Err(bad(at_f, Code::UnknownField, format!("`{other}` is not something {what} can set")));
            }
        }
    };
    Ok(action)
}

pub fn compile_actions(cat: &Catalog, kind: RuleKind, spec: &[ActionSpec]) -> Result<Vec<Action>, DomainError> {
    if spec.len() > ROWS_MAX {
        return Err(bad("actions", Code::TooMany, format!("at most {ROWS_MAX} actions")));
    }
    if spec.is_empty() && kind != RuleKind::Macro {
        return Err(bad("actions", Code::Required, "a rule needs at least one action"));
    }
    let actions = spec
        .iter()
        .enumerate()
        .map(|(i, a)| compile_action(cat, kind, a, &format!("actions[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    // One value per field, and no tag both added and removed: the order would decide.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, a) in actions.iter().enumerate() {
        if let Some(f) = a.target_field()
            && let Some(first) = seen.insert(f.clone(), i)
        {
            return Err(bad(
                format!("actions[{i}].field"),
                Code::ConflictingActions,
                format!("`{f}` is already set by actions[{first}]"),
            ));
        }
    }
    let added: Vec<&String> =
        actions.iter().flat_map(|a| if let Action::TagsAdd(t) = a { t.iter().collect() } else { vec![] }).collect();
    for (i, a) in actions.iter().enumerate() {
        if let Action::TagsRemove(t) = a
            && let Some(tag) = t.iter().find(|t| added.contains(t))
        {
            return Err(bad(
                format!("actions[{i}].value"),
                Code::ConflictingActions,
                format!("tag `{tag}` is both added and removed"),
            ));
        }
    }
    Ok(actions)
}

/// The wire form of a trigger or automation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    pub conditions: ConditionsSpec,
    pub actions: Vec<ActionSpec>,
}

pub fn compile_trigger(cat: &Catalog, id: i64, name: &str, spec: &RuleSpec) -> Result<Trigger, DomainError> {
    Ok(Trigger {
        id,
        name: name.to_owned(),
        conditions: compile_conditions(cat, RuleKind::Trigger, &spec.conditions)?,
        actions: compile_actions(cat, RuleKind::Trigger, &spec.actions)?,
    })
}

pub fn compile_automation(
    cat: &Catalog,
    id: i64,
    name: &str,
    spec: &RuleSpec,
    once: bool,
) -> Result<Automation, DomainError> {
    Ok(Automation {
        id,
        name: name.to_owned(),
        conditions: compile_conditions(cat, RuleKind::Automation, &spec.conditions)?,
        actions: compile_actions(cat, RuleKind::Automation, &spec.actions)?,
        once,
    })
}
