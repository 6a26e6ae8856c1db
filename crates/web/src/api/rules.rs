//! Triggers and automations, with a dry run of an automation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use gongdan_core::App;
use gongdan_core::rules::{RuleInput, RuleView};
use gongdan_domain::ids::*;
use gongdan_domain::rules::{ActionSpec, ConditionsSpec, RuleKind};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::Items;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_trigger, list_triggers))
        .routes(routes!(get_trigger, update_trigger, delete_trigger))
        .routes(routes!(create_automation, list_automations))
        .routes(routes!(get_automation, update_automation, delete_automation))
        .routes(routes!(dry_run_new))
        .routes(routes!(dry_run_saved))
}

/// A trigger or automation. On update every field is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleIn {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// Groups rules in the console.
    pub category: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
    /// Order: lower runs first; new rules go last.
    pub position: Option<i64>,
    /// Automations: fire once per ticket and window although no action undoes a condition.
    pub once: Option<bool>,
    pub conditions: Option<ConditionsSpec>,
    pub actions: Option<Vec<ActionSpec>>,
}

impl From<RuleIn> for RuleInput {
    fn from(r: RuleIn) -> Self {
        RuleInput {
            name: r.name,
            category: r.category,
            description: r.description,
            active: r.active,
            position: r.position,
            once: r.once,
            conditions: r.conditions,
            actions: r.actions,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleOut {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub description: String,
    pub active: bool,
    pub position: i64,
    pub once: bool,
    pub conditions: ConditionsSpec,
    pub actions: Vec<ActionSpec>,
    /// Set when the rule no longer fits the configuration (it is skipped until fixed).
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<RuleView> for RuleOut {
    fn from(v: RuleView) -> Self {
        let r = v.rule;
        RuleOut {
            id: r.id,
            name: r.name,
            category: r.category,
            description: r.description,
            active: r.active,
            position: r.position,
            once: r.once,
            conditions: r.conditions,
            actions: r.actions,
            error: v.error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn saved(rule: gongdan_core::rules::RuleRow) -> RuleOut {
    RuleOut::from(RuleView { rule, error: None })
}

#[utoipa::path(post, path = "/api/v1/triggers", tag = "rules", request_body = RuleIn,
    responses((status = 201, body = RuleOut), (status = 422, body = Problem), (status = 403, body = Problem)))]
async fn create_trigger(State(app): State<App>, Auth(p): Auth, body: ApiJson<RuleIn>) -> ApiResult<impl IntoResponse> {
    let r = app.create_rule(&p, RuleKind::Trigger, body.value.into()).await?;
    Ok((StatusCode::CREATED, Json(saved(r))))
}

#[utoipa::path(get, path = "/api/v1/triggers", tag = "rules", responses((status = 200, body = Items<RuleOut>)))]
async fn list_triggers(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<RuleOut>>> {
    let items = app.list_rules(&p, RuleKind::Trigger).await?.into_iter().map(RuleOut::from).collect();
    Ok(Json(Items { items }))
}

#[utoipa::path(get, path = "/api/v1/triggers/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 200, body = RuleOut), (status = 404, body = Problem)))]
async fn get_trigger(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<RuleOut>> {
    Ok(Json(app.get_rule(&p, RuleKind::Trigger, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/triggers/{id}", tag = "rules", params(("id" = i64, Path)), request_body = RuleIn,
    responses((status = 200, body = RuleOut), (status = 422, body = Problem)))]
async fn update_trigger(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<RuleIn>,
) -> ApiResult<Json<RuleOut>> {
    Ok(Json(saved(app.update_rule(&p, RuleKind::Trigger, id, body.value.into()).await?)))
}

#[utoipa::path(delete, path = "/api/v1/triggers/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_trigger(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_rule(&p, RuleKind::Trigger, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/automations", tag = "rules", request_body = RuleIn,
    responses((status = 201, body = RuleOut), (status = 422, body = Problem)))]
async fn create_automation(
    State(app): State<App>,
    Auth(p): Auth,
    body: ApiJson<RuleIn>,
) -> ApiResult<impl IntoResponse> {
    let r = app.create_rule(&p, RuleKind::Automation, body.value.into()).await?;
    Ok((StatusCode::CREATED, Json(saved(r))))
}

#[utoipa::path(get, path = "/api/v1/automations", tag = "rules", responses((status = 200, body = Items<RuleOut>)))]
async fn list_automations(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<RuleOut>>> {
    let items = app.list_rules(&p, RuleKind::Automation).await?.into_iter().map(RuleOut::from).collect();
    Ok(Json(Items { items }))
}

#[utoipa::path(get, path = "/api/v1/automations/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 200, body = RuleOut), (status = 404, body = Problem)))]
async fn get_automation(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<RuleOut>> {
    Ok(Json(app.get_rule(&p, RuleKind::Automation, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/automations/{id}", tag = "rules", params(("id" = i64, Path)), request_body = RuleIn,
    responses((status = 200, body = RuleOut), (status = 422, body = Problem)))]
async fn update_automation(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<RuleIn>,
) -> ApiResult<Json<RuleOut>> {
    Ok(Json(saved(app.update_rule(&p, RuleKind::Automation, id, body.value.into()).await?)))
}

#[utoipa::path(delete, path = "/api/v1/automations/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_automation(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_rule(&p, RuleKind::Automation, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunOut {
    /// Tickets looked at (those in the status categories the automation can match).
    pub scanned: usize,
    /// Tickets it would change now.
    pub matched: usize,
    /// The first 200 of them.
    pub tickets: Vec<DryRunTicket>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunTicket {
    pub id: TicketId,
    pub subject: String,
}

fn dry_run_out(d: gongdan_core::automation::DryRun) -> DryRunOut {
    DryRunOut {
        scanned: d.scanned,
        matched: d.matched,
        tickets: d.tickets.into_iter().map(|(id, subject)| DryRunTicket { id, subject }).collect(),
    }
}

/// Which tickets an unsaved automation would change now.
#[utoipa::path(post, path = "/api/v1/automations/dry_run", tag = "rules", request_body = RuleIn,
    responses((status = 200, body = DryRunOut), (status = 422, body = Problem)))]
async fn dry_run_new(State(app): State<App>, Auth(p): Auth, body: ApiJson<RuleIn>) -> ApiResult<Json<DryRunOut>> {
    Ok(Json(dry_run_out(app.dry_run(&p, body.value.into(), None).await?)))
}

/// Which tickets a saved automation (with the changes in the body, if any) would change now.
#[utoipa::path(post, path = "/api/v1/automations/{id}/dry_run", tag = "rules", params(("id" = i64, Path)),
    request_body = RuleIn, responses((status = 200, body = DryRunOut), (status = 404, body = Problem)))]
async fn dry_run_saved(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<RuleIn>,
) -> ApiResult<Json<DryRunOut>> {
    Ok(Json(dry_run_out(app.dry_run(&p, body.value.into(), Some(id)).await?)))
}
