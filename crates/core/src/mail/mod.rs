//! The email channel's use cases: mailboxes (admins), taking a message in (`ingest.rs`: the
//! HTTP endpoint and the MTA pipe both land there), and the quarantine of mail that could not
//! be taken in.

mod ingest;
pub mod parse;

use gongdan_domain::access::Principal;
use gongdan_domain::ids::MailboxId;
use gongdan_domain::mail::Mailbox;

pub use gongdan_store::Quarantined;
pub use ingest::{Ingested, NOTE_MARKER, Outcome};

use crate::access::require_admin;
use crate::{App, CoreError, Result};

impl App {
    pub async fn list_mailboxes(&self, actor: &Principal) -> Result<Vec<Mailbox>> {
        require_admin(actor)?;
        Ok(self.store.list_mailboxes().await?)
    }

    /// One mailbox (there are few: the list is the lookup).
    pub async fn get_mailbox(&self, actor: &Principal, id: MailboxId) -> Result<Mailbox> {
        require_admin(actor)?;
        let all = self.store.list_mailboxes().await?;
        all.into_iter().find(|m| m.id == id).ok_or(CoreError::NotFound("mailbox"))
    }

    /// Creates (`id` 0) or replaces a mailbox; its group and category must exist.
    pub async fn save_mailbox(&self, actor: &Principal, m: Mailbox) -> Result<Mailbox> {
        require_admin(actor)?;
        let now = self.now();
        let created_at = match m.id.0 {
            0 => now,
            _ => self.get_mailbox(actor, m.id).await?.created_at,
        };
        let m = Mailbox { created_at, updated_at: now, ..m }.validated()?;
        let cfg = self.config().await?;
        if let Some(g) = m.group_id
            && cfg.group(g).is_none()
        {
            return Err(missing("group_id", "no such group"));
        }
        if let Some(c) = m.category_id {
            Self::check_category(&cfg, c, "category_id")?;
        }
        match self.store.save_mailbox(&m).await {
            Err(gongdan_store::StoreError::Duplicate { .. }) => Err(CoreError::Duplicate { field: "address".into() }),
            other => Ok(other?),
        }
    }

    pub async fn delete_mailbox(&self, actor: &Principal, id: MailboxId) -> Result<()> {
        require_admin(actor)?;
        match self.store.delete_mailbox(id).await {
            Err(gongdan_store::StoreError::NotFound) => Err(CoreError::NotFound("mailbox")),
            other => Ok(other?),
        }
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
        let out = self.ingest_mail(actor, &raw, q.mailbox_id).await?;
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

fn missing(field: &str, message: &str) -> CoreError {
    gongdan_domain::DomainError::invalid(field, gongdan_domain::Code::MissingReference, message).into()
}
