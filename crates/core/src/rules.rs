//! Triggers and automations: stored as the API sends them, kept compiled in the configuration
//! snapshot, saved only when they compile and cannot loop, and run on every ticket write
//! (triggers, here) or every minute (automations, `automation.rs`).

use gongdan_domain::Code;
use std::collections::BTreeMap;
use std::sync::Arc;

use gongdan_domain::DomainError;
use gongdan_domain::access::Principal;
use gongdan_domain::ids::{GroupId, UserId};
use gongdan_domain::people;
use gongdan_domain::routing::Assignment;
use gongdan_domain::rules::{
    self, ActionSpec, Catalog, ConditionsSpec, FlowInput, NeedRoster, RuleKind, RuleSet, RuleSpec, UpdateFacts,
};
use gongdan_domain::tickets::Ticket;
pub use gongdan_store::RuleRow;
use gongdan_store::{FlowRun, WriteBatch};

use crate::access;
use crate::config::Config;
use crate::{App, CoreError, Result};

/// A trigger or automation to create, or the parts of one to change.
#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    pub name: Option<String>,
    pub category: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
    pub position: Option<i64>,
    pub once: Option<bool>,
    pub conditions: Option<ConditionsSpec>,
    pub actions: Option<Vec<ActionSpec>>,
}

/// A stored rule and, if it no longer compiles against the configuration, why.
#[derive(Debug, Clone)]
pub struct RuleView {
    pub rule: RuleRow,
    pub error: Option<String>,
}

/// The configuration the rules are compiled against.
pub(crate) fn with_catalog<T>(c: &Config, f: impl FnOnce(&Catalog) -> T) -> T {
    let agents: Vec<(UserId, Vec<GroupId>)> =
        c.agents.iter().filter(|a| a.active).map(|a| (a.id, a.group_ids.clone())).collect();
    // Every webhook, switched off or not: a rule calling one that is off keeps its other
    // actions (the delivery drops calls to webhooks that are off).
    let webhooks: Vec<i64> = c.webhooks.iter().map(|w| w.id).collect();
    let cat = Catalog {
        statuses: &c.statuses,
        categories: &c.categories,
        fields: &c.fields,
        groups: &c.groups,
        agents: &agents,
        webhooks: &webhooks,
        templates: &c.templates,
    };
    f(&cat)
}

fn spec(r: &RuleRow) -> RuleSpec {
    RuleSpec { conditions: r.conditions.clone(), actions: r.actions.clone() }
}

/// Compiles the stored rules into the snapshot; one that no longer compiles is skipped (and
/// shown with its error in the console) instead of stopping the others.
pub(crate) fn compile_all(c: &mut Config, triggers: &[RuleRow], automations: &[RuleRow]) {
    let mut errors = BTreeMap::new();
    let (compiled, autos) = with_catalog(c, |cat| {
        let mut compiled = Vec::new();
        for r in triggers.iter().filter(|r| r.active) {
            match rules::compile_trigger(cat, r.id, &r.name, &spec(r)) {
                Ok(t) => compiled.push(t),
                Err(e) => {
                    tracing::warn!(trigger = r.id, error = %e, "trigger skipped: it no longer compiles");
                    errors.insert(r.id, e.to_string());
                }
            }
        }
        let mut autos = Vec::new();
        for r in automations.iter().filter(|r| r.active) {
            match rules::compile_automation(cat, r.id, &r.name, &spec(r), r.once) {
                Ok(a) => autos.push(Arc::new(a)),
                Err(e) => {
                    tracing::warn!(automation = r.id, error = %e, "automation skipped: it no longer compiles");
                    errors.insert(r.id, e.to_string());
                }
            }
        }
        (compiled, autos)
    });
    c.rules = Arc::new(RuleSet {
        triggers: compiled,
        groups: c.groups.clone(),
        categories: c.categories.clone(),
        statuses: c.statuses.clone(),
        agent_names: c.agents.iter().map(|a| (a.id, a.name.clone())).collect(),
        agent_groups: c.agents.iter().filter(|a| a.active).map(|a| (a.id, a.group_ids.clone())).collect(),
    });
    c.automations = autos;
    c.rule_errors = errors;
}

