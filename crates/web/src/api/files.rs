//! Attachments: upload the bytes first, then name the upload in a comment's `attachment_ids`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use gongdan_core::App;
use gongdan_domain::Code;
use gongdan_domain::conversation::Attachment;
use gongdan_domain::ids::AttachmentId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiPath as Path, Auth, QueryPairs, raw_body};

pub fn router(max_bytes: u64) -> OpenApiRouter<App> {
    // Room for the largest allowed file; the use case checks the exact limit.
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX).saturating_add(1);
    OpenApiRouter::new().routes(routes!(upload)).layer(DefaultBodyLimit::max(limit)).routes(routes!(download))
}

/// Uploads a file (the raw bytes as the body, its type as `Content-Type`).
#[utoipa::path(post, path = "/api/v1/uploads", tag = "attachments",
    params(("filename" = String, Query)), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Attachment), (status = 413, body = Problem)))]
async fn upload(
    State(app): State<App>,
    Auth(p): Auth,
    q: QueryPairs,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<impl IntoResponse> {
    q.only(&["filename"])?;
    let filename =
        q.get("filename").ok_or_else(|| ApiError::at(Code::InvalidQuery, "filename", "name the file: ?filename=…"))?;
    let body = raw_body(body, || format!("files are limited to {} bytes", app.settings.max_attachment_bytes))?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let a = app.upload(&p, filename, content_type, &body).await?;
    Ok((StatusCode::CREATED, Json(a)))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Downloads an attachment the caller may see. Always served as a download, never rendered.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "attachments", params(("id" = i64, Path)),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = Problem)))]
async fn download(State(app): State<App>, Auth(p): Auth, Path(id): Path<i64>) -> ApiResult<impl IntoResponse> {
    let (a, bytes) = app.download(&p, AttachmentId(id)).await?;
    let mut h = HeaderMap::new();
    let ct = HeaderValue::from_str(&a.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ct);
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{}", percent_encode(&a.filename))) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok((h, bytes))
}
