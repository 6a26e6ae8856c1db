//! Views in the console.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::views::ViewRow;
use gongdan_core::views::{COLUMNS, ViewInput};
use gongdan_domain::ids::GroupId;
use gongdan_domain::tickets::StatusCategory;
use gongdan_domain::tickets::TicketSort;
use serde_json::{Value, json};

use super::builder::value_text;
use super::{AdminRow, FormPage, ListQuery, allowed, apply_errors, failed, list_view, nav, paged, yes_no};
use crate::ui::ctx::{Ctx, Viewer};
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::view::{FieldView, Opt, category_options};
use crate::ui::{UiResult, redirect_flash, render};

pub fn router() -> Router<App> {
    Router::new()
        .route("/admin/views", get(list_views))
        .route("/admin/views/new", get(|s, v| edit_view(s, v, None)).post(|s, v, f| save_view(s, v, None, f)))
        .route(
            "/admin/views/{id}",
            get(|s, v, Path(id): Path<i64>| edit_view(s, v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save_view(s, v, Some(id), f)),
        )
        .route("/admin/views/{id}/delete", post(delete_view))
}

async fn list_views(State(app): State<App>, v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    let p = allowed(&v, "views")?.principal.clone();
    let ctx = v.ctx;
    let views = app.list_views(&p).await?;
    let rows = views
        .iter()
        .map(|view| AdminRow {
            href: format!("/admin/views/{}", view.id),
            cells: vec![
                crate::ui::agent::view_label(&ctx, view),
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

fn view_fields(ctx: &Ctx, v: Option<&ViewRow>) -> Vec<FieldView> {
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
    assignees.extend(crate::ui::agent::agent_options(ctx, None));
    let mut groups = vec![Opt::new("mine", ctx.t("view-my-groups"))];
    groups.extend(crate::ui::agent::group_options(ctx, None));
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
        .options(crate::ui::agent::group_options(ctx, None), true)
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
            .options(crate::ui::agent::priority_options(ctx), false)
            .values(f.priority.iter().map(|p| p.as_str().to_owned()).collect()),
        FieldView::new("f_channel", ctx.t("field-channel"), "multi", "")
            .options(crate::ui::agent::channel_options(ctx), false)
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
        actions: vec![],
        notices: vec![],
        preview: None,
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
            let (fields, general) = apply_errors(&v.ctx, crate::ui::agent::ticket::refill(fields, &form), &errors);
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
