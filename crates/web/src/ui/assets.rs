//! The stylesheet and script, embedded in the binary. Pages link them with a content hash in
//! the query, so browsers may cache them for a year and still see a new release at once.

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use gongdan_core::App;

pub const CSS: &str = include_str!("../../static/app.css");
pub const JS: &str = include_str!("../../static/app.js");

/// A short hash of both files.
pub static VERSION: LazyLock<String> =
    LazyLock::new(|| gongdan_core::auth::sha256_hex(format!("{CSS}{JS}").as_bytes())[..12].to_owned());

pub fn router() -> Router<App> {
    Router::new()
        .route("/static/app.css", get(|| async { asset(CSS, "text/css; charset=utf-8") }))
        .route("/static/app.js", get(|| async { asset(JS, "text/javascript; charset=utf-8") }))
}

fn asset(body: &'static str, content_type: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
        ],
        body,
    )
}

/// For templates: `/static/app.css?v=…`.
pub fn version() -> &'static str {
    VERSION.as_str()
}
