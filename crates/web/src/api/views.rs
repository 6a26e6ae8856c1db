//! Views and their totals.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use gongdan_core::App;
use gongdan_core::views::ViewRow;
use gongdan_core::views::{ViewInput, ViewTotal};
use gongdan_domain::ids::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::Items;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth, QueryPairs};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(create_view, list_views)).routes(routes!(get_view, update_view, delete_view))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewIn {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// `personal` (default), `group` (with `group_id`) or `shared`; the last two for
    /// supervisors and admins.
    pub scope: Option<String>,
    pub group_id: Option<GroupId>,
    pub active: Option<bool>,
    pub position: Option<i64>,
    /// `{"status": ["new", "open"], "assignee_id": "me" | "none" | id, "group_id": "mine" | id | [ids],
    /// "priority": [...], "channel": [...], "tag": "...", "category_id": id}`
    #[schema(schema_with = view_filters)]
    pub filters: Option<Value>,
    pub columns: Option<Vec<String>>,
    pub sort: Option<String>,
}

/// A view's filters, as `gongdan_core::views::ViewFilters` reads them.
fn view_filters() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    let of = |t| ObjectBuilder::new().schema_type(t);
    let list = |t| ArrayBuilder::new().items(of(t));
    ObjectBuilder::new()
        .property("status", list(Type::String).description(Some("status keys or categories")))
        .property(
            "assignee_id",
            OneOfBuilder::new()
                .item(of(Type::String))
                .item(of(Type::Integer))
                .description(Some("`me`, `none` or an agent id")),
        )
        .property(
            "group_id",
            OneOfBuilder::new()
                .item(of(Type::String))
                .item(of(Type::Integer))
                .item(list(Type::Integer))
                .description(Some("`mine`, a group id or a list of them")),
        )
        .property("priority", ArrayBuilder::new().items(utoipa::openapi::Ref::from_schema_name("Priority")))
        .property("channel", ArrayBuilder::new().items(utoipa::openapi::Ref::from_schema_name("Channel")))
        .property("tag", of(Type::String))
        .property("category_id", of(Type::Integer).description(Some("includes its subcategories")))
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
        .into()
}

impl From<ViewIn> for ViewInput {
    fn from(v: ViewIn) -> Self {
        ViewInput {
            name: v.name,
            scope: v.scope,
            group_id: v.group_id,
            active: v.active,
            position: v.position,
            filters: v.filters,
            columns: v.columns,
            sort: v.sort,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ViewOut {
    pub id: i64,
    /// Built-in views have a key (`mine`, `unassigned` …).
    pub key: Option<String>,
    pub name: String,
    pub scope: String,
    pub owner_id: Option<UserId>,
    pub group_id: Option<GroupId>,
    pub active: bool,
    pub position: i64,
    #[schema(schema_with = view_filters)]
    pub filters: Value,
    pub columns: Vec<String>,
    pub sort: String,
    /// Tickets in it for you now (views with other filters than status, group and assignee
    /// count up to 10,000 and say 10001 above that).
    pub count: Option<i64>,
}

fn view_out(v: ViewRow, total: Option<ViewTotal>) -> ViewOut {
    let scope = gongdan_core::views::scope(&v);
    // Above the cap the API says one more than it (documented on `count`).
    let count = total.map(|t| t.count + i64::from(t.more));
    ViewOut {
        id: v.id,
        key: v.key,
        name: v.name,
        scope: scope.into(),
        owner_id: v.owner_id,
        group_id: v.group_id,
        active: v.active,
        position: v.position,
        filters: v.filters,
        columns: v.columns,
        sort: v.sort,
        count,
    }
}

#[utoipa::path(post, path = "/api/v1/views", tag = "rules", request_body = ViewIn,
    responses((status = 201, body = ViewOut), (status = 422, body = Problem)))]
async fn create_view(State(app): State<App>, Auth(p): Auth, body: ApiJson<ViewIn>) -> ApiResult<impl IntoResponse> {
    let v = app.create_view(&p, body.value.into()).await?;
    Ok((StatusCode::CREATED, Json(view_out(v, None))))
}

/// Your views with their counts (`?counts=false` skips them).
#[utoipa::path(get, path = "/api/v1/views", tag = "rules", params(("counts" = Option<bool>, Query)),
    responses((status = 200, body = Items<ViewOut>)))]
async fn list_views(State(app): State<App>, Auth(p): Auth, q: QueryPairs) -> ApiResult<Json<Items<ViewOut>>> {
    q.only(&["counts"])?;
    let views = app.list_views(&p).await?;
    let counts = match q.parse::<bool>("counts")?.unwrap_or(true) {
        true => app.view_counts(&p, &views).await?.into_iter().map(Some).collect(),
        false => vec![None; views.len()],
    };
    Ok(Json(Items { items: views.into_iter().zip(counts).map(|(v, c)| view_out(v, c)).collect() }))
}

#[utoipa::path(get, path = "/api/v1/views/{id}", tag = "rules", params(("id" = String, Path, description = "an id or a built-in key")),
    responses((status = 200, body = ViewOut), (status = 404, body = Problem)))]
async fn get_view(State(app): State<App>, Auth(p): Auth, Path(id): Path<String>) -> ApiResult<Json<ViewOut>> {
    let v = app.get_view(&p, &id).await?;
    let count = app.view_counts(&p, std::slice::from_ref(&v)).await?.pop();
    Ok(Json(view_out(v, count)))
}

#[utoipa::path(patch, path = "/api/v1/views/{id}", tag = "rules", params(("id" = i64, Path)), request_body = ViewIn,
    responses((status = 200, body = ViewOut), (status = 422, body = Problem)))]
async fn update_view(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<ViewIn>,
) -> ApiResult<Json<ViewOut>> {
    Ok(Json(view_out(app.update_view(&p, id, body.value.into()).await?, None)))
}

#[utoipa::path(delete, path = "/api/v1/views/{id}", tag = "rules", params(("id" = i64, Path)),
    responses((status = 204), (status = 409, body = Problem)))]
async fn delete_view(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_view(&p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
