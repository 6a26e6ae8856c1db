//! Users (the signed-in one too) and organisations.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use gongdan_core::App;
use gongdan_domain::Code;
use gongdan_domain::access::Role;
use gongdan_domain::ids::*;
use gongdan_domain::page::Cursor;
use gongdan_domain::people::Organization;
use gongdan_domain::people::UserQuery;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::*;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth, IdempotencyKey, QueryPairs};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user, deactivate_user))
        .routes(routes!(me))
        .routes(routes!(unlock_user))
        .routes(routes!(create_org, list_orgs))
        .routes(routes!(get_org, update_org, delete_org))
}

/// Paging by id for the small admin lists.
fn id_cursor(q: &QueryPairs) -> ApiResult<Option<i64>> {
    Ok(q.get("cursor").map(|c| Cursor::decode(c, "id")).transpose()?.map(|c| c.id))
}

fn next_id_cursor<T>(items: &[T], limit: i64, id: impl Fn(&T) -> i64) -> Option<String> {
    (items.len() as i64 == limit)
        .then(|| items.last().map(|t| Cursor { sort: "id".into(), key: 0, id: id(t) }.encode()))
        .flatten()
}

/// Creates a customer, agent, supervisor or admin (as the caller's role allows).
#[utoipa::path(post, path = "/api/v1/users", tag = "people", request_body = UserIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "retries with the same key return the first result")),
    responses((status = 201, body = UserOut), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_user(
    State(app): State<App>,
    Auth(p): Auth,
    key: IdempotencyKey,
    body: ApiJson<UserIn>,
) -> ApiResult<axum::response::Response> {
    let idem = crate::api::tickets::idempotency(key, "POST /api/v1/users", &body.hash);
    let c = app.create_user_once(Some(&p), body.value.into(), idem).await?;
    Ok(crate::api::tickets::created(c.replayed, UserOut::from(c.value)))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "people",
    params(("role" = Option<String>, Query), ("staff" = Option<bool>, Query), ("organization_id" = Option<i64>, Query),
        ("group_id" = Option<i64>, Query), ("q" = Option<String>, Query, description = "name or identity contains"),
        ("cursor" = Option<String>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = UserList)))]
async fn list_users(State(app): State<App>, Auth(p): Auth, q: QueryPairs) -> ApiResult<Json<UserList>> {
    q.only(&["role", "staff", "organization_id", "group_id", "q", "cursor", "limit"])?;
    let role = q
        .get("role")
        .map(|r| Role::parse(r, "role"))
        .transpose()
        .map_err(|e| ApiError::at(Code::InvalidQuery, "role", e.to_string()))?;
    let limit = q.limit(50, 200)?;
    let uq = UserQuery {
        role,
        staff: q.parse::<bool>("staff")?.unwrap_or(false),
        organization_id: q.parse::<i64>("organization_id")?.map(OrganizationId),
        group_id: q.parse::<i64>("group_id")?.map(GroupId),
        q: q.get("q").map(str::to_owned).filter(|s| !s.trim().is_empty()),
        after: id_cursor(&q)?.map(UserId),
        limit,
    };
    let users = app.list_users(&p, uq).await?;
    let next_cursor = next_id_cursor(&users, limit, |u| u.id.0);
    Ok(Json(UserList { items: users.into_iter().map(UserOut::from).collect(), next_cursor, total: None }))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "people", params(("id" = i64, Path)), responses((status = 200, body = UserOut), (status = 404, body = Problem)))]
