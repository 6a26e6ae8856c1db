//! The email channel's use cases: mailboxes (admins), taking a message in (`ingest.rs`: the
//! HTTP endpoint and the MTA pipe both land there), and the quarantine of mail that could not
//! be taken in.

pub mod fetch;
mod ingest;
pub mod notify;
pub mod parse;
pub mod send;
mod smtp;
pub mod watch;

use gongdan_domain::access::Principal;
use gongdan_domain::ids::MailboxId;
use gongdan_domain::mail::Mailbox;

pub use gongdan_store::{MailMessage, Quarantined};
pub use ingest::{Ingested, NOTE_MARKER, Outcome};
pub use smtp::Transports;

use crate::access::require_admin;
use crate::{App, CoreError, Result};

impl App {
    /// The mailboxes, their passwords left out (`password_set` says whether one is kept).
    pub async fn list_mailboxes(&self, actor: &Principal) -> Result<Vec<Mailbox>> {
        require_admin(actor)?;
        Ok(self.store.list_mailboxes().await?.into_iter().map(without_passwords).collect())
    }

    /// One mailbox (there are few: the list is the lookup).
    pub async fn get_mailbox(&self, actor: &Principal, id: MailboxId) -> Result<Mailbox> {
        self.list_mailboxes(actor).await?.into_iter().find(|m| m.id == id).ok_or(CoreError::NotFound("mailbox"))
    }

    /// Creates (`id` 0) or replaces a mailbox; its group and category must exist. A password
    /// given is sealed; an empty one keeps the one stored.
    pub async fn save_mailbox(&self, actor: &Principal, m: Mailbox) -> Result<Mailbox> {
        require_admin(actor)?;
        let now = self.now();
        let current = match m.id.0 {
            0 => None,
            _ => Some(self.stored_mailbox(m.id).await?),
        };
        let created_at = current.as_ref().map_or(now, |c| c.created_at);
        let mut m = Mailbox { created_at, updated_at: now, ..m }.validated()?;
        let was = current.as_ref().and_then(|c| c.imap.clone());
        if let Some(i) = &mut m.imap {
            // A kept password goes only to the server and account it was given for.
            let same = was.as_ref().is_some_and(|w| w.host == i.host && w.username == i.username);
            let kept = was.as_ref().filter(|_| same).map(|c| c.password.as_str());
            i.password = self.sealed(&i.password, kept, "imap.password")?;
            if i.password.is_empty() {
                return Err(gongdan_domain::DomainError::required("imap.password").into());
            }
        }
        if let Some(s) = &mut m.smtp {
            let was = current.as_ref().and_then(|c| c.smtp.as_ref());
            let same = was.is_some_and(|w| w.host == s.host && w.username == s.username);
            let kept = was.filter(|_| same).map(|c| c.password.as_str());
            s.password = self.sealed(&s.password, kept, "smtp.password")?;
            if !s.username.is_empty() && s.password.is_empty() {
                return Err(gongdan_domain::DomainError::required("smtp.password").into());
            }
        }
        let cfg = self.config().await?;
        if let Some(g) = m.group_id
            && cfg.group(g).is_none()
        {
            return Err(missing("group_id", "no such group"));
        }
        if let Some(c) = m.category_id {
            Self::check_category(&cfg, c, "category_id")?;
        }
        let saved = match self.store.save_mailbox(&m).await {
            Err(gongdan_store::StoreError::Duplicate { .. }) => {
                return Err(CoreError::Duplicate { field: "address".into() });
            }
            other => other?,
        };
        self.config_changed();
        let moved = match (&was, &saved.imap) {
            (Some(w), Some(n)) => {
                (&w.host, w.port, &w.username, &w.folder) != (&n.host, n.port, &n.username, &n.folder)
            }
            _ => true,
        };
        if moved && saved.imap.is_some() {
            // Another server, account or folder: its UIDs are not the old ones.
            self.store.set_fetch_position(saved.id, gongdan_store::FetchPosition::default()).await?;
        }
        if saved.imap.is_some() {
            self.schedule_fetch().await?;
        }
        Ok(without_passwords(saved))
    }

