//! Webhooks and notification templates in the console; a template's form previews it filled
//! in, unsaved, as each language's reader gets it.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::notifications::WebhookInput;
use gongdan_core::notifications::WebhookRow;
use gongdan_core::notifications::templates::TemplateInput;
use gongdan_domain::ids::TicketId;
use gongdan_domain::notifications::{NotificationTemplate, Texts, Wording};

use super::{AdminRow, FormPage, FormPreview, ListQuery, allowed, apply_errors, failed, list_view, nav, paged, yes_no};
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
        .route("/admin/templates", get(list_templates))
        .route(
            "/admin/templates/new",
            get(|s, v| edit_template(s, v, None)).post(|s, v, f| save_template(s, v, None, f)),
        )
        .route("/admin/templates/preview", post(preview_template))
        .route(
            "/admin/templates/{id}",
            get(|s, v, Path(id): Path<i64>| edit_template(s, v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save_template(s, v, Some(id), f)),
        )
        .route("/admin/templates/{id}/delete", post(delete_template))
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
        preview: None,
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

// ---- notification templates ----

/// The form's text inputs, named as the core's errors name them: (name, label key, kind).
const TEXT_INPUTS: [(&str, &str, &str); 4] = [
    ("texts.zh-CN.subject", "field-subject-zh", "text"),
    ("texts.zh-CN.body", "field-body-zh", "textarea"),
    ("texts.en.subject", "field-subject-en", "text"),
    ("texts.en.body", "field-body-en", "textarea"),
];

async fn list_templates(State(app): State<App>, v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    let p = allowed(&v, "templates")?.principal.clone();
    let ctx = v.ctx;
    let rows = app
        .list_notification_templates(&p)
        .await?
        .into_iter()
        .map(|t| AdminRow {
            href: format!("/admin/templates/{}", t.id),
            cells: vec![t.name, t.texts.zh_cn.subject, t.texts.en.subject],
            depth: 0,
        })
        .collect();
    let columns = vec![ctx.t("field-rule-name"), ctx.t("field-subject-zh"), ctx.t("field-subject-en")];
    let (rows, next, first) = paged(rows, &q, "/admin/templates");
    list_view(ctx, "templates", "admin-templates", q, columns, rows, next, first)
}

fn template_fields(ctx: &Ctx, t: Option<&NotificationTemplate>) -> Vec<FieldView> {
    let text = |name: &str| {
        t.map(|t| match name {
            "texts.zh-CN.subject" => t.texts.zh_cn.subject.clone(),
            "texts.zh-CN.body" => t.texts.zh_cn.body.clone(),
            "texts.en.subject" => t.texts.en.subject.clone(),
            _ => t.texts.en.body.clone(),
        })
        .unwrap_or_default()
    };
    let mut out = vec![
        FieldView::new("name", ctx.t("field-rule-name"), "text", t.map(|t| t.name.clone()).unwrap_or_default())
            .required(true),
    ];
    for (name, label, kind) in TEXT_INPUTS {
        let f = FieldView::new(name, ctx.t(label), kind, text(name)).required(true);
        out.push(if name.ends_with("body") { f.hint(ctx.t("hint-placeholders")) } else { f });
    }
    out.push(
        FieldView::new("ticket_id", ctx.t("field-preview-ticket"), "number", String::new())
            .hint(ctx.t("hint-preview-ticket")),
    );
    out
}

fn template_page(ctx: Ctx, id: Option<i64>, fields: Vec<FieldView>, errors: Vec<String>) -> FormPage {
    FormPage {
        nav: nav(&ctx, "templates"),
        title: ctx.t(if id.is_some() { "admin-edit-templates" } else { "admin-new-templates" }),
        action: id.map(|i| format!("/admin/templates/{i}")).unwrap_or("/admin/templates/new".into()),
        fields,
        errors,
        delete: id.map(|i| format!("/admin/templates/{i}/delete")),
        back: "/admin/templates".into(),
        secret: None,
        below: vec![],
        below_columns: vec![],
        actions: vec![],
        notices: vec![],
        preview: Some(FormPreview {
            href: format!("/admin/templates/preview?id={}", id.unwrap_or(0)),
            label: ctx.t("admin-preview"),
            shown: vec![],
        }),
        ctx,
    }
}

async fn edit_template(State(app): State<App>, v: Viewer, id: Option<i64>) -> UiResult {
    let s = allowed(&v, "templates")?;
    let t = match id {
        Some(id) => Some(app.notification_template(&s.principal, id).await?),
        None => None,
    };
    let fields = template_fields(&v.ctx, t.as_ref());
    render(&template_page(v.ctx, id, fields, vec![]))
}

fn wording(form: &UiForm, language: &str) -> Wording {
    let get = |k: &str| form.get(&format!("texts.{language}.{k}")).unwrap_or_default().to_owned();
    Wording { subject: get("subject"), body: get("body") }
}

/// The form shown again with what was typed, and the errors beside their inputs.
fn refilled(v: Viewer, id: Option<i64>, form: &UiForm, e: gongdan_core::CoreError) -> Result<FormPage, UiError> {
    let mut names: Vec<&str> = TEXT_INPUTS.iter().map(|(n, _, _)| *n).collect();
    names.extend(["name", "ticket_id"]);
    let errors = FormErrors::from_core(e, &names)?;
    let fields = crate::ui::agent::ticket::refill(template_fields(&v.ctx, None), form);
    let (fields, general) = apply_errors(&v.ctx, fields, &errors);
    Ok(template_page(v.ctx, id, fields, general))
}

async fn save_template(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "templates")?;
    let input = TemplateInput {
        name: Some(form.get("name").unwrap_or_default().to_owned()),
        zh_cn: Some(wording(&form, "zh-CN")),
        en: Some(wording(&form, "en")),
    };
    let result = match id {
        Some(id) => app.update_notification_template(&s.principal, id, input).await,
        None => app.create_notification_template(&s.principal, input).await,
    };
    match result {
        Ok(_) => Ok(redirect_flash("/admin/templates", "flash-saved")),
        Err(e) => failed(refilled(v, id, &form, e)?),
    }
}

