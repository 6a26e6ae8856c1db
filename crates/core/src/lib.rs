//! Gongdan's use cases over the storage contract: who may do what (auth, roles), and what a
//! request does to tickets, people and configuration. No HTTP here: the web layer and the CLI
//! both call into this crate, and it calls the pure rules in `gongdan_domain`.

mod access;
pub mod auth;
pub mod automation;
mod clock;
pub mod config;
pub mod conversation;
pub mod egress;
mod error;
pub mod files;
pub mod jobs;
pub mod live;
mod locks;
pub mod macros;
pub mod mail;
pub mod notifications;
pub mod people;
pub mod routing;
pub mod rules;
pub mod secrets;
pub mod sla;
mod snapshot;
pub mod tickets;
pub mod verification;
pub mod views;

use std::path::PathBuf;
use std::sync::Arc;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::CoreError;
use gongdan_store::Store;

pub type Result<T> = std::result::Result<T, CoreError>;

/// Runtime settings the use cases need.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub max_attachment_bytes: u64,
    pub session_days: i64,
    pub default_language: gongdan_domain::people::Language,
    pub default_time_zone: String,
    /// Proxies whose `X-Forwarded-For` names the client (addresses or CIDR ranges).
    pub trusted_proxies: Vec<IpNet>,
    /// Private addresses webhooks may call besides public ones.
    pub webhook_allow: Vec<IpNet>,
    /// The mark before a ticket's number in mail subjects: `[#10001]`.
    pub mail_token_prefix: String,
    /// The largest message the desk takes in; larger ones are quarantined.
    pub max_mail_bytes: u64,
    /// The files a mailed reply carries in all, as encoded (base64); those past it are named,
    /// with a link.
    pub max_send_bytes: u64,
    /// Messages one sender may send within an hour before the rest is quarantined (0: any).
    pub mail_sender_limit: u32,
    /// The desk-wide SMTP server replies go out through (a mailbox may name its own); none
    /// and no mailbox's own: the desk mails nothing.
    pub smtp: Option<gongdan_domain::mail::servers::Smtp>,
    /// Seals stored secrets; none: the data directory's `secret.key`.
    pub secret_key: Option<secrets::SecretKey>,
    /// Where people reach the desk (`https://help.acme.test`): links in mail point there.
    pub public_url: String,
}

/// Makes ring the process's TLS provider for every HTTP client in it (webhooks, and tools in
/// the same process); the first call installs it, later ones find it there.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An address range, `10.0.0.0/8` or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(text: &str) -> Option<IpNet> {
        let (a, p) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (text.trim(), None),
        };
        let addr: std::net::IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = p.unwrap_or(max);
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let bits = |ip: std::net::IpAddr| -> (u128, u32) {
            match ip {
                std::net::IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                std::net::IpAddr::V6(v) => match v.to_ipv4_mapped() {
                    Some(v4) => (u128::from(u32::from(v4)), 32),
                    None => (u128::from(v), 128),
                },
            }
        };
        let ((net, w1), (x, w2)) = (bits(self.addr), bits(ip));
        if w1 != w2 {
            return false;
        }
        let shift = w1 - u32::from(self.prefix).min(w1);
        shift >= w1 || (net >> shift) == (x >> shift)
    }
}

impl Settings {
    pub fn new(data_dir: PathBuf) -> Self {
        Settings {
            data_dir,
            max_attachment_bytes: 20 * 1024 * 1024,
            session_days: 14,
            default_language: gongdan_domain::people::Language::ZhCn,
            default_time_zone: "Asia/Shanghai".into(),
            trusted_proxies: vec![],
            webhook_allow: vec![],
            mail_token_prefix: "#".into(),
            max_mail_bytes: 25 * 1024 * 1024,
            max_send_bytes: 20 * 1024 * 1024,
            mail_sender_limit: 30,
            smtp: None,
            secret_key: None,
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

/// The application: storage, clock, settings and the small in-process caches.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// Ticket changes and presence, for live pages.
    pub live: Arc<live::Live>,
    config: Arc<snapshot::ConfigCache>,
    auth: Arc<auth::AuthState>,
    /// Names this process in job leases.
    node: Arc<str>,
    /// Outgoing HTTP (webhooks), built on first use.
    http: Arc<std::sync::OnceLock<reqwest::Client>>,
    /// Unversioned writes to one ticket queue here (`locks`).
    ticket_locks: Arc<locks::KeyedLocks>,
    secret_key: Arc<std::sync::OnceLock<secrets::SecretKey>>,
    /// SMTP connections, pooled per server (`mail::send`).
    smtp: Arc<mail::Transports>,
    /// Told each time an IMAP IDLE watcher wakes the fetch (`mail::watch`).
    pub mail_woken: Arc<tokio::sync::Notify>,
}

impl App {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        install_tls_provider();
        let node = auth::random_secret().map(|s| s[..8].to_owned()).unwrap_or_else(|_| "node".into());
        App {
            store,
            clock,
            settings: Arc::new(settings),
            live: Arc::new(live::Live::default()),
            config: Arc::new(snapshot::ConfigCache::default()),
            auth: Arc::new(auth::AuthState::default()),
            node: format!("{node}-{}", std::process::id()).into(),
            http: Arc::default(),
            ticket_locks: Arc::default(),
            secret_key: Arc::default(),
            smtp: Arc::default(),
            mail_woken: Arc::default(),
        }
    }

    /// Writes a ticket batch and announces the tickets it wrote to live pages.
    pub(crate) async fn write(
        &self,
        mut batch: gongdan_store::WriteBatch,
    ) -> std::result::Result<gongdan_store::WriteResult, gongdan_store::StoreError> {
        if let Err(e) = self.mail_notices(&mut batch).await {
            // The notifications are still written, for the app; only their mail is left out.
            tracing::warn!(error = %e, "could not tell whether notifications go out by mail");
        }
        let r = self.store.write(batch).await?;
        for t in &r.tickets {
            self.live.publish_ticket(t);
        }
        Ok(r)
    }

    /// The current time at the precision storage keeps (microseconds), so what a write
    /// returns equals what a later read returns.
    /// Whether the database answers (readiness).
    pub async fn ready(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    pub fn now(&self) -> jiff::Timestamp {
        let t = self.clock.now();
        jiff::Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
    }
}

#[cfg(test)]
mod tests {
    use super::IpNet;

    #[test]
    fn ip_ranges() {
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.2.3.4".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.9.9.9".parse().unwrap()), "IPv4-mapped IPv6");
        let one = IpNet::parse("::1").unwrap();
        assert!(one.contains("::1".parse().unwrap()) && !one.contains("::2".parse().unwrap()));
        assert!(IpNet::parse("0.0.0.0/0").unwrap().contains("203.0.113.9".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0/8", ""] {
            assert!(IpNet::parse(bad).is_none(), "{bad}");
        }
    }
}
