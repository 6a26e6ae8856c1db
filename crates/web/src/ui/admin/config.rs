//! Admin sections for configuration: groups and tiers, the category tree, statuses, custom
//! fields, forms and the desk's general settings.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::config::DeskSettings;
use gongdan_domain::category::Category;
use gongdan_domain::fields::{CustomFieldDef, FieldKind, FieldOption, FieldScope, Form, FormField};
use gongdan_domain::ids::*;
use gongdan_domain::people::{Group, Language};
use gongdan_domain::routing::Assignment;
use gongdan_domain::tickets::{Status, StatusCategory};

use super::{AdminRow, FormPage, ListQuery, allowed, apply_errors, failed, list_view, nav, paged, yes_no};
use crate::ui::agent::ticket::refill;
use crate::ui::ctx::{Ctx, Viewer};
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::view::{FieldView, Opt, category_options};
use crate::ui::{UiError, UiResult, redirect_flash, render};

pub fn router() -> Router<App> {
    Router::new()
        .route("/admin/groups", get(list_groups))
        .route("/admin/groups/new", get(|v| edit_group(v, None)).post(|s, v, f| save_group(s, v, None, f)))
        .route(
            "/admin/groups/{id}",
            get(|v, Path(id): Path<i64>| edit_group(v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save_group(s, v, Some(id), f)),
        )
        .route("/admin/categories", get(list_categories))
        .route("/admin/categories/new", get(new_category).post(|s, v, f| save_category(s, v, None, f)))
        .route(
            "/admin/categories/{id}",
            get(|v, Path(id): Path<i64>| edit_category(v, Some(id), None))
                .post(|s, v, Path(id): Path<i64>, f| save_category(s, v, Some(id), f)),
        )
        .route("/admin/statuses", get(list_statuses))
        .route("/admin/statuses/new", get(|v| edit_status(v, None)).post(|s, v, f| save_status(s, v, None, f)))
        .route(
            "/admin/statuses/{id}",
            get(|v, Path(id): Path<i64>| edit_status(v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save_status(s, v, Some(id), f)),
        )
        .route("/admin/fields", get(list_fields))
        .route("/admin/fields/new", get(|v| edit_field(v, None)).post(|s, v, f| save_field(s, v, None, f)))
        .route(
            "/admin/fields/{id}",
            get(|v, Path(id): Path<i64>| edit_field(v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save_field(s, v, Some(id), f)),
        )
        .route("/admin/forms", get(list_forms))
        .route("/admin/forms/new", get(|v| edit_form(v, None)).post(|s, v, f| save_form(s, v, None, f)))
        .route(
            "/admin/forms/{id}",
            get(|v, Path(id): Path<i64>| edit_form(v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save_form(s, v, Some(id), f)),
        )
        .route("/admin/forms/{id}/delete", post(delete_form))
        .route("/admin/settings", get(settings).post(save_settings))
}

/// A form page of a configuration section.
fn form_page(
    ctx: Ctx,
    section: &str,
    title: &str,
    action: String,
    fields: Vec<FieldView>,
    errors: Vec<String>,
) -> FormPage {
    FormPage {
        nav: nav(&ctx, section),
        title: ctx.t(title),
        action,
        fields,
        errors,
        delete: None,
        back: format!("/admin/{section}"),
        secret: None,
        below: vec![],
        below_columns: vec![],
        actions: vec![],
        notices: vec![],
        preview: None,
        ctx,
    }
}

/// Saves through a use case; on success back to the list, on failure the form again with the
/// errors beside the fields and what was typed kept.
async fn finish<T>(
    v: Viewer,
    result: Result<T, gongdan_core::CoreError>,
    section: &str,
    title: &str,
    action: String,
    fields: Vec<FieldView>,
    form: &UiForm,
) -> UiResult {
    match result {
        Ok(_) => Ok(redirect_flash(&format!("/admin/{section}"), "flash-saved")),
        Err(e) => {
            let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let errors = FormErrors::from_core(e, &names)?;
            let (fields, general) = apply_errors(&v.ctx, refill(fields, form), &errors);
            failed(form_page(v.ctx, section, title, action, fields, general))
        }
    }
}

fn list_page(
    ctx: Ctx,
    section: &str,
    title: &str,
    columns: Vec<String>,
    rows: Vec<AdminRow>,
    q: ListQuery,
) -> UiResult {
    let (rows, next, first) = paged(rows, &q, &format!("/admin/{section}"));
    list_view(ctx, section, title, q, columns, rows, next, first)
}

// ---- groups ----

async fn list_groups(v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    allowed(&v, "groups")?;
    let ctx = v.ctx;
    let rows = ctx
        .cfg
        .groups
        .iter()
        .map(|g| AdminRow {
            href: format!("/admin/groups/{}", g.id),
            cells: vec![
                g.name.clone(),
                ctx.t1("group-tier", "tier", g.tier),
                g.description.clone(),
                yes_no(&ctx, g.active),
            ],
            depth: 0,
        })
        .collect();
    let columns = vec![ctx.t("field-title"), ctx.t("field-tier"), ctx.t("field-description"), ctx.t("field-active")];
    list_page(ctx, "groups", "admin-groups", columns, rows, q)
}

fn group_fields(ctx: &Ctx, g: Option<&Group>) -> Vec<FieldView> {
    let tiers = (1..=3).map(|t| Opt::new(t.to_string(), ctx.t(&format!("tier-{t}")))).collect();
    vec![
        FieldView::new("name", ctx.t("field-title"), "text", g.map(|g| g.name.clone()).unwrap_or_default())
            .required(true),
        FieldView::new("tier", ctx.t("field-tier"), "select", g.map(|g| g.tier.to_string()).unwrap_or("1".into()))
            .options(tiers, false),
        FieldView::new(
            "description",
            ctx.t("field-description"),
            "textarea",
            g.map(|g| g.description.clone()).unwrap_or_default(),
        ),
        FieldView::new(
            "assignment",
            ctx.t("field-assignment"),
            "select",
            g.map(|g| g.assignment.as_str()).unwrap_or("manual"),
        )
        .options(
            Assignment::ALL
                .iter()
                .map(|a| Opt::new(a.as_str(), ctx.t(&format!("assignment-{}", a.as_str()))))
                .collect(),
            false,
        ),
        FieldView::new(
            "online_only",
            ctx.t("field-online-only"),
            "checkbox",
            g.map(|g| g.online_only.to_string()).unwrap_or("false".into()),
        ),
        FieldView::new(
            "escalation_group_id",
            ctx.t("field-escalation-group"),
            "select",
            g.and_then(|g| g.escalation_group_id).map(|e| e.to_string()).unwrap_or_default(),
        )
        .options(
            ctx.cfg
                .groups
                .iter()
                .filter(|x| g.is_none_or(|g| g.id != x.id))
                .map(|x| Opt::new(x.id.to_string(), format!("{} · {}", x.name, ctx.t(&format!("tier-{}", x.tier)))))
                .collect(),
            true,
        )
        .hint(ctx.t("hint-escalation-group")),
        FieldView::new(
            "active",
            ctx.t("field-active"),
            "checkbox",
            g.map(|g| g.active.to_string()).unwrap_or("true".into()),
        ),
    ]
}

fn action(section: &str, id: Option<i64>) -> String {
    match id {
        Some(i) => format!("/admin/{section}/{i}"),
        None => format!("/admin/{section}/new"),
    }
}

async fn edit_group(v: Viewer, id: Option<i64>) -> UiResult {
    allowed(&v, "groups")?;
    let g = match id {
        Some(id) => Some(v.ctx.cfg.groups.iter().find(|g| g.id.0 == id).cloned().ok_or(UiError::NotFound)?),
        None => None,
    };
    let fields = group_fields(&v.ctx, g.as_ref());
    let title = if id.is_some() { "admin-edit-group" } else { "admin-new-group" };
    render(&form_page(v.ctx, "groups", title, action("groups", id), fields, vec![]))
}

async fn save_group(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "groups")?;
    let g = Group {
        id: GroupId(id.unwrap_or(0)),
        name: form.get("name").unwrap_or_default().to_owned(),
        tier: form.text("tier").and_then(|t| t.parse().ok()).unwrap_or(0),
        description: form.get("description").unwrap_or_default().trim().to_owned(),
        active: form.checked("active"),
        assignment: form
            .text("assignment")
            .and_then(|a| Assignment::parse(&a, "assignment").ok())
            .unwrap_or(Assignment::Manual),
        online_only: form.checked("online_only"),
        escalation_group_id: form.text("escalation_group_id").and_then(|e| e.parse().ok()).map(GroupId),
    };
    let result = app.save_group(&s.principal, g).await;
    let fields = group_fields(&v.ctx, None);
    let title = if id.is_some() { "admin-edit-group" } else { "admin-new-group" };
    finish(v, result, "groups", title, action("groups", id), fields, &form).await
}

// ---- categories: a tree ----

async fn list_categories(v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    allowed(&v, "categories")?;
    let ctx = v.ctx;
    // Inactive categories too: an admin must be able to find and revive them.
    let mut rows: Vec<AdminRow> = Vec::new();
    for (cat, depth) in sorted_tree(&ctx.cfg.categories) {
        let form = cat.form_id.and_then(|f| ctx.cfg.forms.iter().find(|x| x.id == f)).map(|f| f.name.clone());
        rows.push(AdminRow {
            href: format!("/admin/categories/{}", cat.id),
            cells: vec![
                ctx.pick(&cat.name_zh, &cat.name_en).to_owned(),
                cat.name_zh.clone(),
                cat.name_en.clone(),
                form.unwrap_or_default(),
                yes_no(&ctx, cat.active),
            ],
            depth,
        });
    }
    let columns = vec![
        ctx.t("field-category"),
        ctx.t("field-name-zh"),
        ctx.t("field-name-en"),
        ctx.t("field-form"),
        ctx.t("field-active"),
    ];
    list_page(ctx, "categories", "admin-categories", columns, rows, q)
}

/// Every category depth-first with its depth.
fn sorted_tree(cats: &[Category]) -> Vec<(&Category, usize)> {
    fn walk<'a>(cats: &'a [Category], parent: Option<CategoryId>, depth: usize, out: &mut Vec<(&'a Category, usize)>) {
        let mut level: Vec<&Category> = cats.iter().filter(|c| c.parent_id == parent).collect();
        level.sort_by_key(|c| (c.position, c.id));
        for c in level {
            out.push((c, depth));
            if depth < 64 {
                walk(cats, Some(c.id), depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(cats, None, 0, &mut out);
    out
}

fn category_fields(ctx: &Ctx, c: Option<&Category>, parent: Option<i64>) -> Vec<FieldView> {
    let parent = c.and_then(|c| c.parent_id.map(|p| p.0)).or(parent);
    let mut parents = category_options(ctx, &ctx.cfg.categories, parent);
    if let Some(c) = c {
        // Not below itself: the use case refuses it, the picker does not offer it.
        let below = gongdan_domain::category::subtree(&ctx.cfg.categories, c.id);
        parents.retain(|o| !below.iter().any(|b| b.0.to_string() == o.value));
    }
    let forms = ctx.cfg.forms.iter().map(|f| Opt::new(f.id.0.to_string(), f.name.clone())).collect();
    vec![
        FieldView::new("name_zh", ctx.t("field-name-zh"), "text", c.map(|c| c.name_zh.clone()).unwrap_or_default()),
        FieldView::new("name_en", ctx.t("field-name-en"), "text", c.map(|c| c.name_en.clone()).unwrap_or_default()),
        FieldView::new("parent_id", ctx.t("field-parent"), "tree", parent.map(|p| p.to_string()).unwrap_or_default())
            .options(parents, true),
        FieldView::new(
            "position",
            ctx.t("field-position"),
            "number",
            c.map(|c| c.position.to_string()).unwrap_or("0".into()),
        ),
        FieldView::new(
            "form_id",
            ctx.t("field-form"),
            "select",
            c.and_then(|c| c.form_id.map(|f| f.0.to_string())).unwrap_or_default(),
        )
        .options(forms, true)
        .hint(ctx.t("field-form-hint")),
        FieldView::new(
            "active",
            ctx.t("field-active"),
            "checkbox",
            c.map(|c| c.active.to_string()).unwrap_or("true".into()),
        ),
    ]
}

#[derive(serde::Deserialize)]
struct NewCategory {
    parent_id: Option<i64>,
}

async fn new_category(v: Viewer, Query(q): Query<NewCategory>) -> UiResult {
    edit_category(v, None, q.parent_id).await
}

async fn edit_category(v: Viewer, id: Option<i64>, parent: Option<i64>) -> UiResult {
    allowed(&v, "categories")?;
    let c = match id {
        Some(id) => Some(v.ctx.cfg.categories.iter().find(|c| c.id.0 == id).cloned().ok_or(UiError::NotFound)?),
        None => None,
    };
    let fields = category_fields(&v.ctx, c.as_ref(), parent);
    let title = if id.is_some() { "admin-edit-category" } else { "admin-new-category" };
    let mut page = form_page(v.ctx, "categories", title, action("categories", id), fields, vec![]);
    if let Some(id) = id {
        // Children are added from their parent.
        page.below_columns = vec![page.ctx.t("category-add-child")];
        page.below = vec![AdminRow {
            href: format!("/admin/categories/new?parent_id={id}"),
            cells: vec![page.ctx.t("category-add-child")],
            depth: 0,
        }];
    }
    render(&page)
}

async fn save_category(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "categories")?;
    let bad = |f: &str| FormErrors::one(f, gongdan_domain::Code::InvalidValue.message_key());
    let title = if id.is_some() { "admin-edit-category" } else { "admin-new-category" };
    let fields = category_fields(&v.ctx, None, None);
    let parsed = (|| -> Result<Category, FormErrors> {
        Ok(Category {
            id: CategoryId(id.unwrap_or(0)),
            parent_id: form.id("parent_id")?.map(CategoryId),
            name_zh: form.get("name_zh").unwrap_or_default().to_owned(),
            name_en: form.get("name_en").unwrap_or_default().to_owned(),
            position: form.text("position").map(|p| p.parse().map_err(|_| bad("position"))).transpose()?.unwrap_or(0),
            form_id: form.id("form_id")?.map(FormId),
            active: form.checked("active"),
        })
    })();
    match parsed {
        Ok(c) => {
            let result = app.save_category(&s.principal, c).await;
            finish(v, result, "categories", title, action("categories", id), fields, &form).await
        }
        Err(errors) => {
            let (fields, general) = apply_errors(&v.ctx, refill(fields, &form), &errors);
            failed(form_page(v.ctx, "categories", title, action("categories", id), fields, general))
        }
    }
}

// ---- statuses ----

async fn list_statuses(v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    allowed(&v, "statuses")?;
    let ctx = v.ctx;
    let rows = ctx
        .cfg
        .statuses
        .iter()
        .map(|s| AdminRow {
            href: format!("/admin/statuses/{}", s.id),
            cells: vec![
                s.key.clone(),
                ctx.category_label(s.category),
                s.label_zh.clone(),
                s.label_en.clone(),
                yes_no(&ctx, s.is_default),
                yes_no(&ctx, s.active),
            ],
            depth: 0,
        })
        .collect();
    let columns = vec![
        ctx.t("field-key"),
        ctx.t("field-status-category"),
        ctx.t("field-label-zh"),
        ctx.t("field-label-en"),
        ctx.t("field-default"),
        ctx.t("field-active"),
    ];
    list_page(ctx, "statuses", "admin-statuses", columns, rows, q)
}

fn status_fields(ctx: &Ctx, s: Option<&Status>) -> Vec<FieldView> {
    let cats = StatusCategory::ALL.iter().map(|c| Opt::new(c.as_str(), ctx.category_label(*c))).collect();
    let mut fields = Vec::new();
    if s.is_none() {
        fields.push(FieldView::new("key", ctx.t("field-key"), "text", "").required(true).hint(ctx.t("field-key-hint")));
        fields.push(FieldView::new("category", ctx.t("field-status-category"), "select", "open").options(cats, false));
    }
    fields.extend([
        FieldView::new("label_zh", ctx.t("field-label-zh"), "text", s.map(|s| s.label_zh.clone()).unwrap_or_default()),
        FieldView::new("label_en", ctx.t("field-label-en"), "text", s.map(|s| s.label_en.clone()).unwrap_or_default()),
        FieldView::new(
            "is_default",
            ctx.t("field-default"),
            "checkbox",
            s.map(|s| s.is_default.to_string()).unwrap_or_default(),
        )
        .hint(ctx.t("field-default-hint")),
        FieldView::new(
            "position",
            ctx.t("field-position"),
            "number",
            s.map(|s| s.position.to_string()).unwrap_or("100".into()),
        ),
        FieldView::new(
            "active",
            ctx.t("field-active"),
            "checkbox",
            s.map(|s| s.active.to_string()).unwrap_or("true".into()),
        ),
    ]);
    fields
}

async fn edit_status(v: Viewer, id: Option<i64>) -> UiResult {
    allowed(&v, "statuses")?;
    let s = match id {
        Some(id) => Some(v.ctx.cfg.statuses.iter().find(|s| s.id.0 == id).cloned().ok_or(UiError::NotFound)?),
        None => None,
    };
    let fields = status_fields(&v.ctx, s.as_ref());
    let title = if id.is_some() { "admin-edit-status" } else { "admin-new-status" };
    render(&form_page(v.ctx, "statuses", title, action("statuses", id), fields, vec![]))
}

async fn save_status(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "statuses")?;
    let existing = id.and_then(|id| v.ctx.cfg.statuses.iter().find(|s| s.id.0 == id).cloned());
    if id.is_some() && existing.is_none() {
        return Err(UiError::NotFound);
    }
    let title = if id.is_some() { "admin-edit-status" } else { "admin-new-status" };
    let fields = status_fields(&v.ctx, existing.as_ref());
    let category = match &existing {
        Some(e) => Ok(e.category),
        None => StatusCategory::parse(form.get("category").unwrap_or_default(), "category"),
    };
    let position = form.text("position").map(|p| p.parse::<i64>()).transpose();
    match (category, position) {
        (Ok(category), Ok(position)) => {
            let st = Status {
                id: StatusId(id.unwrap_or(0)),
                key: existing
                    .as_ref()
                    .map(|e| e.key.clone())
                    .unwrap_or(form.get("key").unwrap_or_default().trim().to_owned()),
                category,
                label_zh: form.get("label_zh").unwrap_or_default().to_owned(),
                label_en: form.get("label_en").unwrap_or_default().to_owned(),
                is_default: form.checked("is_default"),
                position: position.unwrap_or(100),
                active: form.checked("active"),
            };
            let result = app.save_status(&s.principal, st).await;
            finish(v, result, "statuses", title, action("statuses", id), fields, &form).await
        }
        (c, _) => {
            let errors = FormErrors::one(
                if c.is_err() { "category" } else { "position" },
                gongdan_domain::Code::InvalidValue.message_key(),
            );
            let (fields, general) = apply_errors(&v.ctx, refill(fields, &form), &errors);
            failed(form_page(v.ctx, "statuses", title, action("statuses", id), fields, general))
        }
    }
}

// ---- custom fields ----

async fn list_fields(v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    allowed(&v, "fields")?;
    let ctx = v.ctx;
    let mut defs: Vec<&CustomFieldDef> = ctx.cfg.fields.iter().collect();
    defs.sort_by_key(|d| (d.scope, d.position, d.id));
    let rows = defs
        .into_iter()
        .map(|d| AdminRow {
            href: format!("/admin/fields/{}", d.id),
            cells: vec![
                d.key.clone(),
                ctx.pick(&d.label_zh, &d.label_en).to_owned(),
                ctx.t(&format!("scope-{}", d.scope.as_str())),
                ctx.t(&format!("kind-{}", d.kind.as_str().replace('_', "-"))),
                yes_no(&ctx, d.active),
            ],
            depth: 0,
        })
        .collect();
    let columns = vec![
        ctx.t("field-key"),
        ctx.t("field-label"),
        ctx.t("field-scope"),
        ctx.t("field-kind"),
        ctx.t("field-active"),
    ];
    list_page(ctx, "fields", "admin-fields", columns, rows, q)
}

/// Options as text, one per line: `value | 中文 | English`, children indented by two spaces.
pub fn options_text(opts: &[FieldOption]) -> String {
    fn walk(opts: &[FieldOption], depth: usize, out: &mut Vec<String>) {
        for o in opts {
            out.push(format!("{}{} | {} | {}", "  ".repeat(depth), o.value, o.label_zh, o.label_en));
            walk(&o.children, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(opts, 0, &mut out);
    out.join("\n")
}

/// Reads options back from their text form; a line indented deeper than the one before it is
/// that line's child. Fails with the 1-based line number of a line that cannot be placed.
pub fn parse_options(text: &str) -> Result<Vec<FieldOption>, usize> {
    // (depth, option) in order; built into a tree at the end.
    let mut flat: Vec<(usize, FieldOption)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.chars().take_while(|c| *c == ' ').count();
        let depth = indent / 2;
        if depth > flat.last().map_or(0, |(d, _)| d + 1) {
            return Err(n + 1);
        }
        let mut parts = line.trim().split('|').map(str::trim);
        let value = parts.next().unwrap_or_default().to_owned();
        let label_zh = parts.next().unwrap_or_default().to_owned();
        let label_en = parts.next().unwrap_or_default().to_owned();
        flat.push((depth, FieldOption { value, label_zh, label_en, children: vec![] }));
    }
    fn build(flat: &[(usize, FieldOption)], i: &mut usize, depth: usize) -> Vec<FieldOption> {
        let mut out = Vec::new();
        while *i < flat.len() && flat[*i].0 == depth {
            let mut o = flat[*i].1.clone();
            *i += 1;
            if *i < flat.len() && flat[*i].0 > depth {
                o.children = build(flat, i, depth + 1);
            }
            out.push(o);
        }
        out
    }
    let mut i = 0;
    Ok(build(&flat, &mut i, 0))
}

fn field_fields(ctx: &Ctx, d: Option<&CustomFieldDef>) -> Vec<FieldView> {
    let mut fields = Vec::new();
    if d.is_none() {
        let scopes =
            FieldScope::ALL.iter().map(|s| Opt::new(s.as_str(), ctx.t(&format!("scope-{}", s.as_str())))).collect();
        let kinds = FieldKind::ALL
            .iter()
            .map(|k| Opt::new(k.as_str(), ctx.t(&format!("kind-{}", k.as_str().replace('_', "-")))))
            .collect();
        fields.push(FieldView::new("scope", ctx.t("field-scope"), "select", "ticket").options(scopes, false));
        fields.push(FieldView::new("key", ctx.t("field-key"), "text", "").required(true).hint(ctx.t("field-key-hint")));
        fields.push(FieldView::new("kind", ctx.t("field-kind"), "select", "text").options(kinds, false));
    }
    fields.extend([
        FieldView::new("label_zh", ctx.t("field-label-zh"), "text", d.map(|d| d.label_zh.clone()).unwrap_or_default()),
        FieldView::new("label_en", ctx.t("field-label-en"), "text", d.map(|d| d.label_en.clone()).unwrap_or_default()),
        FieldView::new(
            "options",
            ctx.t("field-options"),
            "textarea",
            d.map(|d| options_text(&d.options)).unwrap_or_default(),
        )
        .hint(ctx.t("field-options-hint")),
        FieldView::new(
            "pattern",
            ctx.t("field-pattern"),
            "text",
            d.and_then(|d| d.pattern.clone()).unwrap_or_default(),
        )
        .hint(ctx.t("field-pattern-only")),
        FieldView::new(
            "position",
            ctx.t("field-position"),
            "number",
            d.map(|d| d.position.to_string()).unwrap_or("0".into()),
        ),
        FieldView::new(
            "active",
            ctx.t("field-active"),
            "checkbox",
            d.map(|d| d.active.to_string()).unwrap_or("true".into()),
        ),
    ]);
    fields
}

async fn edit_field(v: Viewer, id: Option<i64>) -> UiResult {
    allowed(&v, "fields")?;
    let d = match id {
        Some(id) => Some(v.ctx.cfg.fields.iter().find(|d| d.id.0 == id).cloned().ok_or(UiError::NotFound)?),
        None => None,
    };
    let fields = field_fields(&v.ctx, d.as_ref());
    let title = if id.is_some() { "admin-edit-field" } else { "admin-new-field" };
    render(&form_page(v.ctx, "fields", title, action("fields", id), fields, vec![]))
}

async fn save_field(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "fields")?;
    let existing = id.and_then(|id| v.ctx.cfg.fields.iter().find(|d| d.id.0 == id).cloned());
    if id.is_some() && existing.is_none() {
        return Err(UiError::NotFound);
    }
    let title = if id.is_some() { "admin-edit-field" } else { "admin-new-field" };
    let fields = field_fields(&v.ctx, existing.as_ref());
    let parsed = (|| -> Result<CustomFieldDef, FormErrors> {
        let bad = |f: &str| FormErrors::one(f, gongdan_domain::Code::InvalidValue.message_key());
        let options = parse_options(form.get("options").unwrap_or_default()).map_err(|_| bad("options"))?;
        Ok(CustomFieldDef {
            id: FieldId(id.unwrap_or(0)),
            scope: match &existing {
                Some(e) => e.scope,
                None => FieldScope::parse(form.get("scope").unwrap_or_default(), "scope").map_err(|_| bad("scope"))?,
            },
            key: existing
                .as_ref()
                .map(|e| e.key.clone())
                .unwrap_or(form.get("key").unwrap_or_default().trim().to_owned()),
            kind: match &existing {
                Some(e) => e.kind,
                None => FieldKind::parse(form.get("kind").unwrap_or_default(), "kind").map_err(|_| bad("kind"))?,
            },
            label_zh: form.get("label_zh").unwrap_or_default().trim().to_owned(),
            label_en: form.get("label_en").unwrap_or_default().trim().to_owned(),
            options,
            pattern: form.text("pattern"),
            active: form.checked("active"),
            position: form.text("position").map(|p| p.parse().map_err(|_| bad("position"))).transpose()?.unwrap_or(0),
        })
    })();
    match parsed {
        Ok(d) => {
            let result = app.save_field(&s.principal, d).await;
            finish(v, result, "fields", title, action("fields", id), fields, &form).await
        }
        Err(errors) => {
            let (fields, general) = apply_errors(&v.ctx, refill(fields, &form), &errors);
            failed(form_page(v.ctx, "fields", title, action("fields", id), fields, general))
        }
    }
}

// ---- forms ----

async fn list_forms(v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    allowed(&v, "forms")?;
    let ctx = v.ctx;
    let rows = ctx
        .cfg
        .forms
        .iter()
        .map(|f| {
            let names: Vec<String> = f
                .fields
                .iter()
                .filter_map(|ff| ctx.cfg.fields.iter().find(|d| d.id == ff.field_id))
                .map(|d| ctx.pick(&d.label_zh, &d.label_en).to_owned())
                .collect();
            AdminRow { href: format!("/admin/forms/{}", f.id), cells: vec![f.name.clone(), names.join(", ")], depth: 0 }
        })
        .collect();
    let columns = vec![ctx.t("field-title"), ctx.t("field-form-fields")];
    list_page(ctx, "forms", "admin-forms", columns, rows, q)
}

/// A form's inputs: its name, then for every ticket field whether it is on the form, whether
/// it is required, and its place.
fn form_fields(ctx: &Ctx, f: Option<&Form>) -> Vec<FieldView> {
    let mut out = vec![
        FieldView::new("name", ctx.t("field-title"), "text", f.map(|f| f.name.clone()).unwrap_or_default())
            .required(true),
    ];
    let mut defs: Vec<&CustomFieldDef> =
        ctx.cfg.fields.iter().filter(|d| d.scope == FieldScope::Ticket && d.active).collect();
    defs.sort_by_key(|d| (d.position, d.id));
    for d in defs {
        let at = f.and_then(|f| f.fields.iter().position(|x| x.field_id == d.id));
        let required = f.and_then(|f| f.fields.iter().find(|x| x.field_id == d.id)).is_some_and(|x| x.required);
        let label = ctx.pick(&d.label_zh, &d.label_en).to_owned();
        let state = match (at.is_some(), required) {
            (true, true) => "required",
            (true, false) => "optional",
            _ => "",
        };
        let choices = vec![
            Opt::new("", ctx.t("form-field-off")),
            Opt::new("optional", ctx.t("form-field-optional")),
            Opt::new("required", ctx.t("form-field-required")),
        ];
        out.push(FieldView::new(&format!("use.{}", d.id), label, "select", state).options(choices, false));
        out.push(FieldView::new(
            &format!("order.{}", d.id),
            ctx.t("field-position"),
            "number",
            at.map(|a| (a + 1).to_string()).unwrap_or_default(),
        ));
    }
    out
}

async fn edit_form(v: Viewer, id: Option<i64>) -> UiResult {
    allowed(&v, "forms")?;
    let f = match id {
        Some(id) => Some(v.ctx.cfg.forms.iter().find(|f| f.id.0 == id).cloned().ok_or(UiError::NotFound)?),
        None => None,
    };
    let fields = form_fields(&v.ctx, f.as_ref());
    let title = if id.is_some() { "admin-edit-form" } else { "admin-new-form" };
    let mut page = form_page(v.ctx, "forms", title, action("forms", id), fields, vec![]);
    page.delete = id.map(|i| format!("/admin/forms/{i}/delete"));
    render(&page)
}

async fn save_form(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "forms")?;
    let mut chosen: Vec<(i64, usize, FormField)> = Vec::new();
    for (i, d) in v.ctx.cfg.fields.iter().enumerate() {
        let state = form.get(&format!("use.{}", d.id)).unwrap_or_default();
        if state.is_empty() {
            continue;
        }
        let order = form.text(&format!("order.{}", d.id)).and_then(|o| o.parse().ok()).unwrap_or(i64::MAX);
        chosen.push((order, i, FormField { field_id: d.id, required: state == "required" }));
    }
    chosen.sort_by_key(|(o, i, _)| (*o, *i));
    let mut fields: Vec<FormField> = chosen.into_iter().map(|(_, _, f)| f).collect();
    // Fields the form page did not show (inactive ones) keep their place on the form.
    if let Some(existing) = id.and_then(|id| v.ctx.cfg.forms.iter().find(|f| f.id.0 == id)) {
        let shown =
            |fid: FieldId| v.ctx.cfg.fields.iter().any(|d| d.id == fid && d.scope == FieldScope::Ticket && d.active);
        fields.extend(existing.fields.iter().filter(|ff| !shown(ff.field_id)).cloned());
    }
    let f = Form { id: FormId(id.unwrap_or(0)), name: form.get("name").unwrap_or_default().to_owned(), fields };
    let result = app.save_form(&s.principal, f).await;
    let fields = form_fields(&v.ctx, None);
    let title = if id.is_some() { "admin-edit-form" } else { "admin-new-form" };
    finish(v, result, "forms", title, action("forms", id), fields, &form).await
}

async fn delete_form(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = allowed(&v, "forms")?;
    app.delete_form(&s.principal, FormId(id)).await?;
    Ok(redirect_flash("/admin/forms", "flash-deleted"))
}

// ---- desk settings ----

fn settings_fields(ctx: &Ctx, d: &DeskSettings) -> Vec<FieldView> {
    let langs = Language::ALL.iter().map(|l| Opt::new(l.as_str(), ctx.t(&format!("lang-{}", l.as_str())))).collect();
    vec![
        FieldView::new("company_name", ctx.t("field-company"), "text", d.company_name.clone()).required(true),
        FieldView::new("default_language", ctx.t("field-default-language"), "select", d.default_language.as_str())
            .options(langs, false),
        FieldView::new("default_time_zone", ctx.t("field-default-time-zone"), "text", d.default_time_zone.clone()),
        FieldView::new("max_attachment_mb", ctx.t("field-attachment-limit"), "number", d.max_attachment_mb.to_string()),
        FieldView::new("portal_signup", ctx.t("field-portal-signup"), "checkbox", d.portal_signup.to_string()),
    ]
}

async fn settings(v: Viewer) -> UiResult {
    allowed(&v, "settings")?;
    let fields = settings_fields(&v.ctx, &v.ctx.cfg.desk);
    render(&form_page(v.ctx, "settings", "admin-settings", "/admin/settings".into(), fields, vec![]))
}

async fn save_settings(State(app): State<App>, v: Viewer, form: UiForm) -> UiResult {
    let s = allowed(&v, "settings")?;
    let fields = settings_fields(&v.ctx, &v.ctx.cfg.desk);
    let parsed = (|| -> Result<DeskSettings, FormErrors> {
        let bad = |f: &str| FormErrors::one(f, gongdan_domain::Code::InvalidValue.message_key());
        Ok(DeskSettings {
            company_name: form.get("company_name").unwrap_or_default().to_owned(),
            default_language: Language::parse(form.get("default_language").unwrap_or_default(), "default_language")
                .map_err(|_| bad("default_language"))?,
            default_time_zone: form.get("default_time_zone").unwrap_or_default().trim().to_owned(),
            max_attachment_mb: form
                .get("max_attachment_mb")
                .unwrap_or_default()
                .trim()
                .parse()
                .map_err(|_| bad("max_attachment_mb"))?,
            portal_signup: form.checked("portal_signup"),
        })
    })();
    let result = match parsed {
        Ok(d) => app.save_desk_settings(&s.principal, d).await,
        Err(errors) => {
            let (fields, general) = apply_errors(&v.ctx, refill(fields, &form), &errors);
            return failed(form_page(v.ctx, "settings", "admin-settings", "/admin/settings".into(), fields, general));
        }
    };
    match result {
        Ok(_) => Ok(redirect_flash("/admin/settings", "flash-saved")),
        Err(e) => {
            let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let errors = FormErrors::from_core(e, &names)?;
            let (fields, general) = apply_errors(&v.ctx, refill(fields, &form), &errors);
            failed(form_page(v.ctx, "settings", "admin-settings", "/admin/settings".into(), fields, general))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip_through_text_with_nesting() {
        let text = "hw | 硬件 | Hardware\n  printer | 打印机 | Printer\n    laser | 激光 | Laser\n  pc | 电脑 | PC\nsw | 软件 | Software";
        let opts = parse_options(text).unwrap_or_default();
        assert_eq!(opts.len(), 2);
        assert_eq!(opts[0].children.len(), 2);
        assert_eq!(opts[0].children[0].children[0].label_en, "Laser");
        assert_eq!(options_text(&opts), text);
        assert_eq!(parse_options("a\n    b"), Err(2), "a child two levels below its parent has no place");
    }
}