/// Positions order lists; they stay in a range that ordering never overflows.
pub(crate) const POSITION_MAX: i64 = 1_000_000_000;

pub(crate) fn check_position(p: i64) -> Result<i64> {
    if (-POSITION_MAX..=POSITION_MAX).contains(&p) {
        Ok(p)
    } else {
        Err(DomainError::invalid("position", Code::InvalidValue, format!("a position is within ±{POSITION_MAX}"))
            .into())
    }
}

fn clean_text(v: Option<&str>, field: &str, max: usize) -> Result<String> {
    let t = v.unwrap_or_default().trim();
    if t.chars().count() > max {
        return Err(DomainError::invalid(field, Code::TooLong, format!("at most {max} characters")).into());
    }
    Ok(t.to_owned())
}

impl App {
    pub async fn list_rules(&self, actor: &Principal, kind: RuleKind) -> Result<Vec<RuleView>> {
        access::require_admin(actor)?;
        let cfg = self.config().await?;
        let rows = self.store.list_rules(kind).await?;
        Ok(rows.into_iter().map(|rule| RuleView { error: cfg.rule_errors.get(&rule.id).cloned(), rule }).collect())
    }

    pub async fn get_rule(&self, actor: &Principal, kind: RuleKind, id: i64) -> Result<RuleView> {
        access::require_admin(actor)?;
        let rule =
            self.store.get_rule(id).await?.filter(|r| r.kind == kind).ok_or(CoreError::NotFound(kind_name(kind)))?;
        let cfg = self.config().await?;
        Ok(RuleView { error: cfg.rule_errors.get(&rule.id).cloned(), rule })
    }

    /// Refuses a rule that does not compile, or that would loop (an automation that undoes
    /// none of its conditions, two triggers flipping a field).
    fn check_rule(cfg: &Config, r: &RuleRow) -> Result<()> {
        with_catalog(cfg, |cat| -> Result<()> {
            match r.kind {
                RuleKind::Trigger => {
                    let t = rules::compile_trigger(cat, r.id, &r.name, &spec(r))?;
                    if r.active {
                        rules::check_trigger_loops(&t, &cfg.rules.triggers)?;
                    }
                }
                RuleKind::Automation => {
                    let a = rules::compile_automation(cat, r.id, &r.name, &spec(r), r.once)?;
                    rules::check_automation(&a)?;
                }
                RuleKind::Macro => return Err(CoreError::Internal("macros are not rules".into())),
            }
            Ok(())
        })
    }

    fn fill_rule(r: &mut RuleRow, input: RuleInput) -> Result<()> {
        if let Some(n) = &input.name {
            r.name = people::validate_name(n, "name")?;
        }
        if input.category.is_some() {
            r.category = clean_text(input.category.as_deref(), "category", 100)?;
        }
        if input.description.is_some() {
            r.description = clean_text(input.description.as_deref(), "description", 2000)?;
        }
        if let Some(a) = input.active {
            r.active = a;
        }
        if let Some(p) = input.position {
            r.position = check_position(p)?;
        }
        if let Some(o) = input.once {
            r.once = o;
        }
        if let Some(c) = input.conditions {
            r.conditions = c;
        }
        if let Some(a) = input.actions {
            r.actions = a;
        }
        Ok(())
    }

