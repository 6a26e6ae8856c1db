//! The console's email sections: mailboxes (the addresses the desk receives at, and where
//! their new tickets go) and the quarantine (mail that could not be taken in, with why; the
//! raw source downloads, and it can be taken in again or discarded).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::mail::fetch::Reached;
use gongdan_domain::ids::*;
use gongdan_domain::mail::Mailbox;
use gongdan_domain::mail::servers::{AfterImport, Imap, Smtp, Tls};
use gongdan_domain::tickets::Priority;

use super::{AdminRow, FormAction, FormPage, ListQuery, allowed, apply_errors, failed, list_view, nav, paged, yes_no};
use crate::ui::agent::ticket::refill;
use crate::ui::agent::{group_options, priority_options};
use crate::ui::ctx::{Ctx, Viewer};
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::view::{FieldView, Opt, category_options};
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
        .route("/admin/mailboxes/{id}/test", post(test))
        .route("/admin/mailboxes/{id}/fetch", post(fetch))
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
    let mut out = vec![
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
        FieldView::new(
            "use_reply_to",
            ctx.t("field-use-reply-to"),
            "checkbox",
            m.is_some_and(|m| m.use_reply_to).to_string(),
        )
        .hint(ctx.t("hint-use-reply-to")),
    ];
    let imap = m.and_then(|m| m.imap.as_ref());
    let smtp = m.and_then(|m| m.smtp.as_ref());
    let text = |v: Option<String>| v.unwrap_or_default();
    out.push(FieldView::new("imap", ctx.t("mailbox-imap"), "heading", "").hint(ctx.t("hint-mailbox-imap")));
    if let Some(m) = m.filter(|m| m.imap.is_some()) {
        let fetched = m.last_fetch_at.map(|t| ctx.dt(&t)).unwrap_or_else(|| ctx.t("mail-never-fetched"));
        let status = match &m.last_error {
            Some(e) => ctx.t2("mail-status-error", "at", fetched, "error", e),
            None => ctx.t1("mail-status-ok", "at", fetched),
        };
        out.push(FieldView::new("status", ctx.t("field-mail-status"), "static", status));
    }
    out.extend([
        FieldView::new("imap.host", ctx.t("field-mail-host"), "text", text(imap.map(|i| i.host.clone()))),
        FieldView::new("imap.port", ctx.t("field-mail-port"), "number", text(imap.map(|i| i.port.to_string())))
            .hint(ctx.t("hint-imap-port")),
        FieldView::new("imap.tls", ctx.t("field-mail-tls"), "select", imap.map_or("implicit", |i| tls_key(i.tls)))
            .options(tls_options(ctx), false)
            .hint(ctx.t("hint-mail-tls")),
        FieldView::new("imap.username", ctx.t("field-mail-username"), "text", text(imap.map(|i| i.username.clone()))),
        secret_field(ctx, "imap.password", imap.is_some_and(|i| i.password_set)),
        FieldView::new(
            "imap.folder",
            ctx.t("field-mail-folder"),
            "text",
            imap.map_or("INBOX".into(), |i| i.folder.clone()),
        ),
        FieldView::new(
            "imap.after_import",
            ctx.t("field-mail-after"),
            "select",
            imap.map_or("seen", |i| match i.after_import {
                AfterImport::Seen => "seen",
                AfterImport::Move => "move",
                AfterImport::Delete => "delete",
            }),
        )
        .options(
            ["seen", "move", "delete"].iter().map(|k| Opt::new(*k, ctx.t(&format!("mail-after-{k}")))).collect(),
            false,
        ),
        FieldView::new("imap.move_to", ctx.t("field-mail-move-to"), "text", text(imap.map(|i| i.move_to.clone())))
            .hint(ctx.t("hint-mail-move-to")),
        FieldView::new("smtp", ctx.t("mailbox-smtp"), "heading", "").hint(ctx.t("hint-mailbox-smtp")),
        FieldView::new("smtp.host", ctx.t("field-mail-host"), "text", text(smtp.map(|s| s.host.clone()))),
        FieldView::new("smtp.port", ctx.t("field-mail-port"), "number", text(smtp.map(|s| s.port.to_string())))
            .hint(ctx.t("hint-smtp-port")),
        FieldView::new("smtp.tls", ctx.t("field-mail-tls"), "select", smtp.map_or("starttls", |s| tls_key(s.tls)))
            .options(tls_options(ctx), false)
            .hint(ctx.t("hint-mail-tls")),
        FieldView::new("smtp.username", ctx.t("field-mail-username"), "text", text(smtp.map(|s| s.username.clone())))
            .hint(ctx.t("hint-smtp-username")),
        secret_field(ctx, "smtp.password", smtp.is_some_and(|s| s.password_set)),
    ]);
    out
}

fn tls_key(t: Tls) -> &'static str {
    match t {
        Tls::Implicit => "implicit",
        Tls::Starttls => "starttls",
        Tls::None => "none",
    }
}

fn tls_options(ctx: &Ctx) -> Vec<Opt> {
    ["implicit", "starttls", "none"].iter().map(|k| Opt::new(*k, ctx.t(&format!("mail-tls-{k}")))).collect()
}

fn secret_field(ctx: &Ctx, name: &str, set: bool) -> FieldView {
    let hint = if set { "hint-mail-password-kept" } else { "hint-mail-password" };
    FieldView::new(name, ctx.t("field-mail-password"), "secret", "").hint(ctx.t(hint))
}

