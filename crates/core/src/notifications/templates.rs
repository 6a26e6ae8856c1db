//! Notification templates in the core: admins keep them (a name and a text per language), rules
//! name them, and a preview shows one filled in for a ticket as each language's reader gets it.

use gongdan_domain::access::Principal;
use gongdan_domain::ids::TicketId;
use gongdan_domain::notifications::{self, NotificationTemplate, Texts, Wording};
use gongdan_domain::people::{self, Language};
use gongdan_domain::rules::{RuleKind, UpdateFacts};
use gongdan_domain::tickets::{StatusCategory, Ticket};
use gongdan_domain::{Code, DomainError};
use serde_json::Value;

use crate::access;
use crate::{App, CoreError, Result};

/// A template to create, or the parts of one to change.
#[derive(Debug, Clone, Default)]
pub struct TemplateInput {
    pub name: Option<String>,
    pub zh_cn: Option<Wording>,
    pub en: Option<Wording>,
}

/// A template's texts filled in for one ticket (or, on a desk without tickets, a sample).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplatePreview {
    pub ticket_id: Option<TicketId>,
    pub texts: Texts,
}

/// Whether stored rule actions name the template (`{"field": "notify", "value": {"template_id": id}}`).
fn names_template(actions: &[gongdan_domain::rules::ActionSpec], id: i64) -> bool {
    actions.iter().any(|a| a.field == "notify" && a.value.get("template_id").and_then(Value::as_i64) == Some(id))
}

impl App {
    pub async fn list_notification_templates(&self, actor: &Principal) -> Result<Vec<NotificationTemplate>> {
        access::require_admin(actor)?;
        Ok(self.config().await?.templates.clone())
    }

    pub async fn notification_template(&self, actor: &Principal, id: i64) -> Result<NotificationTemplate> {
        self.list_notification_templates(actor)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(CoreError::NotFound("notification template"))
    }

    fn fill_template(t: &mut NotificationTemplate, input: TemplateInput) -> Result<()> {
        if let Some(n) = &input.name {
            t.name = people::validate_name(n, "name")?;
        }
        if let Some(w) = &input.zh_cn {
            t.texts.zh_cn = notifications::check_wording(w, "texts.zh-CN")?;
        }
        if let Some(w) = &input.en {
            t.texts.en = notifications::check_wording(w, "texts.en")?;
        }
        Ok(())
    }

    pub async fn create_notification_template(
        &self,
        actor: &Principal,
        input: TemplateInput,
    ) -> Result<NotificationTemplate> {
        access::require_admin(actor)?;
        for (given, field) in
            [(input.name.is_some(), "name"), (input.zh_cn.is_some(), "texts.zh-CN"), (input.en.is_some(), "texts.en")]
        {
            if !given {
                return Err(DomainError::required(field).into());
            }
        }
        let now = self.now();
        let mut t = NotificationTemplate {
            id: 0,
            name: String::new(),
            texts: Texts::default(),
            created_at: now,
            updated_at: now,
        };
        Self::fill_template(&mut t, input)?;
        let saved = self.store.save_notification_template(&t).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn update_notification_template(
        &self,
        actor: &Principal,
        id: i64,
        input: TemplateInput,
    ) -> Result<NotificationTemplate> {
        let mut t = self.notification_template(actor, id).await?;
        Self::fill_template(&mut t, input)?;
        t.updated_at = self.now();
        let saved = self.store.save_notification_template(&t).await?;
        // The rules that name it carry its text compiled in: they read the new one now.
        self.config_changed();
        Ok(saved)
    }

    /// Deletes a template; refused while a rule (on or off) names it.
    pub async fn delete_notification_template(&self, actor: &Principal, id: i64) -> Result<()> {
        self.notification_template(actor, id).await?;
        for kind in [RuleKind::Trigger, RuleKind::Automation] {
            let rules = self.store.list_rules(kind).await?;
            if let Some(r) = rules.iter().find(|r| names_template(&r.actions, id)) {
                return Err(CoreError::InUse(format!(
                    "the rule “{}” sends this template; change the rule first",
                    r.name
                )));
            }
        }
        self.store.delete_notification_template(id).await.map_err(|e| match e {
            gongdan_store::StoreError::NotFound => CoreError::NotFound("notification template"),
            e => e.into(),
        })?;
        self.config_changed();
        Ok(())
    }

    /// Texts (checked as a template's) filled in for a ticket the admin names, else for a
    /// sample ticket from the admin, as readers of each language get them.
    pub async fn preview_notification(
        &self,
        actor: &Principal,
        texts: &Texts,
        ticket: Option<TicketId>,
    ) -> Result<TemplatePreview> {
        access::require_admin(actor)?;
        let texts = notifications::check_texts(texts)?;
        let cfg = self.config().await?;
        let t = match ticket {
            Some(id) => self.get_ticket(actor, id).await?,
            None => {
                let new = cfg
                    .statuses
                    .iter()
                    .find(|s| s.category == StatusCategory::New)
                    .ok_or_else(|| DomainError::invalid("ticket_id", Code::InvalidValue, "no status to show"))?;
                Ticket {
                    id: TicketId(10001),
                    group_id: cfg.groups.first().map(|g| g.id),
                    ..Ticket::new("示例工单 · A sample ticket", "", actor.user_id, new.into(), self.now())
                }
            }
        };
        let update = UpdateFacts { created: false, via: "web", comment: None };
        let input = self.flow_input(&cfg, &t, Some(&t), update, Some(actor), false).await?;
        let filled = texts.map(|text, language: Language| cfg.rules.render_in(text, &t, &input, language));
        Ok(TemplatePreview { ticket_id: ticket, texts: filled })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gongdan_domain::rules::ActionSpec;
    use serde_json::json;

    #[test]
    fn a_rule_names_a_template_only_by_its_notify_action() {
        let a = |field: &str, value: Value| ActionSpec { field: field.into(), value };
        let actions = vec![a("status", json!("solved")), a("notify", json!({"to": "requester", "template_id": 3}))];
        assert!(names_template(&actions, 3));
        assert!(!names_template(&actions, 4));
        assert!(!names_template(&[a("webhook", json!({"template_id": 3}))], 3));
    }
}
