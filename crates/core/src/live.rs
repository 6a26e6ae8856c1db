//! Live updates for open pages: every ticket write is announced on an in-process bus, and the
//! bus also carries who is looking at (or replying to) which ticket, so two agents on one
//! ticket see each other. Pages subscribe through server-sent events in the web layer.
//!
//! The bus is per node. Presence is kept per connection: a page's live connection joins when it
//! opens and leaves when it closes (the guard's drop), so a closed tab never lingers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gongdan_domain::ids::{TicketId, UserId};
use gongdan_domain::tickets::Ticket;
use tokio::sync::broadcast;

/// Events a slow page may fall behind by before it is told to refresh instead.
const BUS_CAPACITY: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: UserId,
    pub name: String,
    /// Typing a reply or note right now.
    pub replying: bool,
}

#[derive(Debug, Clone)]
pub enum LiveEvent {
    /// A ticket as just written (created, changed, replied to).
    Ticket(Arc<Ticket>),
    /// Who has this ticket open now.
    Presence { ticket: TicketId, viewers: Arc<Vec<Viewer>> },
}

pub struct Live {
    tx: broadcast::Sender<LiveEvent>,
    presence: Mutex<HashMap<TicketId, HashMap<u64, Viewer>>>,
    next_conn: AtomicU64,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            tx: broadcast::channel(BUS_CAPACITY).0,
            presence: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
        }
    }
}

/// Holds a page's place among a ticket's viewers; dropping it leaves.
pub struct PresenceGuard {
    live: Arc<Live>,
    ticket: TicketId,
    conn: u64,
}

impl PresenceGuard {
    /// This connection's number, which its page gives back when it leaves.
    pub fn conn(&self) -> u64 {
        self.conn
    }
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        self.live.update(self.ticket, |m| {
            m.remove(&self.conn);
        });
    }
}

impl Live {
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }

    pub fn publish_ticket(&self, t: &Ticket) {
        // No subscribers is not an error: nobody is looking.
        let _ = self.tx.send(LiveEvent::Ticket(Arc::new(t.clone())));
    }

    /// The viewers of a ticket, one entry per person (replying wins over viewing).
    pub fn viewers(&self, ticket: TicketId) -> Vec<Viewer> {
        let map = match self.presence.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        Self::people(map.get(&ticket))
    }

    fn people(conns: Option<&HashMap<u64, Viewer>>) -> Vec<Viewer> {
        let mut out: Vec<Viewer> = Vec::new();
        for v in conns.into_iter().flat_map(|m| m.values()) {
            match out.iter_mut().find(|o| o.user_id == v.user_id) {
                Some(o) => o.replying |= v.replying,
                None => out.push(v.clone()),
            }
        }
        out.sort_by_key(|v| v.user_id);
        out
    }

    /// Changes a ticket's presence and announces the result if it changed.
    fn update(&self, ticket: TicketId, change: impl FnOnce(&mut HashMap<u64, Viewer>)) {
        let viewers = {
            let mut map = match self.presence.lock() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            let before = Self::people(map.get(&ticket));
            let conns = map.entry(ticket).or_default();
            change(conns);
            let after = Self::people(Some(conns));
            if conns.is_empty() {
                map.remove(&ticket);
            }
            if before == after {
                return;
            }
            after
        };
        let _ = self.tx.send(LiveEvent::Presence { ticket, viewers: Arc::new(viewers) });
    }

    /// A page opened the ticket; it stays a viewer until the guard is dropped.
    pub fn join(self: &Arc<Self>, ticket: TicketId, user_id: UserId, name: &str) -> PresenceGuard {
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.update(ticket, |m| {
            m.insert(conn, Viewer { user_id, name: name.to_owned(), replying: false });
        });
        PresenceGuard { live: self.clone(), ticket, conn }
    }

    /// A page says it is leaving (it is closing or navigating away): its place goes at once,
    /// rather than when the server next fails to write to it. Only its own user may say so.
    pub fn leave(&self, ticket: TicketId, conn: u64, user_id: UserId) {
        self.update(ticket, |m| {
            if m.get(&conn).is_some_and(|v| v.user_id == user_id) {
                m.remove(&conn);
            }
        });
    }

    /// The user started or stopped typing a reply on a ticket they have open.
    pub fn set_replying(&self, ticket: TicketId, user_id: UserId, replying: bool) {
        self.update(ticket, |m| {
            for v in m.values_mut().filter(|v| v.user_id == user_id) {
                v.replying = replying;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_join_reply_and_leave_with_announcements() {
        let live = Arc::new(Live::default());
        let mut rx = live.subscribe();
        let t = TicketId(10001);
        let a = live.join(t, UserId(1), "王芳");
        let a2 = live.join(t, UserId(1), "王芳");
        let b = live.join(t, UserId(2), "Li Lei");
        assert_eq!(live.viewers(t).len(), 2, "one entry per person, however many tabs");
        live.set_replying(t, UserId(2), true);
        assert!(live.viewers(t).iter().any(|v| v.user_id == UserId(2) && v.replying));
        live.leave(t, b.conn(), UserId(1));
        assert_eq!(live.viewers(t).len(), 2, "only its own user may take a place away");
        live.leave(t, b.conn(), UserId(2));
        assert_eq!(live.viewers(t).len(), 1, "gone at once");
        drop(b);
        drop(a2);
        assert_eq!(live.viewers(t), vec![Viewer { user_id: UserId(1), name: "王芳".into(), replying: false }]);
        drop(a);
        assert!(live.viewers(t).is_empty());
        // join a, (second tab: no change), join b, replying, b leaves, (a2 leaves: no change), a leaves
        let mut seen = Vec::new();
        while let Ok(LiveEvent::Presence { viewers, .. }) = rx.try_recv() {
            seen.push(viewers.len());
        }
        assert_eq!(seen, vec![1, 2, 2, 1, 0]);
    }
}