/// The server settings a form gives: none when its host is empty.
fn server_form(form: &UiForm, p: &str) -> (Option<String>, u16, Tls, String, String) {
    let host = form.text(&format!("{p}.host"));
    // A port that is no number is 0, which the domain refuses by its field.
    let port = form.text(&format!("{p}.port")).map(|v| v.trim().parse().unwrap_or(0));
    let tls = match form.get(&format!("{p}.tls")).unwrap_or_default() {
        "starttls" => Tls::Starttls,
        "none" => Tls::None,
        _ => Tls::Implicit,
    };
    let default_port = match (p, tls) {
        ("imap", Tls::Implicit) => 993,
        ("imap", _) => 143,
        (_, Tls::Implicit) => 465,
        (_, Tls::Starttls) => 587,
        _ => 25,
    };
    let user = form.get(&format!("{p}.username")).unwrap_or_default().to_owned();
    let password = form.get(&format!("{p}.password")).unwrap_or_default().to_owned();
    (host, port.unwrap_or(default_port), tls, user, password)
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
        actions: id
            .map(|i| {
                vec![
                    FormAction {
                        id: "mailbox-test".into(),
                        label: ctx.t("mailbox-test"),
                        href: format!("/admin/mailboxes/{i}/test"),
                    },
                    FormAction {
                        id: "mailbox-fetch".into(),
                        label: ctx.t("mailbox-fetch"),
                        href: format!("/admin/mailboxes/{i}/fetch"),
                    },
                ]
            })
            .unwrap_or_default(),
        notices: vec![],
        preview: None,
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
        use_reply_to: form.checked("use_reply_to"),
        imap: match server_form(&form, "imap") {
            (Some(host), port, tls, username, password) => Some(Imap {
                host,
                port,
                tls,
                username,
                password,
                password_set: false,
                folder: form.get("imap.folder").unwrap_or_default().to_owned(),
                after_import: match form.get("imap.after_import").unwrap_or_default() {
                    "move" => AfterImport::Move,
                    "delete" => AfterImport::Delete,
                    _ => AfterImport::Seen,
                },
                move_to: form.get("imap.move_to").unwrap_or_default().to_owned(),
            }),
            (None, ..) => None,
        },
        smtp: match server_form(&form, "smtp") {
            (Some(host), port, tls, username, password) => {
                Some(Smtp { host, port, tls, username, password, password_set: false })
            }
            (None, ..) => None,
        },
        ..Mailbox::blank(app.now())
    };
    match app.save_mailbox(&s.principal, m).await {
        Ok(_) => Ok(redirect_flash("/admin/mailboxes", "flash-saved")),
        Err(e) => {
            // Shown as it is stored (whether a password is kept, the status line), then what
            // was typed — except passwords, which never go back into a page.
            let current = match id {
                Some(i) => app.get_mailbox(&s.principal, MailboxId(i)).await.ok(),
                None => None,
            };
            let shown = fields(&v.ctx, current.as_ref());
            let names: Vec<String> = shown.iter().map(|f| f.name.clone()).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let errors = FormErrors::from_core(e, &names)?;
            let (shown, general) = apply_errors(&v.ctx, refill(shown, &form), &errors);
            failed(page(v.ctx, id, shown, general))
        }
    }
}

/// Logs in to the mailbox's servers and shows what each answered above its form.
async fn test(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = allowed(&v, "mailboxes")?;
    let checks = app.test_mailbox(&s.principal, MailboxId(id)).await?;
    let notices = checks
        .into_iter()
        .map(|(server, r)| match r {
            Ok(Reached::Imap { folder, messages }) => v.ctx.t2("mail-check-imap", "folder", folder, "count", messages),
            Ok(Reached::Smtp { server }) => v.ctx.t1("mail-check-smtp", "server", server),
            Err(e) => v.ctx.t2("mail-check-failed", "server", server.to_uppercase(), "detail", e),
        })
        .collect();
    shown_with(&app, v, id, notices).await
}

/// Fetches the mailbox now and says what came of it.
async fn fetch(State(app): State<App>, v: Viewer, Path(id): Path<i64>, _form: UiForm) -> UiResult {
    let s = allowed(&v, "mailboxes")?;
    let notice = match app.fetch_now(&s.principal, MailboxId(id)).await? {
        Ok(f) => v.ctx.t1("mail-fetched", "count", f.taken),
        Err(e) => v.ctx.t1("mail-fetch-failed", "error", e),
    };
    shown_with(&app, v, id, vec![notice]).await
}

async fn shown_with(app: &App, v: Viewer, id: i64, notices: Vec<String>) -> UiResult {
    let s = allowed(&v, "mailboxes")?;
    let m = app.get_mailbox(&s.principal, MailboxId(id)).await?;
    let fields = fields(&v.ctx, Some(&m));
    let mut p = page(v.ctx, Some(id), fields, vec![]);
    p.notices = notices;
    render(&p)
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
    /// False for a copy kept for its files: its message is on a ticket already.
    reprocess: bool,
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
            reprocess: !matches!(q.reason, gongdan_domain::mail::reason::Reason::KeptForFiles { .. }),
            reason: crate::ui::i18n::mail_reason(ctx.lang, &q.reason),
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
