//! The console's email sections: mailboxes (the addresses the desk receives at, and where
//! their new tickets go) and the quarantine (mail that could not be taken in, with why; the
//! raw source downloads, and it can be taken in again or discarded).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_domain::ids::*;
use gongdan_domain::mail::Mailbox;
use gongdan_domain::tickets::Priority;

use super::{AdminRow, FormPage, ListQuery, allowed, apply_errors, failed, list_view, nav, paged, yes_no};
use crate::ui::agent::ticket::refill;
use crate::ui::agent::{group_options, priority_options};
use crate::ui::ctx::{Ctx, Viewer};
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::view::{FieldView, category_options};
use crate::ui::{UiResult, redirect_flash, render};

pub fn router() -> Router<App> {
    Router::new()
        .route("/admin/mailboxes", get(list_mailboxes))
        .route("/admin/mailboxes/new", get(|s, v| edit(s, v, None)).post(|s, v, f| save(s, v, None, f)))
        .route(
            "/admin/mailboxes/{id}",
            get(|s, v, Path(id): Path<i64>| edit(s, v, Some(id)))
                .post(|s, v, Path(id): Path<i64>, f| save(s, v, Some(id), f)),
        )
        .route("/admin/mailboxes/{id}/delete", post(delete))
        .route("/admin/quarantine", get(quarantine))
        .route("/admin/quarantine/{id}/reprocess", post(reprocess))
        .route("/admin/quarantine/{id}/discard", post(discard))
}

async fn list_mailboxes(State(app): State<App>, v: Viewer, Query(q): Query<ListQuery>) -> UiResult {
    let s = allowed(&v, "mailboxes")?;
    let boxes = app.list_mailboxes(&s.principal).await?;
    let ctx = v.ctx;
    let rows = boxes
        .iter()
        .map(|m| AdminRow {
            href: format!("/admin/mailboxes/{}", m.id),
            cells: vec![
                m.address.clone(),
                m.name.clone(),
                m.group_id.and_then(|g| ctx.cfg.group(g)).map(|g| g.name.clone()).unwrap_or_else(|| "—".into()),
                yes_no(&ctx, m.active),
            ],
            depth: 0,
        })
        .collect();
    let columns = vec![ctx.t("field-address"), ctx.t("field-sender-name"), ctx.t("field-group"), ctx.t("field-active")];
    let (rows, next, first) = paged(rows, &q, "/admin/mailboxes");
    list_view(ctx, "mailboxes", "admin-mailboxes", q, columns, rows, next, first)
}

fn fields(ctx: &Ctx, m: Option<&Mailbox>) -> Vec<FieldView> {
    vec![
        FieldView::new("address", ctx.t("field-address"), "email", m.map(|m| m.address.clone()).unwrap_or_default())
            .required(true)
            .hint(ctx.t("hint-mailbox-address")),
        FieldView::new("name", ctx.t("field-sender-name"), "text", m.map(|m| m.name.clone()).unwrap_or_default())
            .hint(ctx.t("hint-mailbox-name")),
        FieldView::new(
            "group_id",
            ctx.t("field-group"),
            "select",
            m.and_then(|m| m.group_id).map(|g| g.to_string()).unwrap_or_default(),
        )
        .options(group_options(ctx, m.and_then(|m| m.group_id)), true)
        .hint(ctx.t("hint-mailbox-group")),
        FieldView::new(
            "category_id",
            ctx.t("field-category"),
            "tree",
            m.and_then(|m| m.category_id).map(|c| c.to_string()).unwrap_or_default(),
        )
        .options(category_options(ctx, &ctx.cfg.categories, None), true),
        FieldView::new(
            "priority",
            ctx.t("field-priority"),
            "select",
            m.and_then(|m| m.priority).map(|p| p.as_str()).unwrap_or_default(),
        )
        .options(priority_options(ctx), true),
        FieldView::new("active", ctx.t("field-active"), "checkbox", m.is_none_or(|m| m.active).to_string()),
    ]
}