#[derive(serde::Deserialize)]
struct PreviewQuery {
    id: Option<i64>,
}

/// The form as typed, with its texts filled in below (for the ticket named, else a sample).
async fn preview_template(State(app): State<App>, v: Viewer, Query(q): Query<PreviewQuery>, form: UiForm) -> UiResult {
    let s = allowed(&v, "templates")?;
    let id = q.id.filter(|i| *i > 0);
    let texts = Texts { zh_cn: wording(&form, "zh-CN"), en: wording(&form, "en") };
    let ticket = match form.text("ticket_id").map(|t| t.trim_start_matches('#').parse::<i64>()) {
        None => None,
        Some(Ok(n)) => Some(TicketId(n)),
        Some(Err(_)) => {
            let e = gongdan_domain::DomainError::invalid(
                "ticket_id",
                gongdan_domain::Code::InvalidValue,
                "a ticket number",
            );
            return failed(refilled(v, id, &form, e.into())?);
        }
    };
    match app.preview_notification(&s.principal, &texts, ticket).await {
        Ok(out) => {
            let fields = crate::ui::agent::ticket::refill(template_fields(&v.ctx, None), &form);
            let shown = [("preview-zh", &out.texts.zh_cn), ("preview-en", &out.texts.en)]
                .into_iter()
                .map(|(k, w)| (v.ctx.t(k), w.subject.clone(), w.body.clone()))
                .collect();
            let mut page = template_page(v.ctx, id, fields, vec![]);
            if let Some(p) = &mut page.preview {
                p.shown = shown;
            }
            render(&page)
        }
        Err(gongdan_core::CoreError::NotFound(_)) => {
            let e = gongdan_domain::DomainError::invalid(
                "ticket_id",
                gongdan_domain::Code::MissingReference,
                "no such ticket",
            );
            failed(refilled(v, id, &form, e.into())?)
        }
        Err(e) => failed(refilled(v, id, &form, e)?),
    }
}

async fn delete_template(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = allowed(&v, "templates")?;
    match app.delete_notification_template(&s.principal, id).await {
        Ok(()) => Ok(redirect_flash("/admin/templates", "flash-deleted")),
        Err(gongdan_core::CoreError::InUse(_)) => {
            Ok(redirect_flash(&format!("/admin/templates/{id}"), "flash-template-in-use"))
        }
        Err(e) => Err(e.into()),
    }
}
