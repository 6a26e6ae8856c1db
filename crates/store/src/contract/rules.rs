//! Triggers and automations as stored, and what a write carries for the rules it runs.

use std::sync::Arc;

use async_trait::async_trait;
use gongdan_domain::ids::{GroupId, TicketId, UserId};
use gongdan_domain::rules::{
    ActionSpec, Automation, ConditionsSpec, FlowInput, Outcome, Prefilter, Requester, RuleKind, RuleSet,
};
use gongdan_domain::tickets::Ticket;
use jiff::Timestamp;

use super::Result;

/// A trigger or automation as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRow {
    pub id: i64,
    pub kind: RuleKind,
    pub name: String,
    /// Groups triggers in the console ("routing", "notifications" …).
    pub category: String,
    pub description: String,
    pub active: bool,
    pub position: i64,
    /// Automations: fire once per ticket and window even without an undoing action.
    pub once: bool,
    pub conditions: ConditionsSpec,
    pub actions: Vec<ActionSpec>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An automation fired on a ticket in a window (the ledger row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub automation_id: i64,
    pub window: String,
}

/// Rules a write must run inside its transaction, because their outcome depends on what only
/// the transaction reads consistently (a group's roster for assignment). Applies to the
/// batch's first write.
#[derive(Debug, Clone)]
pub struct FlowRun {
    pub rules: Arc<RuleSet>,
    pub input: FlowInput,
    /// An automation whose actions come first.
    pub automation: Option<Arc<Automation>>,
}

impl FlowRun {
    pub fn execute(
        &self,
        ticket: Ticket,
        rosters: &mut std::collections::BTreeMap<GroupId, gongdan_domain::routing::Roster>,
    ) -> std::result::Result<Outcome, gongdan_domain::rules::NeedRoster> {
        match &self.automation {
            Some(a) => self.rules.run_automation(a, ticket, &self.input, rosters),
            None => self.rules.run(ticket, &self.input, rosters),
        }
    }
}

#[async_trait]
pub trait RuleStore: Send + Sync {
    async fn list_rules(&self, kind: RuleKind) -> Result<Vec<RuleRow>>;
    async fn get_rule(&self, id: i64) -> Result<Option<RuleRow>>;
    /// Inserts (id 0) or updates a rule.
    async fn save_rule(&self, rule: &RuleRow) -> Result<RuleRow>;
    async fn delete_rule(&self, id: i64) -> Result<()>;
    /// Which of these (ticket, window) pairs an automation already fired in: one query for a
    /// page of candidates.
    async fn fired(&self, automation_id: i64, candidates: &[(TicketId, String)]) -> Result<Vec<bool>>;
    /// An automation's candidates, in id order after `after`: tickets in the filter's
    /// categories whose anchors lie within its bounds (an automation pass).
    async fn scan_tickets(&self, filter: &Prefilter, after: TicketId, limit: i64) -> Result<Vec<Ticket>>;
    /// What rules may ask about these requesters (unknown ids are left out).
    async fn requesters(&self, ids: &[UserId]) -> Result<Vec<Requester>>;
}
