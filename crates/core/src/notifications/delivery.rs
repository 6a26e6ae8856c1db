//! Webhook delivery: the job that posts a ticket change to a webhook, signed, through the
//! outgoing-call policy (`egress`), retried with back-off.

use gongdan_domain::ids::TicketId;
use gongdan_domain::tickets::Ticket;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::jobs::kind::{JobKind, Ran};
use crate::{App, CoreError, Result};
use gongdan_store::Job;

/// The webhook calls the rules ask for.
pub(crate) const JOB: JobKind = JobKind {
    name: gongdan_store::WEBHOOK_JOB,
    run: |app, job| {
        Box::pin(async move {
            match app.deliver_webhook(job).await {
                Ok(()) => Ran::Done,
                Err(error) => {
                    tracing::warn!(job = job.id, attempt = job.attempts, error = %error, "webhook delivery failed");
                    Ran::Failed { error, at: None }
                }
            }
        })
    },
    every: None,
};

/// A webhook endpoint gets this long to answer.
const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

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
}

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
}
