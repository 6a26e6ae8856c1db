//! The job queue, for admins.

use axum::Json;
use axum::extract::State;
use gongdan_core::App;
use gongdan_core::jobs::Job;
use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::Items;
use crate::error::{ApiResult, Problem};
use crate::extract::{Auth, QueryPairs};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_jobs))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobOut {
    pub id: i64,
    pub kind: String,
    /// `pending` (waiting or running) or `failed` (gave up).
    pub state: String,
    pub run_at: Timestamp,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<String>,
    pub locked_until: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl From<Job> for JobOut {
    fn from(j: Job) -> Self {
        JobOut {
            id: j.id,
            kind: j.kind,
            state: j.state.as_str().into(),
            run_at: j.run_at,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_error: j.last_error,
            locked_until: j.locked_until,
            created_at: j.created_at,
        }
    }
}

/// The job queue (admins): what is due, running, or failed for good.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "config", params(("kind" = Option<String>, Query)),
    responses((status = 200, body = Items<JobOut>), (status = 403, body = Problem)))]
async fn list_jobs(State(app): State<App>, Auth(p): Auth, q: QueryPairs) -> ApiResult<Json<Items<JobOut>>> {
    q.only(&["kind"])?;
    let jobs = app.list_jobs(&p, q.get("kind")).await?;
    Ok(Json(Items { items: jobs.into_iter().map(JobOut::from).collect() }))
}
