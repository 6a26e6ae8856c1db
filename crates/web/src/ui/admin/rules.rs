//! The rule builders of the console: triggers, automations (with a dry run) and macros, as
//! rows of conditions and actions with typed value pickers; and views and webhooks as plain
//! forms. Rows work without script (a few blank ones wait at the end of each list); our script
//! adds rows and switches each value's picker to the field chosen. Saving goes through the
//! same use cases as the API, and an error lands on the row it names.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::macros::MacroInput;
use gongdan_core::outbox::WebhookInput;
use gongdan_core::rules::RuleInput;
use gongdan_core::views::{COLUMNS, ViewInput};
use gongdan_domain::fields::{FieldKind, FieldScope};
use gongdan_domain::ids::GroupId;
use gongdan_domain::rules::{ActionSpec, ConditionSpec, ConditionsSpec, Operator, RuleKind, UpdateKind};
use gongdan_domain::ticket::{StatusCategory, TicketType};
use gongdan_store::TicketSort;
use serde_json::{Value, json};

use super::super::ctx::{Ctx, Viewer};
use super::super::form::{FormErrors, UiForm};
use super::super::view::{FieldView, Opt, category_options};
use super::super::{UiError, UiResult, redirect_flash, render};
use super::{AdminRow, FormPage, ListQuery, NavItem, allowed, apply_errors, failed, list_view, nav, paged, yes_no};

