//! The automation pass: every minute, over the tickets the active automations can match, each
//! automation fires at most once per ticket and window. A firing is one write: the
//! automation's actions, the triggers they set off, and the ledger row that keeps a second
//! run of the pass (after a crash, or on another node) from firing it again.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use std::sync::Arc;

use gongdan_domain::access::Principal;
use gongdan_domain::event::Via;
use gongdan_domain::ids::{TicketId, UserId};
use gongdan_domain::rules::{self, Automation, NeedRoster, Prefilter, RuleSpec, UpdateFacts};
use gongdan_domain::tickets::Ticket;
use gongdan_store::{Firing, FlowRun, StoreError, TicketWrite, WriteBatch};

use crate::access;
use crate::config::Config;
use crate::jobs::kind::{JobKind, Ran};
use crate::rules::RuleInput;
use crate::{App, CoreError, Result};

/// Tickets read per page of a pass.
const PAGE: i64 = 2000;
/// Firings written at once in a pass.
const FIRING_AT_ONCE: usize = 16;
/// Tickets a dry run lists at most.
const DRY_RUN_LIST: usize = 200;

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Candidates read (a ticket due for two automations counts twice).
    pub scanned: usize,
    pub fired: usize,
    /// Due but not fired: the ticket changed meanwhile, or another run fired it first.
    pub skipped: usize,
}

/// Tickets an automation would change now.
#[derive(Debug, Clone, Default)]
pub struct DryRun {
    /// Candidates read: tickets in its status categories and time bounds.
    pub scanned: usize,
    pub matched: usize,
    /// The first of them (id, subject).
    pub tickets: Vec<(TicketId, String)>,
}

/// One page of a pass: the tickets and, when asked for, their requesters' facts.
struct ScanPage {
    tickets: Vec<Ticket>,
    requesters: BTreeMap<UserId, rules::Requester>,
}

/// How often the automations run.
pub const AUTOMATION_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// The recurring pass over the active automations, one per desk.
pub(crate) const JOB: JobKind = JobKind {
    name: "automations",
    run: |app, _| {
        Box::pin(async move {
            let started = app.now();
            let next = started.checked_add(AUTOMATION_EVERY).unwrap_or(started);
            match app.run_automations().await {
                Ok(_) => Ran::Next(next),
                Err(e) => {
                    tracing::error!(error = %e, "automation pass failed; retrying in a minute");
                    Ran::Failed { error: e.to_string(), at: Some(next) }
                }
            }
        })
    },
    every: Some(AUTOMATION_EVERY),
};

impl App {
    /// The next page of an automation's candidates after `after`, or `None` past the last.
    async fn scan_page(&self, filter: &Prefilter, after: TicketId, with_requesters: bool) -> Result<Option<ScanPage>> {
        let tickets = self.store.scan_tickets(filter, after, PAGE).await?;
        if tickets.is_empty() {
            return Ok(None);
        }
        let requesters = if with_requesters {
            let mut ids: Vec<UserId> = tickets.iter().map(|t| t.requester_id).collect();
            ids.sort();
            ids.dedup();
            self.store.requesters(&ids).await?.into_iter().map(|r| (r.id, r)).collect()
        } else {
            BTreeMap::new()
        };
        Ok(Some(ScanPage { tickets, requesters }))
    }

