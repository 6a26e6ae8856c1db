//! The job runner: durable jobs in the database, leased to one worker at a time, run when due.
//!
//! Every node runs a worker that claims due jobs (on PostgreSQL with `SKIP LOCKED`, so nodes
//! share the work) and runs them. A claim is a lease with a token of its own: a worker that
//! dies mid-job loses nothing (the lease runs out and another claim runs the job again) and
//! doubles nothing (a job's effects are idempotent or written with its completion, and a
//! stale worker's token no longer finishes the job). Time comes from the app's clock, so tests
//! move it and drain the queue instead of waiting.

use std::sync::atomic::{AtomicU64, Ordering};

pub use gongdan_store::Job;
use gongdan_store::NewJob;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::access;
use crate::{App, Result};

pub(crate) mod kind;
use kind::{JobKind, Ran};

/// How long a claim holds a job before another worker may take it.
const LEASE: SignedDuration = SignedDuration::from_secs(120);
/// Jobs one round of the worker runs at most before it looks again.
const CLAIM: usize = 16;

/// Every kind of job. A capability with background work declares its kind beside its use
/// cases and adds it here.
const KINDS: [&JobKind; 5] = [
    &crate::automation::JOB,
    &crate::notifications::delivery::JOB,
    &crate::mail::send::JOB,
    &crate::mail::fetch::JOB,
    &crate::mail::notify::JOB,
];

/// Tells apart the claims of this process.
static CLAIMS: AtomicU64 = AtomicU64::new(0);

/// The delay before the `attempt`-th retry: 30 s doubling, at most an hour.
pub fn backoff(attempt: i64) -> SignedDuration {
    let exp = attempt.clamp(1, 8) - 1;
    SignedDuration::from_secs((30i64 << exp).min(3600))
}

impl App {
    /// A token naming one claim of this node.
    fn claim_token(&self) -> String {
        format!("{}:{}", self.node, CLAIMS.fetch_add(1, Ordering::Relaxed))
    }

    /// Makes sure the recurring jobs exist: whichever node starts first enqueues them.
    pub async fn ensure_schedules(&self) -> Result<()> {
        for kind in KINDS.iter().filter(|k| k.every.is_some()) {
            let job = NewJob {
                kind: kind.name.into(),
                unique_key: Some(kind.name.into()),
                payload: json!({}),
                run_at: self.now(),
                max_attempts: 1_000_000,
                ticket: None,
            };
            self.store.enqueue(&job, self.now()).await?;
        }
        Ok(())
    }

    /// Claims the jobs due now and runs them; returns how many ran. The worker calls this
    /// every second; tests call it after moving the clock.
    pub async fn run_due_jobs(&self) -> Result<usize> {
        // One job per claim, each leased when it starts: a lease taken for a batch of jobs
        // could run out while the first ones run, and another node would run the rest again.
        let mut n = 0;
        while n < CLAIM {
            let now = self.now();
            let until = now.checked_add(LEASE).unwrap_or(now);
            let Some(job) = self.store.claim(&self.claim_token(), now, until, &[], 1).await?.pop() else { break };
            self.run_job(job).await?;
            n += 1;
        }
        Ok(n)
    }

    async fn run_job(&self, job: Job) -> Result<()> {
        let lease = job.lease();
        let Some(kind) = KINDS.iter().find(|k| k.name == job.kind) else {
            tracing::error!(job = job.id, kind = job.kind, "unknown job kind");
            let now = self.now();
            self.store
                .retry(&lease, now.checked_add(backoff(job.attempts)).unwrap_or(now), "unknown job kind", now)
                .await?;
            return Ok(());
        };
        match (kind.run)(self, &job).await {
            Ran::Done => {
                self.store.complete(&lease).await?;
            }
            Ran::Next(at) => {
                if !self.store.reschedule(&lease, at, self.now()).await? {
                    tracing::warn!(job = job.id, kind = kind.name, "job outlived its lease");
                }
            }
            Ran::Failed { error, at } => {
                let now = self.now();
                let at = at.unwrap_or_else(|| now.checked_add(backoff(job.attempts)).unwrap_or(now));
                self.store.retry(&lease, at, &error, now).await?;
            }
        }
        Ok(())
    }

    /// Runs jobs until `stop` turns true: the worker of `gongdan serve`. A job that has
    /// started runs to its end (stopping is checked between jobs), so a shutdown drains it.
    pub fn spawn_worker(&self, mut stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let app = self.clone();
        tokio::spawn(async move {
            if let Err(e) = app.ensure_schedules().await {
                tracing::error!(error = %e, "could not schedule the recurring jobs");
            }
            let mut checkpointed = std::time::Instant::now();
            while !*stop.borrow() {
                if checkpointed.elapsed() >= CHECKPOINT_EVERY {
                    // Keeps SQLite's write-ahead log from growing under steady load.
                    checkpointed = std::time::Instant::now();
                    match app.store.checkpoint().await {
                        Ok(true) => {}
                        Ok(false) => tracing::debug!("checkpoint postponed: a reader holds an older snapshot"),
                        Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
                    }
                }
                match app.run_due_jobs().await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "job worker"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
            }
        })
    }

    /// The job queue, for admins.
    pub async fn list_jobs(&self, actor: &gongdan_domain::access::Principal, kind: Option<&str>) -> Result<Vec<Job>> {
        access::require_admin(actor)?;
        Ok(self.store.list_jobs(kind).await?)
    }

    /// When the next run of the automations is due (for status pages and tests).
    pub async fn next_automation_run(&self) -> Result<Option<Timestamp>> {
        Ok(self.store.list_jobs(Some(crate::automation::JOB.name)).await?.first().map(|j| j.run_at))
    }
}

/// How often the worker empties SQLite's write-ahead log.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), SignedDuration::from_secs(30));
        assert_eq!(backoff(2), SignedDuration::from_secs(60));
        assert_eq!(backoff(20), SignedDuration::from_secs(3600));
    }
}
