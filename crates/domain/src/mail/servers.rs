//! How the desk reaches a mailbox's mail servers: IMAP to fetch from, SMTP to send through.
//! Passwords are write-only: read from a client, sealed at rest by the core, never written
//! back out (the core empties `password` before a mailbox leaves it, and an empty one is not
//! serialised; `password_set` says whether one is kept).

use serde::{Deserialize, Serialize};

use crate::Code;
use crate::error::DomainError;

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Tls {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Implicit,
    /// Plain at first, upgraded with STARTTLS before logging in (IMAP 143, submission 587).
    Starttls,
    /// No TLS: only for a server on the same host or a trusted network.
    None,
}

/// What happens to a message on the IMAP server once it is a ticket or a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AfterImport {
    /// Flagged `\Seen` and left where it is.
    Seen,
    /// Moved to `move_to`.
    Move,
    /// Deleted (and expunged).
    Delete,
}

/// Fetching a mailbox over IMAP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Imap {
    #[cfg_attr(feature = "openapi", schema(max_length = 253))]
    pub host: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 65535))]
    pub port: u16,
    pub tls: Tls,
    #[cfg_attr(feature = "openapi", schema(max_length = 254))]
    pub username: String,
    /// Write-only. Left out (or empty) on a change: the kept one stays.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "openapi", schema(write_only, max_length = 1000))]
    pub password: String,
    /// Whether a password is kept (read-only).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(read_only))]
    pub password_set: bool,
    /// The folder fetched; `INBOX` when empty.
    #[serde(default = "inbox")]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub folder: String,
    #[serde(default = "seen")]
    pub after_import: AfterImport,
    /// The folder `after_import: move` moves to.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub move_to: String,
}

fn inbox() -> String {
    "INBOX".into()
}

fn seen() -> AfterImport {
    AfterImport::Seen
}

/// Sending a mailbox's replies over SMTP (else the desk-wide server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    #[cfg_attr(feature = "openapi", schema(max_length = 253))]
    pub host: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 65535))]
    pub port: u16,
    pub tls: Tls,
    /// Empty: no AUTH.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 254))]
    pub username: String,
    /// Write-only, as for IMAP.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "openapi", schema(write_only, max_length = 1000))]
    pub password: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(read_only))]
    pub password_set: bool,
}

fn check_host(host: &str, field: &str) -> Result<String, DomainError> {
    let h = host.trim();
    if h.is_empty() {
        return Err(DomainError::required(field));
    }
    let ok = h.len() <= 253 && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !ok {
        return Err(DomainError::invalid(field, Code::InvalidValue, "a host name or an IP address"));
    }
    Ok(h.to_ascii_lowercase())
}

fn check_port(port: u16, field: &str) -> Result<u16, DomainError> {
    if port == 0 {
        return Err(DomainError::invalid(field, Code::InvalidValue, "a port from 1 to 65535"));
    }
    Ok(port)
}

fn check_text(text: &str, field: &str, max: usize) -> Result<String, DomainError> {
    let t = text.trim();
    if t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(DomainError::invalid(field, Code::InvalidValue, "a short line of text"));
    }
    Ok(t.to_owned())
}

impl Imap {
    /// Normalised, or the field that is wrong. The password is checked by whoever seals it.
    pub fn validated(mut self) -> Result<Self, DomainError> {
        self.host = check_host(&self.host, "imap.host")?;
        self.port = check_port(self.port, "imap.port")?;
        self.username = check_text(&self.username, "imap.username", 254)?;
        if self.username.is_empty() {
            return Err(DomainError::required("imap.username"));
        }
        self.folder = check_text(&self.folder, "imap.folder", 200)?;
        if self.folder.is_empty() {
            self.folder = inbox();
        }
        self.move_to = check_text(&self.move_to, "imap.move_to", 200)?;
        if self.after_import == AfterImport::Move && self.move_to.is_empty() {
            return Err(DomainError::required("imap.move_to"));
        }
        if self.after_import == AfterImport::Move && self.move_to == self.folder {
            return Err(DomainError::invalid(
                "imap.move_to",
                Code::InvalidValue,
                "a folder other than the one fetched",
            ));
        }
        Ok(self)
    }
}

impl Smtp {
    pub fn validated(mut self) -> Result<Self, DomainError> {
        self.host = check_host(&self.host, "smtp.host")?;
        self.port = check_port(self.port, "smtp.port")?;
        self.username = check_text(&self.username, "smtp.username", 254)?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imap() -> Imap {
        Imap {
            host: " Mail.Acme.Test ".into(),
            port: 993,
            tls: Tls::Implicit,
            username: "support".into(),
            password: "secret".into(),
            password_set: false,
            folder: String::new(),
            after_import: AfterImport::Seen,
            move_to: String::new(),
        }
    }

    #[test]
    fn imap_settings_are_normalised_and_checked_field_by_field() {
        let ok = imap().validated().unwrap();
        assert_eq!((ok.host.as_str(), ok.folder.as_str()), ("mail.acme.test", "INBOX"));
        let field = |i: Imap| match i.validated() {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(Imap { host: "a b".into(), ..imap() }), "imap.host");
        assert_eq!(field(Imap { port: 0, ..imap() }), "imap.port");
        assert_eq!(field(Imap { username: " ".into(), ..imap() }), "imap.username");
        assert_eq!(field(Imap { after_import: AfterImport::Move, ..imap() }), "imap.move_to");
        let same = Imap { after_import: AfterImport::Move, move_to: "INBOX".into(), ..imap() };
        assert_eq!(field(same), "imap.move_to");
    }

    #[test]
    fn passwords_are_read_and_an_empty_one_is_not_written() {
        let json = serde_json::to_value(Imap { password: String::new(), ..imap() }).unwrap();
        assert!(json.get("password").is_none());
        let back: Imap = serde_json::from_value(serde_json::json!({
            "host": "h.test", "port": 143, "tls": "starttls", "username": "u", "password": "p"
        }))
        .unwrap();
        assert_eq!(
            (back.password.as_str(), back.folder.as_str(), back.after_import),
            ("p", "INBOX", AfterImport::Seen)
        );
    }
}
