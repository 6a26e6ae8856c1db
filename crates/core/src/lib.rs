//! Gongdan's use cases over the storage contract: who may do what (auth, roles), and what a
//! request does to tickets, people and configuration. No HTTP here: the web layer and the CLI
//! both call into this crate, and it calls the pure rules in `gongdan_domain`.

pub mod auth;
pub mod automation;
mod clock;
pub mod config;
mod error;
pub mod files;
pub mod jobs;
pub mod live;
pub mod macros;
pub mod outbox;
pub mod people;
pub mod routing;
pub mod rules;
pub mod tickets;
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
}

impl Settings {
    pub fn new(data_dir: PathBuf) -> Self {
        Settings {
            data_dir,
            max_attachment_bytes: 20 * 1024 * 1024,
            session_days: 14,
            default_language: gongdan_domain::people::Language::ZhCn,
            default_time_zone: "Asia/Shanghai".into(),
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
    config: Arc<config::ConfigCache>,
    auth: Arc<auth::AuthState>,
    /// Names this process in job leases.
    node: Arc<str>,
    /// Outgoing HTTP (webhooks), built on first use.
    http: Arc<std::sync::OnceLock<reqwest::Client>>,
}

impl App {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        // Outgoing TLS (webhooks, and every other HTTP client in the process) uses ring; the
        // first App installs it, later calls find it there.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let node = auth::random_secret().map(|s| s[..8].to_owned()).unwrap_or_else(|_| "node".into());
        App {
            store,
            clock,
            settings: Arc::new(settings),
            live: Arc::new(live::Live::default()),
            config: Arc::new(config::ConfigCache::default()),
            auth: Arc::new(auth::AuthState::default()),
            node: format!("{node}-{}", std::process::id()).into(),
            http: Arc::default(),
        }
    }

    /// Writes a ticket batch and announces the tickets it wrote to live pages.
    pub(crate) async fn write(
        &self,
        batch: gongdan_store::WriteBatch,
    ) -> std::result::Result<gongdan_store::WriteResult, gongdan_store::StoreError> {
        let r = self.store.write(batch).await?;
        for t in &r.tickets {
            self.live.publish_ticket(t);
        }
        Ok(r)
    }

    /// The current time at the precision storage keeps (microseconds), so what a write
    /// returns equals what a later read returns.
    pub fn now(&self) -> jiff::Timestamp {
        let t = self.clock.now();
        jiff::Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
    }
}
