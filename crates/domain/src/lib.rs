//! Gongdan's domain: the ticket and its status machine, custom fields and forms, the category
//! tree, events, access rules and paging cursors. Pure: no IO, no async, no clock — callers pass
//! the time in, so every rule here is unit-tested without a database.

pub mod access;
pub mod category;
pub mod conversation;
pub mod error;
pub mod event;
pub mod fields;
pub mod ids;
pub mod mail;
pub mod notifications;
pub mod page;
pub mod password;
pub mod people;
pub mod progress;
pub mod routing;
pub mod rules;
pub mod sla;
mod str_enum;
pub mod template;
pub mod text;
pub mod tickets;
pub mod verification;
#[cfg(feature = "openapi")]
pub mod wire_schema;

pub use error::{Code, DomainError};
