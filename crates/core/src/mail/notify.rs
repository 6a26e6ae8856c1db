//! Notifications by mail. When the desk sends mail (a mailbox with an SMTP server, or the
//! desk's), every notification the rules write is marked to be mailed in its own transaction,
//! and a `mail.notify` job with it sends the waiting ones: from the ticket's mailbox, to the
//! person notified, the subject carrying the ticket's token and the headers threading it into
//! the ticket's conversation (so an answer lands on the ticket), marked `Auto-Submitted:
//! auto-generated` so that auto-responders leave it alone. Each notification is claimed before
//! it is sent, so two workers never mail one twice; a claim runs out (a worker that died lets
//! it go), and one that cannot go yet waits its own back-off behind the rest.

use gongdan_domain::mail::reason::Reason;
use gongdan_domain::mail::thread::tagged_subject;
use gongdan_domain::mail::{Address, compose};
use gongdan_store::{NewJob, Notification};
use serde_json::json;

use super::send::Unsent;
use crate::config::Config;
use crate::jobs::kind::{JobKind, Ran};
use crate::{App, CoreError, Result};

pub const NOTIFY_JOB: &str = "mail.notify";
/// Notifications one run mails at most; more run again at once.
const ROUND: i64 = 50;
/// How long a worker holds a notification it is mailing; one that died lets it go after.
const CLAIM: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);
/// Tries before a notification's mail is given up (the back-off makes that about a day).
const ATTEMPTS: i64 = 30;

/// A minute after the first failed try, doubling to an hour.
fn retry_after(attempts: i64) -> jiff::SignedDuration {
    let mins = 1i64 << attempts.clamp(1, 7).saturating_sub(1);
    jiff::SignedDuration::from_mins(mins.min(60))
}

pub(crate) const JOB: JobKind = JobKind {
    name: NOTIFY_JOB,
    run: |app, job| {
        let later = job.unique_key.as_deref() == Some(LATER);
        Box::pin(async move { app.mail_notifications(later).await })
    },
    every: None,
};

/// The one job that comes back for notifications that wait (a retry, a claim that may run out).
const LATER: &str = "mail.notify.later";

impl App {
    /// Whether the desk mails anything: some active mailbox has an SMTP server to send through.
    pub(crate) fn mails_out(&self, cfg: &Config) -> bool {
        cfg.mailboxes.iter().any(|m| m.active && (m.smtp.is_some() || self.settings.smtp.is_some()))
    }

    /// The job that mails the notifications a write leaves waiting.
    pub(crate) fn notify_job(&self) -> NewJob {
        NewJob {
            kind: NOTIFY_JOB.into(),
            unique_key: None,
            payload: json!({}),
            run_at: self.now(),
            // Retried (with the runner's back-off, at most hourly) while any wait.
            max_attempts: 1_000_000,
            ticket: None,
        }
    }

    /// One round: the due notifications, then the later job set for what still waits.
    async fn mail_notifications(&self, later: bool) -> Ran {
        let now = self.now();
        let pending = match self.store.notifications_to_mail(ROUND, now).await {
            Ok(p) => p,
            Err(e) => return Ran::Failed { error: format!("the database: {e}"), at: None },
        };
        for n in &pending {
            let until = now.checked_add(CLAIM).unwrap_or(now);
            let attempts = match self.store.claim_notification_mail(n.id, now, until).await {
                Ok(Some(a)) => a,
                Ok(None) => continue,
                Err(e) => return Ran::Failed { error: format!("the database: {e}"), at: None },
            };
            let (state, retry) = match self.mail_notification(n).await {
                Ok(()) => ("sent".to_owned(), None),
                Err(Unsent::Permanent(why)) => (format!("failed: {why}"), None),
                Err(Unsent::Transient(why)) if attempts >= ATTEMPTS => {
                    (format!("failed: gave up after {attempts} tries: {why}"), None)
                }
                // Back in the queue behind the others, for a later try.
                Err(Unsent::Transient(why)) => {
                    let at = now.checked_add(retry_after(attempts)).unwrap_or(now);
                    ("pending".to_owned(), Some((at, why)))
                }
            };
            if let Err(e) = self.store.set_notification_mail(n.id, &state, retry.as_ref().map(|r| r.0)).await {
                return Ran::Failed { error: format!("the database: {e}"), at: None };
            }
            match &retry {
                // The others still go: one recipient's server away holds up nobody else.
                Some((_, why)) => tracing::warn!(notification = n.id, error = why, "notification not mailed yet"),
                None if state != "sent" => tracing::warn!(notification = n.id, state, "notification not mailed"),
                None => {}
            }
        }
        if pending.len() as i64 == ROUND {
            return Ran::Next(now);
        }
        // Whatever waits (a retry, or a claim held by a worker that may have died) is seen to
        // by the one later job, at the earliest time one is due.
        match self.store.next_notification_mail(now).await {
            Ok(None) => Ran::Done,
            Ok(Some(at)) if later => Ran::Next(at),
            Ok(Some(at)) => {
                let job = NewJob {
                    kind: NOTIFY_JOB.into(),
                    unique_key: Some(LATER.into()),
                    payload: json!({}),
                    run_at: at,
                    max_attempts: 1_000_000,
                    ticket: None,
                };
                let queued = match self.store.enqueue(&job, now).await {
                    Ok(_) => self.store.hurry_job(LATER, at).await.map(|_| ()),
                    Err(e) => Err(e),
                };
                match queued {
                    Ok(()) => Ran::Done,
                    Err(e) => Ran::Failed { error: format!("the database: {e}"), at: None },
                }
            }
            Err(e) => Ran::Failed { error: format!("the database: {e}"), at: None },
        }
    }

