//! Webhooks in the console.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::notifications::WebhookInput;
use gongdan_core::notifications::WebhookRow;

use super::{AdminRow, FormPage, ListQuery, allowed, apply_errors, failed, list_view, nav, paged, yes_no};
use crate::ui::ctx::{Ctx, Viewer};
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::view::FieldView;
use crate::ui::{UiError, UiResult, redirect_flash, render};

pub fn router() -> Router<App> {
    Router::new()
        .route("/admin/webhooks", get(list_webhooks))
        .route("/admin/webhooks/new", get(|s, v| edit_webhook(s, v, None)).post(|s, v, f| save_webhook(s, v, None, f)))
        .route(
            "/admin/webhooks/{id}",
            get(|s, v, Path(id): Path<i64>| edit_webhook(s, v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save_webhook(s, v, Some(id), f)),
        )
        .route("/admin/webhooks/{id}/delete", post(delete_webhook))
}

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

fn webhook_fields(ctx: &Ctx, w: Option<&WebhookRow>) -> Vec<FieldView> {
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
        actions: vec![],
        notices: vec![],
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
            let (fields, general) = apply_errors(&v.ctx, crate::ui::agent::ticket::refill(fields, &form), &errors);
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
