//! The one place errors become HTTP: RFC 9457 problem JSON with a stable `code` and, where a
//! client's input is at fault, the `field`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongdan_core::CoreError;
use gongdan_domain::DomainError;
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:gongdan:problem:<code>`
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine code, e.g. `invalid_status_transition`.
    pub code: String,
    /// The offending input field, as a dotted path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub detail: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        ApiError { status, code: code.to_owned(), detail: detail.into(), field: None, retry_after: None }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &str, field: &str, detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, detail).field(field)
    }

    pub fn unprocessable(code: &str, field: &str, detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail).field(field)
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = match &e {
            DomainError::Invalid { code: "invalid_cursor", .. } => StatusCode::BAD_REQUEST,
            DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
            DomainError::TicketClosed | DomainError::Merged(_) => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError {
            status,
            code: e.code().to_owned(),
            detail: e.to_string(),
            field: e.field().map(str::to_owned),
            retry_after: None,
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let detail = e.to_string();
        match e {
            CoreError::Domain(d) => d.into(),
            CoreError::NotFound(what) => ApiError::not_found(what),
            CoreError::Unauthenticated => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in or send a valid bearer token")
            }
            CoreError::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail),
            CoreError::VersionConflict => {
                ApiError::new(StatusCode::CONFLICT, "version_conflict", detail).field("version")
            }
            CoreError::Duplicate { field } => ApiError::new(StatusCode::CONFLICT, "duplicate", detail).field(field),
            CoreError::InUse(_) => ApiError::new(StatusCode::CONFLICT, "in_use", detail),
            CoreError::IdempotencyMismatch => {
                ApiError::unprocessable("idempotency_key_reused", "Idempotency-Key", detail)
            }
            CoreError::RateLimited { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail)
            },
            CoreError::TooLarge { .. } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", detail),
            CoreError::QuotaExceeded(_) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", detail).field("file")
            }
            CoreError::Store(_) | CoreError::Internal(_) => {
                tracing::error!(error = %detail, "request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred; it has been logged",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("urn:gongdan:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code,
            field: self.field,
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}