fn page(ctx: Ctx, id: Option<i64>, fields: Vec<FieldView>, errors: Vec<String>) -> FormPage {
    let title = if id.is_some() { "admin-edit-mailbox" } else { "admin-new-mailbox" };
    FormPage {
        nav: nav(&ctx, "mailboxes"),
        title: ctx.t(title),
        action: id.map_or("/admin/mailboxes/new".into(), |i| format!("/admin/mailboxes/{i}")),
        fields,
        errors,
        delete: id.map(|i| format!("/admin/mailboxes/{i}/delete")),
        back: "/admin/mailboxes".into(),
        secret: None,
        below: vec![],
        below_columns: vec![],
        ctx,
    }
}

async fn edit(State(app): State<App>, v: Viewer, id: Option<i64>) -> UiResult {
    let s = allowed(&v, "mailboxes")?;
    let m = match id {
        Some(id) => Some(app.get_mailbox(&s.principal, MailboxId(id)).await?),
        None => None,
    };
    let fields = fields(&v.ctx, m.as_ref());
    render(&page(v.ctx, id, fields, vec![]))
}

async fn save(State(app): State<App>, v: Viewer, id: Option<i64>, form: UiForm) -> UiResult {
    let s = allowed(&v, "mailboxes")?;
    let m = Mailbox {
        id: MailboxId(id.unwrap_or(0)),
        address: form.get("address").unwrap_or_default().to_owned(),
        name: form.get("name").unwrap_or_default().to_owned(),
        group_id: form.text("group_id").and_then(|g| g.parse().ok()).map(GroupId),
        category_id: form.text("category_id").and_then(|c| c.parse().ok()).map(CategoryId),
        priority: form.text("priority").and_then(|p| Priority::parse(&p, "priority").ok()),
        active: form.checked("active"),
        ..Mailbox::blank(app.now())
    };
    match app.save_mailbox(&s.principal, m).await {
        Ok(_) => Ok(redirect_flash("/admin/mailboxes", "flash-saved")),
        Err(e) => {
            let shown = fields(&v.ctx, None);
            let names: Vec<String> = shown.iter().map(|f| f.name.clone()).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let errors = FormErrors::from_core(e, &names)?;
            let (shown, general) = apply_errors(&v.ctx, refill(shown, &form), &errors);
            failed(page(v.ctx, id, shown, general))
        }
    }
}

async fn delete(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = allowed(&v, "mailboxes")?;
    app.delete_mailbox(&s.principal, MailboxId(id)).await?;
    Ok(redirect_flash("/admin/mailboxes", "flash-deleted"))
}

#[derive(askama::Template)]
#[template(path = "admin/quarantine.html")]
struct QuarantinePage {
    ctx: Ctx,
    nav: Vec<super::NavItem>,
    rows: Vec<QuarantineRow>,
}

struct QuarantineRow {
    id: i64,
    received: String,
    sender: String,
    subject: String,
    reason: String,
    size: String,
}

async fn quarantine(State(app): State<App>, v: Viewer) -> UiResult {
    let s = allowed(&v, "quarantine")?;
    let held = app.list_quarantine(&s.principal, 200).await?;
    let ctx = v.ctx;
    let rows = held
        .into_iter()
        .map(|q| QuarantineRow {
            id: q.id,
            received: ctx.dt(&q.received_at),
            sender: if q.sender.is_empty() { "—".into() } else { q.sender },
            subject: if q.subject.is_empty() { ctx.t("mail-no-subject") } else { q.subject },
            reason: q.reason,
            size: format!("{:.1} KB", q.size as f64 / 1024.0),
        })
        .collect();
    render(&QuarantinePage { nav: nav(&ctx, "quarantine"), rows, ctx })
}

async fn reprocess(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = allowed(&v, "quarantine")?;
    let out = app.reprocess_quarantined(&s.principal, id).await?;
    match (out.outcome, out.ticket_id) {
        (gongdan_core::mail::Outcome::Quarantined, _) => {
            Ok(redirect_flash("/admin/quarantine", "flash-still-quarantined"))
        }
        (_, Some(t)) => Ok(redirect_flash(&format!("/agent/tickets/{t}"), "flash-mail-taken-in")),
        _ => Ok(redirect_flash("/admin/quarantine", "flash-mail-ignored")),
    }
}

async fn discard(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = allowed(&v, "quarantine")?;
    app.discard_quarantined(&s.principal, id).await?;
    Ok(redirect_flash("/admin/quarantine", "flash-deleted"))
}
