//! The email channel's decisions, apart from parsing and IO: what a mailbox is, which mail is
//! noise (loops, auto-replies, delivery reports), and which ticket a message belongs to
//! (`thread`), each decision with the reasons that made it.

pub mod bounce;
pub mod compose;
pub mod noise;
pub mod quote;
pub mod reason;
pub mod servers;
pub mod thread;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{CategoryId, GroupId, MailboxId};
use crate::tickets::Priority;

/// An address the desk receives mail at; new tickets from it go to its group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mailbox {
    pub id: MailboxId,
    /// Lower-cased; unique across mailboxes.
    pub address: String,
    /// The display name replies are sent under ("Acme 客服").
    pub name: String,
    pub group_id: Option<GroupId>,
    pub category_id: Option<CategoryId>,
    pub priority: Option<Priority>,
    pub active: bool,
    /// The requester is a message's `Reply-To` when it has one, not its `From`: for mail that
    /// web forms and mail services send from an address of their own.
    #[serde(default)]
    pub use_reply_to: bool,
    /// Where the desk fetches this mailbox's mail; none when an MTA or a mail service hands
    /// it in (`POST /api/v1/mail/inbound`, `gongdan mail ingest`).
    pub imap: Option<servers::Imap>,
    /// The server its replies go out through; none: the desk-wide one (`[mail] smtp_*`).
    pub smtp: Option<servers::Smtp>,
    /// When the last fetch ended (read-only).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, read_only))]
    pub last_fetch_at: Option<Timestamp>,
    /// What went wrong in the last fetch, cleared by the next that works (read-only); a reply's
    /// delivery is on the reply.
    #[cfg_attr(feature = "openapi", schema(read_only))]
    pub last_error: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

impl Mailbox {
    pub fn blank(now: Timestamp) -> Self {
        Mailbox {
            id: MailboxId(0),
            address: String::new(),
            name: String::new(),
            group_id: None,
            category_id: None,
            priority: None,
            active: true,
            use_reply_to: false,
            imap: None,
            smtp: None,
            last_fetch_at: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Normalises the address and the name (the address's local part when none is given).
    pub fn validated(mut self) -> Result<Self, DomainError> {
        if self.address.trim().is_empty() {
            return Err(DomainError::required("address"));
        }
        self.address = crate::people::normalize_email(&self.address, "address")?;
        let name = self.name.trim();
        self.name = if name.is_empty() {
            self.address.split('@').next().unwrap_or_default().to_owned()
        } else {
            crate::people::validate_name(name, "name")?
        };
        self.imap = self.imap.map(servers::Imap::validated).transpose()?;
        self.smtp = self.smtp.map(servers::Smtp::validated).transpose()?;
        Ok(self)
    }
}

/// One address of a message's header, lower-cased, with its display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub email: String,
    pub name: Option<String>,
}

/// What the channel's decisions read from a message's headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Without angle brackets.
    pub message_id: String,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub subject: String,
    pub from: Option<Address>,
    pub reply_to: Option<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    /// `X-Autoreply` or `X-Autorespond` is present.
    pub x_autoreply: bool,
    pub auto_response_suppress: Option<String>,
    /// The message is a `multipart/report` (a delivery status notification).
    pub report: bool,
    /// Where the receiving servers delivered it (`Delivered-To`, `X-Original-To`), lower case:
    /// the desk's own addresses, even an alias no mailbox is set up for.
    pub delivered_to: Vec<String>,
}

impl Envelope {
    /// Who wrote it, as far as the desk answers: `From`, or `Reply-To` first when the mailbox
    /// says so (each standing in when the other is missing).
    pub fn requester(&self, use_reply_to: bool) -> Option<&Address> {
        match use_reply_to {
            true => self.reply_to.as_ref().or(self.from.as_ref()),
            false => self.from.as_ref().or(self.reply_to.as_ref()),
        }
    }

    /// The Message-IDs this message answers, nearest first: `In-Reply-To`, then `References`
    /// from the last (the parent) back to the thread's start.
    pub fn answered_ids(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for id in self.in_reply_to.iter().chain(self.references.iter().rev()) {
            let id = id.as_str();
            if !id.is_empty() && !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }
}

/// A Message-ID as stored: trimmed, without angle brackets.
pub fn clean_message_id(raw: &str) -> String {
    raw.trim().trim_start_matches('<').trim_end_matches('>').trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answered_ids_go_from_the_parent_back_to_the_start() {
        let e = Envelope {
            in_reply_to: vec!["c@x".into()],
            references: vec!["a@x".into(), "b@x".into(), "c@x".into()],
            ..Default::default()
        };
        assert_eq!(e.answered_ids(), ["c@x", "b@x", "a@x"]);
        assert_eq!(clean_message_id(" <abc@host> "), "abc@host");
    }

    #[test]
    fn the_requester_is_from_unless_the_mailbox_takes_reply_to() {
        let a = |e: &str| Some(Address { email: e.into(), name: None });
        let e = Envelope { from: a("forms@web.test"), reply_to: a("li@kehu.test"), ..Default::default() };
        assert_eq!(e.requester(false).map(|a| a.email.as_str()), Some("forms@web.test"));
        assert_eq!(e.requester(true).map(|a| a.email.as_str()), Some("li@kehu.test"));
        let only_from = Envelope { from: a("li@kehu.test"), ..Default::default() };
        assert_eq!(only_from.requester(true).map(|a| a.email.as_str()), Some("li@kehu.test"));
    }

    #[test]
    fn a_mailbox_needs_an_address_and_names_itself_after_it() {
        let m = Mailbox { address: " Support@Acme.Test ".into(), ..Mailbox::blank(Timestamp::UNIX_EPOCH) };
        let m = m.validated().unwrap();
        assert_eq!((m.address.as_str(), m.name.as_str()), ("support@acme.test", "support"));
        let bad = Mailbox { address: "nope".into(), ..Mailbox::blank(Timestamp::UNIX_EPOCH) };
        assert!(matches!(bad.validated(), Err(DomainError::Invalid { field, .. }) if field == "address"));
        let empty = Mailbox { address: " ".into(), ..Mailbox::blank(Timestamp::UNIX_EPOCH) };
        assert!(matches!(empty.validated(), Err(DomainError::Invalid { code: crate::Code::Required, .. })));
    }
}
