//! Proof of an address by mail, in the core: links made with a random secret (only its hash is
//! kept), mailed from the desk's first mailbox, and opened once. Opening one proves the address:
//! a new portal account is confirmed (and joins the organisation its domain belongs to), an
//! account the desk made for the address takes the password set on the link's page, or a
//! customer is signed in without a password.

use gongdan_domain::DomainError;
use gongdan_domain::access::Role;
use gongdan_domain::ids::UserId;
use gongdan_domain::mail::{Address, compose};
use gongdan_domain::people::{self, IdentityKind, User};
use gongdan_domain::verification::{self, Link, Purpose, Refused};

use crate::auth::{random_secret, sha256_hex};
use crate::mail::send::Unsent;
use crate::{App, CoreError, Result};

/// The path a mailed link opens (under the desk's public address).
pub const LINK_PATH: &str = "/verify/";

/// What opening a link did.
#[derive(Debug)]
pub struct Opened {
    pub purpose: Purpose,
    pub user: User,
    /// A new session's secret: claims and sign-ins sign the person in.
    pub session: Option<String>,
}

/// Why a link did not open.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no such link")]
    Unknown,
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl From<gongdan_store::StoreError> for LinkError {
    fn from(e: gongdan_store::StoreError) -> Self {
        LinkError::Core(e.into())
    }
}

impl App {
    /// Whether the desk can mail links at all (it has a mailbox to send from).
    pub async fn mails_links(&self) -> Result<bool> {
        Ok(self.mails_out(&*self.config().await?))
    }

    /// Makes a link for the user's current address and mails it there.
    pub(crate) async fn mail_link(&self, user: &User, purpose: Purpose) -> Result<()> {
        let email = user.email.clone().ok_or_else(|| CoreError::Internal("a link needs an address".into()))?;
        let secret = random_secret()?;
        let now = self.now();
        let link = Link {
            id: 0,
            purpose,
            user_id: user.id,
            email: email.clone(),
            expires_at: now + purpose.lifetime(),
            used_at: None,
            created_at: now,
        };
        self.store.insert_link(&link, &sha256_hex(secret.as_bytes())).await?;
        let cfg = self.config().await?;
        let url = format!("{}{LINK_PATH}{secret}", self.settings.public_url.trim_end_matches('/'));
        let (subject, text) = purpose.mail(user.language, &cfg.desk.company_name, &url);
        let to = Address { email, name: Some(user.name.clone()).filter(|n| !n.is_empty()) };
        self.mail_person(to, &subject, &text).await.map_err(|e| match e {
            Unsent::Permanent(why) | Unsent::Transient(why) => {
                CoreError::Unavailable(format!("the mail could not be sent: {why}"))
            }
        })
    }

    /// A mail from the desk to one person, outside any ticket (links, for one).
    async fn mail_person(&self, to: Address, subject: &str, text: &str) -> std::result::Result<(), Unsent> {
        let cfg = self.config().await.map_err(|e| Unsent::Transient(e.to_string()))?;
        let mailbox = compose::sender(&cfg.mailboxes, None, None)
            .ok_or_else(|| Unsent::Permanent("no mailbox to send from".into()))?;
        let headers = compose::Headers {
            to: vec![to],
            cc: vec![],
            subject: subject.to_owned(),
            in_reply_to: None,
            references: vec![],
        };
        self.send_automatic(mailbox, &headers, text).await.map(|_| ())
    }

    /// Mails a sign-in link to the customer with this address. Says nothing about whether there
    /// is one (the page says the same either way); limited per client and per address.
    pub async fn request_sign_in_link(&self, email: &str, client: &str) -> Result<()> {
        let key = [format!("signin-link:{client}")];
        self.check_rate(&key)?;
        self.record_failure(&key);
        let email = people::normalize_email(email, "email")?;
        if !self.mails_links().await? {
            return Err(CoreError::forbidden("this desk sends no mail"));
        }
        let Some(user) = self.store.find_user_by_identity(IdentityKind::Email, &email).await? else { return Ok(()) };
        // Staff sign in with their password (and whatever else guards it), never by mail alone.
        if !user.active || user.role != Role::Customer || user.email.as_deref() != Some(email.as_str()) {
            return Ok(());
        }
        let hour_ago = self.now() - jiff::SignedDuration::from_hours(1);
        if self.store.count_links(user.id, Purpose::SignIn, hour_ago).await? >= verification::LINKS_PER_HOUR as i64 {
            return Ok(());
        }
        self.mail_link(&user, Purpose::SignIn).await
    }

    /// The link a secret names, if the person asking (signed in as `opener`, or not) may open
    /// it now — for the page that asks them to.
    pub async fn peek_link(&self, secret: &str, opener: Option<UserId>) -> std::result::Result<Link, LinkError> {
        let link = self.store.find_link(&sha256_hex(secret.as_bytes())).await?.ok_or(LinkError::Unknown)?;
        let user = self.store.get_user(link.user_id).await?;
        let current = user.as_ref().filter(|u| u.active).and_then(|u| u.email.as_deref());
        verification::check(&link, self.now(), current)?;
        verification::may_open(&link, opener)?;
        Ok(link)
    }

    /// Opens a link: once, before it expires, while the account still has the address. A
    /// claim sets `password` (checked like any other) on the account.
    pub async fn open_link(
        &self,
        secret: &str,
        opener: Option<UserId>,
        password: Option<&str>,
    ) -> std::result::Result<Opened, LinkError> {
        let link = self.peek_link(secret, opener).await?;
        let hash = match link.purpose {
            Purpose::Claim => {
                let user = self.store.get_user(link.user_id).await?.ok_or(CoreError::NotFound("user"))?;
                let password = password
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| DomainError::required("password"))
                    .map_err(CoreError::from)?;
                crate::auth::validate_password(password, &[&link.email, &user.name])?;
                Some(crate::auth::hash_password(password).await?)
            }
            _ => None,
        };
        let now = self.now();
        if !self.store.use_link(link.id, now).await? {
            return Err(Refused::Used.into());
        }
        let id = link.user_id;
        self.store.set_email_verified(id, now).await?;
        if let Some(hash) = &hash {
            self.store.set_password_hash(id, hash).await?;
            // Sessions from before the account had a password of its owner's end with it.
            self.store.delete_user_sessions(id, None).await?;
        }
        self.join_domain_organization(id).await?;
        self.forget_principals();
        let session = match link.purpose {
            Purpose::Verify => None,
            Purpose::Claim | Purpose::SignIn => Some(self.open_session(id).await?),
        };
        let user = self.store.get_user(id).await?.ok_or(CoreError::NotFound("user"))?;
        Ok(Opened { purpose: link.purpose, user, session })
    }

    /// A proven customer without an organisation joins the one their address's domain names.
    async fn join_domain_organization(&self, id: UserId) -> Result<()> {
        let Some(mut user) = self.store.get_user(id).await? else { return Ok(()) };
        if user.role != Role::Customer || user.organization_id.is_some() {
            return Ok(());
        }
        let Some(domain) = user.email.as_deref().and_then(|e| e.split_once('@')).map(|(_, d)| d.to_owned()) else {
            return Ok(());
        };
        if let Some(org) = self.store.organization_for_domain(&domain).await? {
            user.organization_id = Some(org.id);
            user.updated_at = self.now();
            self.store.update_user(&user).await?;
        }
        Ok(())
    }
}
