//! Errors and the one table of error codes. Each code carries its wire name (what the API's
//! problem documents and clients see), the HTTP status it answers with, and the key of the
//! message the browser shows (`error-<wire name>` in the Fluent files, checked by the i18n test).

use thiserror::Error;

macro_rules! codes {
    ($($(#[$meta:meta])* $variant:ident = $wire:literal, $status:literal;)+) => {
        /// Every error code Gongdan answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($(#[$meta])* $variant),+ }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            /// The stable machine code a client branches on.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $wire),+ }
            }

            /// The HTTP status a problem with this code answers with.
            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status),+ }
            }

            /// The Fluent key of the message the browser shows for it.
            pub fn message_key(self) -> &'static str {
                match self { $(Code::$variant => concat!("error-", $wire)),+ }
            }
        }
    };
}

codes! {
    // The request itself (before any use case runs).
    MalformedJson = "malformed_json", 400;
    UnreadableBody = "unreadable_body", 400;
    InvalidQuery = "invalid_query", 400;
    UnknownParameter = "unknown_parameter", 400;
    InvalidHeader = "invalid_header", 400;
    InvalidPath = "invalid_path", 400;
    InvalidCursor = "invalid_cursor", 400;
    Unauthenticated = "unauthenticated", 401;
    Forbidden = "forbidden", 403;
    /// A cookie-authenticated change without the page's CSRF token.
    Csrf = "csrf", 403;
    /// What the URL names does not exist or is not the caller's to see.
    NotFound = "not_found", 404;
    MethodNotAllowed = "method_not_allowed", 405;
    VersionConflict = "version_conflict", 409;
    /// A unique value (an email, a key) another record holds.
    Duplicate = "duplicate", 409;
    InUse = "in_use", 409;
    TicketClosed = "ticket_closed", 409;
    TicketMerged = "ticket_merged", 409;
    PreconditionFailed = "precondition_failed", 412;
    PayloadTooLarge = "payload_too_large", 413;
    UnsupportedMediaType = "unsupported_media_type", 415;
    RateLimited = "rate_limited", 429;
    QuotaExceeded = "quota_exceeded", 429;
    Internal = "internal", 500;
    /// A server the desk depends on (the mail server) does not answer now; try again later.
    Unavailable = "unavailable", 503;
    // A value in the input, named by the problem's `field`.
    Required = "required", 422;
    UnknownField = "unknown_field", 422;
    InvalidValue = "invalid_value", 422;
    TooShort = "too_short", 422;
    TooLong = "too_long", 422;
    TooMany = "too_many", 422;
    TooDeep = "too_deep", 422;
    /// A reference in the input (a group, user, category …) that names nothing usable.
    MissingReference = "not_found", 422;
    /// The same value twice where each must differ (option keys, form fields).
    DuplicateValue = "duplicate", 422;
    InvalidReference = "invalid_reference", 422;
    /// A closed or merged ticket named in the input (a merge's source or target).
    TicketNotOpen = "ticket_closed", 422;
    Immutable = "immutable", 422;
    FieldNotAllowed = "field_not_allowed", 422;
    IdempotencyKeyReused = "idempotency_key_reused", 422;
    InvalidStatusTransition = "invalid_status_transition", 422;
    OpenChildTickets = "open_child_tickets", 422;
    UnknownStatus = "unknown_status", 422;
    UnknownOption = "unknown_option", 422;
    PatternMismatch = "pattern_mismatch", 422;
    InvalidPattern = "invalid_pattern", 422;
    InvalidKey = "invalid_key", 422;
    InvalidTag = "invalid_tag", 422;
    InvalidEmail = "invalid_email", 422;
    InvalidPhone = "invalid_phone", 422;
    InvalidUrl = "invalid_url", 422;
    InvalidLink = "invalid_link", 422;
    AddressNotAllowed = "address_not_allowed", 422;
    WeakPassword = "weak_password", 422;
    WrongPassword = "wrong_password", 422;
    NotInGroup = "not_in_group", 422;
    Cycle = "cycle", 422;
    InvalidField = "invalid_field", 422;
    InvalidOperator = "invalid_operator", 422;
    ReadOnlyField = "read_only_field", 422;
    ConflictingActions = "conflicting_actions", 422;
    RuleLoop = "rule_loop", 422;
    AutomationLoop = "automation_loop", 422;
    UnknownPlaceholder = "unknown_placeholder", 422;
    MacroNotApplicable = "macro_not_applicable", 422;
    UnknownTimeZone = "unknown_time_zone", 422;
    OverlappingHours = "overlapping_hours", 422;
    NoWorkingTime = "no_working_time", 422;
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A value the caller sent is unacceptable; `field` is a dotted path into the input.
    #[error("{field}: {message}")]
    Invalid { field: String, code: Code, message: String },
    #[error("a ticket cannot move from status category `{from}` to `{to}`")]
    InvalidTransition { from: &'static str, to: &'static str },
    #[error("the ticket is closed; a reply creates a follow-up ticket instead")]
    TicketClosed,
    #[error("the ticket has child tickets that are not solved yet")]
    OpenChildren,
    #[error("the ticket was merged into ticket {0}")]
    Merged(i64),
    #[error("{0}")]
    Forbidden(&'static str),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, code: Code, message: impl Into<String>) -> Self {
        DomainError::Invalid { field: field.into(), code, message: message.into() }
    }

    pub fn required(field: impl Into<String>) -> Self {
        DomainError::invalid(field, Code::Required, "this field is required")
    }

    /// The entry of the code table this error answers with.
    pub fn error_code(&self) -> Code {
        match self {
            DomainError::Invalid { code, .. } => *code,
            DomainError::InvalidTransition { .. } => Code::InvalidStatusTransition,
            DomainError::TicketClosed => Code::TicketClosed,
            DomainError::OpenChildren => Code::OpenChildTickets,
            DomainError::Merged(_) => Code::TicketMerged,
            DomainError::Forbidden(_) => Code::Forbidden,
        }
    }

    /// The stable code a client can branch on.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// The input field at fault, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            DomainError::Invalid { field, .. } => Some(field),
            DomainError::InvalidTransition { .. } => Some("status"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_error_status_and_a_message_key() {
        for c in Code::ALL {
            assert!((400..600).contains(&c.status()), "{c:?}");
            assert!(c.as_str().chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'), "{c:?}");
            assert_eq!(c.message_key(), format!("error-{}", c.as_str()));
        }
    }

    #[test]
    fn a_wire_name_is_shared_only_where_one_word_has_two_statuses() {
        let mut shared: Vec<(&str, Vec<u16>)> = vec![];
        for c in Code::ALL {
            match shared.iter_mut().find(|(w, _)| *w == c.as_str()) {
                Some((_, statuses)) => statuses.push(c.status()),
                None => shared.push((c.as_str(), vec![c.status()])),
            }
        }
        let twice: Vec<_> = shared.into_iter().filter(|(_, s)| s.len() > 1).collect();
        assert_eq!(
            twice,
            vec![("not_found", vec![404, 422]), ("duplicate", vec![409, 422]), ("ticket_closed", vec![409, 422])]
        );
    }

    #[test]
    fn errors_name_their_entry() {
        assert_eq!(DomainError::required("subject").error_code().status(), 422);
        assert_eq!(DomainError::TicketClosed.error_code().status(), 409);
        assert_eq!(DomainError::Forbidden("no").code(), "forbidden");
        let missing = DomainError::invalid("group_id", Code::MissingReference, "no such group");
        assert_eq!((missing.code(), missing.error_code().status()), ("not_found", 422));
    }
}
