//! The rule builder shared by triggers, automations and macros: conditions and actions as
//! rows with typed value pickers. Rows work without script (a few blank ones wait at the end of
//! each list); our script adds rows and switches each value's picker to the field chosen, and an
//! error lands on the row it names.

use gongdan_domain::fields::{FieldKind, FieldScope};
use gongdan_domain::rules::{ActionSpec, Anchor, ConditionSpec, Operator, RuleKind, UpdateKind};
use gongdan_domain::tickets::{StatusCategory, TicketType};
use serde_json::{Value, json};

use crate::ui::UiError;
use crate::ui::ctx::Ctx;
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::view::{Opt, category_options};

// ---- the pickers ---------------------------------------------------------------------------

/// A choice in a row's field picker, with the value list that goes with it.
pub struct FieldChoice {
    pub value: String,
    pub label: String,
    /// The `<datalist>` the value input takes for this field.
    pub list: &'static str,
}

/// Fields every rule's conditions may test (custom fields and time conditions come on top).
pub(crate) const CONDITION_FIELDS: [&str; 15] = [
    "status",
    "priority",
    "type",
    "channel",
    "group_id",
    "assignee_id",
    "requester_id",
    "organization_id",
    "category_id",
    "tags",
    "subject",
    "description",
    "requester.vip_level",
    "requester.language",
    "due_at",
];
/// What only a trigger sees: the update that fired it.
pub(crate) const TRIGGER_FIELDS: [&str; 4] = ["comment", "text", "update", "via"];
/// Actions a macro may take too.
pub(crate) const ACTION_FIELDS: [&str; 8] =
    ["status", "priority", "type", "group_id", "assignee_id", "category_id", "tags_add", "tags_remove"];
/// Actions for triggers and automations only.
pub(crate) const RULE_ACTIONS: [&str; 4] = ["escalate", "internal_note", "notify", "webhook"];

/// The message keys of the pickers' labels.
pub(crate) fn field_key(field: &str) -> String {
    format!("rule-field-{}", field.replace(['.', '_'], "-"))
}

pub(crate) fn action_key(action: &str) -> String {
    format!("rule-action-{}", action.replace('_', "-"))
}

pub(crate) fn time_key(unit: &str, anchor: &str) -> String {
    format!("rule-time-{unit}-{}", anchor.replace('_', "-"))
}

/// The value list for a field.
fn list_for(field: &str) -> &'static str {
    match field {
        "status" => "dl-status",
        "priority" => "dl-priority",
        "type" => "dl-type",
        "channel" => "dl-channel",
        "via" => "dl-via",
        "update" => "dl-update",
        "group_id" => "dl-group",
        "assignee_id" => "dl-agent",
        "category_id" => "dl-category",
        "requester.language" => "dl-language",
        "webhook" => "dl-webhook",
        _ => "",
    }
}

pub(super) fn condition_fields(ctx: &Ctx, kind: RuleKind) -> Vec<FieldChoice> {
    let mut names = CONDITION_FIELDS.to_vec();
    if kind == RuleKind::Trigger {
        names.extend(TRIGGER_FIELDS);
    }
    let mut out: Vec<FieldChoice> = names
        .into_iter()
        .map(|n| FieldChoice { value: n.to_owned(), label: ctx.t(&field_key(n)), list: list_for(n) })
        .collect();
    if kind == RuleKind::Automation {
        for unit in ["hours", "minutes"] {
            for anchor in Anchor::ALL {
                out.push(FieldChoice {
                    label: ctx.t(&time_key(unit, anchor.name())),
                    value: anchor.field(unit),
                    list: "",
                });
            }
        }
    }
    out.extend(custom_choices(ctx));
    out
}

fn custom_choices(ctx: &Ctx) -> Vec<FieldChoice> {
    ctx.cfg
        .fields
        .iter()
        .filter(|d| d.active && d.scope == FieldScope::Ticket)
        .map(|d| FieldChoice {
            value: format!("custom_fields.{}", d.key),
            label: format!("{} ({})", ctx.pick(&d.label_zh, &d.label_en), d.key),
            list: "",
        })
        .collect()
}

