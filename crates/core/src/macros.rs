//! Macros: one-click bundles of field changes and a reply with placeholders, shared with every
//! agent or an agent's own; previewed before they apply, applied as the agent's own update
//! (the triggers then run as on any update).

use gongdan_domain::Code;
use gongdan_domain::DomainError;
use gongdan_domain::access::Principal;
use gongdan_domain::conversation::{self, text_to_html};
use gongdan_domain::event::{EventKind, NewEvent, Via};
use gongdan_domain::ids::TicketId;
use gongdan_domain::people;
use gongdan_domain::rules::{self, ActionSpec, RuleKind, UpdateFacts};
use gongdan_domain::template;
use gongdan_domain::tickets::{FieldChange, StatusCategory, StatusRef, Ticket};
pub use gongdan_store::MacroRow;
use gongdan_store::{NewComment, TicketWrite, WriteBatch};

use crate::access;
use crate::config::Config;
use crate::{App, CoreError, Result};

/// A macro to create, or the parts of one to change.
#[derive(Debug, Clone, Default)]
pub struct MacroInput {
    pub name: Option<String>,
    /// Shared with every agent (admins and supervisors only), else the caller's own.
    pub shared: Option<bool>,
    pub active: Option<bool>,
    pub position: Option<i64>,
    pub actions: Option<Vec<ActionSpec>>,
    pub reply_body: Option<String>,
    pub reply_public: Option<bool>,
}

/// What applying a macro would do: the field changes and the reply, placeholders filled in.
#[derive(Debug, Clone)]
pub struct MacroPreview {
    pub changes: Vec<FieldChange>,
    pub reply: Option<(String, bool)>,
    /// The ticket as it would be.
    pub ticket: Ticket,
    /// The ticket as it was read, which the preview was made from.
    pub read: Ticket,
}

fn compile(cfg: &Config, actions: &[ActionSpec]) -> Result<Vec<rules::Action>> {
    // The rules' catalog: its webhooks do not matter, a macro's webhook action is refused.
    Ok(crate::rules::with_catalog(cfg, |cat| rules::compile_actions(cat, RuleKind::Macro, actions))?)
}

impl App {
    /// The macros the caller looks after: the shared ones and their own, and for supervisors
    /// and admins (who may change any) everyone's.
    pub async fn list_macros(&self, actor: &Principal) -> Result<Vec<MacroRow>> {
        access::require_staff(actor, "macros are for agents")?;
        let cfg = self.config().await?;
        let all = actor.can_manage_people();
        Ok(cfg.macros.iter().filter(|m| all || m.owner_id.is_none_or(|o| o == actor.user_id)).cloned().collect())
    }

    /// The macros the caller applies from the workspace: the shared ones and their own.
    pub async fn usable_macros(&self, actor: &Principal) -> Result<Vec<MacroRow>> {
        let mut macros = self.list_macros(actor).await?;
        macros.retain(|m| m.active && m.owner_id.is_none_or(|o| o == actor.user_id));
        Ok(macros)
    }

    async fn visible_macro(&self, actor: &Principal, id: i64) -> Result<MacroRow> {
        self.list_macros(actor).await?.into_iter().find(|m| m.id == id).ok_or(CoreError::NotFound("macro"))
    }

    fn may_edit_macro(actor: &Principal, m: &MacroRow) -> bool {
        actor.can_manage_people() || m.owner_id == Some(actor.user_id)
    }

    fn fill_macro(&self, cfg: &Config, actor: &Principal, m: &mut MacroRow, input: MacroInput) -> Result<()> {
        if let Some(n) = &input.name {
            m.name = people::validate_name(n, "name")?;
        }
        if let Some(shared) = input.shared {
            if shared && !actor.can_manage_people() {
                return Err(CoreError::field_forbidden("shared"));
            }
            m.owner_id = if shared { None } else { Some(m.owner_id.unwrap_or(actor.user_id)) };
        }
        if let Some(a) = input.active {
            m.active = a;
        }
        if let Some(p) = input.position {
            m.position = crate::rules::check_position(p)?;
        }
        if let Some(a) = input.actions {
            compile(cfg, &a)?;
            m.actions = a;
        }
        if let Some(body) = input.reply_body {
            let body = body.trim().to_owned();
            if body.chars().count() > conversation::COMMENT_MAX {
                return Err(DomainError::invalid("reply_body", Code::TooLong, "the reply is too long").into());
            }
            template::check(&body, "reply_body")?;
            m.reply_body = body;
        }
        if let Some(p) = input.reply_public {
            m.reply_public = p;
        }
        if m.actions.is_empty() && m.reply_body.is_empty() {
            return Err(DomainError::invalid("actions", Code::Required, "a macro changes a field or replies").into());
        }
        Ok(())
    }

