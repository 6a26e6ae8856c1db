//! The agent's availability, and moving a ticket: escalation up a tier and transfer to another
//! group, each with a reason.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use gongdan_core::App;
use gongdan_domain::event::Via;
use gongdan_domain::ids::{GroupId, TicketId};
use gongdan_domain::routing::Availability;

use super::ticket::after_action;
use crate::session::local_path;
use crate::ui::ctx::Viewer;
use crate::ui::form::UiForm;
use crate::ui::{UiError, UiResult, redirect_flash};

pub fn router() -> Router<App> {
    Router::new()
        .route("/agent/availability", post(set_availability))
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

async fn escalate(State(app): State<App>, v: Viewer, Path(id): Path<i64>, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let group = form.id("group_id").map_err(|_| UiError::BadRequest)?.map(GroupId);
    let version = form.id("version").map_err(|_| UiError::BadRequest)?;
    let reason = form.get("reason").unwrap_or_default().to_owned();
    let r = app.escalate(&s.principal, TicketId(id), group, &reason, version, Via::Web).await.map(|_| ());
    after_action(&app, v, id, r, "flash-escalated").await
}

async fn transfer(State(app): State<App>, v: Viewer, Path(id): Path<i64>, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let version = form.id("version").map_err(|_| UiError::BadRequest)?;
    let reason = form.get("reason").unwrap_or_default().to_owned();
    let r = match form.id("group_id").map_err(|_| UiError::BadRequest)? {
        Some(g) => app.transfer(&s.principal, TicketId(id), GroupId(g), &reason, version, Via::Web).await.map(|_| ()),
        None => Err(gongdan_domain::DomainError::required("group_id").into()),
    };
    after_action(&app, v, id, r, "flash-transferred").await
}
