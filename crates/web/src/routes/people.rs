//! Users, organisations, the signed-in user, API tokens and browser sign-in.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use gongdan_core::App;
use gongdan_domain::access::Role;
use gongdan_domain::ids::*;
use gongdan_domain::page::Cursor;
use gongdan_domain::people::Organization;
use gongdan_store::UserQuery;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::*;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth, ClientAddr, IdempotencyKey, QueryPairs, SESSION_COOKIE};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user, deactivate_user))
        .routes(routes!(me))
        .routes(routes!(unlock_user))
        .routes(routes!(create_org, list_orgs))
        .routes(routes!(get_org, update_org, delete_org))
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
        .routes(routes!(login))
        .routes(routes!(logout))
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
    let idem = crate::routes::tickets::idempotency(key, "POST /api/v1/users", &body.hash);
    let c = app.create_user_once(Some(&p), body.value.into(), idem).await?;
    Ok(crate::routes::tickets::created(c.replayed, UserOut::from(c.value)))
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
        .map_err(|e| ApiError::bad_request("invalid_query", "role", e.to_string()))?;
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
    input.keep_session = crate::extract::session_secret(&headers);
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
    if !p.is_staff() {
        return Err(gongdan_core::CoreError::forbidden("customers cannot list organisations").into());
    }
    let limit = q.limit(50, 200)?;
    let items = app
        .store
        .list_organizations(q.get("q"), id_cursor(&q)?.map(OrganizationId), limit)
        .await
        .map_err(gongdan_core::CoreError::from)?;
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

/// Issues an API token; the secret is in this response only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", request_body = TokenIn, responses((status = 201, body = TokenOut)))]
async fn create_token(State(app): State<App>, Auth(p): Auth, body: ApiJson<TokenIn>) -> ApiResult<impl IntoResponse> {
    let b = body.value;
    let (secret, token) = app.create_token(Some(&p), b.user_id.unwrap_or(p.user_id), &b.name, b.expires_at).await?;
    Ok((StatusCode::CREATED, Json(TokenOut::new(token, Some(secret)))))
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "auth", params(("user_id" = Option<i64>, Query)), responses((status = 200, body = Items<TokenOut>)))]
async fn list_tokens(State(app): State<App>, Auth(p): Auth, q: QueryPairs) -> ApiResult<Json<Items<TokenOut>>> {
    q.only(&["user_id"])?;
    let user = q.parse::<i64>("user_id")?.map(UserId).unwrap_or(p.user_id);
    let items = app.list_tokens(&p, user).await?.into_iter().map(|t| TokenOut::new(t, None)).collect();
    Ok(Json(Items { items }))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = Problem)))]
async fn revoke_token(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.revoke_token(&p, TokenId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn session_cookie(value: &str, max_age_secs: i64, secure: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.insert(header::SET_COOKIE, v);
    }
    h
}

/// Signs in with email and password and sets the session cookie; `X-CSRF-Token` in the answer is
/// what cookie-authenticated changes send back. Failed attempts slow down per (account, client).
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginIn,
    responses((status = 200, body = UserOut, headers(("X-CSRF-Token" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
async fn login(
    State(app): State<App>,
    ClientAddr(client): ClientAddr,
    crate::ui::ctx::Secure(secure): crate::ui::ctx::Secure,
    body: ApiJson<LoginIn>,
) -> ApiResult<impl IntoResponse> {
    let (secret, user) = app.login(&body.value.email, &body.value.password, &client).await?;
    let mut headers = session_cookie(&secret, app.settings.session_days * 86_400, secure);
    // What cookie-authenticated changes must send back in X-CSRF-Token.
    if let Ok(v) = HeaderValue::from_str(&crate::ui::ctx::session_csrf(&secret)) {
        headers.insert("x-csrf-token", v);
    }
    Ok((headers, Json(UserOut::from(user))))
}

/// Ends the cookie session. Like every cookie-authenticated change it needs the session's CSRF
/// token in `X-CSRF-Token`, so another site cannot sign the browser out.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn logout(
    State(app): State<App>,
    crate::ui::ctx::Secure(secure): crate::ui::ctx::Secure,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    if let Some(s) = crate::extract::session_secret(&headers) {
        crate::extract::check_session_csrf(&headers, &s)?;
        app.logout(&s).await?;
    }
    Ok((StatusCode::NO_CONTENT, session_cookie("", 0, secure)))
}
