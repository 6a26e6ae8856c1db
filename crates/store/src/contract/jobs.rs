//! Durable jobs.

use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::Value;

use super::{Result, TicketRef};

/// A job to enqueue (with a ticket change, or on its own).
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    /// At most one live job per key: enqueueing a taken key does nothing.
    pub unique_key: Option<String>,
    pub payload: Value,
    pub run_at: Timestamp,
    pub max_attempts: i64,
    /// Puts `"ticket_id"` into the payload once the ticket has its id.
    pub ticket: Option<TicketRef>,
}

/// Done jobs are deleted, so a stored job is waiting (or running) or has failed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(JobState::Pending),
            "failed" => Some(JobState::Failed),
            _ => None,
        }
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub unique_key: Option<String>,
    pub payload: Value,
    pub state: JobState,
    pub run_at: Timestamp,
    pub locked_until: Option<Timestamp>,
    pub locked_by: Option<String>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

impl Job {
    /// The lease the claim that returned this job holds.
    pub fn lease(&self) -> JobLease {
        JobLease { id: self.id, token: self.locked_by.clone().unwrap_or_default() }
    }
}

/// A worker's claim on a job, named by a token unique to that claim: only its holder may
/// finish the job, so a worker whose lease ran out (and whose job another claim took) changes
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    pub id: i64,
    pub token: String,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Enqueues a job; `None` when its unique key is taken by a live job.
    async fn enqueue(&self, job: &NewJob, now: Timestamp) -> Result<Option<i64>>;
    /// Leases up to `limit` due jobs (of these kinds, or any) until `until`, under `token`
    /// (unique per claim). On PostgreSQL several nodes claim at once without waiting on each
    /// other (`SKIP LOCKED`).
    async fn claim(
        &self,
        token: &str,
        now: Timestamp,
        until: Timestamp,
        kinds: &[&str],
        limit: i64,
    ) -> Result<Vec<Job>>;
    /// Finishes a job (deletes it); false when the lease was lost.
    async fn complete(&self, lease: &JobLease) -> Result<bool>;
    /// Puts a job back for another attempt at `run_at`, or fails it for good when it has had
    /// its attempts; false when the lease was lost.
    async fn retry(&self, lease: &JobLease, run_at: Timestamp, error: &str, now: Timestamp) -> Result<bool>;
    /// A recurring job's next run: back to pending, its attempts reset.
    async fn reschedule(&self, lease: &JobLease, run_at: Timestamp, now: Timestamp) -> Result<bool>;
    async fn list_jobs(&self, kind: Option<&str>) -> Result<Vec<Job>>;
    /// Makes the pending job with this unique key due at `at` if it is due later and no worker
    /// holds it; returns whether it moved.
    async fn hurry_job(&self, unique_key: &str, at: Timestamp) -> Result<bool>;
    /// Takes or renews the lease `name` for `holder` until `until`: true when it was free, ran
    /// out by `now`, or was the holder's already (work one node at a time does without a job,
    /// such as watching a mailbox).
    async fn take_lease(&self, name: &str, holder: &str, until: Timestamp, now: Timestamp) -> Result<bool>;
    /// Lets the lease go, if `holder` holds it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()>;
}
