//! The flow engine in the workspace: an agent's availability, their notifications, saving the
//! list they filtered as a personal view, and on a ticket: macros (preview, then apply),
//! escalation up a tier and transfer to another group, each with a reason.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use gongdan_core::App;
use gongdan_core::views::ViewInput;
use gongdan_domain::event::Via;
use gongdan_domain::ids::{GroupId, TicketId};
use gongdan_domain::routing::Availability;
use serde_json::{Map, Value};

use super::ListQuery;
use crate::ui::ctx::{Ctx, Viewer};
use crate::ui::form::{FormErrors, UiForm};
use crate::ui::view::{Opt, local_path};
use crate::ui::{UiError, UiResult, redirect_flash, render};

pub fn router() -> Router<App> {
    Router::new()
        .route("/agent/availability", post(set_availability))
        .route("/agent/notifications", get(notifications))
        .route("/agent/notifications/read", post(read_all))
        .route("/agent/views", post(save_view))
        .route("/agent/tickets/{id}/macro", post(apply_macro))
        .route("/agent/tickets/{id}/escalate", post(escalate))
        .route("/agent/tickets/{id}/transfer", post(transfer))
}

/// Sets the signed-in agent's availability, then back to where they were.
async fn set_availability(State(app): State<App>, v: Viewer, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let a = form
        .text("availability")
        .and_then(|a| Availability::parse(&a, "availability").ok())
        .ok_or(UiError::BadRequest)?;
    let input = gongdan_core::people::UserInput { availability: Some(a), ..Default::default() };
    app.update_user(&s.principal, s.user.id, input).await?;
    Ok(redirect_flash(&local_path(form.get("next")), "flash-availability"))
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

/// Saves the list's current filters as a personal view and opens it.
async fn save_view(State(app): State<App>, v: Viewer, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let base = form.text("view").ok_or(UiError::BadRequest)?;
    let from = app.get_view(&s.principal, &base).await.map_err(|_| UiError::NotFound)?;
    let lq: ListQuery = serde_urlencoded::from_str(form.get("query").unwrap_or_default()).unwrap_or_default();
    let mut filters: Map<String, Value> = from.filters.as_object().cloned().unwrap_or_default();
    let set = |f: &mut Map<String, Value>, k: &str, v: Option<Value>| {
        if let Some(v) = v {
            f.insert(k.to_owned(), v);
        }
    };
    let text = |o: &Option<String>| o.as_deref().map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned);
    set(&mut filters, "priority", text(&lq.priority).map(|p| Value::from(vec![p])));
    set(&mut filters, "channel", text(&lq.channel).map(|c| Value::from(vec![c])));
    set(&mut filters, "tag", text(&lq.tag).map(Value::from));
    set(&mut filters, "group_id", text(&lq.group_id).and_then(|g| g.parse::<i64>().ok()).map(Value::from));
    set(&mut filters, "category_id", text(&lq.category_id).and_then(|c| c.parse::<i64>().ok()).map(Value::from));
    set(
        &mut filters,
        "assignee_id",
        text(&lq.assignee_id).map(|a| a.parse::<i64>().map(Value::from).unwrap_or(Value::from(a))),
    );
    let input = ViewInput {
        name: form.text("name"),
        scope: Some("personal".into()),
        filters: Some(Value::Object(filters)),
        columns: Some(from.columns.clone()),
        sort: text(&lq.sort).or(Some(from.sort.clone())),
        ..Default::default()
    };
    match app.create_view(&s.principal, input).await {
        Ok(view) => Ok(redirect_flash(&format!("/agent/views/{}", view.id), "flash-view-saved")),
        Err(_) => Ok(redirect_flash(&format!("/agent/views/{base}"), "flash-view-not-saved")),
    }
}

/// What the ticket page shows of macros and moves.
pub struct FlowPanel {
    pub macros: Vec<Opt>,
    pub groups: Vec<Opt>,
    /// The macro being previewed: its id, name, changes in words and the reply.
    pub preview: Option<MacroPreview>,
    pub errors: Vec<String>,
}

