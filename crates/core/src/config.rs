//! Admin configuration: statuses, categories, custom fields, forms, groups and the desk's
//! settings, and the snapshot (`Config`) of them that every use case reads (`snapshot.rs` keeps
//! it per node).

use gongdan_domain::Code;
use std::sync::Arc;

use gongdan_domain::DomainError;
use gongdan_domain::access::Principal;
use gongdan_domain::category::{self, Category};
use gongdan_domain::fields::{CustomFieldDef, Form};
use gongdan_domain::ids::{CategoryId, FormId, GroupId};
use gongdan_domain::people::{self, Group, Language};
use gongdan_domain::tickets::Status;

use crate::access;
use crate::{App, CoreError, Result};

pub(crate) const MIB: u64 = 1024 * 1024;

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
    pub templates: Vec<gongdan_domain::notifications::NotificationTemplate>,
    pub calendars: Vec<gongdan_domain::sla::calendar::BusinessCalendar>,
    /// With their passwords sealed (this snapshot never leaves the process).
    pub mailboxes: Vec<gongdan_domain::mail::Mailbox>,
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

/// A label as shown: trimmed, without invisible characters.
fn label(text: &str) -> String {
    gongdan_domain::text::strip_invisible(text).trim().to_owned()
}

impl App {
    /// The attachment size limit in force: the desk's, never above the server's.
    pub async fn attachment_limit(&self) -> Result<u64> {
        Ok(self.config().await?.desk.max_attachment_bytes().min(self.settings.max_attachment_bytes))
    }

    pub async fn save_desk_settings(&self, actor: &Principal, mut d: DeskSettings) -> Result<DeskSettings> {
        access::require_admin(actor)?;
        d.company_name = people::validate_name(&d.company_name, "company_name")?;
        jiff::tz::TimeZone::get(&d.default_time_zone)
            .map_err(|_| DomainError::invalid("default_time_zone", Code::InvalidValue, "not an IANA time zone"))?;
        let ceiling = self.settings.max_attachment_bytes.div_ceil(MIB).max(1);
        if !(1..=ceiling).contains(&d.max_attachment_mb) {
            return Err(DomainError::invalid(
                "max_attachment_mb",
                Code::InvalidValue,
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

    /// Creates (id 0) or updates a status.
    pub async fn save_status(&self, actor: &Principal, mut s: Status) -> Result<Status> {
        access::require_admin(actor)?;
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
                    DomainError::invalid("active", Code::InvalidValue, "the default status must stay active").into()
                );
            }
        }
        let saved = self.store.save_status(&s).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn save_category(&self, actor: &Principal, mut c: Category) -> Result<Category> {
        access::require_admin(actor)?;
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
            return Err(DomainError::invalid("form_id", Code::MissingReference, "no such form").into());
        }
        let saved = self.store.save_category(&c).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn save_field(&self, actor: &Principal, mut f: CustomFieldDef) -> Result<CustomFieldDef> {
        access::require_admin(actor)?;
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
        access::require_admin(actor)?;
        let cfg = self.config().await?;
        f.name = people::validate_name(&f.name, "name")?;
        let mut seen = Vec::new();
        for (i, ff) in f.fields.iter().enumerate() {
            let ok =
                cfg.fields.iter().any(|d| d.id == ff.field_id && d.scope == gongdan_domain::fields::FieldScope::Ticket);
            if !ok {
                return Err(DomainError::invalid(
                    format!("fields[{i}].field_id"),
                    Code::MissingReference,
                    "no such ticket field",
                )
                .into());
            }
            if seen.contains(&ff.field_id) {
                return Err(DomainError::invalid(
                    format!("fields[{i}].field_id"),
                    Code::DuplicateValue,
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
        access::require_admin(actor)?;
        self.store.delete_form(id).await.map_err(|e| match e {
            gongdan_store::StoreError::NotFound => CoreError::NotFound("form"),
            e => e.into(),
        })?;
        self.config_changed();
        Ok(())
    }

    pub async fn save_group(&self, actor: &Principal, mut g: Group) -> Result<Group> {
        access::require_admin(actor)?;
        g.name = people::validate_name(&g.name, "name")?;
        g.tier = people::validate_tier(g.tier)?;
        if let Some(to) = g.escalation_group_id {
            let cfg = self.config().await?;
            match cfg.groups.iter().find(|x| x.id == to) {
                Some(x) if x.id != g.id && x.tier > g.tier => {}
                Some(x) if x.id != g.id => {
                    return Err(DomainError::invalid(
                        "escalation_group_id",
                        Code::InvalidValue,
                        "escalation goes to a group on a higher tier",
                    )
                    .into());
                }
                _ => {
                    return Err(DomainError::invalid(
                        "escalation_group_id",
                        Code::MissingReference,
                        "another existing group",
                    )
                    .into());
                }
            }
        }
        let saved = if g.id.0 == 0 { self.store.insert_group(&g).await? } else { self.store.update_group(&g).await? };
        self.config_changed();
        Ok(saved)
    }
}
