//! The job runner: durable jobs in the database, leased to one worker at a time, run when due.
//!
//! Every node runs a worker that claims due jobs (on PostgreSQL with `SKIP LOCKED`, so nodes
//! share the work) and runs them. A claim is a lease with a token of its own: a worker that
//! dies mid-job loses nothing (the lease runs out and another claim runs the job again) and
//! doubles nothing (a job's effects are idempotent or written with its completion, and a
//! stale worker's token no longer finishes the job). Time comes from the app's clock, so tests
//! move it and drain the queue instead of waiting.

use std::sync::atomic::{AtomicU64, Ordering};

use gongdan_domain::ids::TicketId;
use gongdan_domain::ticket::Ticket;
pub use gongdan_store::Job;
use gongdan_store::NewJob;
use hmac::{KeyInit, Mac};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::{App, CoreError, Result};

/// The recurring job that runs the automations, one per desk.
pub const AUTOMATIONS: &str = "automations";
pub const WEBHOOK: &str = gongdan_store::WEBHOOK_JOB;
/// How often the automations run.
pub const AUTOMATION_EVERY: SignedDuration = SignedDuration::from_secs(60);
/// How long a claim holds a job before another worker may take it.
const LEASE: SignedDuration = SignedDuration::from_secs(120);
/// Jobs one round of the worker runs at most before it looks again.
const CLAIM: usize = 16;
/// A webhook endpoint gets this long to answer.
const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Tells apart the claims of this process.
static CLAIMS: AtomicU64 = AtomicU64::new(0);

