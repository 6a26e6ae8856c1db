//! Macros in the console.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::macros::MacroInput;
use gongdan_core::macros::MacroRow;
use gongdan_domain::rules::{ConditionsSpec, RuleKind};

use super::builder::{read_actions, row_errors};
use super::rules::{RuleForm, failed_rule, rule_page};
use super::{AdminRow, ListQuery, allowed, list_view, paged, yes_no};
use crate::ui::ctx::{Ctx, Viewer};
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::view::FieldView;
use crate::ui::{UiError, UiResult, redirect_flash, render};

pub fn router() -> Router<App> {
    Router::new()
        .route("/admin/macros", get(list_macros))
        .route("/admin/macros/new", get(|s, v| edit_macro(s, v, None)).post(|s, v, f| save_macro(s, v, None, f)))
        .route(
            "/admin/macros/{id}",
            get(|s, v, Path(id): Path<i64>| edit_macro(s, v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save_macro(s, v, Some(id), f)),
        )
        .route("/admin/macros/{id}/delete", post(delete_macro))
}

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

fn macro_fields(ctx: &Ctx, m: Option<&MacroRow>) -> Vec<FieldView> {
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
            let fields = crate::ui::agent::ticket::refill(macro_fields(&v.ctx, None), &form);
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
