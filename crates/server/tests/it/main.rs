//! Gongdan's integration tests: one binary (each test file would be a separate link on a slow
//! machine), a real server per test, every scenario on SQLite and on PostgreSQL.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod access;
mod browser;
mod cli;
mod config;
mod contract;
mod errors;
mod flow;
mod mail;
mod mail_servers;
mod notifications;
mod service;
mod sla;
mod tickets;
mod ui;
mod verification;
