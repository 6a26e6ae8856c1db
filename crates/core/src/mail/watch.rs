//! IMAP IDLE: each node keeps one connection per mailbox whose server offers IDLE, waiting in
//! it; when the server says a message arrived, the fetch job is made due at once (mail lands in
//! seconds, not at the next poll). The fetching itself stays the job's (leased, one node at a
//! time, each message once), so a watcher only ever wakes it: two nodes watching one mailbox
//! wake one job. A mailbox whose server lacks IDLE is polled by the job as before; a server
//! that drops the connection is watched again after a back-off that grows to five minutes.

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

/// RFC 2177: re-issue IDLE well within 29 minutes, or servers drop the connection.
const IDLE_FOR: Duration = Duration::from_secs(20 * 60);
/// How often the set of mailboxes to watch is read again (a mailbox saved in the console).
const REREAD: Duration = Duration::from_secs(30);
const BACKOFF_FIRST: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Why a watcher stopped watching.
enum Ended {
    /// The server has no IDLE: the job's polling covers this mailbox.
    NoIdle,
    Failed(String),
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
                        // Gone or changed: stop watching with the old settings.
                        watching.retain(|id, (imap, task)| {
                            let keep = wanted.get(id) == Some(imap) && !task.is_finished();
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
            for (_, (_, task)) in watching {
                task.abort();
            }
        })
    }

    /// Watches one mailbox for as long as its server offers IDLE, reconnecting after errors.
    async fn watch_mailbox(&self, id: MailboxId, imap: Imap) {
        let mut backoff = BACKOFF_FIRST;
        loop {
            match self.idle_once(&imap).await {
                Ended::NoIdle => {
                    tracing::debug!(mailbox = id.0, "no IMAP IDLE on this server; polling it");
                    return;
                }
                Ended::Failed(e) => {
                    tracing::debug!(mailbox = id.0, error = %e, "IMAP IDLE connection ended");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// One connection: sign in, select the folder, wait in IDLE, wake the fetch on new mail;
    /// returns only when the connection ends.
    async fn idle_once(&self, imap: &Imap) -> Ended {
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