    async fn mail_notification(&self, n: &Notification) -> std::result::Result<(), Unsent> {
        let store = |e: CoreError| Unsent::Transient(e.to_string());
        let db = |e: gongdan_store::StoreError| Unsent::Transient(format!("the database: {e}"));
        let user = self.store.get_user(n.user_id).await.map_err(db)?;
        let Some((email, name)) = user.filter(|u| u.active).and_then(|u| u.email.clone().map(|e| (e, u.name))) else {
            return Err(Unsent::Permanent("the person notified has no address".into()));
        };
        let cfg = self.config().await.map_err(store)?;
        let ticket = match n.ticket_id {
            Some(id) => self.store.get_ticket(id).await.map_err(db)?,
            None => None,
        };
        let thread = match &ticket {
            Some(t) => self.store.ticket_mail(t.id).await.map_err(db)?,
            None => vec![],
        };
        let received = thread.iter().rev().find(|m| m.direction == "in").and_then(|m| m.mailbox_id);
        let mailbox = compose::sender(&cfg.mailboxes, received, ticket.as_ref().and_then(|t| t.group_id))
            .ok_or_else(|| Unsent::Permanent("no mailbox to send from".into()))?;
        let messages: Vec<(String, bool)> =
            thread.iter().map(|m| (m.message_id.clone(), m.direction == "in")).collect();
        let desk: Vec<String> = cfg.mailboxes.iter().map(|m| m.address.clone()).collect();
        let to = Address { email, name: Some(name) };
        let mut headers = compose::Headers {
            to: vec![to.clone()],
            cc: vec![],
            subject: n.subject.clone(),
            in_reply_to: None,
            references: vec![],
        };
        if let Some(t) = &ticket {
            let thread = compose::Thread {
                ticket: t.id,
                subject: &t.subject,
                token_prefix: &self.settings.mail_token_prefix,
                requester: Some(to),
                ccs: vec![],
                author: None,
                desk: &desk,
                messages: &messages,
            };
            let Some(h) = compose::reply(&thread) else {
                return Err(Unsent::Permanent("the person notified is one of the desk's own addresses".into()));
            };
            headers =
                compose::Headers { subject: tagged_subject(&n.subject, t.id, &self.settings.mail_token_prefix), ..h };
        }
        let message_id = self.send_automatic(mailbox, &headers, &n.body).await?;
        // Kept as the ticket's mail, so an answer to the notification finds its ticket.
        if let Some(t) = &ticket
            && let Err(e) = self
                .store
                .record_sent_mail(
                    &message_id,
                    t.id,
                    mailbox.id,
                    &Reason::Notified { address: headers.to.first().map(|a| a.email.clone()).unwrap_or_default() },
                    self.now(),
                )
                .await
        {
            tracing::warn!(error = %e, "a mailed notification's Message-ID was not kept");
        }
        Ok(())
    }

    /// Marks a write's notifications to be mailed, with the job that mails them, when the desk
    /// sends mail.
    pub(crate) async fn mail_notices(&self, batch: &mut gongdan_store::WriteBatch) -> Result<()> {
        if batch.notices.is_empty() {
            return Ok(());
        }
        let cfg = self.config().await?;
        if !self.mails_out(&cfg) {
            return Ok(());
        }
        for n in &mut batch.notices {
            n.mail = true;
        }
        batch.jobs.push(self.notify_job());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_a_minute_to_an_hour() {
        let mins: Vec<i64> = (1..=9).map(|a| retry_after(a).as_mins()).collect();
        assert_eq!(mins, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
