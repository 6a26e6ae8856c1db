//! Passwords, API tokens, browser sessions, login rate limiting, and turning a credential into
//! a [`Principal`].

use gongdan_domain::Code;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gongdan_domain::DomainError;
use gongdan_domain::access::{Principal, Role};
use gongdan_domain::ids::{TokenId, UserId};
use gongdan_domain::people::{IdentityKind, User};
pub use gongdan_store::ApiToken;
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::access;
use crate::{App, CoreError, Result};

pub const TOKEN_PREFIX: &str = "gd_";
/// Attempts per key in one window (sign-ups per client address).
const LOGIN_ATTEMPTS: u32 = 10;
const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed sign-ins one client address may make across all accounts in a window.
const CLIENT_FAILURES: u32 = 100;
/// Failed sign-ins for one (account, client) before each further one waits, doubling.
const BACKOFF_FREE: u32 = 5;
const BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);

/// How long the pair waits after `n` failures: nothing for the first few, then 1 s, 2 s, 4 s …
/// up to 15 minutes.
fn backoff_after(n: u32) -> Option<Duration> {
    let over = n.checked_sub(BACKOFF_FREE)?;
    Some(Duration::from_secs(1u64 << over.min(10)).min(BACKOFF_MAX))
}

fn login_pair(email: &str, client: &str) -> String {
    format!("pair:{email}\u{1f}{client}")
}

/// A valid argon2 hash of a random secret, verified for unknown emails so they take as long.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let secret = random_secret().unwrap_or_else(|_| "gongdan-dummy".into());
        Argon2::default().hash_password(secret.as_bytes()).map(|h| h.to_string()).unwrap_or_default()
    })
}
/// How long a resolved credential is trusted without a lookup. Revocation on this node
/// clears it at once; other nodes see it within this time.
const PRINCIPAL_TTL: Duration = Duration::from_secs(5);

/// A resolved credential: who, until when the credential itself is valid, and when it was cached.
type CachedPrincipal = (Principal, Option<Timestamp>, Instant);

#[derive(Default)]
pub(crate) struct AuthState {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    /// Failed sign-ins per (account, client address): how many, and when the last was.
    backoff: Mutex<HashMap<String, (u32, Instant)>>,
    /// Resolved credentials with the credential's own expiry, checked against the app clock.
    principals: Mutex<HashMap<String, CachedPrincipal>>,
    /// Profiles of signed-in users, for pages.
    users: Mutex<HashMap<UserId, (std::sync::Arc<User>, Instant)>>,
    /// Who a ticket is for (organisation, role, active), for creates that name a requester.
    briefs: Mutex<HashMap<UserId, (gongdan_store::UserBrief, Instant)>>,
    /// The same briefs by normalised email, for creates that name their requester by email.
    briefs_by_email: Mutex<HashMap<String, (gongdan_store::UserBrief, Instant)>>,
    /// What rules may ask about a requester (VIP level, language, account manager …).
    requesters: Mutex<HashMap<UserId, (gongdan_domain::rules::Requester, Instant)>>,
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh random secret, URL-safe.
pub fn random_secret() -> Result<String> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| CoreError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// Length, the common-password list and the account's own email and name
/// (`gongdan_domain::password`).
pub fn validate_password(password: &str, context: &[&str]) -> Result<()> {
    Ok(gongdan_domain::password::check(password, context)?)
}

/// Hashes with argon2id on a blocking thread: it is deliberately slow.
pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| CoreError::Internal(e.to_string()))
    })
    .await
    .map_err(|e| CoreError::Internal(e.to_string()))?
}

/// Checks a password against a stored hash. Without one it verifies against a dummy hash and
/// fails, so a missing account costs the same time as a wrong password.
pub(crate) async fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let (password, hash) = (password.to_owned(), hash.map(str::to_owned));
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.as_deref().unwrap_or_else(|| dummy_hash());
        let ok = PasswordHash::new(hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        ok && known
    })
    .await
    .unwrap_or(false)
}

impl App {
    /// Builds the principal for a user: its groups and whether its organisation shares tickets.
    pub async fn principal_for(&self, user: &User) -> Result<Principal> {
        let org_access = match (user.role, user.organization_id) {
            (Role::Customer, Some(org)) => self.store.get_organization(org).await?.is_some_and(|o| o.shared_tickets),
            _ => false,
        };
        Ok(Principal {
            user_id: user.id,
            role: user.role,
            group_ids: user.group_ids.clone(),
            restricted_to_groups: user.restricted_to_groups,
            organization_id: user.organization_id,
            org_access,
        })
    }

