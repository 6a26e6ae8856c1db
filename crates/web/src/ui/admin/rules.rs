//! Triggers and automations in the console, with a dry run of an automation.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::rules::RuleInput;
use gongdan_core::rules::RuleRow;
use gongdan_domain::rules::{ActionSpec, ConditionsSpec, RuleKind};

use super::builder::{
    ActRow, CondRow, DataList, FieldChoice, act_rows, action_fields, cond_rows, condition_fields, datalists, operators,
    read_actions, read_conditions, row_errors,
};
use super::{AdminRow, ListQuery, NavItem, allowed, apply_errors, list_view, nav, paged, yes_no};
use crate::ui::ctx::{Ctx, Viewer};
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::view::{FieldView, Opt};
use crate::ui::{UiResult, redirect_flash, render};

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
}

fn section(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Trigger => "triggers",
        RuleKind::Automation => "automations",
        RuleKind::Macro => "macros",
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
pub(super) struct RulePage {
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
    templates: Vec<Opt>,
    all: Vec<CondRow>,
    any: Vec<CondRow>,
    actions: Vec<ActRow>,
    dry_run_action: Option<String>,
    dry: Option<DryRunView>,
    /// Set for a stored rule that no longer fits the configuration.
    broken: Option<String>,
}

pub(super) struct RuleForm {
    pub(super) fields: Vec<FieldView>,
    pub(super) conditions: ConditionsSpec,
    pub(super) actions: Vec<ActionSpec>,
}

pub(super) fn rule_page(ctx: Ctx, kind: RuleKind, id: Option<i64>, f: RuleForm, errors: &FormErrors) -> RulePage {
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
        agents: crate::ui::agent::agent_options(&ctx, None),
        templates: ctx.cfg.templates.iter().map(|t| Opt::new(t.id.to_string(), t.name.clone())).collect(),
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

fn rule_fields(ctx: &Ctx, kind: RuleKind, r: Option<&RuleRow>) -> Vec<FieldView> {
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
    let fields = crate::ui::agent::ticket::refill(rule_fields(&ctx, kind, None), form);
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

pub(super) fn failed_rule(page: RulePage) -> UiResult {
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