pub struct MacroPreview {
    pub id: i64,
    pub name: String,
    pub changes: Vec<String>,
    pub reply: Option<String>,
    pub public: bool,
}

/// The panel's parts for one ticket: the caller's macros, the groups, and a preview if asked.
pub async fn panel(
    app: &App,
    ctx: &Ctx,
    p: &gongdan_domain::access::Principal,
    ticket: TicketId,
    preview: Option<i64>,
    errors: &FormErrors,
) -> UiResult<FlowPanel> {
    let macros: Vec<Opt> =
        app.usable_macros(p).await?.into_iter().map(|m| Opt::new(m.id.to_string(), m.name)).collect();
    let groups = super::group_options(ctx, None);
    let mut errors = errors.general_texts(ctx);
    let preview = match preview {
        Some(id) => match app.preview_macro(p, ticket, id).await {
            Ok(pv) => {
                let name =
                    macros.iter().find(|m| m.value == id.to_string()).map(|m| m.label.clone()).unwrap_or_default();
                Some(MacroPreview {
                    id,
                    name,
                    changes: pv
                        .changes
                        .iter()
                        .map(|c| {
                            format!(
                                "{}: {} → {}",
                                super::ticket::field_name(ctx, &c.field),
                                super::ticket::field_value(ctx, &c.field, c.old.as_deref(), &Default::default()),
                                super::ticket::field_value(ctx, &c.field, c.new.as_deref(), &Default::default())
                            )
                        })
                        .collect(),
                    public: pv.reply.as_ref().is_some_and(|(_, public)| *public),
                    reply: pv.reply.map(|(body, _)| body),
                })
            }
            // Why it cannot apply here (its status is not allowed, a field it sets is gone …).
            Err(e) => {
                errors.extend(FormErrors::from_core(e, &[])?.general_texts(ctx));
                None
            }
        },
        None => None,
    };
    Ok(FlowPanel { macros, groups, preview, errors })
}

async fn back_with(
    app: &App,
    v: Viewer,
    id: i64,
    result: Result<(), gongdan_core::CoreError>,
    flash: &str,
) -> UiResult {
    match result {
        Ok(()) => Ok(redirect_flash(&format!("/agent/tickets/{id}"), flash)),
        Err(e) => {
            let errors = FormErrors::from_core(e, &[])?;
            super::ticket::page_with_flow_errors(app, v, id, errors).await
        }
    }
}

async fn apply_macro(State(app): State<App>, v: Viewer, Path(id): Path<i64>, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let m = form.id("macro_id").map_err(|_| UiError::BadRequest)?.ok_or(UiError::BadRequest)?;
    let version = form.id("version").map_err(|_| UiError::BadRequest)?;
    let r = app.apply_macro(&s.principal, TicketId(id), m, version, Via::Web).await.map(|_| ());
    back_with(&app, v, id, r, "flash-macro-applied").await
}

async fn escalate(State(app): State<App>, v: Viewer, Path(id): Path<i64>, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let group = form.id("group_id").map_err(|_| UiError::BadRequest)?.map(GroupId);
    let version = form.id("version").map_err(|_| UiError::BadRequest)?;
    let reason = form.get("reason").unwrap_or_default().to_owned();
    let r = app.escalate(&s.principal, TicketId(id), group, &reason, version, Via::Web).await.map(|_| ());
    back_with(&app, v, id, r, "flash-escalated").await
}

async fn transfer(State(app): State<App>, v: Viewer, Path(id): Path<i64>, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let version = form.id("version").map_err(|_| UiError::BadRequest)?;
    let reason = form.get("reason").unwrap_or_default().to_owned();
    let r = match form.id("group_id").map_err(|_| UiError::BadRequest)? {
        Some(g) => app.transfer(&s.principal, TicketId(id), GroupId(g), &reason, version, Via::Web).await.map(|_| ()),
        None => Err(gongdan_domain::DomainError::required("group_id").into()),
    };
    back_with(&app, v, id, r, "flash-transferred").await
}
