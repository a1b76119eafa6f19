//! Request coalescing within one process: concurrent misses for one key
//! elect a leader that computes the entry; the others wait for what it
//! publishes (the encoded entry, or nothing when the response was not
//! stored), for a bounded time.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// What a leader publishes, once it has: `Some(entry)` when it stored one,
/// `None` when its response was not cacheable.
type Slot = watch::Receiver<Option<Option<Bytes>>>;

#[derive(Debug)]
pub(crate) struct Inflight {
    map: Arc<Mutex<HashMap<String, (u64, Slot)>>>,
    next_id: AtomicU64,
    owner: String,
}

impl Default for Inflight {
    fn default() -> Self {
        Self {
            map: Arc::default(),
            next_id: AtomicU64::new(0),
            owner: format!("{:016x}", crate::clock::random_u64()),
        }
    }
}

/// The role of a request in a burst of misses for one key.
pub(crate) enum Join {
    Lead(Leader),
    Follow(Follower),
}

/// Held by the request computing an entry. Dropping it without
/// publishing (a panic, a cancelled request) releases the followers.
pub(crate) struct Leader {
    map: Arc<Mutex<HashMap<String, (u64, Slot)>>>,
    key: String,
    id: u64,
    tx: watch::Sender<Option<Option<Bytes>>>,
}

pub(crate) struct Follower(Slot);

impl Inflight {
    /// Becomes the leader for `key`, or a follower of the current one.
    pub(crate) fn join(&self, key: &str) -> Join {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, rx)) = map.get(key) {
            return Join::Follow(Follower(rx.clone()));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(None);
        map.insert(key.to_owned(), (id, rx));
        Join::Lead(Leader {
            map: Arc::clone(&self.map),
            key: key.to_owned(),
            id,
            tx,
        })
    }

    /// The prefix of the lease tokens this cache's requests take: a lease
    /// held under it is held by a request that this process's coalescing
    /// already orders (a follower waiting for its leader), not by another
    /// instance.
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// Becomes the leader for `key` only if nobody is.
    pub(crate) fn try_lead(&self, key: &str) -> Option<Leader> {
        match self.join(key) {
            Join::Lead(leader) => Some(leader),
            Join::Follow(_) => None,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Leader {
    /// Hands the stored entry (`None`: nothing was stored) to every
    /// follower and ends the leadership.
    pub(crate) fn publish(self, entry: Option<Bytes>) {
        let _ = self.tx.send(Some(entry));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            map.remove(&self.key);
        }
    }
}

impl Follower {
    /// The leader's stored entry; `None` when it stored nothing, failed,
    /// was dropped, or took longer than `wait`.
    pub(crate) async fn wait(mut self, wait: Duration) -> Option<Bytes> {
        match tokio::time::timeout(wait, self.0.wait_for(Option::is_some)).await {
            Ok(Ok(value)) => value.clone().flatten(),
            Ok(Err(_)) | Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_leader_many_followers_all_get_the_outcome() {
        let inflight = Inflight::default();
        let Join::Lead(leader) = inflight.join("k") else {
            panic!("first is the leader")
        };
        let followers: Vec<_> = (0..10)
            .map(|_| match inflight.join("k") {
                Join::Follow(f) => tokio::spawn(f.wait(Duration::from_secs(5))),
                Join::Lead(_) => panic!("second leader"),
            })
            .collect();
        leader.publish(Some(Bytes::from_static(b"entry")));
        for f in followers {
            assert_eq!(f.await.unwrap(), Some(Bytes::from_static(b"entry")));
        }
        assert_eq!(inflight.len(), 0, "the key is free again");
        assert!(matches!(inflight.join("k"), Join::Lead(_)));
    }

    #[tokio::test]
    async fn a_dropped_leader_releases_followers_at_once() {
        let inflight = Inflight::default();
        let Join::Lead(leader) = inflight.join("k") else {
            panic!()
        };
        let Join::Follow(follower) = inflight.join("k") else {
            panic!()
        };
        let waiting = tokio::spawn(follower.wait(Duration::from_secs(60)));
        drop(leader); // as a panic in the handler would
        let started = std::time::Instant::now();
        assert_eq!(waiting.await.unwrap(), None);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(inflight.len(), 0);
    }

    #[tokio::test]
    async fn followers_stop_waiting_after_the_bound() {
        let inflight = Inflight::default();
        let Join::Lead(_leader) = inflight.join("k") else {
            panic!()
        };
        let Join::Follow(follower) = inflight.join("k") else {
            panic!()
        };
        assert_eq!(follower.wait(Duration::from_millis(20)).await, None);
    }
}