    pub async fn create_macro(&self, actor: &Principal, input: MacroInput) -> Result<MacroRow> {
        access::require_staff(actor, "macros are for agents")?;
        if input.name.is_none() {
            return Err(DomainError::required("name").into());
        }
        let cfg = self.config().await?;
        let now = self.now();
        let mut m = MacroRow {
            id: 0,
            name: String::new(),
            owner_id: Some(actor.user_id),
            active: true,
            position: cfg.macros.iter().map(|m| m.position).max().unwrap_or(0).min(crate::rules::POSITION_MAX) + 10,
            actions: vec![],
            reply_body: String::new(),
            reply_public: true,
            created_at: now,
            updated_at: now,
        };
        self.fill_macro(&cfg, actor, &mut m, input)?;
        let saved = self.store.save_macro(&m).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn update_macro(&self, actor: &Principal, id: i64, input: MacroInput) -> Result<MacroRow> {
        let mut m = self.visible_macro(actor, id).await?;
        if !Self::may_edit_macro(actor, &m) {
            return Err(CoreError::forbidden("only its owner or a supervisor changes this macro"));
        }
        let cfg = self.config().await?;
        self.fill_macro(&cfg, actor, &mut m, input)?;
        m.updated_at = self.now();
        let saved = self.store.save_macro(&m).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn delete_macro(&self, actor: &Principal, id: i64) -> Result<()> {
        let m = self.visible_macro(actor, id).await?;
        if !Self::may_edit_macro(actor, &m) {
            return Err(CoreError::forbidden("only its owner or a supervisor deletes this macro"));
        }
        self.store.delete_macro(id).await?;
        self.config_changed();
        Ok(())
    }

    /// What a macro would do to a ticket, without doing it.
    pub async fn preview_macro(&self, actor: &Principal, ticket: TicketId, id: i64) -> Result<MacroPreview> {
        let m =
            self.usable_macros(actor).await?.into_iter().find(|m| m.id == id).ok_or(CoreError::NotFound("macro"))?;
        let t = self.get_ticket(actor, ticket).await?;
        if t.status.category == StatusCategory::Closed || t.merged_into_id.is_some() {
            return Err(DomainError::TicketClosed.into());
        }
        let cfg = self.config().await?;
        let actions = compile(&cfg, &m.actions)?;
        let update = UpdateFacts { created: false, via: Via::Web.as_str(), comment: None };
        let input = self.flow_input(&cfg, &t, Some(&t), update, Some(actor), rules::solves(&actions)).await?;
        let out = cfg.rules.apply_macro(&actions, t.clone(), &input);
        let errors: Vec<&NewEvent> = out.events.iter().filter(|e| e.kind == EventKind::RuleError).collect();
        if let Some(e) = errors.first() {
            return Err(
                DomainError::invalid("macro", Code::MacroNotApplicable, e.new.clone().unwrap_or_default()).into()
            );
        }
        let changes = out
            .events
            .iter()
            .filter(|e| e.kind == EventKind::FieldChanged)
            .filter_map(|e| Some(FieldChange { field: e.field.clone()?, old: e.old.clone(), new: e.new.clone() }))
            .collect();
        let reply = (!m.reply_body.is_empty())
            .then(|| (cfg.rules.render_text(&m.reply_body, &out.ticket, &input), m.reply_public));
        Ok(MacroPreview { changes, reply, ticket: out.ticket, read: t })
    }

    /// Applies a macro as the agent's own update: its changes, its reply, then the triggers.
    pub async fn apply_macro(
        &self,
        actor: &Principal,
        ticket: TicketId,
        id: i64,
        expected_version: Option<i64>,
        via: Via,
    ) -> Result<Ticket> {
        self.on_current(ticket, expected_version, || async move {
            let preview = self.preview_macro(actor, ticket, id).await?;
            // Everything below is built from the ticket the preview read, and written only if it
            // is still that version: a change made meanwhile is never overwritten.
            let t = preview.read.clone();
            if expected_version.is_some_and(|v| v != t.version) {
                return Err(CoreError::VersionConflict);
            }
            if preview.changes.is_empty() && preview.reply.is_none() {
                return Ok(t);
            }
            let cfg = self.config().await?;
            let now = self.now();
            let mut next = preview.ticket.clone();
            let mut events: Vec<NewEvent> = preview.changes.into_iter().map(NewEvent::from).collect();
            let mut said = None;
            let comment = match &preview.reply {
                Some((body, public)) => {
                    let open =
                        StatusRef::from(gongdan_domain::tickets::default_status(&cfg.statuses, StatusCategory::Open)?);
                    let (reply, by_customer) = crate::tickets::reply_events(actor, &mut next, *public, &open, now);
                    events.extend(reply);
                    said = Some((*public, by_customer, body.clone()));
                    Some(NewComment {
                        author_id: actor.user_id,
                        public: *public,
                        body: body.clone(),
                        html_body: text_to_html(body),
                        attachment_ids: vec![],
                    })
                }
                None => None,
            };
            next.version = t.version + 1;
            next.updated_at = now;
            if next.category_id != t.category_id || next.custom_fields != t.custom_fields {
                Self::check_custom_fields(&cfg, next.category_id, &next.custom_fields)?;
            }
            let mut batch = WriteBatch {
                actor: Some(actor.user_id),
                via,
                at: now,
                writes: vec![TicketWrite { ticket: next, expected_version: Some(t.version), comment, events }],
                ..Default::default()
            };
            self.run_triggers(&cfg, &mut batch, Some(&t), said, Some(actor)).await?;
            let mut r = self.write(batch).await?;
            r.tickets.pop().ok_or(CoreError::Internal("empty write".into()))
        })
        .await
    }
}
