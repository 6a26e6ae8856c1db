//! The one place errors become HTTP: RFC 9457 problem JSON with a stable `code` and, where a
//! client's input is at fault, the `field`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongdan_core::CoreError;
use gongdan_domain::{Code, DomainError};
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
    /// The entry of the code table: it gives the status too.
    pub code: Code,
    pub detail: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        ApiError { code, detail: detail.into(), field: None, retry_after: None }
    }

    /// A problem with one input: a query parameter, a header or a body field.
    pub fn at(code: Code, field: &str, detail: impl Into<String>) -> Self {
        ApiError::new(code, detail).field(field)
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(Code::NotFound, format!("{what} not found"))
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError { code: e.error_code(), detail: e.to_string(), field: e.field().map(str::to_owned), retry_after: None }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let code = e.code();
        let detail = e.to_string();
        match e {
            CoreError::Domain(d) => d.into(),
            CoreError::NotFound(what) => ApiError::not_found(what),
            CoreError::Unauthenticated => ApiError::new(code, "sign in or send a valid bearer token"),
            CoreError::VersionConflict => ApiError::new(code, detail).field("version"),
            CoreError::Duplicate { field } => ApiError::new(code, detail).field(field),
            CoreError::IdempotencyMismatch => ApiError::at(code, "Idempotency-Key", detail),
            CoreError::RateLimited { retry_after_secs } => {
                ApiError { retry_after: Some(retry_after_secs), ..ApiError::new(code, detail) }
            }
            CoreError::QuotaExceeded(_) => ApiError::new(code, detail).field("file"),
            CoreError::Store(_) | CoreError::Internal(_) => {
                tracing::error!(error = %detail, "request failed");
                ApiError::new(code, "an internal error occurred; it has been logged")
            }
            CoreError::Forbidden(_) | CoreError::InUse(_) | CoreError::TooLarge { .. } | CoreError::Unavailable(_) => {
                ApiError::new(code, detail)
            }
        }
    }
}

impl ApiError {
    /// The problem document, for a response or for one item of a bulk result.
    pub fn problem(self) -> Problem {
        let status = self.status();
        Problem {
            kind: format!("urn:gongdan:problem:{}", self.code.as_str()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.detail,
            code: self.code.as_str().to_owned(),
            field: self.field,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = self.retry_after;
        let mut res = (status, axum::Json(self.problem())).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}
