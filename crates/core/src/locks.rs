//! Writes that name no version apply on top of whatever is current. Such writes to one ticket
//! queue on this node's lock for it, so they do not race each other into version conflicts;
//! what still conflicts (another node, an automation, a merge) is re-read and re-applied.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use gongdan_domain::ids::TicketId;

use crate::{App, CoreError, Result};

/// How often a write without a version is re-applied after a conflict it did not cause.
pub(crate) const ATTEMPTS: usize = 12;

/// One async lock per key that is in use; a key nobody holds or waits for takes no memory.
#[derive(Default)]
pub(crate) struct KeyedLocks {
    map: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

pub(crate) struct KeyGuard<'a> {
    locks: &'a KeyedLocks,
    key: i64,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub(crate) async fn lock(&self, key: i64) -> KeyGuard<'_> {
        let m = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key).or_default().clone()
        };
        KeyGuard { locks: self, key, guard: Some(m.lock_owned().await) }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.map.lock().unwrap_or_else(|e| e.into_inner());
        // Clones are taken under the map's lock, so a count of one means nobody else wants it.
        if map.get(&self.key).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(&self.key);
        }
    }
}

impl App {
    /// Runs a ticket write. With a version the caller stated, once: a stale version is the
    /// caller's conflict. Without, under the ticket's lock and again on a conflict, so a
    /// write that is merely concurrent with another succeeds.
    pub(crate) async fn on_current<T, F, Fut>(&self, id: TicketId, expected: Option<i64>, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        if expected.is_some() {
            return attempt().await;
        }
        let _guard = self.ticket_locks.lock(id.0).await;
        for _ in 0..ATTEMPTS {
            match attempt().await {
                Err(CoreError::VersionConflict) => tokio::task::yield_now().await,
                other => return other,
            }
        }
        Err(CoreError::VersionConflict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_per_key_and_nothing_left_behind() {
        let locks = Arc::new(KeyedLocks::default());
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks = (0..16).map(|_| {
            let (locks, inside) = (locks.clone(), inside.clone());
            tokio::spawn(async move {
                let _g = locks.lock(7).await;
                assert_eq!(inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0, "two holders at once");
                tokio::task::yield_now().await;
                inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            })
        });
        for t in tasks.collect::<Vec<_>>() {
            t.await.unwrap();
        }
        assert_eq!(locks.len(), 0, "released keys are forgotten");
        let _a = locks.lock(1).await;
        let _b = locks.lock(2).await; // other keys do not wait
        assert_eq!(locks.len(), 2);
    }
}
