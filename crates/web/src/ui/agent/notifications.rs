//! The signed-in user's notifications, for agents here and for customers in the portal.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use gongdan_core::App;

use crate::ui::ctx::{Ctx, Viewer};
use crate::ui::form::UiForm;
use crate::ui::{UiResult, redirect_flash, render};

pub fn router() -> Router<App> {
    Router::new().route("/agent/notifications", get(notifications)).route("/agent/notifications/read", post(read_all))
}

pub struct NoteRow {
    pub id: i64,
    pub ticket: Option<i64>,
    pub subject: String,
    pub body: String,
    pub rule: String,
    pub at: String,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "agent/notifications.html")]
struct NotificationsPage {
    ctx: Ctx,
    /// `agent` or `portal`: which area's navigation and ticket links.
    area: &'static str,
    rows: Vec<NoteRow>,
    next: Option<String>,
}

/// A page of notifications: those older than `before`.
#[derive(serde::Deserialize, Default)]
pub struct NotesQuery {
    pub before: Option<i64>,
}

/// The signed-in user's notifications (agents here; customers at `/portal/notifications`).
pub async fn notifications_page(app: &App, v: Viewer, area: &'static str, before: Option<i64>) -> UiResult {
    let s = v.require()?;
    let items = app.notifications(&s.principal, false, before, 50).await?;
    let next =
        (items.len() == 50).then(|| items.last().map(|n| format!("/{area}/notifications?before={}", n.id))).flatten();
    let ctx = v.ctx;
    let rows = items
        .into_iter()
        .map(|n| NoteRow {
            id: n.id,
            ticket: n.ticket_id.map(|t| t.0),
            subject: n.subject,
            body: n.body,
            rule: n.rule.unwrap_or_default(),
            at: ctx.dt(&n.created_at),
            unread: n.read_at.is_none(),
        })
        .collect();
    render(&NotificationsPage { ctx, area, rows, next })
}

async fn notifications(State(app): State<App>, v: Viewer, Query(q): Query<NotesQuery>) -> UiResult {
    v.staff()?;
    notifications_page(&app, v, "agent", q.before).await
}

/// Marks every notification read (or those ticked), then back to the list.
pub async fn mark_read(app: &App, v: &Viewer, form: &UiForm, area: &str) -> UiResult {
    let s = v.require()?;
    let ids: Vec<i64> = form.ids("ids");
    app.mark_notifications_read(&s.principal, &ids).await?;
    Ok(redirect_flash(&format!("/{area}/notifications"), "flash-notifications-read"))
}

async fn read_all(State(app): State<App>, v: Viewer, form: UiForm) -> UiResult {
    v.staff()?;
    mark_read(&app, &v, &form, "agent").await
}
