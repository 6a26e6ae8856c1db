//! Admin configuration: statuses, categories, custom fields, forms and groups. These tables are
//! small and read on every ticket write, so they are cached per node and re-read after a short
//! time or at once after a change made on this node.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use gongdan_domain::DomainError;
use gongdan_domain::access::Principal;
use gongdan_domain::category::{self, Category};
use gongdan_domain::fields::{CustomFieldDef, Form};
use gongdan_domain::ids::{CategoryId, FormId, GroupId};
use gongdan_domain::people::{self, Group, Language};
use gongdan_domain::ticket::Status;

use crate::{App, CoreError, Result};

const TTL: Duration = Duration::from_secs(2);
const MIB: u64 = 1024 * 1024;

/// Desk-wide settings an admin edits in the console; until then they are the server's
/// configuration. The server's attachment limit is the ceiling the desk's may not pass.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeskSettings {
    pub company_name: String,
    /// For new users and signed-out pages whose browser states no preference we speak.
    pub default_language: Language,
    pub default_time_zone: String,
    /// Largest attachment, per file.
    pub max_attachment_mb: u64,
    /// Customers may open their own portal account.
    pub portal_signup: bool,
}

impl DeskSettings {
    pub fn max_attachment_bytes(&self) -> u64 {
        self.max_attachment_mb.saturating_mul(MIB)
    }
}

/// A member of staff as pickers and pages show them (assignee choices, names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: gongdan_domain::ids::UserId,
    pub name: String,
    pub role: gongdan_domain::access::Role,
    pub group_ids: Vec<GroupId>,
    pub active: bool,
}

/// Staff read into the snapshot at most; larger desks page through `list_users` instead.
pub const AGENTS_IN_SNAPSHOT: i64 = 2000;

/// A consistent snapshot of the configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub statuses: Vec<Status>,
    pub categories: Vec<Category>,
    pub fields: Vec<CustomFieldDef>,
    pub forms: Vec<Form>,
    pub groups: Vec<Group>,
    pub desk: DeskSettings,
    /// Staff, for pickers: read with the configuration and refreshed with it.
    pub agents: Vec<Agent>,
    /// The active triggers, compiled, with what running them needs.
    pub rules: Arc<gongdan_domain::rules::RuleSet>,
    /// The active automations, compiled, in order.
    pub automations: Vec<Arc<gongdan_domain::rules::Automation>>,
    /// Stored rules that no longer compile against this configuration (a group or status
    /// they name is gone), by id: they are skipped until fixed.
    pub rule_errors: std::collections::BTreeMap<i64, String>,
    pub macros: Vec<gongdan_store::MacroRow>,
    pub views: Vec<gongdan_store::ViewRow>,
    pub webhooks: Vec<gongdan_store::WebhookRow>,
}

impl Config {
    pub fn form_for(&self, category: Option<CategoryId>) -> Option<&Form> {
        let id = category::form_for(&self.categories, category?)?;
        self.forms.iter().find(|f| f.id == id)
    }

    pub fn group(&self, id: GroupId) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }
}

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

pub(crate) fn require_admin(actor: &Principal) -> Result<()> {
    if actor.can_configure() { Ok(()) } else { Err(CoreError::forbidden("only admins change the configuration")) }
}

/// A label as shown: trimmed, without invisible characters.
fn label(text: &str) -> String {
    gongdan_domain::text::strip_invisible(text).trim().to_owned()
}

impl App {
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

    /// The attachment size limit in force: the desk's, never above the server's.
    pub async fn attachment_limit(&self) -> Result<u64> {
        Ok(self.config().await?.desk.max_attachment_bytes().min(self.settings.max_attachment_bytes))
    }