pub(super) fn action_fields(ctx: &Ctx, kind: RuleKind) -> Vec<FieldChoice> {
    let mut names = ACTION_FIELDS.to_vec();
    if kind != RuleKind::Macro {
        names.extend(RULE_ACTIONS);
    }
    let mut out: Vec<FieldChoice> = names
        .into_iter()
        .map(|n| FieldChoice { value: n.to_owned(), label: ctx.t(&action_key(n)), list: list_for(n) })
        .collect();
    out.extend(custom_choices(ctx));
    out
}

pub struct DataList {
    pub id: &'static str,
    pub options: Vec<Opt>,
}

/// Every value list the rows may use.
pub(super) fn datalists(ctx: &Ctx, kind: RuleKind) -> Vec<DataList> {
    let mut statuses: Vec<Opt> =
        StatusCategory::ALL.iter().map(|c| Opt::new(c.as_str(), ctx.t(&format!("status-{}", c.as_str())))).collect();
    statuses.extend(
        ctx.cfg.statuses.iter().map(|s| Opt::new(s.key.clone(), ctx.pick(&s.label_zh, &s.label_en).to_owned())),
    );
    let mut agents = vec![Opt::new("none", ctx.t("assignee-none"))];
    agents.push(if kind == RuleKind::Macro {
        Opt::new("me", ctx.t("rule-value-me"))
    } else {
        Opt::new("auto", ctx.t("rule-value-auto"))
    });
    agents.extend(crate::ui::agent::agent_options(ctx, None));
    let mut groups = vec![Opt::new("none", ctx.t("value-none"))];
    groups.extend(crate::ui::agent::group_options(ctx, None));
    let enum_list = |items: Vec<(&'static str, String)>| items.into_iter().map(|(v, l)| Opt::new(v, l)).collect();
    vec![
        DataList { id: "dl-status", options: statuses },
        DataList { id: "dl-priority", options: crate::ui::agent::priority_options(ctx) },
        DataList {
            id: "dl-type",
            options: enum_list(
                TicketType::ALL.iter().map(|k| (k.as_str(), ctx.t(&format!("type-{}", k.as_str())))).collect(),
            ),
        },
        DataList { id: "dl-channel", options: crate::ui::agent::channel_options(ctx) },
        DataList {
            id: "dl-via",
            options: enum_list(
                gongdan_domain::event::Via::ALL
                    .iter()
                    .map(|c| (c.as_str(), ctx.t(&format!("via-{}", c.as_str()))))
                    .collect(),
            ),
        },
        DataList {
            id: "dl-update",
            options: enum_list(
                UpdateKind::ALL
                    .iter()
                    .map(|u| (u.as_str(), ctx.t(&format!("rule-update-{}", u.as_str().replace('_', "-")))))
                    .collect(),
            ),
        },
        DataList { id: "dl-group", options: groups },
        DataList { id: "dl-agent", options: agents },
        DataList { id: "dl-category", options: category_options(ctx, &ctx.cfg.categories, None) },
        DataList { id: "dl-language", options: vec![Opt::new("zh-CN", "中文"), Opt::new("en", "English")] },
        DataList {
            id: "dl-webhook",
            options: ctx
                .cfg
                .webhooks
                .iter()
                .filter(|w| w.active)
                .map(|w| Opt::new(w.id.to_string(), w.name.clone()))
                .collect(),
        },
    ]
}

pub(super) fn operators(ctx: &Ctx) -> Vec<Opt> {
    Operator::ALL
        .iter()
        .map(|o| Opt::new(o.as_str(), ctx.t(&format!("rule-op-{}", o.as_str().replace('_', "-")))))
        .collect()
}

// ---- rows ----------------------------------------------------------------------------------

/// One condition row as the form shows it.
pub struct CondRow {
    /// `conditions.all.2`: the inputs are `<prefix>.field`, `.operator`, `.value`.
    pub prefix: String,
    pub field: String,
    pub operator: String,
    pub value: String,
    pub list: &'static str,
    pub error: Option<String>,
}

/// One action row; notifications use their own inputs besides the value.
pub struct ActRow {
    pub prefix: String,
    pub field: String,
    pub value: String,
    pub list: &'static str,
    pub to: String,
    pub user_id: String,
    /// The notification template's id; empty for a rule's own text.
    pub template: String,
    pub subject: String,
    pub body: String,
    pub error: Option<String>,
}

/// Blank rows waiting at the end of each list (our script adds more).
const SPARE_ROWS: usize = 2;
/// Rows read back from a form at most.
const MAX_ROWS: usize = 60;

pub(super) fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A value typed into a row, as the rule wants it: tags as lists, ids and numbers as numbers,
/// `none` as nothing, anything else as text (the rule's compiler says if it does not fit).
/// Custom fields take the type their kind stores (a text field's "12345" stays text); `op` is
/// the condition's operator (`contains` looks for one option of a multi-select).
fn parse_value(ctx: &Ctx, field: &str, op: Option<&str>, text: &str) -> Value {
    let t = text.trim();
    if t.is_empty() {
        return Value::Null;
    }
    let list = |t: &str| -> Value {
        Value::Array(
            t.split([',', '，', ' ', '\n'])
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| Value::from(x.to_owned()))
                .collect(),
        )
    };
    if let Some(key) = field.strip_prefix("custom_fields.")
        && let Some(def) = ctx.cfg.fields.iter().find(|d| d.key == key)
    {
        let contains = matches!(op, Some("contains" | "not_contains"));
        return match def.kind {
            FieldKind::MultiSelect if !contains => list(t),
            FieldKind::Checkbox if t == "true" || t == "false" => Value::Bool(t == "true"),
            _ => Value::from(t),
        };
    }
    match field {
        "tags" | "tags_add" | "tags_remove" => list(t),
        "update" if t.contains(',') => list(t),
        "escalate" | "internal_note" | "subject" | "description" | "comment" | "text" => Value::from(t),
        _ if t == "none" || t == "null" => Value::Null,
        _ if t == "true" || t == "false" => Value::Bool(t == "true"),
        _ => t.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(t)),
    }
}