    fn cached_principal(&self, key: &str) -> Option<Principal> {
        let now = self.now();
        let map = self.auth.principals.lock().ok()?;
        map.get(key)
            .filter(|(_, expires, at)| at.elapsed() < PRINCIPAL_TTL && expires.is_none_or(|e| e > now))
            .map(|(p, _, _)| p.clone())
    }

    fn cache_principal(&self, key: String, p: &Principal, expires: Option<Timestamp>) {
        if let Ok(mut map) = self.auth.principals.lock() {
            if map.len() > 10_000 {
                map.retain(|_, (_, _, at)| at.elapsed() < PRINCIPAL_TTL);
            }
            map.insert(key, (p.clone(), expires, Instant::now()));
        }
    }

    /// Drops cached credentials, profiles and briefs, after a change to who a user is or may do.
    pub(crate) fn forget_principals(&self) {
        if let Ok(mut map) = self.auth.principals.lock() {
            map.clear();
        }
        if let Ok(mut map) = self.auth.users.lock() {
            map.clear();
        }
        if let Ok(mut map) = self.auth.briefs.lock() {
            map.clear();
        }
        if let Ok(mut map) = self.auth.briefs_by_email.lock() {
            map.clear();
        }
        if let Ok(mut map) = self.auth.requesters.lock() {
            map.clear();
        }
    }

    /// What rules may ask about a requester, cached like briefs (an unknown id reads as a
    /// requester with no facts).
    pub(crate) async fn requester_facts(&self, id: UserId) -> Result<gongdan_domain::rules::Requester> {
        let cached = self
            .auth
            .requesters
            .lock()
            .ok()
            .and_then(|m| m.get(&id).filter(|(_, at)| at.elapsed() < PRINCIPAL_TTL).map(|(r, _)| r.clone()));
        if let Some(r) = cached {
            return Ok(r);
        }
        let r = self
            .store
            .requesters(&[id])
            .await?
            .pop()
            .unwrap_or(gongdan_domain::rules::Requester { id, ..Default::default() });
        if let Ok(mut map) = self.auth.requesters.lock() {
            if map.len() > 100_000 {
                map.retain(|_, (_, at)| at.elapsed() < PRINCIPAL_TTL);
            }
            map.insert(id, (r.clone(), Instant::now()));
        }
        Ok(r)
    }

    /// A user's brief, cached a few seconds: a desk's busy customers raise ticket after ticket.
    /// Changes on this node clear it at once; other nodes see them within `PRINCIPAL_TTL`.
    pub(crate) async fn user_brief(&self, id: UserId) -> Result<Option<gongdan_store::UserBrief>> {
        let cached = self
            .auth
            .briefs
            .lock()
            .ok()
            .and_then(|m| m.get(&id).filter(|(_, at)| at.elapsed() < PRINCIPAL_TTL).map(|(b, _)| *b));
        if cached.is_some() {
            return Ok(cached);
        }
        let brief = self.store.user_brief(id).await?;
        if let (Some(b), Ok(mut map)) = (brief, self.auth.briefs.lock()) {
            if map.len() > 100_000 {
                map.retain(|_, (_, at)| at.elapsed() < PRINCIPAL_TTL);
            }
            map.insert(id, (b, Instant::now()));
        }
        Ok(brief)
    }

    /// The brief of the user with this (normalised) email, cached like `user_brief`: mail,
    /// the portal and integrations name requesters by email, the same few again and again.
    pub(crate) async fn user_brief_by_email(&self, email: &str) -> Result<Option<gongdan_store::UserBrief>> {
        let cached = self
            .auth
            .briefs_by_email
            .lock()
            .ok()
            .and_then(|m| m.get(email).filter(|(_, at)| at.elapsed() < PRINCIPAL_TTL).map(|(b, _)| *b));
        if cached.is_some() {
            return Ok(cached);
        }
        let brief = self.store.user_brief_by_identity(gongdan_domain::people::IdentityKind::Email, email).await?;
        if let Some(b) = brief {
            self.remember_brief_by_email(email, b);
        }
        Ok(brief)
    }

    pub(crate) fn remember_brief_by_email(&self, email: &str, brief: gongdan_store::UserBrief) {
        if let Ok(mut map) = self.auth.briefs_by_email.lock() {
            if map.len() > 100_000 {
                map.retain(|_, (_, at)| at.elapsed() < PRINCIPAL_TTL);
            }
            map.insert(email.to_owned(), (brief, Instant::now()));
        }
    }