    /// A mailbox as stored, its passwords sealed (for the use cases that connect with them).
    pub(crate) async fn stored_mailbox(&self, id: MailboxId) -> Result<Mailbox> {
        let all = self.store.list_mailboxes().await?;
        all.into_iter().find(|m| m.id == id).ok_or(CoreError::NotFound("mailbox"))
    }

    /// A password as stored: a new one sealed, else the one kept.
    fn sealed(&self, given: &str, kept: Option<&str>, field: &str) -> Result<String> {
        if given.is_empty() {
            return Ok(kept.unwrap_or_default().to_owned());
        }
        if given.len() > 1000 || given.chars().any(char::is_control) {
            let why = "at most 1000 characters, no control characters";
            return Err(gongdan_domain::DomainError::invalid(field, gongdan_domain::Code::InvalidValue, why).into());
        }
        self.secret_key()?.seal(given)
    }

    pub async fn delete_mailbox(&self, actor: &Principal, id: MailboxId) -> Result<()> {
        require_admin(actor)?;
        match self.store.delete_mailbox(id).await {
            Err(gongdan_store::StoreError::NotFound) => Err(CoreError::NotFound("mailbox")),
            other => {
                self.config_changed();
                Ok(other?)
            }
        }
    }

    /// A ticket's mail, oldest first, for the desk's staff.
    pub async fn ticket_mail(
        &self,
        actor: &Principal,
        ticket: gongdan_domain::ids::TicketId,
    ) -> Result<Vec<gongdan_store::MailMessage>> {
        if !actor.is_staff() {
            return Err(CoreError::forbidden("the mail of a ticket is for the desk's staff"));
        }
        let t = self.store.get_ticket(ticket).await?.ok_or(CoreError::NotFound("ticket"))?;
        if !actor.can_view(&t) {
            return Err(CoreError::NotFound("ticket"));
        }
        Ok(self.store.ticket_mail(ticket).await?)
    }

    /// Quarantined mail, newest first.
    pub async fn list_quarantine(&self, actor: &Principal, limit: i64) -> Result<Vec<Quarantined>> {
        require_admin(actor)?;
        Ok(self.store.list_quarantine(limit.clamp(1, 500)).await?)
    }

    /// A quarantined message with its raw source.
    pub async fn quarantined(&self, actor: &Principal, id: i64) -> Result<(Quarantined, Vec<u8>)> {
        require_admin(actor)?;
        self.store.quarantined_raw(id).await?.ok_or(CoreError::NotFound("quarantined message"))
    }

    /// Takes a quarantined message in again (after a fix, or a mailbox made for it). It leaves
    /// the quarantine; failing again puts it back under the new reason.
    pub async fn reprocess_quarantined(&self, actor: &Principal, id: i64) -> Result<Ingested> {
        let (q, raw) = self.quarantined(actor, id).await?;
        if let gongdan_domain::mail::reason::Reason::KeptForFiles { ticket } = q.reason {
            // Its message is on the ticket already: taking it in again would make nothing and
            // drop the only copy of the files. Download it, or discard it once they are saved.
            return Err(CoreError::InUse(format!(
                "the message is on ticket {ticket} already; this copy keeps the files it could not attach"
            )));
        }
        let out = self.take_in(actor, &raw, q.mailbox_id, false).await?;
        self.store.delete_quarantined(id).await?;
        Ok(out)
    }

    pub async fn discard_quarantined(&self, actor: &Principal, id: i64) -> Result<()> {
        require_admin(actor)?;
        match self.store.delete_quarantined(id).await {
            Err(gongdan_store::StoreError::NotFound) => Err(CoreError::NotFound("quarantined message")),
            other => Ok(other?),
        }
    }
}

/// A mailbox as it leaves the core: sealed passwords stay inside.
fn without_passwords(mut m: Mailbox) -> Mailbox {
    if let Some(i) = &mut m.imap {
        i.password_set = !i.password.is_empty();
        i.password.clear();
    }
    if let Some(s) = &mut m.smtp {
        s.password_set = !s.password.is_empty();
        s.password.clear();
    }
    m
}

fn missing(field: &str, message: &str) -> CoreError {
    gongdan_domain::DomainError::invalid(field, gongdan_domain::Code::MissingReference, message).into()
}