pub(super) fn cond_rows(ctx: &Ctx, name: &str, list: &[ConditionSpec], errors: &FormErrors) -> Vec<CondRow> {
    let mut rows: Vec<CondRow> = list
        .iter()
        .enumerate()
        .map(|(i, c)| CondRow {
            prefix: format!("conditions.{name}.{i}"),
            field: c.field.clone(),
            operator: c.operator.clone(),
            value: value_text(&c.value),
            list: list_for(&c.field),
            error: None,
        })
        .collect();
    for _ in 0..SPARE_ROWS {
        let i = rows.len();
        rows.push(CondRow {
            prefix: format!("conditions.{name}.{i}"),
            field: String::new(),
            operator: "is".into(),
            value: String::new(),
            list: "",
            error: None,
        });
    }
    for r in &mut rows {
        r.error = row_error(ctx, errors, &r.prefix);
    }
    rows
}

pub(super) fn act_rows(ctx: &Ctx, list: &[ActionSpec], errors: &FormErrors) -> Vec<ActRow> {
    let mut rows: Vec<ActRow> = list
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let part = |k: &str| a.value.get(k).map(value_text).unwrap_or_default();
            let notify = a.field == "notify";
            let webhook = a.field == "webhook";
            ActRow {
                prefix: format!("actions.{i}"),
                field: a.field.clone(),
                value: if notify {
                    String::new()
                } else if webhook {
                    a.value.get("webhook_id").map(value_text).unwrap_or_else(|| value_text(&a.value))
                } else {
                    value_text(&a.value)
                },
                list: list_for(&a.field),
                to: if notify { part("to") } else { String::new() },
                user_id: if notify { part("user_id") } else { String::new() },
                template: if notify { part("template_id") } else { String::new() },
                subject: if notify { part("subject") } else { String::new() },
                body: if notify { part("body") } else { String::new() },
                error: None,
            }
        })
        .collect();
    for _ in 0..SPARE_ROWS {
        let i = rows.len();
        rows.push(ActRow {
            prefix: format!("actions.{i}"),
            field: String::new(),
            value: String::new(),
            list: "",
            to: "requester".into(),
            user_id: String::new(),
            template: String::new(),
            subject: String::new(),
            body: String::new(),
            error: None,
        });
    }
    for r in &mut rows {
        r.error = row_error(ctx, errors, &r.prefix);
    }
    rows
}

