//! Macros, and previewing and applying one to a ticket.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use gongdan_core::App;
use gongdan_core::macros::MacroInput;
use gongdan_core::macros::MacroRow;
use gongdan_domain::event::Via;
use gongdan_domain::ids::*;
use gongdan_domain::rules::ActionSpec;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::{Items, TicketOut};
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth, IfMatch, if_match_failed};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_macro, list_macros))
        .routes(routes!(update_macro, delete_macro))
        .routes(routes!(preview_macro))
        .routes(routes!(apply_macro))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MacroIn {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// Shared with every agent (supervisors and admins), else yours alone.
    pub shared: Option<bool>,
    pub active: Option<bool>,
    pub position: Option<i64>,
    /// As trigger actions; `{"field": "assignee_id", "value": "me"}` assigns the agent applying it.
    pub actions: Option<Vec<ActionSpec>>,
    /// With placeholders such as `{{requester.name}}` and `{{ticket.number}}`.
    pub reply_body: Option<String>,
    pub reply_public: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MacroOut {
    pub id: i64,
    pub name: String,
    pub shared: bool,
    pub owner_id: Option<UserId>,
    pub active: bool,
    pub position: i64,
    pub actions: Vec<ActionSpec>,
    pub reply_body: String,
    pub reply_public: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<MacroRow> for MacroOut {
    fn from(m: MacroRow) -> Self {
        MacroOut {
            id: m.id,
            name: m.name,
            shared: m.owner_id.is_none(),
            owner_id: m.owner_id,
            active: m.active,
            position: m.position,
            actions: m.actions,
            reply_body: m.reply_body,
            reply_public: m.reply_public,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl From<MacroIn> for MacroInput {
    fn from(m: MacroIn) -> Self {
        MacroInput {
            name: m.name,
            shared: m.shared,
            active: m.active,
            position: m.position,
            actions: m.actions,
            reply_body: m.reply_body,
            reply_public: m.reply_public,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/macros", tag = "rules", request_body = MacroIn,
    responses((status = 201, body = MacroOut), (status = 422, body = Problem)))]
async fn create_macro(State(app): State<App>, Auth(p): Auth, body: ApiJson<MacroIn>) -> ApiResult<impl IntoResponse> {
    let m = app.create_macro(&p, body.value.into()).await?;
    Ok((StatusCode::CREATED, Json(MacroOut::from(m))))
}

/// The shared macros and your own.
#[utoipa::path(get, path = "/api/v1/macros", tag = "rules", responses((status = 200, body = Items<MacroOut>)))]
async fn list_macros(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<MacroOut>>> {
    Ok(Json(Items { items: app.list_macros(&p).await?.into_iter().map(MacroOut::from).collect() }))
}

#[utoipa::path(patch, path = "/api/v1/macros/{id}", tag = "rules", params(("id" = i64, Path)), request_body = MacroIn,
    responses((status = 200, body = MacroOut), (status = 404, body = Problem)))]
async fn update_macro(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<MacroIn>,
) -> ApiResult<Json<MacroOut>> {
    Ok(Json(app.update_macro(&p, id, body.value.into()).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/macros/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_macro(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_macro(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldChangeOut {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MacroPreviewOut {
    pub changes: Vec<FieldChangeOut>,
    /// The reply with its placeholders filled in.
    pub reply: Option<String>,
    pub reply_public: bool,
}

/// What a macro would do to this ticket, without doing it.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/macros/{macro_id}/preview", tag = "tickets",
    params(("id" = i64, Path), ("macro_id" = i64, Path)),
    responses((status = 200, body = MacroPreviewOut), (status = 404, body = Problem)))]
async fn preview_macro(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, macro_id)): Path<(i64, i64)>,
) -> ApiResult<Json<MacroPreviewOut>> {
    let pv = app.preview_macro(&p, TicketId(id), macro_id).await?;
    Ok(Json(MacroPreviewOut {
        changes: pv.changes.into_iter().map(|c| FieldChangeOut { field: c.field, old: c.old, new: c.new }).collect(),
        reply_public: pv.reply.as_ref().is_some_and(|(_, public)| *public),
        reply: pv.reply.map(|(body, _)| body),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionIn {
    /// The version you read; a stale one gets 409.
    pub version: Option<i64>,
}

/// Applies a macro: its changes and its reply as your own update.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/macros/{macro_id}/apply", tag = "tickets",
    params(("id" = i64, Path), ("macro_id" = i64, Path)), request_body = VersionIn,
    responses((status = 200, body = TicketOut), (status = 409, body = Problem), (status = 404, body = Problem)))]
async fn apply_macro(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, macro_id)): Path<(i64, i64)>,
    IfMatch(if_match): IfMatch,
    body: axum::body::Bytes,
) -> ApiResult<Json<TicketOut>> {
    // The body is optional: nothing, or `{"version": n}`.
    let version = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        crate::extract::parse_json::<VersionIn>(&body)?.version
    };
    let from_header = version.is_none() && if_match.is_some();
    let t = app
        .apply_macro(&p, TicketId(id), macro_id, version.or(if_match), Via::Api)
        .await
        .map_err(if_match_failed(from_header))?;
    Ok(Json(TicketOut::view(t, &p)))
}