    pub async fn save_desk_settings(&self, actor: &Principal, mut d: DeskSettings) -> Result<DeskSettings> {
        require_admin(actor)?;
        d.company_name = people::validate_name(&d.company_name, "company_name")?;
        jiff::tz::TimeZone::get(&d.default_time_zone)
            .map_err(|_| DomainError::invalid("default_time_zone", "invalid_value", "not an IANA time zone"))?;
        let ceiling = self.settings.max_attachment_bytes.div_ceil(MIB).max(1);
        if !(1..=ceiling).contains(&d.max_attachment_mb) {
            return Err(DomainError::invalid(
                "max_attachment_mb",
                "invalid_value",
                format!("1–{ceiling} MB (the server's limit)"),
            )
            .into());
        }
        let value = serde_json::to_value(&d).map_err(|e| CoreError::Internal(e.to_string()))?;
        let pairs: Vec<(String, String)> =
            value.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.to_string())).collect();
        self.store.save_settings(&pairs).await?;
        self.config_changed();
        Ok(d)
    }

    /// Drops this node's configuration snapshot, so the next read sees what other nodes changed.
    pub fn reload_config(&self) {
        self.config_changed();
    }

    pub(crate) fn config_changed(&self) {
        self.config.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Creates (id 0) or updates a status.
    pub async fn save_status(&self, actor: &Principal, mut s: Status) -> Result<Status> {
        require_admin(actor)?;
        let cfg = self.config().await?;
        s.label_zh = label(s.label_zh.as_str());
        s.label_en = label(s.label_en.as_str());
        if s.label_zh.is_empty() && s.label_en.is_empty() {
            return Err(DomainError::required("label_en").into());
        }
        if s.id.0 == 0 {
            gongdan_domain::fields::validate_key(&s.key, "key")?;
        } else {
            let old = cfg.statuses.iter().find(|x| x.id == s.id).ok_or(CoreError::NotFound("status"))?;
            s.key = old.key.clone();
            s.category = old.category;
            let others_active = cfg.statuses.iter().any(|x| x.id != s.id && x.category == s.category && x.active);
            if !s.active && !others_active {
                return Err(CoreError::InUse("the last active status of a category cannot be deactivated".into()));
            }
            if !s.active && s.is_default {
                return Err(
                    DomainError::invalid("active", "invalid_value", "the default status must stay active").into()
                );
            }
        }
        let saved = self.store.save_status(&s).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn save_category(&self, actor: &Principal, mut c: Category) -> Result<Category> {
        require_admin(actor)?;
        let cfg = self.config().await?;
        c.name_zh = label(c.name_zh.as_str());
        c.name_en = label(c.name_en.as_str());
        if c.name_zh.is_empty() && c.name_en.is_empty() {
            return Err(DomainError::required("name_en").into());
        }
        if c.id.0 != 0 && !cfg.categories.iter().any(|x| x.id == c.id) {
            return Err(CoreError::NotFound("category"));
        }
        category::check_parent(&cfg.categories, (c.id.0 != 0).then_some(c.id), c.parent_id)?;
        if let Some(f) = c.form_id
            && !cfg.forms.iter().any(|x| x.id == f)
        {
            return Err(DomainError::invalid("form_id", "not_found", "no such form").into());
        }
        let saved = self.store.save_category(&c).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn save_field(&self, actor: &Principal, mut f: CustomFieldDef) -> Result<CustomFieldDef> {
        require_admin(actor)?;
        if f.id.0 != 0 {
            let cfg = self.config().await?;
            let old = cfg.fields.iter().find(|x| x.id == f.id).ok_or(CoreError::NotFound("custom field"))?;
            f.key = old.key.clone();
            f.scope = old.scope;
            f.kind = old.kind;
        }
        f.validate()?;
        let saved = self.store.save_field(&f).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn save_form(&self, actor: &Principal, mut f: Form) -> Result<Form> {
        require_admin(actor)?;
        let cfg = self.config().await?;
        f.name = people::validate_name(&f.name, "name")?;
        let mut seen = Vec::new();
        for (i, ff) in f.fields.iter().enumerate() {
            let ok =
                cfg.fields.iter().any(|d| d.id == ff.field_id && d.scope == gongdan_domain::fields::FieldScope::Ticket);
            if !ok {
                return Err(
                    DomainError::invalid(format!("fields[{i}].field_id"), "not_found", "no such ticket field").into()
                );
            }
            if seen.contains(&ff.field_id) {
                return Err(DomainError::invalid(
                    format!("fields[{i}].field_id"),
                    "duplicate",
                    "a field appears once per form",
                )
                .into());
            }
            seen.push(ff.field_id);
        }
        if f.id.0 != 0 && !cfg.forms.iter().any(|x| x.id == f.id) {
            return Err(CoreError::NotFound("form"));
        }
        let saved = self.store.save_form(&f).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn delete_form(&self, actor: &Principal, id: FormId) -> Result<()> {
        require_admin(actor)?;
        self.store.delete_form(id).await.map_err(|e| match e {
            gongdan_store::StoreError::NotFound => CoreError::NotFound("form"),
            e => e.into(),
        })?;
        self.config_changed();
        Ok(())
    }

    pub async fn save_group(&self, actor: &Principal, mut g: Group) -> Result<Group> {
        require_admin(actor)?;
        g.name = people::validate_name(&g.name, "name")?;
        g.tier = people::validate_tier(g.tier)?;
        if let Some(to) = g.escalation_group_id {
            let cfg = self.config().await?;
            match cfg.groups.iter().find(|x| x.id == to) {
                Some(x) if x.id != g.id && x.tier > g.tier => {}
                Some(x) if x.id != g.id => {
                    return Err(DomainError::invalid(
                        "escalation_group_id",
                        "invalid_value",
                        "escalation goes to a group on a higher tier",
                    )
                    .into());
                }
                _ => {
                    return Err(
                        DomainError::invalid("escalation_group_id", "not_found", "another existing group").into()
                    );
                }
            }
        }
        let saved = if g.id.0 == 0 { self.store.insert_group(&g).await? } else { self.store.update_group(&g).await? };
        self.config_changed();
        Ok(saved)
    }
}
