use gongdan_domain::Code;
use gongdan_domain::DomainError;
use gongdan_store::StoreError;
use thiserror::Error;

/// What a use case can fail with. The web layer maps each to one HTTP status and code.
#[derive(Debug, Error)]
pub enum CoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Missing, or not visible to the caller (the same answer, so nothing leaks).
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("the record was changed by someone else; reload and retry")]
    VersionConflict,
    #[error("{field} is already taken")]
    Duplicate { field: String },
    #[error("{0}")]
    InUse(String),
    #[error("the idempotency key was used for a different request")]
    IdempotencyMismatch,
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the upload exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("storage: {0}")]
    Store(StoreError),
    #[error("internal: {0}")]
    Internal(String),
    /// A server the desk relies on (the mail server) is not answering.
    #[error("{0}")]
    Unavailable(String),
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => CoreError::NotFound("record"),
            StoreError::VersionConflict => CoreError::VersionConflict,
            StoreError::Duplicate { what } => CoreError::Duplicate { field: what },
            StoreError::IdempotencyReplay => CoreError::IdempotencyMismatch,
            StoreError::InUse => CoreError::InUse("still in use".into()),
            StoreError::Invalid(msg) => CoreError::Domain(DomainError::invalid("request", Code::InvalidReference, msg)),
            other => CoreError::Store(other),
        }
    }
}

impl CoreError {
    /// The entry of the code table this error answers with (the API's problems and the
    /// pages' form errors both read it).
    pub fn code(&self) -> Code {
        match self {
            CoreError::Domain(d) => d.error_code(),
            CoreError::NotFound(_) => Code::NotFound,
            CoreError::Unauthenticated => Code::Unauthenticated,
            CoreError::Forbidden(_) => Code::Forbidden,
            CoreError::VersionConflict => Code::VersionConflict,
            CoreError::Duplicate { .. } => Code::Duplicate,
            CoreError::InUse(_) => Code::InUse,
            CoreError::IdempotencyMismatch => Code::IdempotencyKeyReused,
            CoreError::RateLimited { .. } => Code::RateLimited,
            CoreError::TooLarge { .. } => Code::PayloadTooLarge,
            CoreError::QuotaExceeded(_) => Code::QuotaExceeded,
            CoreError::Store(_) | CoreError::Internal(_) => Code::Internal,
            CoreError::Unavailable(_) => Code::Unavailable,
        }
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        CoreError::Forbidden(msg.into())
    }

    /// A field the caller's role may not set.
    pub fn field_forbidden(field: &str) -> Self {
        CoreError::Domain(DomainError::invalid(field, Code::FieldNotAllowed, "your role may not set this field"))
    }
}
