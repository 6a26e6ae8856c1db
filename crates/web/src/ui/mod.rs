//! The browser UI: the agent workspace (`/agent`), the admin console (`/admin`) and the
//! customer portal (`/portal`). Pages are rendered on the server from askama templates
//! (`templates/`) in the viewer's language and time zone; forms post back and redirect (or
//! re-render with each error beside its field, nothing typed lost); our own small script
//! (`static/app.js`) adds live updates over server-sent events, presence notices, cascading
//! pickers and keyboard shortcuts. Handlers call the same `gongdan_core` use cases as the API.

mod admin;
mod agent;
mod assets;
mod auth;
pub mod ctx;
pub mod form;
pub mod i18n;
mod live;
mod new_ticket;
mod portal;
mod verification;
pub mod view;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use gongdan_core::{App, CoreError};

use crate::session::{self, AnonCsrf, CSRF_COOKIE, FLASH_COOKIE, SESSION_COOKIE, cookie};

/// URL-encoded forms are small; files come as multipart under the attachment limit.
pub const FORM_LIMIT: usize = 1024 * 1024;
/// Files one form may carry.
pub const MAX_FILES: usize = 10;

/// Every UI route. Bodies are small forms, except on the routes that take files.
pub fn router(app: &App) -> Router<App> {
    let uploads = DefaultBodyLimit::max(
        usize::try_from(app.settings.max_attachment_bytes)
            .unwrap_or(usize::MAX)
            .saturating_mul(MAX_FILES)
            .saturating_add(FORM_LIMIT),
    );
    Router::new()
        .route("/", get(auth::home))
        .merge(auth::router())
        .merge(verification::router())
        .merge(agent::router(uploads))
        .merge(portal::router(uploads))
        .merge(admin::router())
        .merge(live::router())
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .layer(axum::middleware::from_fn_with_state(app.clone(), cookies))
        .merge(assets::router())
}

/// Gives a signed-out browser its pre-session CSRF cookie (sign-in forms need one), drops a
/// session cookie that no longer signs anyone in, and clears a flash message once a page has
/// shown it.
async fn cookies(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let session = cookie(&parts, SESSION_COOKIE);
    let live = match &session {
        Some(secret) => app.authenticate_session(secret).await.is_ok(),
        None => false,
    };
    let fresh = if !live && cookie(&parts, CSRF_COOKIE).is_none() {
        gongdan_core::auth::random_secret().ok().map(|s| s.chars().take(32).collect::<String>())
    } else {
        None
    };
    let flash_shown = parts.method == Method::GET && cookie(&parts, FLASH_COOKIE).is_some();
    let fragment = parts.headers.contains_key("x-fragment") || parts.uri.path().ends_with("/live");
    let secure = session::secure_request(&parts.headers);
    req = Request::from_parts(parts, body);
    if let Some(f) = &fresh {
        req.extensions_mut().insert(AnonCsrf(f.clone()));
    }
    let mut res = next.run(req).await;
    let sets_session = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with("gongdan_session=")));
    if session.is_some() && !live && !sets_session {
        res.headers_mut()
            .append(header::SET_COOKIE, HeaderValue::from_static("gongdan_session=; Path=/; Max-Age=0; SameSite=Lax"));
    }
    if let Some(f) = fresh
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{CSRF_COOKIE}={f}; Path=/; HttpOnly; SameSite=Strict{}",
            if secure { "; Secure" } else { "" }
        ))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    if flash_shown && !fragment && res.status() == StatusCode::OK {
        res.headers_mut()
            .append(header::SET_COOKIE, HeaderValue::from_static("gongdan_flash=; Path=/; Max-Age=0; SameSite=Lax"));
    }
    res
}

/// What a UI handler can fail with; each becomes a page, never a JSON problem.
#[derive(Debug)]
pub enum UiError {
    /// Not signed in: go to the sign-in page and come back to this path.
    SignIn(String),
    Redirect(String),
    NotFound,
    Forbidden,
    Csrf,
    BadRequest,
    TooLarge,
    Internal(String),
}

impl From<CoreError> for UiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound(_) => UiError::NotFound,
            CoreError::Forbidden(_) => UiError::Forbidden,
            CoreError::Unauthenticated => UiError::SignIn("/".into()),
            CoreError::TooLarge { .. } => UiError::TooLarge,
            CoreError::Domain(_) => UiError::BadRequest,
            other => UiError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        UiError::Internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    zh: String,
    en: String,
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, key) = match self {
            UiError::SignIn(next) => {
                return Redirect::to(&format!("/login?next={}", view::urlencode(&next))).into_response();
            }
            UiError::Redirect(to) => return Redirect::to(&to).into_response(),
            UiError::NotFound => (StatusCode::NOT_FOUND, "page-not-found"),
            UiError::Forbidden => (StatusCode::FORBIDDEN, "page-forbidden"),
            UiError::Csrf => (StatusCode::FORBIDDEN, "page-csrf"),
            UiError::BadRequest => (StatusCode::BAD_REQUEST, "page-bad-request"),
            UiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "page-too-large"),
            UiError::Internal(msg) => {
                tracing::error!(error = %msg, "page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "page-internal")
            }
        };
        use gongdan_domain::people::Language;
        let page =
            ErrorPage { status: status.as_u16(), zh: i18n::t(Language::ZhCn, key), en: i18n::t(Language::En, key) };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => status.into_response(),
        }
    }
}

pub type UiResult<T = Response> = Result<T, UiError>;

/// Renders a page.
pub fn render(t: &impl Template) -> UiResult {
    Ok(Html(t.render()?).into_response())
}

/// Redirects after a post, with a message for the next page (`flash-…` key, optional count).
pub fn redirect_flash(to: &str, flash: &str) -> Response {
    let mut res = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{FLASH_COOKIE}={flash}; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// `Server-Timing: app;dur=…`: how long the server took to produce the response's head, in
/// milliseconds, so browsers' developer tools and the benchmark see server time apart from the
/// network and the client.
pub async fn server_timing(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let mut res = next.run(req).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        res.headers_mut().insert("server-timing", v);
    }
    res
}

/// Security headers on every response: no inline scripts or styles, no framing, no sniffing,
/// no powerful browser features; HSTS over TLS; and nothing a signed-in caller receives (pages,
/// JSON, attachments) kept in a shared or back-button cache.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let secure = session::secure_request(req.headers());
    let private = req.headers().contains_key(header::AUTHORIZATION) || session::session_secret(req.headers()).is_some();
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // Our content-hashed assets stay cacheable; everything else a signed-in caller gets is theirs.
    let immutable = h.get(header::CACHE_CONTROL).is_some_and(|v| v.to_str().is_ok_and(|v| v.contains("immutable")));
    if private && !immutable {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if secure {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; connect-src 'self'; \
             font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    res
}
