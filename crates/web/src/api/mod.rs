//! The REST API, a file per capability; each gives its router with its part of the document.

pub mod auth;
pub mod config;
pub mod files;
pub mod jobs;
pub mod macros;
pub mod mail;
pub mod notifications;
pub mod people;
pub mod routing;
pub mod rules;
pub mod sla;
pub mod tickets;
pub mod views;
