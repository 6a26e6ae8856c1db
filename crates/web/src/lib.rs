//! The HTTP layer of Gongdan, the only crate that knows HTTP: the REST API under `/api/v1`
//! (JSON, RFC 9457 problems), its OpenAPI 3.1 document generated from the handlers, the health
//! endpoints, and the browser UI (`ui`: agent workspace, admin console, customer portal).
//! Handlers are thin: extract, call `gongdan_core::App`, shape the answer.

mod api;
pub mod apidoc;
pub mod dto;
pub mod error;
pub mod extract;
pub mod session;
pub mod ui;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use gongdan_core::App;
use gongdan_domain::Code;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;

/// JSON bodies larger than this are refused with 413 (uploads have their own limit).
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "Gongdan API", description = "Tickets, people and configuration of the Gongdan helpdesk."),
    tags((name = "tickets"), (name = "people"), (name = "config"), (name = "rules"), (name = "auth"), (name = "attachments")),
    components(schemas(error::Problem))
)]
struct ApiDoc;

fn api(app: &App) -> (Router<App>, utoipa::openapi::OpenApi) {
    let mut doc = ApiDoc::openapi();
    doc.components.get_or_insert_with(Default::default).security_schemes.insert(
        "bearer".into(),
        utoipa::openapi::security::SecurityScheme::Http(utoipa::openapi::security::Http::new(
            utoipa::openapi::security::HttpAuthScheme::Bearer,
        ))
        .into(),
    );
    doc.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new::<_, _, String>("bearer", [])]);
    let (router, mut doc) = OpenApiRouter::with_openapi(doc)
        .merge(api::tickets::router().layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)))
        .merge(api::people::router().layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)))
        .merge(api::auth::router().layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)))
        .merge(api::config::router().layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)))
        .merge(api::rules::router().layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)))
        .merge(api::macros::router().layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)))
        .merge(api::views::router().layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)))
        .merge(api::notifications::router().layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)))
        .merge(api::routing::router().layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)))
        .merge(api::jobs::router().layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)))
        .merge(api::sla::router().layer(DefaultBodyLimit::max(JSON_BODY_LIMIT)))
        .merge(api::files::router(app.settings.max_attachment_bytes))
        .merge(api::mail::router(app.settings.max_mail_bytes, JSON_BODY_LIMIT))
        .split_for_parts();
    apidoc::complete(&mut doc);
    (router, doc)
}

/// The OpenAPI document, as served at `/api/v1/openapi.json`.
pub fn openapi(app: &App) -> utoipa::openapi::OpenApi {
    api(app).1
}

/// The whole HTTP application.
pub fn router(app: App) -> Router {
    let (api_router, doc) = api(&app);
    let doc = std::sync::Arc::new(doc);
    Router::new()
        .merge(api_router)
        .merge(ui::router(&app))
        .route("/api/v1/openapi.json", get(move || async move { Json(doc.as_ref().clone()) }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .fallback(|uri: axum::http::Uri| async move {
            if uri.path().starts_with("/api/") {
                ApiError::new(Code::NotFound, "no such endpoint").into_response()
            } else {
                ui::UiError::NotFound.into_response()
            }
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(Code::MethodNotAllowed, "this endpoint does not take that method")
        })
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(Code::Internal, "an internal error occurred; it has been logged").into_response()
        }))
        .layer(axum::middleware::from_fn(ui::security_headers))
        .layer(axum::middleware::from_fn(ui::server_timing))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

/// Ready when the database answers.
async fn readyz(State(app): State<App>) -> impl IntoResponse {
    match app.ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}