    /// The page's tickets the automation would fire on now, with their windows: its
    /// conditions hold and the ledger has no firing in that window (one query per page; an
    /// automation not saved yet has none).
    async fn due<'p>(
        &self,
        cfg: &Config,
        a: &Automation,
        page: &'p ScanPage,
        now: jiff::Timestamp,
    ) -> Result<Vec<(&'p Ticket, String)>> {
        let none = rules::Requester::default();
        let matched: Vec<(&Ticket, String)> = page
            .tickets
            .iter()
            .filter_map(|t| {
                let requester = page.requesters.get(&t.requester_id).unwrap_or(&none);
                a.window(t, requester, &cfg.categories, now).map(|w| (t, w))
            })
            .collect();
        if a.id == 0 || matched.is_empty() {
            return Ok(matched);
        }
        let keys: Vec<(TicketId, String)> = matched.iter().map(|(t, w)| (t.id, w.clone())).collect();
        let fired = self.store.fired(a.id, &keys).await?;
        Ok(matched.into_iter().zip(fired).filter(|(_, f)| !f).map(|(m, _)| m).collect())
    }

    /// One pass of the active automations at the clock's time. Each reads only its own
    /// candidates (its status categories and time bounds, through the indexes), one after the
    /// other, so a later one sees what an earlier one did.
    pub async fn run_automations(&self) -> Result<PassReport> {
        let cfg = self.config().await?;
        let now = self.now();
        let mut report = PassReport::default();
        for a in cfg.automations.clone() {
            let filter = a.prefilter(now);
            let mut after = TicketId(0);
            while let Some(page) = self.scan_page(&filter, after, a.reads_requester()).await? {
                report.scanned += page.tickets.len();
                let due = self.due(&cfg, &a, &page, now).await?;
                // Firings are independent writes: several at once share the store's commits.
                let (cfg, a) = (&cfg, &a);
                let fires: Vec<_> = due
                    .into_iter()
                    .map(|(t, window)| async move { self.fire_automation(cfg, a, t, window).await })
                    .collect();
                let mut firing = futures_util::stream::iter(fires).buffer_unordered(FIRING_AT_ONCE);
                while let Some(r) = firing.next().await {
                    match r {
                        Ok(()) => report.fired += 1,
                        // The ticket changed since it was read, or another run fired first:
                        // the next pass judges it afresh.
                        Err(CoreError::VersionConflict | CoreError::Duplicate { .. }) => report.skipped += 1,
                        // One ticket that cannot take the automation must not stop the others.
                        Err(e) => {
                            tracing::error!(automation = a.id, error = %e, "automation could not fire on a ticket");
                            report.skipped += 1;
                        }
                    }
                }
                after = page.tickets.last().map(|t| t.id).unwrap_or(after);
                if (page.tickets.len() as i64) < PAGE {
                    break;
                }
            }
        }
        if report.fired > 0 {
            tracing::info!(fired = report.fired, scanned = report.scanned, "automations fired");
        }
        Ok(report)
    }

    /// Fires one automation on one ticket, as one write with its ledger row.
    async fn fire_automation(&self, cfg: &Config, a: &Arc<Automation>, t: &Ticket, window: String) -> Result<()> {
        let update = UpdateFacts { created: false, via: Via::Rule.as_str(), comment: None };
        let input = self.flow_input(cfg, t, Some(t), update, None, rules::solves(&a.actions)).await?;
        let mut batch = WriteBatch {
            actor: None,
            via: Via::Rule,
            at: input.now,
            writes: vec![TicketWrite {
                ticket: t.clone(),
                expected_version: Some(t.version),
                comment: None,
                events: vec![],
            }],
            firings: vec![Firing { automation_id: a.id, window }],
            ..Default::default()
        };
        match cfg.rules.run_automation(a, t.clone(), &input, &mut BTreeMap::new()) {
            Ok(out) => batch.absorb(out),
            Err(NeedRoster(_)) => {
                batch.flow = Some(Box::new(FlowRun { rules: cfg.rules.clone(), input, automation: Some(a.clone()) }))
            }
        }
        match self.write(batch).await {
            Ok(_) => Ok(()),
            Err(StoreError::Duplicate { what }) if what == "firing" => {
                Err(CoreError::Duplicate { field: "firing".into() })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Which tickets an automation (saved or not) would change now, without changing them.
    pub async fn dry_run(&self, actor: &Principal, input: RuleInput, id: Option<i64>) -> Result<DryRun> {
        access::require_admin(actor)?;
        let cfg = self.config().await?;
        let stored = match id {
            Some(id) => Some(self.get_rule(actor, rules::RuleKind::Automation, id).await?.rule),
            None => None,
        };
        let spec = RuleSpec {
            conditions: input.conditions.or_else(|| stored.as_ref().map(|r| r.conditions.clone())).unwrap_or_default(),
            actions: input.actions.or_else(|| stored.as_ref().map(|r| r.actions.clone())).unwrap_or_default(),
        };
        let once = input.once.or(stored.as_ref().map(|r| r.once)).unwrap_or(false);
        let a = crate::rules::compile_automation(&cfg, id.unwrap_or(0), "dry run", &spec, once)?;
        let now = self.now();
        let filter = a.prefilter(now);
        let mut out = DryRun::default();
        let mut after = TicketId(0);
        while let Some(page) = self.scan_page(&filter, after, a.reads_requester()).await? {
            out.scanned += page.tickets.len();
            for (t, _) in self.due(&cfg, &a, &page, now).await? {
                out.matched += 1;
                if out.tickets.len() < DRY_RUN_LIST {
                    out.tickets.push((t.id, t.subject.clone()));
                }
            }
            after = page.tickets.last().map(|t| t.id).unwrap_or(after);
            if (page.tickets.len() as i64) < PAGE {
                break;
            }
        }
        Ok(out)
    }
}