async fn get_user(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<UserOut>> {
    Ok(Json(app.get_user(&p, UserId(id)).await?.into()))
}

/// Changes a user. A password change ends the user's other sessions and revokes their API tokens
/// (unless `keep_tokens`); one's own needs `current_password`. Agents edit only customers in
/// their scope, and neither deactivate them nor change their VIP level or external id.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "people", params(("id" = i64, Path)), request_body = UserIn,
    responses((status = 200, body = UserOut), (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"), (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_user(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: ApiJson<UserIn>,
) -> ApiResult<Json<UserOut>> {
    let mut input: gongdan_core::people::UserInput = body.value.into();
    // A browser changing its user's password stays signed in; every other session ends.
    input.keep_session = crate::session::session_secret(&headers);
    Ok(Json(app.update_user(&p, UserId(id), input).await?.into()))
}

/// Deactivates a user: they can no longer sign in; their tickets and history stay.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "people", params(("id" = i64, Path)), responses((status = 200, body = UserOut)))]
async fn deactivate_user(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<UserOut>> {
    let input = gongdan_core::people::UserInput { active: Some(false), ..Default::default() };
    Ok(Json(app.update_user(&p, UserId(id), input).await?.into()))
}

/// Lifts the sign-in back-off that failed passwords put on a user's address (on this node).
#[utoipa::path(post, path = "/api/v1/users/{id}/unlock", tag = "people", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn unlock_user(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.unlock_login(&p, UserId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "people", responses((status = 200, body = UserOut), (status = 401, body = Problem)))]
async fn me(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<UserOut>> {
    Ok(Json(app.get_user(&p, p.user_id).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OrgIn {
    #[schema(max_length = 200)]
    name: Option<String>,
    domains: Option<Vec<String>>,
    shared_tickets: Option<bool>,
    #[serde(default)]
    #[schema(schema_with = gongdan_domain::wire_schema::field_values)]
    custom_fields: std::collections::BTreeMap<String, serde_json::Value>,
}

fn apply_org(o: &mut Organization, input: OrgIn) {
    if let Some(n) = input.name {
        o.name = n;
    }
    if let Some(d) = input.domains {
        o.domains = d;
    }
    if let Some(s) = input.shared_tickets {
        o.shared_tickets = s;
    }
    for (k, v) in input.custom_fields {
        o.custom_fields.insert(k, v);
    }
}

#[utoipa::path(post, path = "/api/v1/organizations", tag = "people", request_body = OrgIn, responses((status = 201, body = Organization)))]
async fn create_org(State(app): State<App>, Auth(p): Auth, body: ApiJson<OrgIn>) -> ApiResult<impl IntoResponse> {
    let mut o = Organization::blank(app.now());
    apply_org(&mut o, body.value);
    Ok((StatusCode::CREATED, Json(app.save_organization(&p, o).await?)))
}

#[utoipa::path(get, path = "/api/v1/organizations", tag = "people",
    params(("q" = Option<String>, Query, description = "name contains"), ("cursor" = Option<String>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = OrganizationList)))]
async fn list_orgs(State(app): State<App>, Auth(p): Auth, q: QueryPairs) -> ApiResult<Json<OrganizationList>> {
    q.only(&["q", "cursor", "limit"])?;
    let limit = q.limit(50, 200)?;
    let items = app.list_organizations(&p, q.get("q"), id_cursor(&q)?.map(OrganizationId), limit).await?;
    let next_cursor = next_id_cursor(&items, limit, |o| o.id.0);
    Ok(Json(OrganizationList { items, next_cursor, total: None }))
}

#[utoipa::path(get, path = "/api/v1/organizations/{id}", tag = "people", params(("id" = i64, Path)), responses((status = 200, body = Organization), (status = 404, body = Problem)))]
async fn get_org(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<Json<Organization>> {
    Ok(Json(app.get_organization(&p, OrganizationId(id)).await?))
}

#[utoipa::path(patch, path = "/api/v1/organizations/{id}", tag = "people", params(("id" = i64, Path)), request_body = OrgIn, responses((status = 200, body = Organization)))]
async fn update_org(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: ApiJson<OrgIn>,
) -> ApiResult<Json<Organization>> {
    let mut o = app.get_organization(&p, OrganizationId(id)).await?;
    apply_org(&mut o, body.value);
    Ok(Json(app.save_organization(&p, o).await?))
}

/// Deletes an organisation that no user or ticket refers to (409 otherwise).
#[utoipa::path(delete, path = "/api/v1/organizations/{id}", tag = "people", params(("id" = i64, Path)), responses((status = 204), (status = 409, body = Problem)))]
async fn delete_org(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.delete_organization(&p, OrganizationId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
