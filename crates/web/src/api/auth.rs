//! Credentials: API tokens, and signing in and out with a session cookie.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use gongdan_core::App;
use gongdan_domain::ids::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::*;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiPath as Path, Auth, ClientAddr, QueryPairs};
use crate::session::{SESSION_COOKIE, Secure, session_secret};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
        .routes(routes!(login))
        .routes(routes!(logout))
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
    Secure(secure): Secure,
    body: ApiJson<LoginIn>,
) -> ApiResult<impl IntoResponse> {
    let (secret, user) = app.login(&body.value.email, &body.value.password, &client).await?;
    let mut headers = session_cookie(&secret, app.settings.session_days * 86_400, secure);
    // What cookie-authenticated changes must send back in X-CSRF-Token.
    if let Ok(v) = HeaderValue::from_str(&crate::session::session_csrf(&secret)) {
        headers.insert("x-csrf-token", v);
    }
    Ok((headers, Json(UserOut::from(user))))
}

/// Ends the cookie session. Like every cookie-authenticated change it needs the session's CSRF
/// token in `X-CSRF-Token`, so another site cannot sign the browser out.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn logout(State(app): State<App>, Secure(secure): Secure, headers: HeaderMap) -> ApiResult<impl IntoResponse> {
    if let Some(s) = session_secret(&headers) {
        crate::extract::check_session_csrf(&headers, &s)?;
        app.logout(&s).await?;
    }
    Ok((StatusCode::NO_CONTENT, session_cookie("", 0, secure)))
}