    /// The signed-in user behind a session: its principal and profile, both cached a few
    /// seconds (pages read them on every request).
    pub async fn session_user(&self, secret: &str) -> Result<(Principal, std::sync::Arc<User>)> {
        let p = self.authenticate_session(secret).await?;
        let cached = self
            .auth
            .users
            .lock()
            .ok()
            .and_then(|m| m.get(&p.user_id).filter(|(_, at)| at.elapsed() < PRINCIPAL_TTL).map(|(u, _)| u.clone()));
        if let Some(u) = cached {
            return Ok((p, u));
        }
        let user = std::sync::Arc::new(
            self.store.get_user(p.user_id).await?.filter(|u| u.active).ok_or(CoreError::Unauthenticated)?,
        );
        if let Ok(mut map) = self.auth.users.lock() {
            if map.len() > 10_000 {
                map.retain(|_, (_, at)| at.elapsed() < PRINCIPAL_TTL);
            }
            map.insert(p.user_id, (user.clone(), Instant::now()));
        }
        Ok((p, user))
    }

    async fn active_principal(&self, user_id: UserId) -> Result<Principal> {
        let user = self.store.get_user(user_id).await?.filter(|u| u.active).ok_or(CoreError::Unauthenticated)?;
        self.principal_for(&user).await
    }

