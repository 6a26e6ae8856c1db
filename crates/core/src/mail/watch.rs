//! IMAP IDLE: one connection per mailbox whose server offers IDLE, held by one node at a time
//! (a lease, `mail.watch:<id>`, renewed each minute; another node takes over when it runs out),
//! waiting in it; when the server says a message arrived, the fetch job is made due at once
//! (mail lands in seconds, not at the next poll). The fetching itself stays the job's (leased,
//! each message once), so a watcher only ever wakes it. A mailbox whose server lacks IDLE is
//! polled by the job as before; a server that drops the connection is watched again after a
//! back-off that grows to five minutes.

use std::collections::BTreeMap;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{MailboxDatum, Response};
use gongdan_domain::ids::MailboxId;
use gongdan_domain::mail::servers::Imap;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::fetch::{FETCH_JOB, timed};
use crate::App;

/// IDLE is re-issued this often (RFC 2177 asks for less than 29 minutes), and the lease renewed.
const IDLE_FOR: Duration = Duration::from_secs(60);
/// A watcher's lease: a node that stops renewing it (it died) is replaced within this.
const LEASE: jiff::SignedDuration = jiff::SignedDuration::from_secs(150);
/// How often a node whose mailbox another node watches asks again.
const STANDBY: Duration = Duration::from_secs(60);
/// How often the set of mailboxes to watch is read again (a mailbox saved in the console).
const REREAD: Duration = Duration::from_secs(30);
const BACKOFF_FIRST: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Why a watcher stopped watching.
enum Ended {
    /// The server has no IDLE: the job's polling covers this mailbox.
    NoIdle,
    Failed(String),
    /// Another node holds the mailbox's lease now.
    Lost,
}

impl App {
    /// Watches every active IMAP mailbox until `stop` turns true: part of `gongdan serve`.
    pub fn spawn_mail_watch(&self, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let app = self.clone();
        tokio::spawn(async move {
            // Per mailbox: the settings watched and the task watching them.
            let mut watching: BTreeMap<MailboxId, (Imap, JoinHandle<()>)> = BTreeMap::new();
            while !*stop.borrow() {
                match app.store.list_mailboxes().await {
                    Ok(boxes) => {
                        let wanted: BTreeMap<MailboxId, Imap> =
                            boxes.into_iter().filter(|m| m.active).filter_map(|m| m.imap.map(|i| (m.id, i))).collect();
                        // Gone or changed: stop watching with the old settings. A watcher that
                        // ended (no IDLE there) stays ended until the settings change.
                        watching.retain(|id, (imap, task)| {
                            let keep = wanted.get(id) == Some(imap);
                            if !keep {
                                task.abort();
                            }
                            keep
                        });
                        for (id, imap) in wanted {
                            if let std::collections::btree_map::Entry::Vacant(slot) = watching.entry(id) {
                                let a = app.clone();
                                let i = imap.clone();
                                slot.insert((imap, tokio::spawn(async move { a.watch_mailbox(id, i).await })));
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the mailboxes to watch"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(REREAD) => {}
                    _ = stop.changed() => {}
                }
            }
            // Let the leases go: another node takes the mailboxes over at once, not in minutes.
            for (id, (_, task)) in watching {
                task.abort();
                // Stopped before the lease goes: a renewal under way must not land after it.
                let _ = task.await;
                if let Err(e) = app.store.release_lease(&format!("mail.watch:{}", id.0), &app.node).await {
                    tracing::warn!(error = %e, "letting a mailbox watch go");
                }
            }
        })
    }

    /// Watches one mailbox for as long as its server offers IDLE, reconnecting after errors,
    /// while this node holds its lease.
    async fn watch_mailbox(&self, id: MailboxId, imap: Imap) {
        let lease = format!("mail.watch:{}", id.0);
        let mut backoff = BACKOFF_FIRST;
        loop {
            if !self.hold_lease(&lease).await {
                tokio::time::sleep(STANDBY).await;
                continue;
            }
            let connected = tokio::time::Instant::now();
            let ended = self.idle_once(&imap, &lease).await;
            // A connection that served a while was healthy: its drop starts the back-off over.
            if connected.elapsed() > BACKOFF_MAX {
                backoff = BACKOFF_FIRST;
            }
            match ended {
                Ended::NoIdle => {
                    tracing::debug!(mailbox = id.0, "no IMAP IDLE on this server; polling it");
                    if let Err(e) = self.store.release_lease(&lease, &self.node).await {
                        tracing::warn!(error = %e, "letting a mailbox watch go");
                    }
                    return;
                }
                Ended::Lost => tracing::debug!(mailbox = id.0, "another node watches this mailbox now"),
                Ended::Failed(e) => {
                    tracing::debug!(mailbox = id.0, error = %e, "IMAP IDLE connection ended");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// Takes or renews this node's lease on watching a mailbox; false when another node has it
    /// (or the database does not answer: then nobody can tell, and the job's polling goes on).
    async fn hold_lease(&self, lease: &str) -> bool {
        let now = self.now();
        let until = now.checked_add(LEASE).unwrap_or(now);
        match self.store.take_lease(lease, &self.node, until, now).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, "renewing a mailbox watch");
                false
            }
        }
    }

    /// One connection: sign in, select the folder, wait in IDLE, wake the fetch on new mail;
    /// returns only when the connection ends or the lease is lost.
    async fn idle_once(&self, imap: &Imap, lease: &str) -> Ended {
        let mut session = match self.imap_session(imap).await {
            Ok(s) => s,
            Err(e) => return Ended::Failed(e),
        };
        match timed(session.capabilities()).await {
            Ok(caps) if caps.has_str("IDLE") => {}
            Ok(_) => return Ended::NoIdle,
            Err(e) => return Ended::Failed(e),
        }
        if let Err(e) = timed(session.select(&imap.folder)).await {
            return Ended::Failed(e);
        }
        // Whatever came while nobody watched.
        self.wake_fetch().await;
        loop {
            let mut idle = session.idle();
            if let Err(e) = timed(idle.init()).await {
                return Ended::Failed(e);
            }
            let (wait, _interrupt) = idle.wait_with_timeout(IDLE_FOR);
            let arrived = match wait.await {
                Ok(IdleResponse::NewData(data)) => {
                    matches!(data.parsed(), Response::MailboxData(MailboxDatum::Exists(_) | MailboxDatum::Recent(_)))
                }
                Ok(IdleResponse::Timeout | IdleResponse::ManualInterrupt) => false,
                Err(e) => return Ended::Failed(format!("waiting in IDLE: {e}")),
            };
            session = match timed(idle.done()).await {
                Ok(s) => s,
                Err(e) => return Ended::Failed(e),
            };
            if arrived {
                self.wake_fetch().await;
            }
            if !self.hold_lease(lease).await {
                return Ended::Lost;
            }
        }
    }

    /// Makes the fetch job due now, and tells whoever waits for it (tests).
    async fn wake_fetch(&self) {
        if let Err(e) = self.store.hurry_job(FETCH_JOB, self.now()).await {
            tracing::warn!(error = %e, "could not wake the mail fetch");
        }
        self.mail_woken.notify_waiters();
    }
}
