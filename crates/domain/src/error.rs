//! Domain errors. Each carries a stable machine code (`code()`) that the HTTP layer maps to a
//! status once, and that clients and the UI can branch on or translate.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// A value the caller sent is unacceptable; `field` is a dotted path into the input.
    #[error("{field}: {message}")]
    Invalid { field: String, code: &'static str, message: String },
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
    pub fn invalid(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        DomainError::Invalid { field: field.into(), code, message: message.into() }
    }

    pub fn required(field: impl Into<String>) -> Self {
        DomainError::invalid(field, "required", "this field is required")
    }

    /// The stable code a client can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Invalid { code, .. } => code,
            DomainError::InvalidTransition { .. } => "invalid_status_transition",
            DomainError::TicketClosed => "ticket_closed",
            DomainError::OpenChildren => "open_child_tickets",
            DomainError::Merged(_) => "ticket_merged",
            DomainError::Forbidden(_) => "forbidden",
        }
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