    /// Resolves `Authorization: Bearer <token>`.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal> {
        let hash = sha256_hex(token.as_bytes());
        let key = format!("t:{hash}");
        if let Some(p) = self.cached_principal(&key) {
            return Ok(p);
        }
        let t = self.store.find_token(&hash).await?.ok_or(CoreError::Unauthenticated)?;
        let now = self.now();
        if t.revoked_at.is_some() || t.expires_at.is_some_and(|e| e <= now) {
            return Err(CoreError::Unauthenticated);
        }
        let p = self.active_principal(t.user_id).await?;
        self.cache_principal(key, &p, t.expires_at);
        Ok(p)
    }

    /// Resolves a session cookie's value.
    pub async fn authenticate_session(&self, secret: &str) -> Result<Principal> {
        let hash = sha256_hex(secret.as_bytes());
        let key = format!("s:{hash}");
        if let Some(p) = self.cached_principal(&key) {
            return Ok(p);
        }
        let (user, expires) = self.store.find_session(&hash).await?.ok_or(CoreError::Unauthenticated)?;
        if expires <= self.now() {
            return Err(CoreError::Unauthenticated);
        }
        let p = self.active_principal(user).await?;
        self.cache_principal(key, &p, Some(expires));
        Ok(p)
    }

    pub(crate) fn check_rate(&self, keys: &[String]) -> Result<()> {
        self.check_rate_with(keys, LOGIN_ATTEMPTS)
    }

    fn check_rate_with(&self, keys: &[String], limit: u32) -> Result<()> {
        let map = self.auth.failures.lock().map_err(|_| CoreError::Internal("rate limiter poisoned".into()))?;
        for k in keys {
            if let Some((n, since)) = map.get(k)
                && *n >= limit
                && since.elapsed() < LOGIN_WINDOW
            {
                return Err(CoreError::RateLimited {
                    retry_after_secs: (LOGIN_WINDOW - since.elapsed()).as_secs().max(1),
                });
            }
        }
        Ok(())
    }

    /// Counts an attempt against each key (failed sign-ins; every sign-up).
    pub(crate) fn record_failure(&self, keys: &[String]) {
        if let Ok(mut map) = self.auth.failures.lock() {
            if map.len() > 100_000 {
                map.retain(|_, (_, since)| since.elapsed() < LOGIN_WINDOW);
            }
            for k in keys {
                let e = map.entry(k.clone()).or_insert((0, Instant::now()));
                if e.1.elapsed() >= LOGIN_WINDOW {
                    *e = (0, Instant::now());
                }
                e.0 += 1;
            }
        }
    }

    /// Checks an email and password and opens a session; returns the session secret (for the
    /// cookie) and the user.
    ///
    /// Failures slow down the pair (account, client address) exponentially, so an attacker
    /// elsewhere cannot lock the account's owner out; a client that fails across many
    /// accounts is limited as a whole. An unknown email costs the same time as a known one
    /// (a dummy hash is verified), so timing does not tell which addresses have accounts.
    pub async fn login(&self, email: &str, password: &str, client: &str) -> Result<(String, User)> {
        let email = email.trim().to_lowercase();
        let pair = login_pair(&email, client);
        self.check_backoff(&pair)?;
        let spray = [format!("client:{client}")];
        self.check_rate_with(&spray, CLIENT_FAILURES)?;
        let user = self.store.find_user_by_identity(IdentityKind::Email, &email).await?.filter(|u| u.active);
        let hash = match &user {
            Some(u) => self.store.password_hash(u.id).await?,
            None => None,
        };
        let ok = verify_password(password, hash.as_deref()).await;
        let Some(user) = user.filter(|_| ok) else {
            self.record_failure(&spray);
            let n = self.record_backoff(&pair);
            tracing::warn!(email = %email, client = %client, failures = n, "failed sign-in");
            return Err(CoreError::Unauthenticated);
        };
        self.clear_backoff(|k| k == pair);
        tracing::info!(user = user.id.0, client = %client, "signed in");
        Ok((self.open_session(user.id).await?, user))
    }

    /// Lifts the sign-in back-off of a user's address on this node (an admin's unlock).
    pub async fn unlock_login(&self, actor: &Principal, id: UserId) -> Result<()> {
        access::require_people_manager(actor, "only supervisors and admins unlock sign-ins")?;
        let user = self.store.get_user(id).await?.ok_or(CoreError::NotFound("user"))?;
        let prefixes: Vec<String> = user
            .identities
            .iter()
            .filter(|i| i.kind == IdentityKind::Email)
            .map(|i| i.value.to_lowercase())
            .chain(user.email.iter().map(|e| e.to_lowercase()))
            .map(|e| login_pair(&e, ""))
            .collect();
        self.clear_backoff(|k| prefixes.iter().any(|p| k.starts_with(p.as_str())));
        tracing::info!(user = id.0, by = actor.user_id.0, "sign-in unlocked");
        Ok(())
    }

    fn check_backoff(&self, key: &str) -> Result<()> {
        let map = self.auth.backoff.lock().map_err(|_| CoreError::Internal("rate limiter poisoned".into()))?;
        if let Some((n, last)) = map.get(key)
            && let Some(wait) = backoff_after(*n)
            && last.elapsed() < wait
        {
            return Err(CoreError::RateLimited { retry_after_secs: (wait - last.elapsed()).as_secs().max(1) });
        }
        Ok(())
    }

    fn record_backoff(&self, key: &str) -> u32 {
        let Ok(mut map) = self.auth.backoff.lock() else { return 0 };
        if map.len() > 100_000 {
            map.retain(|_, (_, last)| last.elapsed() < BACKOFF_MAX);
        }
        let e = map.entry(key.to_owned()).or_insert((0, Instant::now()));
        if e.1.elapsed() >= LOGIN_WINDOW {
            e.0 = 0;
        }
        *e = (e.0 + 1, Instant::now());
        e.0
    }

    fn clear_backoff(&self, which: impl Fn(&str) -> bool) {
        if let Ok(mut map) = self.auth.backoff.lock() {
            map.retain(|k, _| !which(k));
        }
    }

    /// Opens a browser session for a user; returns the secret for the cookie (stored hashed).
    pub(crate) async fn open_session(&self, user: UserId) -> Result<String> {
        let secret = random_secret()?;
        let now = self.now();
        let expires = now.checked_add(SignedDuration::from_hours(24 * self.settings.session_days)).unwrap_or(now);
        self.store.insert_session(&sha256_hex(secret.as_bytes()), user, expires, now).await?;
        Ok(secret)
    }

    pub async fn logout(&self, secret: &str) -> Result<()> {
        self.store.delete_session(&sha256_hex(secret.as_bytes())).await?;
        self.forget_principals();
        Ok(())
    }

    /// Issues an API token for `user_id`; the secret is returned once and stored only hashed.
    /// Admins may issue for anyone, others only for themselves.
    pub async fn create_token(
        &self,
        actor: Option<&Principal>,
        user_id: UserId,
        name: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<(String, ApiToken)> {
        if let Some(a) = actor
            && a.user_id != user_id
            && a.role != Role::Admin
        {
            return Err(CoreError::forbidden("only admins issue tokens for others"));
        }
        let user = self.store.get_user(user_id).await?.filter(|u| u.active).ok_or(CoreError::NotFound("user"))?;
        let now = self.now();
        if expires_at.is_some_and(|e| e <= now) {
            return Err(DomainError::invalid("expires_at", Code::InvalidValue, "must be in the future").into());
        }
        let name = gongdan_domain::people::validate_name(if name.trim().is_empty() { "api" } else { name }, "name")?;
        let secret = format!("{TOKEN_PREFIX}{}", random_secret()?);
        let token = self.store.insert_token(user.id, &name, &sha256_hex(secret.as_bytes()), expires_at, now).await?;
        Ok((secret, token))
    }

    pub async fn list_tokens(&self, actor: &Principal, user_id: UserId) -> Result<Vec<ApiToken>> {
        if actor.user_id != user_id && actor.role != Role::Admin {
            return Err(CoreError::NotFound("user"));
        }
        Ok(self.store.list_tokens(user_id).await?)
    }

    pub async fn revoke_token(&self, actor: &Principal, id: TokenId) -> Result<()> {
        let token = self.store.get_token(id).await?.ok_or(CoreError::NotFound("token"))?;
        if token.user_id != actor.user_id && actor.role != Role::Admin {
            return Err(CoreError::NotFound("token"));
        }
        self.store.revoke_token(id, self.now()).await?;
        self.forget_principals();
        Ok(())
    }
}
