//! Applying a macro to a ticket from its page.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use gongdan_core::App;
use gongdan_domain::event::Via;
use gongdan_domain::ids::TicketId;

use super::ticket::after_action;
use crate::ui::ctx::Viewer;
use crate::ui::form::UiForm;
use crate::ui::{UiError, UiResult};

pub fn router() -> Router<App> {
    Router::new().route("/agent/tickets/{id}/macro", post(apply_macro))
}

async fn apply_macro(State(app): State<App>, v: Viewer, Path(id): Path<i64>, form: UiForm) -> UiResult {
    let s = v.staff()?;
    let m = form.id("macro_id").map_err(|_| UiError::BadRequest)?.ok_or(UiError::BadRequest)?;
    let version = form.id("version").map_err(|_| UiError::BadRequest)?;
    let r = app.apply_macro(&s.principal, TicketId(id), m, version, Via::Web).await.map(|_| ());
    after_action(&app, v, id, r, "flash-macro-applied").await
}