pub fn router() -> Router<App> {
    Router::new()
        .route("/admin/triggers", get(|s, v, q| list_rules(s, v, q, RuleKind::Trigger)))
        .route("/admin/automations", get(|s, v, q| list_rules(s, v, q, RuleKind::Automation)))
        .route(
            "/admin/triggers/new",
            get(|s, v| edit_rule(s, v, None, RuleKind::Trigger))
                .post(|s, v, f| save_rule(s, v, None, f, RuleKind::Trigger)),
        )
        .route(
            "/admin/automations/new",
            get(|s, v| edit_rule(s, v, None, RuleKind::Automation))
                .post(|s, v, f| save_rule(s, v, None, f, RuleKind::Automation)),
        )
        .route(
            "/admin/triggers/{id}",
            get(|s, v, Path(id): Path<i64>| edit_rule(s, v, Some(id), RuleKind::Trigger))
                .post(|s, v, Path(id): Path<i64>, f| save_rule(s, v, Some(id), f, RuleKind::Trigger)),
        )
        .route(
            "/admin/automations/{id}",
            get(|s, v, Path(id): Path<i64>| edit_rule(s, v, Some(id), RuleKind::Automation))
                .post(|s, v, Path(id): Path<i64>, f| save_rule(s, v, Some(id), f, RuleKind::Automation)),
        )
        .route("/admin/triggers/{id}/delete", post(|s, v, p, f| delete_rule(s, v, p, f, RuleKind::Trigger)))
        .route("/admin/automations/{id}/delete", post(|s, v, p, f| delete_rule(s, v, p, f, RuleKind::Automation)))
        .route("/admin/automations/dry_run", post(|s, v, f| dry_run(s, v, None, f)))
        .route("/admin/automations/{id}/dry_run", post(|s, v, Path(id): Path<i64>, f| dry_run(s, v, Some(id), f)))
        .route("/admin/macros", get(list_macros))
        .route("/admin/macros/new", get(|s, v| edit_macro(s, v, None)).post(|s, v, f| save_macro(s, v, None, f)))
        .route(
            "/admin/macros/{id}",
            get(|s, v, Path(id): Path<i64>| edit_macro(s, v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save_macro(s, v, Some(id), f)),
        )
        .route("/admin/macros/{id}/delete", post(delete_macro))
        .route("/admin/views", get(list_views))
        .route("/admin/views/new", get(|s, v| edit_view(s, v, None)).post(|s, v, f| save_view(s, v, None, f)))
        .route(
            "/admin/views/{id}",
            get(|s, v, Path(id): Path<i64>| edit_view(s, v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save_view(s, v, Some(id), f)),
        )
        .route("/admin/views/{id}/delete", post(delete_view))
        .route("/admin/webhooks", get(list_webhooks))
        .route("/admin/webhooks/new", get(|s, v| edit_webhook(s, v, None)).post(|s, v, f| save_webhook(s, v, None, f)))
        .route(
            "/admin/webhooks/{id}",
            get(|s, v, Path(id): Path<i64>| edit_webhook(s, v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save_webhook(s, v, Some(id), f)),
        )
        .route("/admin/webhooks/{id}/delete", post(delete_webhook))
}

fn section(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Trigger => "triggers",
        RuleKind::Automation => "automations",
        RuleKind::Macro => "macros",
    }
}

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

pub(crate) const TIME_ANCHORS: [&str; 11] = [
    "created",
    "updated",
    "status_changed",
    "pending",
    "on_hold",
    "solved",
    "assigned",
    "customer_reply",
    "agent_reply",
    "due",
    "until_due",
];

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

fn condition_fields(ctx: &Ctx, kind: RuleKind) -> Vec<FieldChoice> {
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
            for anchor in TIME_ANCHORS {
                let value =
                    if anchor == "until_due" { format!("{unit}_until_due") } else { format!("{unit}_since_{anchor}") };
                out.push(FieldChoice { label: ctx.t(&time_key(unit, anchor)), value, list: "" });
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

fn action_fields(ctx: &Ctx, kind: RuleKind) -> Vec<FieldChoice> {
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
fn datalists(ctx: &Ctx, kind: RuleKind) -> Vec<DataList> {
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
    agents.extend(super::super::agent::agent_options(ctx, None));
    let mut groups = vec![Opt::new("none", ctx.t("value-none"))];
    groups.extend(super::super::agent::group_options(ctx, None));
    let enum_list = |items: Vec<(&'static str, String)>| items.into_iter().map(|(v, l)| Opt::new(v, l)).collect();
    vec![
        DataList { id: "dl-status", options: statuses },
        DataList { id: "dl-priority", options: super::super::agent::priority_options(ctx) },
        DataList {
            id: "dl-type",
            options: enum_list(
                TicketType::ALL.iter().map(|k| (k.as_str(), ctx.t(&format!("type-{}", k.as_str())))).collect(),
            ),
        },
        DataList { id: "dl-channel", options: super::super::agent::channel_options(ctx) },
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

fn operators(ctx: &Ctx) -> Vec<Opt> {
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
    pub subject: String,
    pub body: String,
    pub error: Option<String>,
}

/// Blank rows waiting at the end of each list (our script adds more).
const SPARE_ROWS: usize = 2;
/// Rows read back from a form at most.
const MAX_ROWS: usize = 60;

fn value_text(v: &Value) -> String {
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

fn cond_rows(ctx: &Ctx, name: &str, list: &[ConditionSpec], errors: &FormErrors) -> Vec<CondRow> {
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

fn act_rows(ctx: &Ctx, list: &[ActionSpec], errors: &FormErrors) -> Vec<ActRow> {
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
fn read_conditions(ctx: &Ctx, form: &UiForm, name: &str) -> Vec<ConditionSpec> {
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

fn read_actions(ctx: &Ctx, form: &UiForm) -> Vec<ActionSpec> {
    let mut out = Vec::new();
    for i in 0..MAX_ROWS {
        let p = format!("actions.{i}");
        let Some(field) = form.text(&format!("{p}.field")) else { continue };
        let get = |k: &str| form.get(&format!("{p}.{k}")).unwrap_or_default().trim().to_owned();
        let value = match field.as_str() {
            "notify" => {
                let mut v = json!({"to": get("to"), "subject": get("subject"), "body": get("body")});
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
fn row_errors(e: gongdan_core::CoreError, names: &[&str]) -> Result<FormErrors, UiError> {
    let (field, code) = match &e {
        gongdan_core::CoreError::Domain(d) => (d.field().map(str::to_owned), d.code().to_owned()),
        _ => (None, String::new()),
    };
    let mapped = field.as_deref().and_then(|f| {
        let (head, rest) = ["conditions.all", "conditions.any", "actions"]
            .iter()
            .find_map(|h| f.strip_prefix(&format!("{h}[")).map(|r| (*h, r)))?;
        let (k, tail) = rest.split_once(']')?;
        Some(format!("{head}.{k}{tail}"))
    });
    match mapped {
        Some(name) => {
            let key = format!("error-{code}");
            let known = super::super::i18n::try_t(gongdan_domain::people::Language::En, &key).is_some();
            Ok(FormErrors::one(&name, if known { &key } else { "error-invalid_value" }))
        }
        None => FormErrors::from_core(e, names),
    }
}

// ---- the rule page -------------------------------------------------------------------------

pub struct DryRunView {
    pub scanned: usize,
    pub matched: usize,
    pub tickets: Vec<(i64, String)>,
}

#[derive(Template)]
#[template(path = "admin/rule.html")]
struct RulePage {
    ctx: Ctx,
    nav: Vec<NavItem>,
    title: String,
    action: String,
    back: String,
    delete: Option<String>,
    /// `trigger`, `automation` or `macro`.
    kind: &'static str,
    fields: Vec<FieldView>,
    errors: Vec<String>,
    cond_fields: Vec<FieldChoice>,
    act_fields: Vec<FieldChoice>,
    ops: Vec<Opt>,
    lists: Vec<DataList>,
    agents: Vec<Opt>,
    all: Vec<CondRow>,
    any: Vec<CondRow>,
    actions: Vec<ActRow>,
    dry_run_action: Option<String>,
    dry: Option<DryRunView>,
    /// Set for a stored rule that no longer fits the configuration.
    broken: Option<String>,
}

struct RuleForm {
    fields: Vec<FieldView>,
    conditions: ConditionsSpec,
    actions: Vec<ActionSpec>,
}

fn rule_page(ctx: Ctx, kind: RuleKind, id: Option<i64>, f: RuleForm, errors: &FormErrors) -> RulePage {
    let sec = section(kind);
    let title = ctx.t(&format!("admin-{}-{sec}", if id.is_some() { "edit" } else { "new" }));
    let (fields, general) = apply_errors(&ctx, f.fields, errors);
    RulePage {
        nav: nav(&ctx, sec),
        title,
        action: id.map(|i| format!("/admin/{sec}/{i}")).unwrap_or(format!("/admin/{sec}/new")),
        back: format!("/admin/{sec}"),
        delete: id.map(|i| format!("/admin/{sec}/{i}/delete")),
        kind: kind.as_str(),
        fields,
        errors: general,
        cond_fields: condition_fields(&ctx, kind),
        act_fields: action_fields(&ctx, kind),
        ops: operators(&ctx),
        lists: datalists(&ctx, kind),
        agents: super::super::agent::agent_options(&ctx, None),
        all: cond_rows(&ctx, "all", &f.conditions.all, errors),
        any: cond_rows(&ctx, "any", &f.conditions.any, errors),
        actions: act_rows(&ctx, &f.actions, errors),
        dry_run_action: (kind == RuleKind::Automation).then(|| {
            id.map(|i| format!("/admin/automations/{i}/dry_run")).unwrap_or("/admin/automations/dry_run".into())
        }),
        dry: None,
        broken: None,
        ctx,
    }
}

fn rule_fields(ctx: &Ctx, kind: RuleKind, r: Option<&gongdan_store::RuleRow>) -> Vec<FieldView> {
    let mut fields = vec![
        FieldView::new("name", ctx.t("field-rule-name"), "text", r.map(|r| r.name.clone()).unwrap_or_default())
            .required(true),
    ];
    if kind == RuleKind::Trigger {
        fields.push(
            FieldView::new(
                "category",
                ctx.t("field-rule-category"),
                "text",
                r.map(|r| r.category.clone()).unwrap_or_default(),
            )
            .hint(ctx.t("hint-rule-category")),
        );
    }
    fields.push(FieldView::new(
        "description",
        ctx.t("field-rule-description"),
        "textarea",
        r.map(|r| r.description.clone()).unwrap_or_default(),
    ));
    fields.push(
        FieldView::new(
            "position",
            ctx.t("field-position"),
            "number",
            r.map(|r| r.position.to_string()).unwrap_or_default(),
        )
        .hint(ctx.t("hint-rule-position")),
    );
    if kind == RuleKind::Automation {
        fields.push(
            FieldView::new("once", ctx.t("field-once"), "checkbox", r.map(|r| r.once.to_string()).unwrap_or_default())
                .hint(ctx.t("hint-once")),
        );
    }
    fields.push(FieldView::new(
        "active",
        ctx.t("field-active"),
        "checkbox",
        r.map(|r| r.active.to_string()).unwrap_or("true".into()),
    ));
    fields
}

async fn list_rules(State(app): State<App>, v: Viewer, Query(q): Query<ListQuery>, kind: RuleKind) -> UiResult {
    let p = allowed(&v, section(kind))?.principal.clone();
    let ctx = v.ctx;
    let rules = app.list_rules(&p, kind).await?;
    let rows = rules
        .into_iter()
        .map(|r| {
            let mut cells = vec![r.rule.name.clone()];
            if kind == RuleKind::Trigger {
                cells.push(r.rule.category.clone());
            }
            cells.push(r.rule.position.to_string());
            cells.push(yes_no(&ctx, r.rule.active));
            cells.push(r.error.map(|e| format!("⚠ {e}")).unwrap_or_default());
            AdminRow { href: format!("/admin/{}/{}", section(kind), r.rule.id), cells, depth: 0 }
        })
        .collect();
    let mut columns = vec![ctx.t("field-rule-name")];
    if kind == RuleKind::Trigger {
        columns.push(ctx.t("field-rule-category"));
    }
    columns.extend([ctx.t("field-position"), ctx.t("field-active"), ctx.t("field-rule-problem")]);
    let base = format!("/admin/{}", section(kind));
    let (rows, next, first) = paged(rows, &q, &base);
    list_view(ctx, section(kind), &format!("admin-{}", section(kind)), q, columns, rows, next, first)
}

async fn edit_rule(State(app): State<App>, v: Viewer, id: Option<i64>, kind: RuleKind) -> UiResult {
    let s = allowed(&v, section(kind))?;
    let stored = match id {
        Some(id) => Some(app.get_rule(&s.principal, kind, id).await?),
        None => None,
    };
    let r = stored.as_ref().map(|s| &s.rule);
    let f = RuleForm {
        fields: rule_fields(&v.ctx, kind, r),
        conditions: r.map(|r| r.conditions.clone()).unwrap_or_default(),
        actions: r.map(|r| r.actions.clone()).unwrap_or_default(),
    };
    let mut page = rule_page(v.ctx, kind, id, f, &FormErrors::default());
    page.broken = stored.and_then(|s| s.error);
    render(&page)
}

/// The rule a posted form describes.
fn read_rule(ctx: &Ctx, form: &UiForm) -> RuleInput {
    let all = read_conditions(ctx, form, "all");
    let any = read_conditions(ctx, form, "any");
    let actions = read_actions(ctx, form);
    RuleInput {
        name: Some(form.get("name").unwrap_or_default().to_owned()),
        // Absent inputs (automations have no category) leave the stored value alone.
        category: form.get("category").map(str::to_owned),
        description: form.get("description").map(str::to_owned),
        active: Some(form.checked("active")),
        position: form.id("position").ok().flatten(),
        once: Some(form.checked("once")),
        conditions: Some(ConditionsSpec { all, any }),
        actions: Some(actions),
    }
}

/// The form again as it was posted, with its errors (or a dry run's result).
fn again(ctx: Ctx, kind: RuleKind, id: Option<i64>, form: &UiForm, input: &RuleInput, errors: &FormErrors) -> RulePage {
    let fields = super::super::agent::ticket::refill(rule_fields(&ctx, kind, None), form);
    let f = RuleForm {
        fields,
        conditions: input.conditions.clone().unwrap_or_default(),
        actions: input.actions.clone().unwrap_or_default(),
    };
    rule_page(ctx, kind, id, f, errors)
}

async fn save_rule(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm, kind: RuleKind) -> UiResult {
    let s = allowed(&v, section(kind))?;
    let input = read_rule(&v.ctx, &form);
    if let Err(errors) = form.id("position") {
        return failed_rule(again(v.ctx, kind, id, &form, &input, &errors));
    }
    let result = match id {
        Some(id) => app.update_rule(&s.principal, kind, id, input.clone()).await,
        None => app.create_rule(&s.principal, kind, input.clone()).await,
    };
    match result {
        Ok(_) => Ok(redirect_flash(&format!("/admin/{}", section(kind)), "flash-saved")),
        Err(e) => {
            let errors = row_errors(e, &["name", "category", "description", "position", "once"])?;
            failed_rule(again(v.ctx, kind, id, &form, &input, &errors))
        }
    }
}

fn failed_rule(page: RulePage) -> UiResult {
    let mut res = render(&page)?;
    *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    Ok(res)
}

async fn delete_rule(
    State(app): State<App>,
    v: Viewer,
    Path(id): Path<i64>,
    _form: UiForm,
    kind: RuleKind,
) -> UiResult {
    let s = allowed(&v, section(kind))?;
    app.delete_rule(&s.principal, kind, id).await?;
    Ok(redirect_flash(&format!("/admin/{}", section(kind)), "flash-deleted"))
}

/// Shows which tickets the automation on the form would change now, without saving it.
async fn dry_run(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "automations")?;
    let input = read_rule(&v.ctx, &form);
    match app.dry_run(&s.principal, input.clone(), id).await {
        Ok(d) => {
            let mut page = again(v.ctx, RuleKind::Automation, id, &form, &input, &FormErrors::default());
            page.dry = Some(DryRunView {
                scanned: d.scanned,
                matched: d.matched,
                tickets: d.tickets.into_iter().map(|(t, subject)| (t.0, subject)).collect(),
            });
            render(&page)
        }
        Err(e) => {
            let errors = row_errors(e, &["name"])?;
            failed_rule(again(v.ctx, RuleKind::Automation, id, &form, &input, &errors))
        }
    }
}

// ---- macros --------------------------------------------------------------------------------

async fn list_macros(State(app): State<App>, v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    let p = allowed(&v, "macros")?.principal.clone();
    let ctx = v.ctx;
    let macros = app.list_macros(&p).await?;
    let rows = macros
        .into_iter()
        .map(|m| AdminRow {
            href: format!("/admin/macros/{}", m.id),
            cells: vec![
                m.name.clone(),
                ctx.visibility(if m.owner_id.is_none() { "macro-shared" } else { "macro-personal" }, m.owner_id),
                yes_no(&ctx, m.active),
            ],
            depth: 0,
        })
        .collect();
    let columns = vec![ctx.t("field-rule-name"), ctx.t("field-visibility"), ctx.t("field-active")];
    let (rows, next, first) = paged(rows, &q, "/admin/macros");
    list_view(ctx, "macros", "admin-macros", q, columns, rows, next, first)
}

fn macro_fields(ctx: &Ctx, m: Option<&gongdan_store::MacroRow>) -> Vec<FieldView> {
    vec![
        FieldView::new("name", ctx.t("field-rule-name"), "text", m.map(|m| m.name.clone()).unwrap_or_default())
            .required(true),
        FieldView::new(
            "shared",
            ctx.t("field-macro-shared"),
            "checkbox",
            m.map(|m| m.owner_id.is_none().to_string()).unwrap_or("true".into()),
        ),
        FieldView::new(
            "reply_body",
            ctx.t("field-macro-reply"),
            "textarea",
            m.map(|m| m.reply_body.clone()).unwrap_or_default(),
        )
        .hint(ctx.t("hint-placeholders")),
        FieldView::new(
            "reply_public",
            ctx.t("field-macro-public"),
            "checkbox",
            m.map(|m| m.reply_public.to_string()).unwrap_or("true".into()),
        ),
        FieldView::new(
            "active",
            ctx.t("field-active"),
            "checkbox",
            m.map(|m| m.active.to_string()).unwrap_or("true".into()),
        ),
    ]
}

async fn edit_macro(State(app): State<App>, v: Viewer, id: Option<i64>) -> UiResult {
    let s = allowed(&v, "macros")?;
    let m = match id {
        Some(id) => {
            Some(app.list_macros(&s.principal).await?.into_iter().find(|m| m.id == id).ok_or(UiError::NotFound)?)
        }
        None => None,
    };
    let f = RuleForm {
        fields: macro_fields(&v.ctx, m.as_ref()),
        conditions: ConditionsSpec::default(),
        actions: m.map(|m| m.actions).unwrap_or_default(),
    };
    render(&rule_page(v.ctx, RuleKind::Macro, id, f, &FormErrors::default()))
}

async fn save_macro(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "macros")?;
    let actions = read_actions(&v.ctx, &form);
    let input = MacroInput {
        name: Some(form.get("name").unwrap_or_default().to_owned()),
        shared: Some(form.checked("shared")),
        active: Some(form.checked("active")),
        position: None,
        actions: Some(actions.clone()),
        reply_body: Some(form.get("reply_body").unwrap_or_default().to_owned()),
        reply_public: Some(form.checked("reply_public")),
    };
    let result = match id {
        Some(id) => app.update_macro(&s.principal, id, input).await,
        None => app.create_macro(&s.principal, input).await,
    };
    match result {
        Ok(_) => Ok(redirect_flash("/admin/macros", "flash-saved")),
        Err(e) => {
            let errors = row_errors(e, &["name", "shared", "reply_body"])?;
            let fields = super::super::agent::ticket::refill(macro_fields(&v.ctx, None), &form);
            let f = RuleForm { fields, conditions: ConditionsSpec::default(), actions };
            failed_rule(rule_page(v.ctx, RuleKind::Macro, id, f, &errors))
        }
    }
}

async fn delete_macro(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = allowed(&v, "macros")?;
    app.delete_macro(&s.principal, id).await?;
    Ok(redirect_flash("/admin/macros", "flash-deleted"))
}

// ---- views ---------------------------------------------------------------------------------

async fn list_views(State(app): State<App>, v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    let p = allowed(&v, "views")?.principal.clone();
    let ctx = v.ctx;
    let views = app.list_views(&p).await?;
    let rows = views
        .iter()
        .map(|view| AdminRow {
            href: format!("/admin/views/{}", view.id),
            cells: vec![
                super::super::agent::view_label(&ctx, view),
                ctx.visibility(&format!("view-scope-{}", gongdan_core::views::scope(view)), view.owner_id),
                view.position.to_string(),
                yes_no(&ctx, view.active),
            ],
            depth: 0,
        })
        .collect();
    let columns =
        vec![ctx.t("field-rule-name"), ctx.t("field-visibility"), ctx.t("field-position"), ctx.t("field-active")];
    let (rows, next, first) = paged(rows, &q, "/admin/views");
    list_view(ctx, "views", "admin-views", q, columns, rows, next, first)
}

fn view_fields(ctx: &Ctx, v: Option<&gongdan_store::ViewRow>) -> Vec<FieldView> {
    let f: gongdan_core::views::ViewFilters =
        v.and_then(|v| serde_json::from_value(v.filters.clone()).ok()).unwrap_or_default();
    let scope = v.map(gongdan_core::views::scope).unwrap_or("shared");
    let mut statuses: Vec<Opt> =
        StatusCategory::ALL.iter().map(|c| Opt::new(c.as_str(), ctx.t(&format!("status-{}", c.as_str())))).collect();
    statuses.extend(
        ctx.cfg
            .statuses
            .iter()
            .filter(|s| StatusCategory::parse(&s.key, "s").is_err())
            .map(|s| Opt::new(s.key.clone(), ctx.pick(&s.label_zh, &s.label_en).to_owned())),
    );
    let mut assignees = vec![Opt::new("me", ctx.t("rule-value-me")), Opt::new("none", ctx.t("assignee-none"))];
    assignees.extend(super::super::agent::agent_options(ctx, None));
    let mut groups = vec![Opt::new("mine", ctx.t("view-my-groups"))];
    groups.extend(super::super::agent::group_options(ctx, None));
    // One group, "mine", or several (the API takes a list).
    let group_values: Vec<String> = match &f.group_id {
        Some(Value::Array(items)) => items.iter().map(value_text).collect(),
        Some(g) => vec![value_text(g)],
        None => vec![],
    };
    let sorts = TicketSort::ALL
        .iter()
        .map(|(n, _)| {
            Opt::new(
                *n,
                ctx.t(&format!("view-sort-{}", n.trim_start_matches('-')))
                    + if n.starts_with('-') { " ↓" } else { " ↑" },
            )
        })
        .collect();
    vec![
        FieldView::new("name", ctx.t("field-rule-name"), "text", v.map(|v| v.name.clone()).unwrap_or_default())
            .required(true),
        FieldView::new("scope", ctx.t("field-visibility"), "select", scope).options(
            ["personal", "group", "shared"].iter().map(|s| Opt::new(*s, ctx.t(&format!("view-scope-{s}")))).collect(),
            false,
        ),
        FieldView::new(
            "group_id",
            ctx.t("field-view-group"),
            "select",
            v.and_then(|v| v.group_id).map(|g| g.0.to_string()).unwrap_or_default(),
        )
        .options(super::super::agent::group_options(ctx, None), true)
        .hint(ctx.t("hint-view-group")),
        FieldView::new("f_status", ctx.t("field-status"), "multi", "")
            .options(statuses, false)
            .values(f.status.clone()),
        FieldView::new(
            "f_assignee",
            ctx.t("field-assignee"),
            "select",
            f.assignee_id.as_ref().map(value_text).unwrap_or_default(),
        )
        .options(assignees, true),
        FieldView::new("f_group", ctx.t("field-group"), "multi", "").options(groups, false).values(group_values),
        FieldView::new("f_priority", ctx.t("field-priority"), "multi", "")
            .options(super::super::agent::priority_options(ctx), false)
            .values(f.priority.iter().map(|p| p.as_str().to_owned()).collect()),
        FieldView::new("f_channel", ctx.t("field-channel"), "multi", "")
            .options(super::super::agent::channel_options(ctx), false)
            .values(f.channel.iter().map(|c| c.as_str().to_owned()).collect()),
        FieldView::new("f_tag", ctx.t("field-tag"), "text", f.tag.clone().unwrap_or_default()),
        FieldView::new(
            "f_category",
            ctx.t("field-category"),
            "tree",
            f.category_id.map(|c| c.0.to_string()).unwrap_or_default(),
        )
        .options(category_options(ctx, &ctx.cfg.categories, None), true),
        FieldView::new("columns", ctx.t("field-columns"), "multi", "")
            .options(COLUMNS.iter().map(|c| Opt::new(*c, ctx.t(&format!("column-{c}")))).collect(), false)
            .values(v.map(|v| v.columns.clone()).unwrap_or_default()),
        FieldView::new(
            "sort",
            ctx.t("field-sort"),
            "select",
            v.map(|v| v.sort.clone()).unwrap_or("-updated_at".into()),
        )
        .options(sorts, false),
        FieldView::new(
            "position",
            ctx.t("field-position"),
            "number",
            v.map(|v| v.position.to_string()).unwrap_or_default(),
        ),
        FieldView::new(
            "active",
            ctx.t("field-active"),
            "checkbox",
            v.map(|v| v.active.to_string()).unwrap_or("true".into()),
        ),
    ]
}

fn view_page(ctx: Ctx, id: Option<i64>, fields: Vec<FieldView>, errors: Vec<String>) -> FormPage {
    FormPage {
        nav: nav(&ctx, "views"),
        title: ctx.t(if id.is_some() { "admin-edit-views" } else { "admin-new-views" }),
        action: id.map(|i| format!("/admin/views/{i}")).unwrap_or("/admin/views/new".into()),
        fields,
        errors,
        delete: id.map(|i| format!("/admin/views/{i}/delete")),
        back: "/admin/views".into(),
        secret: None,
        below: vec![],
        below_columns: vec![],
        ctx,
    }
}

async fn edit_view(State(app): State<App>, v: Viewer, id: Option<i64>) -> UiResult {
    let s = allowed(&v, "views")?;
    let view = match id {
        Some(id) => Some(app.get_view(&s.principal, &id.to_string()).await?),
        None => None,
    };
    let fields = view_fields(&v.ctx, view.as_ref());
    render(&view_page(v.ctx, id, fields, vec![]))
}

async fn save_view(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "views")?;
    let mut filters = serde_json::Map::new();
    let statuses: Vec<&str> = form.all("f_status");
    if !statuses.is_empty() {
        filters.insert("status".into(), json!(statuses));
    }
    if let Some(a) = form.text("f_assignee") {
        filters.insert("assignee_id".into(), a.parse::<i64>().map(Value::from).unwrap_or(Value::from(a)));
    }
    // One group (or "mine") as itself, several as a list ("mine" among them is refused).
    let mut groups: Vec<Value> =
        form.all("f_group").into_iter().map(|g| g.parse::<i64>().map(Value::from).unwrap_or(Value::from(g))).collect();
    match (groups.pop(), groups.is_empty()) {
        (None, _) => {}
        (Some(one), true) => {
            filters.insert("group_id".into(), one);
        }
        (Some(last), false) => {
            groups.push(last);
            filters.insert("group_id".into(), Value::Array(groups));
        }
    }
    for (input, key) in [("f_priority", "priority"), ("f_channel", "channel")] {
        let picked = form.all(input);
        if !picked.is_empty() {
            filters.insert(key.into(), json!(picked));
        }
    }
    if let Some(t) = form.text("f_tag") {
        filters.insert("tag".into(), Value::from(t));
    }
    if let Some(c) = form.text("f_category").and_then(|c| c.parse::<i64>().ok()) {
        filters.insert("category_id".into(), Value::from(c));
    }
    let input = ViewInput {
        name: Some(form.get("name").unwrap_or_default().to_owned()),
        scope: form.text("scope"),
        group_id: form.text("group_id").and_then(|g| g.parse().ok()).map(GroupId),
        active: Some(form.checked("active")),
        position: form.text("position").and_then(|p| p.parse().ok()),
        filters: Some(Value::Object(filters)),
        columns: Some(form.all("columns").into_iter().map(str::to_owned).collect()),
        sort: form.text("sort"),
    };
    let result = match id {
        Some(id) => app.update_view(&s.principal, id, input).await,
        None => app.create_view(&s.principal, input).await,
    };
    match result {
        Ok(_) => Ok(redirect_flash("/admin/views", "flash-saved")),
        Err(e) => {
            let fields = view_fields(&v.ctx, None);
            let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            // The filters' own paths (`filters.status[0]`) land on their inputs.
            let e = match e {
                gongdan_core::CoreError::Domain(gongdan_domain::DomainError::Invalid { field, code, message })
                    if field.starts_with("filters.") =>
                {
                    let input = format!(
                        "f_{}",
                        field.trim_start_matches("filters.").split(['[', '.']).next().unwrap_or_default()
                    );
                    let input = match input.as_str() {
                        "f_assignee_id" => "f_assignee".to_owned(),
                        "f_group_id" => "f_group".to_owned(),
                        "f_category_id" => "f_category".to_owned(),
                        _ => input,
                    };
                    gongdan_core::CoreError::Domain(gongdan_domain::DomainError::Invalid {
                        field: input,
                        code,
                        message,
                    })
                }
                e => e,
            };
            let errors = FormErrors::from_core(e, &names)?;
            let (fields, general) = apply_errors(&v.ctx, super::super::agent::ticket::refill(fields, &form), &errors);
            failed(view_page(v.ctx, id, fields, general))
        }
    }
}

async fn delete_view(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = allowed(&v, "views")?;
    match app.delete_view(&s.principal, id).await {
        Ok(()) => Ok(redirect_flash("/admin/views", "flash-deleted")),
        Err(gongdan_core::CoreError::InUse(_)) => {
            Ok(redirect_flash(&format!("/admin/views/{id}"), "flash-view-builtin"))
        }
        Err(e) => Err(e.into()),
    }
}

// ---- webhooks ------------------------------------------------------------------------------

async fn list_webhooks(State(app): State<App>, v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    let p = allowed(&v, "webhooks")?.principal.clone();
    let ctx = v.ctx;
    let hooks = app.list_webhooks(&p).await?;
    let rows = hooks
        .into_iter()
        .map(|w| AdminRow {
            href: format!("/admin/webhooks/{}", w.id),
            cells: vec![w.name, w.url, yes_no(&ctx, w.active)],
            depth: 0,
        })
        .collect();
    let columns = vec![ctx.t("field-rule-name"), ctx.t("field-url"), ctx.t("field-active")];
    let (rows, next, first) = paged(rows, &q, "/admin/webhooks");
    list_view(ctx, "webhooks", "admin-webhooks", q, columns, rows, next, first)
}

fn webhook_fields(ctx: &Ctx, w: Option<&gongdan_store::WebhookRow>) -> Vec<FieldView> {
    vec![
        FieldView::new("name", ctx.t("field-rule-name"), "text", w.map(|w| w.name.clone()).unwrap_or_default())
            .required(true),
        FieldView::new("url", ctx.t("field-url"), "text", w.map(|w| w.url.clone()).unwrap_or_default()).required(true),
        FieldView::new("secret", ctx.t("field-secret"), "text", w.map(|w| w.secret.clone()).unwrap_or_default())
            .hint(ctx.t("hint-webhook-secret")),
        FieldView::new(
            "active",
            ctx.t("field-active"),
            "checkbox",
            w.map(|w| w.active.to_string()).unwrap_or("true".into()),
        ),
    ]
}

fn webhook_page(ctx: Ctx, id: Option<i64>, fields: Vec<FieldView>, errors: Vec<String>) -> FormPage {
    FormPage {
        nav: nav(&ctx, "webhooks"),
        title: ctx.t(if id.is_some() { "admin-edit-webhooks" } else { "admin-new-webhooks" }),
        action: id.map(|i| format!("/admin/webhooks/{i}")).unwrap_or("/admin/webhooks/new".into()),
        fields,
        errors,
        delete: id.map(|i| format!("/admin/webhooks/{i}/delete")),
        back: "/admin/webhooks".into(),
        secret: None,
        below: vec![],
        below_columns: vec![],
        ctx,
    }
}

async fn edit_webhook(State(app): State<App>, v: Viewer, id: Option<i64>) -> UiResult {
    let s = allowed(&v, "webhooks")?;
    let w = match id {
        Some(id) => {
            Some(app.list_webhooks(&s.principal).await?.into_iter().find(|w| w.id == id).ok_or(UiError::NotFound)?)
        }
        None => None,
    };
    let fields = webhook_fields(&v.ctx, w.as_ref());
    render(&webhook_page(v.ctx, id, fields, vec![]))
}

async fn save_webhook(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "webhooks")?;
    let input = WebhookInput {
        name: Some(form.get("name").unwrap_or_default().to_owned()),
        url: Some(form.get("url").unwrap_or_default().to_owned()),
        secret: form.text("secret"),
        active: Some(form.checked("active")),
    };
    let result = match id {
        Some(id) => app.update_webhook(&s.principal, id, input).await,
        None => app.create_webhook(&s.principal, input).await,
    };
    match result {
        Ok(_) => Ok(redirect_flash("/admin/webhooks", "flash-saved")),
        Err(e) => {
            let fields = webhook_fields(&v.ctx, None);
            let errors = FormErrors::from_core(e, &["name", "url", "secret"])?;
            let (fields, general) = apply_errors(&v.ctx, super::super::agent::ticket::refill(fields, &form), &errors);
            failed(webhook_page(v.ctx, id, fields, general))
        }
    }
}

async fn delete_webhook(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = allowed(&v, "webhooks")?;
    match app.delete_webhook(&s.principal, id).await {
        Ok(()) => Ok(redirect_flash("/admin/webhooks", "flash-deleted")),
        Err(gongdan_core::CoreError::InUse(_)) => {
            Ok(redirect_flash(&format!("/admin/webhooks/{id}"), "flash-webhook-in-use"))
        }
        Err(e) => Err(e.into()),
    }
}