/// `sha256=<hex>` of the HMAC-SHA256 of `<timestamp>.<body>` under the webhook's secret:
/// what a receiver recomputes to trust a delivery (and the timestamp to refuse replays).
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this cannot happen.
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!("sha256={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The delay before the `attempt`-th retry: 30 s doubling, at most an hour.
pub fn backoff(attempt: i64) -> SignedDuration {
    let exp = attempt.clamp(1, 8) - 1;
    SignedDuration::from_secs((30i64 << exp).min(3600))
}

/// The ticket as a webhook receiver sees it.
fn ticket_json(t: &Ticket) -> Value {
    json!({
        "id": t.id, "number": t.id, "subject": t.subject, "status": t.status.key,
        "status_category": t.status.category, "priority": t.priority, "type": t.kind, "channel": t.channel,
        "requester_id": t.requester_id, "organization_id": t.organization_id, "assignee_id": t.assignee_id,
        "group_id": t.group_id, "category_id": t.category_id, "tags": t.tags, "custom_fields": t.custom_fields,
        "due_at": t.due_at, "version": t.version, "created_at": t.created_at, "updated_at": t.updated_at,
    })
}

impl App {
    /// A token naming one claim of this node.
    fn claim_token(&self) -> String {
        format!("{}:{}", self.node, CLAIMS.fetch_add(1, Ordering::Relaxed))
    }

    /// Makes sure the recurring jobs exist: whichever node starts first enqueues them.
    pub async fn ensure_schedules(&self) -> Result<()> {
        let job = NewJob {
            kind: AUTOMATIONS.into(),
            unique_key: Some(AUTOMATIONS.into()),
            payload: json!({}),
            run_at: self.now(),
            max_attempts: 1_000_000,
            ticket: None,
        };
        self.store.enqueue(&job, self.now()).await?;
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
        let now = self.now();
        match job.kind.as_str() {
            AUTOMATIONS => match self.run_automations().await {
                Ok(_) => {
                    let next = now.checked_add(AUTOMATION_EVERY).unwrap_or(now);
                    if !self.store.reschedule(&lease, next, self.now()).await? {
                        tracing::warn!(job = job.id, "automation pass outlived its lease");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "automation pass failed; retrying in a minute");
                    let next = now.checked_add(AUTOMATION_EVERY).unwrap_or(now);
                    self.store.retry(&lease, next, &e.to_string(), self.now()).await?;
                }
            },
            WEBHOOK => match self.deliver_webhook(&job).await {
                Ok(()) => {
                    self.store.complete(&lease).await?;
                }
                Err(e) => {
                    tracing::warn!(job = job.id, attempt = job.attempts, error = %e, "webhook delivery failed");
                    let next = now.checked_add(backoff(job.attempts)).unwrap_or(now);
                    self.store.retry(&lease, next, &e, self.now()).await?;
                }
            },
            other => {
                tracing::error!(job = job.id, kind = other, "unknown job kind");
                let next = now.checked_add(backoff(job.attempts)).unwrap_or(now);
                self.store.retry(&lease, next, "unknown job kind", self.now()).await?;
            }
        }
        Ok(())
    }

    /// Posts one webhook delivery: the ticket as it is now, signed.
    async fn deliver_webhook(&self, job: &Job) -> std::result::Result<(), String> {
        let hook_id = job.payload.get("webhook_id").and_then(Value::as_i64).ok_or("no webhook_id")?;
        // From the store, not this node's snapshot, which may predate the webhook or its secret.
        let hooks = self.store.list_webhooks().await.map_err(|e| e.to_string())?;
        let Some(hook) = hooks.iter().find(|w| w.id == hook_id && w.active) else {
            // Deleted or switched off since: nothing to deliver to.
            tracing::info!(webhook = hook_id, "webhook gone; delivery dropped");
            return Ok(());
        };
        let ticket = match job.payload.get("ticket_id").and_then(Value::as_i64) {
            Some(id) => self.store.get_ticket(TicketId(id)).await.map_err(|e| e.to_string())?,
            None => None,
        };
        let now = self.now();
        let body = json!({
            "event": job.payload.get("event").cloned().unwrap_or(Value::Null),
            "rule": job.payload.get("rule").cloned().unwrap_or(Value::Null),
            "delivery_id": job.id,
            "attempt": job.attempts,
            "sent_at": now,
            "ticket": ticket.as_ref().map(ticket_json),
        });
        let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        let stamp = now.as_second();
        let url = reqwest::Url::parse(&hook.url).map_err(|_| "the webhook's URL is not valid".to_owned())?;
        // Saved before the policy or the allow-list changed: checked again at every call; a
        // name is checked by the resolver, address by address.
        if !self.egress().permits_host(&url) {
            return Err(crate::egress::NOT_ALLOWED.to_owned());
        }
        let res = self
            .http()
            .map_err(|e| e.to_string())?
            .post(url)
            .timeout(WEBHOOK_TIMEOUT)
            .header("content-type", "application/json")
            .header("user-agent", "Gongdan-Webhook/1")
            .header("x-gongdan-delivery", job.id.to_string())
            .header("x-gongdan-event", job.payload.get("event").and_then(Value::as_str).unwrap_or("ticket.updated"))
            .header("x-gongdan-timestamp", stamp.to_string())
            .header("x-gongdan-signature", webhook_signature(&hook.secret, stamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| delivery_error(&e))?;
        if res.status().is_success() { Ok(()) } else { Err(format!("endpoint answered {}", res.status())) }
    }

    /// The shared HTTP client for outgoing calls (webhooks).
    fn http(&self) -> Result<&reqwest::Client> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(self.egress().resolver())
            .build()
            .map_err(|e| CoreError::Internal(format!("no HTTP client: {e}")))?;
        Ok(self.http.get_or_init(|| client))
    }

    pub(crate) fn egress(&self) -> crate::egress::Egress {
        crate::egress::Egress { allow: self.settings.webhook_allow.clone() }
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
        crate::config::require_admin(actor)?;
        Ok(self.store.list_jobs(kind).await?)
    }

    /// When the next run of the automations is due (for status pages and tests).
    pub async fn next_automation_run(&self) -> Result<Option<Timestamp>> {
        Ok(self.store.list_jobs(Some(AUTOMATIONS)).await?.first().map(|j| j.run_at))
    }
}

/// How often the worker empties SQLite's write-ahead log.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// What a failed call says in the job's error: its class, not the details (refused, reset,
/// which TLS alert) that would let the error map a network.
fn delivery_error(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if s.is::<crate::egress::Refused>() {
            return crate::egress::NOT_ALLOWED.to_owned();
        }
        source = s.source();
    }
    if e.is_timeout() {
        "the endpoint did not answer in time".to_owned()
    } else if e.is_connect() {
        "could not connect to the endpoint".to_owned()
    } else {
        "the request to the endpoint failed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_over_timestamp_and_body() {
        // The digest of "1.{}" under "key", as any HMAC library computes it.
        let sig = webhook_signature("key", 1, b"{}");
        assert_eq!(sig, "sha256=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
        assert_ne!(sig, webhook_signature("other", 1, b"{}"));
        assert_ne!(sig, webhook_signature("key", 2, b"{}"));
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), SignedDuration::from_secs(30));
        assert_eq!(backoff(2), SignedDuration::from_secs(60));
        assert_eq!(backoff(20), SignedDuration::from_secs(3600));
    }
}