    pub async fn create_rule(&self, actor: &Principal, kind: RuleKind, input: RuleInput) -> Result<RuleRow> {
        access::require_admin(actor)?;
        if input.name.is_none() {
            return Err(DomainError::required("name").into());
        }
        if input.actions.is_none() {
            return Err(DomainError::required("actions").into());
        }
        let cfg = self.config().await?;
        let now = self.now();
        // New rules go last, as in every desk that orders them.
        let last = self.store.list_rules(kind).await?.iter().map(|r| r.position).max().unwrap_or(0).min(POSITION_MAX);
        let mut r = RuleRow {
            id: 0,
            kind,
            name: String::new(),
            category: String::new(),
            description: String::new(),
            active: true,
            position: last + 10,
            once: false,
            conditions: ConditionsSpec::default(),
            actions: vec![],
            created_at: now,
            updated_at: now,
        };
        Self::fill_rule(&mut r, input)?;
        Self::check_rule(&cfg, &r)?;
        let saved = self.store.save_rule(&r).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn update_rule(&self, actor: &Principal, kind: RuleKind, id: i64, input: RuleInput) -> Result<RuleRow> {
        let mut r = self.get_rule(actor, kind, id).await?.rule;
        let cfg = self.config().await?;
        Self::fill_rule(&mut r, input)?;
        r.updated_at = self.now();
        Self::check_rule(&cfg, &r)?;
        let saved = self.store.save_rule(&r).await?;
        self.config_changed();
        Ok(saved)
    }

    pub async fn delete_rule(&self, actor: &Principal, kind: RuleKind, id: i64) -> Result<()> {
        self.get_rule(actor, kind, id).await?;
        self.store.delete_rule(id).await?;
        self.config_changed();
        Ok(())
    }

    /// What the rules may read besides the ticket: the requester's facts (cached a few
    /// seconds) and, when the rules about to run can solve or close (`solving`, or a trigger
    /// can), the children still open.
    pub(crate) async fn flow_input(
        &self,
        cfg: &Config,
        ticket: &Ticket,
        before: Option<&Ticket>,
        update: UpdateFacts,
        actor: Option<&Principal>,
        solving: bool,
    ) -> Result<FlowInput> {
        let requester = self.requester_facts(ticket.requester_id).await?;
        let open_children = if (solving || cfg.rules.may_solve()) && ticket.id.0 != 0 {
            self.store.open_children(ticket.id).await?
        } else {
            0
        };
        // `{{current_user.name}}`: an agent by the staff list, else the customer who wrote (the
        // requester or a colleague of their organisation).
        let actor = match actor {
            None => None,
            Some(p) => {
                let name = match cfg.agents.iter().find(|a| a.id == p.user_id) {
                    Some(a) => a.name.clone(),
                    None if p.user_id == ticket.requester_id => requester.name.clone(),
                    None => self.requester_facts(p.user_id).await?.name,
                };
                Some((p.user_id, name))
            }
        };
        Ok(FlowInput { before: before.cloned(), update, requester, actor, open_children, now: self.now() })
    }

    /// Runs the triggers over a batch's first ticket (the update already applied), before it
    /// is written, so what they do commits with it. When the rules need to assign from a
    /// group, they run again inside the store's transaction, where the group's roster is read
    /// under lock.
    pub(crate) async fn run_triggers(
        &self,
        cfg: &Config,
        batch: &mut WriteBatch,
        before: Option<&Ticket>,
        comment: Option<(bool, bool, String)>,
        actor: Option<&Principal>,
    ) -> Result<()> {
        let Some(ticket) = batch.writes.first().map(|w| w.ticket.clone()) else { return Ok(()) };
        let auto_group = ticket.group_id.and_then(|g| cfg.group(g)).is_some_and(|g| g.assignment != Assignment::Manual);
        if cfg.rules.triggers.is_empty() && !auto_group {
            return Ok(());
        }
        let update = UpdateFacts { created: before.is_none(), via: batch.via.as_str(), comment };
        let mut input = self.flow_input(cfg, &ticket, before, update, actor, false).await?;
        // What the rules change carries the batch's time, as its events do.
        input.now = batch.at;
        match cfg.rules.run(ticket, &input, &mut BTreeMap::new()) {
            Ok(out) => {
                if out.capped {
                    tracing::error!(fired = out.fired.len(), "trigger chain cut off at the firing cap");
                }
                batch.absorb(out);
            }
            Err(NeedRoster(_)) => {
                batch.flow = Some(Box::new(FlowRun { rules: cfg.rules.clone(), input, automation: None }));
            }
        }
        Ok(())
    }
}

/// An automation compiled against the configuration (not checked for loops: a dry run may
/// preview one that would be refused).
pub(crate) fn compile_automation(
    cfg: &Config,
    id: i64,
    name: &str,
    spec: &RuleSpec,
    once: bool,
) -> Result<rules::Automation> {
    Ok(with_catalog(cfg, |cat| rules::compile_automation(cat, id, name, spec, once))?)
}

fn kind_name(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Trigger => "trigger",
        RuleKind::Automation => "automation",
        RuleKind::Macro => "macro",
    }
}
