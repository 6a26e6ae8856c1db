//! What leaves the desk because a rule said so: webhooks (admin-defined endpoints that rules
//! call, signed and retried by the job runner) and notifications (the outbox rules write to;
//! read in the app now, delivered by mail and other channels later).

pub mod delivery;
pub mod templates;

use gongdan_domain::Code;
use gongdan_domain::DomainError;
use gongdan_domain::access::Principal;
use gongdan_domain::people;
pub use gongdan_store::{Notification, WebhookRow};

use crate::access;
use crate::egress::{self, Egress};
use crate::{App, CoreError, Result};

/// A webhook to create, or the parts of one to change.
#[derive(Debug, Clone, Default)]
pub struct WebhookInput {
    pub name: Option<String>,
    pub url: Option<String>,
    /// Generated when not given.
    pub secret: Option<String>,
    pub active: Option<bool>,
}

fn check_url(url: &str, egress: &Egress) -> Result<String> {
    let u = url.trim();
    let parsed = reqwest::Url::parse(u)
        .map_err(|_| DomainError::invalid("url", Code::InvalidUrl, "an absolute http:// or https:// URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() || u.len() > 2000 {
        return Err(DomainError::invalid("url", Code::InvalidUrl, "an absolute http:// or https:// URL").into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // `https://trusted.example@10.0.0.1/` reads as one host and calls another.
        return Err(DomainError::invalid("url", Code::InvalidUrl, "a URL without user name or password").into());
    }
    if !egress.permits_host(&parsed) {
        return Err(DomainError::invalid("url", Code::AddressNotAllowed, egress::NOT_ALLOWED).into());
    }
    Ok(u.to_owned())
}

impl App {
    pub async fn list_webhooks(&self, actor: &Principal) -> Result<Vec<WebhookRow>> {
        access::require_admin(actor)?;
        Ok(self.config().await?.webhooks.clone())
    }

    fn fill_webhook(&self, w: &mut WebhookRow, input: WebhookInput) -> Result<()> {
        if let Some(n) = &input.name {
            w.name = people::validate_name(n, "name")?;
        }
        if let Some(u) = &input.url {
            w.url = check_url(u, &self.egress())?;
        }
        if let Some(s) = input.secret {
            let s = s.trim().to_owned();
            if !(16..=200).contains(&s.len()) {
                return Err(DomainError::invalid("secret", Code::InvalidValue, "16–200 characters").into());
            }
            w.secret = s;
        }
        if let Some(a) = input.active {
            w.active = a;
        }
        Ok(())
    }

    pub async fn create_webhook(&self, actor: &Principal, input: WebhookInput) -> Result<WebhookRow> {
        access::require_admin(actor)?;
        if input.name.is_none() {
            return Err(DomainError::required("name").into());
        }
        if input.url.is_none() {
            return Err(DomainError::required("url").into());
        }
        let now = self.now();
        let mut w = WebhookRow {
            id: 0,
            name: String::new(),
            url: String::new(),
            secret: crate::auth::random_secret()?,
            active: true,
            created_at: now,
            updated_at: now,
        };
        self.fill_webhook(&mut w, input)?;
        let saved = self.store.save_webhook(&w).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn update_webhook(&self, actor: &Principal, id: i64, input: WebhookInput) -> Result<WebhookRow> {
        let mut w =
            self.list_webhooks(actor).await?.into_iter().find(|w| w.id == id).ok_or(CoreError::NotFound("webhook"))?;
        self.fill_webhook(&mut w, input)?;
        w.updated_at = self.now();
        let saved = self.store.save_webhook(&w).await?;
        self.config_changed();
        Ok(saved)
    }

    /// Deletes a webhook; refused while an active trigger or automation calls it.
    pub async fn delete_webhook(&self, actor: &Principal, id: i64) -> Result<()> {
        access::require_admin(actor)?;
        let cfg = self.config().await?;
        let used = cfg
            .rules
            .triggers
            .iter()
            .flat_map(|t| &t.actions)
            .chain(cfg.automations.iter().flat_map(|a| &a.actions))
            .any(|a| matches!(a, gongdan_domain::rules::Action::Webhook(w) if *w == id));
        if used {
            return Err(CoreError::InUse("a rule calls this webhook; change the rule first".into()));
        }
        self.store.delete_webhook(id).await.map_err(|e| match e {
            gongdan_store::StoreError::NotFound => CoreError::NotFound("webhook"),
            e => e.into(),
        })?;
        self.config_changed();
        Ok(())
    }

    /// The caller's notifications, newest first.
    pub async fn notifications(
        &self,
        actor: &Principal,
        unread_only: bool,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Notification>> {
        let mut list = self.store.list_notifications(actor.user_id, unread_only, before, limit.clamp(1, 200)).await?;
        if !actor.is_staff() {
            // Rules are the desk's own business: customers see the message, not its rule.
            for n in &mut list {
                n.rule = None;
            }
        }
        Ok(list)
    }

    pub async fn unread_notifications(&self, actor: &Principal) -> Result<i64> {
        Ok(self.store.count_unread(actor.user_id).await?)
    }

    /// Marks some (or, with none named, all) of the caller's notifications read.
    pub async fn mark_notifications_read(&self, actor: &Principal, ids: &[i64]) -> Result<()> {
        if ids.len() > 500 {
            return Err(DomainError::invalid("ids", Code::TooMany, "at most 500 at once").into());
        }
        Ok(self.store.mark_read(actor.user_id, ids, self.now()).await?)
    }
}