/// The error of a row (on any of its inputs).
fn row_error(ctx: &Ctx, errors: &FormErrors, prefix: &str) -> Option<String> {
    errors
        .fields
        .keys()
        .find(|k| k.as_str() == prefix || k.starts_with(&format!("{prefix}.")))
        .and_then(|k| errors.for_field(ctx, k))
}

/// The rows of a posted form, in order, blank ones left out.
pub(super) fn read_conditions(ctx: &Ctx, form: &UiForm, name: &str) -> Vec<ConditionSpec> {
    let mut out = Vec::new();
    for i in 0..MAX_ROWS {
        let p = format!("conditions.{name}.{i}");
        let Some(field) = form.text(&format!("{p}.field")) else { continue };
        let operator = form.text(&format!("{p}.operator")).unwrap_or_else(|| "is".into());
        let value = parse_value(ctx, &field, Some(&operator), form.get(&format!("{p}.value")).unwrap_or_default());
        out.push(ConditionSpec { field, operator, value });
    }
    out
}

pub(super) fn read_actions(ctx: &Ctx, form: &UiForm) -> Vec<ActionSpec> {
    let mut out = Vec::new();
    for i in 0..MAX_ROWS {
        let p = format!("actions.{i}");
        let Some(field) = form.text(&format!("{p}.field")) else { continue };
        let get = |k: &str| form.get(&format!("{p}.{k}")).unwrap_or_default().trim().to_owned();
        let value = match field.as_str() {
            "notify" => {
                // A template chosen sends it; its own text is for a rule without one.
                let mut v = match get("template_id").parse::<i64>() {
                    Ok(t) => json!({"to": get("to"), "template_id": t}),
                    Err(_) => json!({"to": get("to"), "subject": get("subject"), "body": get("body")}),
                };
                if let Ok(u) = get("user_id").parse::<i64>() {
                    v["user_id"] = json!(u);
                }
                v
            }
            "webhook" => {
                json!({"webhook_id": get("value").parse::<i64>().map(Value::from).unwrap_or(Value::from(get("value")))})
            }
            f => parse_value(ctx, f, None, &get("value")),
        };
        out.push(ActionSpec { field, value });
    }
    out
}

/// Maps an error about `conditions.all[k]…` / `actions[k]…` onto that row's inputs. The form
/// is shown again from the rules' own rows (blank ones dropped), so `k` is the row shown.
pub(super) fn row_errors(e: gongdan_core::CoreError, names: &[&str]) -> Result<FormErrors, UiError> {
    let (field, key) = match &e {
        gongdan_core::CoreError::Domain(d) => (d.field().map(str::to_owned), d.error_code().message_key()),
        _ => (None, ""),
    };
    let mapped = field.as_deref().and_then(|f| {
        let (head, rest) = ["conditions.all", "conditions.any", "actions"]
            .iter()
            .find_map(|h| f.strip_prefix(&format!("{h}[")).map(|r| (*h, r)))?;
        let (k, tail) = rest.split_once(']')?;
        Some(format!("{head}.{k}{tail}"))
    });
    match mapped {
        Some(name) => Ok(FormErrors::one(&name, key)),
        None => FormErrors::from_core(e, names),
    }
}
