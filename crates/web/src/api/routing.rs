//! Escalating and transferring a ticket.

use axum::Json;
use axum::extract::State;
use gongdan_core::App;
use gongdan_domain::Code;
use gongdan_domain::event::Via;
use gongdan_domain::ids::*;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::TicketOut;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth, IfMatch, if_match_failed};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(escalate)).routes(routes!(transfer))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveIn {
    /// Why: kept on the timeline. Required.
    #[serde(default)]
    pub reason: String,
    /// Escalation: where to (default: the group's escalation target or the next tier).
    /// Transfer: required.
    pub group_id: Option<GroupId>,
    pub version: Option<i64>,
}

/// Escalates up a tier, with a reason.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/escalate", tag = "tickets", params(("id" = i64, Path)), request_body = MoveIn,
    responses((status = 200, body = TicketOut), (status = 422, body = Problem), (status = 409, body = Problem)))]
async fn escalate(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    IfMatch(if_match): IfMatch,
    body: ApiJson<MoveIn>,
) -> ApiResult<Json<TicketOut>> {
    let b = body.value;
    let from_header = b.version.is_none() && if_match.is_some();
    let t = app
        .escalate(&p, TicketId(id), b.group_id, &b.reason, b.version.or(if_match), Via::Api)
        .await
        .map_err(if_match_failed(from_header))?;
    Ok(Json(TicketOut::view(t, &p)))
}

/// Transfers to another group, with a reason.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/transfer", tag = "tickets", params(("id" = i64, Path)), request_body = MoveIn,
    responses((status = 200, body = TicketOut), (status = 422, body = Problem), (status = 409, body = Problem)))]
async fn transfer(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    IfMatch(if_match): IfMatch,
    body: ApiJson<MoveIn>,
) -> ApiResult<Json<TicketOut>> {
    let b = body.value;
    let group = b.group_id.ok_or_else(|| ApiError::at(Code::Required, "group_id", "where to"))?;
    let from_header = b.version.is_none() && if_match.is_some();
    let t = app
        .transfer(&p, TicketId(id), group, &b.reason, b.version.or(if_match), Via::Api)
        .await
        .map_err(if_match_failed(from_header))?;
    Ok(Json(TicketOut::view(t, &p)))
}
