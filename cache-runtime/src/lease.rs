//! Cross-instance leases on computing a missing entry: one instance of many
//! takes the lease (`SET NX PX` under a token), the others poll for the
//! entry it stores. In process, [`crate::coalesce`] does the same job.

use crate::cache::RouteCache;
use crate::observe::Op;
use crate::retry::{deadline_after, retry, Backoff, Step};
use bytes::Bytes;
use std::time::Duration;

/// Holds a cross-instance lease; dropping it releases the lease (in the
/// background), whatever way its holder ends.
pub(crate) struct LeaseGuard {
    cache: RouteCache,
    key: String,
    token: String,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let (key, token) = (
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.token),
        );
        self.cache.release_in_background(key, token);
    }
}

/// The cross-instance lease on computing an entry.
pub(crate) enum Lease {
    /// Ours, until the guard is dropped (only its drop is used).
    Acquired(#[allow(dead_code)] LeaseGuard),
    /// Another instance is computing the entry.
    Held,
    /// No shared store, or the backend failed: compute without one.
    NotNeeded,
}

/// The lease key of entry `key`: inside the entry's key space, and in the
/// same Redis Cluster hash slot (its hash tag is the whole entry key, and
/// entry keys contain no braces).
fn lease_key(key: &str) -> String {
    format!("{key}#lease{{{key}}}")
}

/// 64 random bits (from the standard library's randomly keyed hasher).
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(crate::fault::now_ms());
    hasher.finish()
}

/// 128 random bits.
fn lease_token() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

impl RouteCache {
    /// Takes the cross-instance lease on computing `key` and reads the
    /// entry under it, in one round trip: the lease, and the value stored
    /// now (another instance may have stored it since the lookup). Without
    /// a shared store no lease is needed and the value is read in process;
    /// when the backend fails, the caller computes (fail open).
    pub(crate) async fn acquire_lease(&self, key: &str) -> (Lease, Option<Bytes>) {
        let store = &self.inner.store;
        if !store.is_shared() {
            return (Lease::NotNeeded, store.get(key).await.ok().flatten());
        }
        let token = lease_token();
        let ttl = self.inner.config.lease_ttl;
        let claimed = self
            .call(
                Op::Lease,
                store.lease_and_read(key, &lease_key(key), &token, ttl),
            )
            .await;
        match claimed {
            Ok((true, value)) => {
                let guard = LeaseGuard {
                    cache: self.clone(),
                    key: key.to_owned(),
                    token,
                };
                (Lease::Acquired(guard), value)
            }
            Ok((false, value)) => (Lease::Held, value),
            Err(e) => {
                self.fault("lease", key, &e);
                (Lease::NotNeeded, None)
            }
        }
    }

    /// Releases a lease in the background: the response does not wait for
    /// it. Called when a [`LeaseGuard`] is dropped, so a panicking or
    /// cancelled leader releases its lease too.
    fn release_in_background(&self, key: String, token: String) {
        let cache = self.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let released = cache
                    .call(
                        Op::Release,
                        cache.inner.store.release_lease(&lease_key(&key), &token),
                    )
                    .await;
                if let Err(e) = released {
                    cache.fault("release", &key, &e);
                }
            });
        }
    }

    /// Polls for the entry another instance is computing, until `wait`
    /// has passed. Returns the raw value once it is there.
    pub(crate) async fn wait_for_entry(&self, key: &str, wait: Duration) -> Option<Bytes> {
        let backoff = Backoff {
            first: Duration::from_millis(5),
            max: Duration::from_millis(50),
        };
        retry(backoff, Some(deadline_after(wait)), || async move {
            match self.call(Op::Get, self.inner.store.get(key)).await {
                Ok(Some(value)) => Step::Done(Some(value)),
                Ok(None) => Step::Again,
                // The backend is failing: nothing will show up in time.
                Err(_) => Step::Done(None),
            }
        })
        .await
        .flatten()
    }
}
