//! The node's configuration snapshot. The configuration tables are small and read on every
//! ticket write, so each node keeps one snapshot of them, with the rules compiled in, and reads
//! it again after a short time or at once after a change made on this node.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::config::{AGENTS_IN_SNAPSHOT, Agent, Config, DeskSettings, MIB};
use crate::{App, CoreError, Result};

const TTL: Duration = Duration::from_secs(2);

/// The node's snapshot: when it was read and under which generation. A change on this node
/// bumps the generation, so the next read waits for a snapshot that has it; an expired one
/// (other nodes may have changed something) is reloaded by one request while the others keep
/// using it, so a busy node does not reload once per request in flight.
#[derive(Default)]
pub(crate) struct ConfigCache {
    snap: RwLock<Option<(Arc<Config>, Instant, u64)>>,
    generation: std::sync::atomic::AtomicU64,
    loading: tokio::sync::Mutex<()>,
}

enum Cached {
    Fresh(Arc<Config>),
    Expired(Arc<Config>),
    Missing,
}

impl ConfigCache {
    fn get(&self) -> Cached {
        let generation = self.generation.load(std::sync::atomic::Ordering::Acquire);
        match self.snap.read().ok().and_then(|g| g.clone()) {
            Some((c, at, g)) if g == generation && at.elapsed() < TTL => Cached::Fresh(c),
            Some((c, _, g)) if g == generation => Cached::Expired(c),
            _ => Cached::Missing,
        }
    }
}

impl App {
    /// The configuration as this node knows it (at most a couple of seconds old).
    pub async fn config(&self) -> Result<Arc<Config>> {
        let _loading = match self.config.get() {
            Cached::Fresh(c) => return Ok(c),
            Cached::Expired(stale) => match self.config.loading.try_lock() {
                Ok(guard) => guard,
                // Someone is reloading it already: the last snapshot serves meanwhile.
                Err(_) => return Ok(stale),
            },
            Cached::Missing => {
                let guard = self.config.loading.lock().await;
                // Another request may have loaded it while this one waited.
                if let Cached::Fresh(c) = self.config.get() {
                    return Ok(c);
                }
                guard
            }
        };
        let generation = self.config.generation.load(std::sync::atomic::Ordering::Acquire);
        let c = Arc::new(self.load_config().await?);
        if let Ok(mut guard) = self.config.snap.write() {
            // A change made while this load ran leaves it under the old generation: not used.
            *guard = Some((c.clone(), Instant::now(), generation));
        }
        Ok(c)
    }

    async fn load_config(&self) -> Result<Config> {
        let mut c = Config {
            statuses: self.store.list_statuses().await?,
            categories: self.store.list_categories().await?,
            fields: self.store.list_fields().await?,
            forms: self.store.list_forms().await?,
            groups: self.store.list_groups().await?,
            desk: self.load_desk().await?,
            agents: self
                .store
                .list_users(&gongdan_store::UserQuery { staff: true, limit: AGENTS_IN_SNAPSHOT, ..Default::default() })
                .await?
                .into_iter()
                .map(|u| Agent { id: u.id, name: u.name, role: u.role, group_ids: u.group_ids, active: u.active })
                .collect(),
            rules: Arc::default(),
            automations: vec![],
            rule_errors: Default::default(),
            macros: self.store.list_macros().await?,
            views: self.store.list_views().await?,
            webhooks: self.store.list_webhooks().await?,
            templates: self.store.list_notification_templates().await?,
            calendars: self.store.list_calendars().await?,
            mailboxes: self.store.list_mailboxes().await?,
        };
        let triggers = self.store.list_rules(gongdan_domain::rules::RuleKind::Trigger).await?;
        let automations = self.store.list_rules(gongdan_domain::rules::RuleKind::Automation).await?;
        crate::rules::compile_all(&mut c, &triggers, &automations);
        Ok(c)
    }

    /// The server's defaults under the stored settings; a stored value that no longer reads
    /// (an older format) is logged and left at its default.
    async fn load_desk(&self) -> Result<DeskSettings> {
        let mut d = DeskSettings {
            company_name: "Gongdan".into(),
            default_language: self.settings.default_language,
            default_time_zone: self.settings.default_time_zone.clone(),
            max_attachment_mb: self.settings.max_attachment_bytes.div_ceil(MIB).max(1),
            portal_signup: true,
        };
        let mut value = serde_json::to_value(&d).map_err(|e| CoreError::Internal(e.to_string()))?;
        for (key, text) in self.store.list_settings().await? {
            match (value.get_mut(&key), serde_json::from_str::<serde_json::Value>(&text)) {
                (Some(slot), Ok(v)) => *slot = v,
                _ => tracing::warn!(%key, "ignoring an unreadable desk setting"),
            }
        }
        match serde_json::from_value(value) {
            Ok(read) => d = read,
            Err(e) => tracing::warn!(error = %e, "desk settings unreadable; using the defaults"),
        }
        Ok(d)
    }

    /// Drops this node's configuration snapshot, so the next read sees what other nodes changed.
    pub fn reload_config(&self) {
        self.config_changed();
    }

    pub(crate) fn config_changed(&self) {
        self.config.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}
