//! Reading and writing entries: the lookup (L1, then the store; an
//! undecodable value is a miss) and the save (entry, then its index sets,
//! then the L1 message).

use crate::cache::RouteCache;
use crate::clock::now_ms;
use crate::entry::prepared::Prepared;
use crate::entry::DecodeError;
use crate::error::StoreError;
use crate::fill::generation::Generations;
use crate::fill::lease::Lease;
use crate::fill::recent::Probe;
use crate::observe::{Op, Refusal, CORRUPT};
use crate::store::tier::{Message, L1};
use crate::store::{Index, IndexAdd, Save, Store};
use bytes::Bytes;
use std::{sync::Arc, time::Duration};

/// The outcome of a cache lookup.
#[derive(Debug)]
pub(crate) enum Lookup {
    Hit(Arc<Prepared>),
    Miss,
    /// A miss whose lookup also settled the lease on computing the entry
    /// and noted the fill's generations (see [`RouteCache::fetch`]).
    Leased(Lease, Generations),
    /// The backend failed or timed out; it has been logged.
    Fault,
}

/// What became of a fill's save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SaveStatus {
    Stored,
    /// An invalidation named the entry while it was computed: not kept.
    Invalidated,
    /// One of its index sets holds its most live members: not kept.
    Full,
    /// The backend failed (logged).
    Failed,
}

impl SaveStatus {
    /// Why the entry was not stored, if it was not.
    pub(crate) fn refusal(self) -> Option<Refusal> {
        match self {
            Self::Stored => None,
            Self::Invalidated => Some(Refusal::Invalidated),
            Self::Full => Some(Refusal::IndexFull),
            Self::Failed => Some(Refusal::StoreFailed),
        }
    }
}

impl RouteCache {
    /// Fetches the raw (encoded, see [`crate::entry`]) value under `key`,
    /// bounded by the timeout.
    ///
    /// # Errors
    /// When the backend fails or times out.
    #[doc(hidden)]
    pub async fn raw_get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        self.call(Op::Get, self.inner.store.get(key)).await
    }

    /// Stores a raw value under `key` (bounded by the timeout); every
    /// instance's L1 drops what it had under `key`. A value that does not
    /// decode as an entry is served as a miss.
    ///
    /// # Errors
    /// When the backend fails or times out.
    #[doc(hidden)]
    pub async fn raw_set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        let result = self
            .call(Op::Set, self.inner.store.set(key, value, ttl))
            .await;
        // Also after an error: the write may have landed.
        self.forget_keys(&[key]).await;
        result
    }

    /// The lookup when it needs no I/O: an L1 hit, or the in-process
    /// store's answer, with the wall clock ([`now_ms`]) it was made at,
    /// for the caller to answer by. `None` when Redis must be asked
    /// ([`Self::fetch`]); the clock is then not read.
    pub(crate) fn lookup_now(&self, key: &str) -> Option<(Lookup, u64)> {
        let l1 = self.inner.l1.as_deref();
        let memory = match &self.inner.store {
            Store::Memory(memory) => Some(memory),
            Store::Redis(_) => None,
        };
        if l1.is_none() && memory.is_none() {
            return None;
        }
        let now = now_ms();
        if let Some(entry) = l1.and_then(|l1| l1.get(key, now)) {
            return Some((Lookup::Hit(entry), now));
        }
        let lookup = match memory?.peek_prepared(key, now) {
            Some(Ok(entry)) => Lookup::Hit(entry),
            Some(Err(e)) => self.corrupt(key, e),
            None => Lookup::Miss,
        };
        Some((lookup, now))
    }

    /// The entry under `key` from the L1, else one backend round trip: the
    /// entry, a miss, or a logged fault. An undecodable value is a miss.
    /// `claim`: see [`Self::fetch`].
    pub(crate) async fn lookup(
        &self,
        key: &str,
        claim: Option<impl FnOnce() -> Vec<String>>,
    ) -> Lookup {
        match self.lookup_now(key) {
            Some((found, _)) => found,
            None => self.fetch(key, claim).await,
        }
    }

    /// The Redis half of [`Self::lookup`], after [`Self::lookup_now`] said
    /// Redis must be asked; what it reads is kept in the L1.
    ///
    /// With `claim` (the request will compute and store the entry if it is
    /// missing; it gives the fill's generation keys), a key that was not
    /// found recently is looked up by a script that, when the entry is
    /// missing, also takes the lease on computing it, and the generations
    /// are noted in the same round trip: a cold miss pays one round trip
    /// before its handler runs, not two. A key found recently is read by a
    /// plain `GET`.
    pub(crate) async fn fetch(
        &self,
        key: &str,
        claim: Option<impl FnOnce() -> Vec<String>>,
    ) -> Lookup {
        let probe = Probe::of(key);
        let recent = &self.inner.recent;
        // Before the read: an invalidation that arrives during it keeps
        // what it read out of the L1.
        let seen = self.inner.l1.as_deref().map(L1::epoch);
        let claim = claim.filter(|_| !recent.likely_stored(probe));
        if let Some(generations) = claim {
            // Boxed: its script's state is three times a `GET`'s, and would
            // otherwise size the future of every Redis hit.
            return match Box::pin(self.read_or_lease(key, generations())).await {
                Ok(Ok(value)) => self.found(probe, key, value, seen),
                Ok(Err((lease, noted))) => Lookup::Leased(lease, noted),
                Err(e) => {
                    self.fault("get", key, &e);
                    Lookup::Fault
                }
            };
        }
        // Not boxed on its own: requests that get here already run in a
        // future of their own (see `flow::start`), and one allocation per
        // Redis hit is cheaper than two.
        match self.call_with(Op::Get, || self.inner.store.get(key)).await {
            Ok(Some(value)) => self.found(probe, key, value, seen),
            Ok(None) => {
                recent.found(probe, false);
                Lookup::Miss
            }
            Err(e) => {
                self.fault("get", key, &e);
                Lookup::Fault
            }
        }
    }

    /// A value Redis returned for `key`, decoded and kept in the L1.
    fn found(&self, probe: Probe, key: &str, value: Bytes, seen: Option<u64>) -> Lookup {
        match self.inner.recent.decode(probe, key, value.clone()) {
            Ok(entry) => {
                if let (Some(l1), Some(seen)) = (self.inner.l1.as_deref(), seen) {
                    let life = entry.entry().remaining_life();
                    l1.fill(key, value, Arc::clone(&entry), life, seen);
                }
                Lookup::Hit(entry)
            }
            Err(e) => self.corrupt(key, e),
        }
    }

    /// An undecodable entry: counted, logged (rate-limited), and a miss.
    fn corrupt(&self, key: &str, e: DecodeError) -> Lookup {
        self.inner.metrics.failed(Op::Get, CORRUPT);
        if let Some(suppressed) = self.inner.corrupt.admit() {
            tracing::warn!(key_hash = %self.key_name(key), error = %e, suppressed, "route cache: undecodable entry treated as a miss");
        }
        Lookup::Miss
    }

    /// A stored body that could not be decompressed for a client that does
    /// not take its coding (corrupt, or a coding whose feature this build
    /// lacks): counted and logged like an undecodable entry.
    pub(crate) fn undecodable(&self, key: &str) {
        self.inner.metrics.failed(Op::Get, CORRUPT);
        if let Some(suppressed) = self.inner.corrupt.admit() {
            tracing::warn!(
                key_hash = %self.key_name(key),
                suppressed,
                "route cache: stored body could not be decompressed; treated as a miss"
            );
        }
    }

    /// Stores an encoded entry and lists it in `indexes` (its path and tag
    /// sets), then tells other instances' L1s, unless the generations
    /// `noted` before its handler ran have changed (see
    /// `crate::fill::generation`). A failure is logged and reported, never
    /// returned as an error; an entry that could not be indexed is removed
    /// again, so no invalidation can miss it.
    pub(crate) async fn save(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
        indexes: &[Index],
        noted: &Generations,
    ) -> SaveStatus {
        use futures_util::future::{join, join_all};
        if noted.values.is_none() {
            // Unknown generations (the backend failed): nothing is kept.
            return SaveStatus::Failed;
        }
        let store = &self.inner.store;
        if let Store::Redis(redis) = store {
            if !redis.is_cluster() {
                return self
                    .save_pipelined(redis, key, value, ttl, indexes, noted)
                    .await;
            }
        }
        if let Err(e) = self.call(Op::Set, store.set(key, value.clone(), ttl)).await {
            self.fault("set", key, &e);
            // A timed-out write may still land, unindexed: withdrawn after
            // it (the same node, in order).
            self.withdraw(key).await;
            return SaveStatus::Failed;
        }
        // Indexed after the write: an invalidation that pops the index in
        // between finds the old entry; one that runs later finds this one.
        // The other instances' L1s are told at the same time (the entry is
        // written; the index sets are not theirs to read), and this one
        // keeps the new value unless an invalidation arrived meanwhile.
        let seen = self.inner.l1.as_ref().map(|l1| l1.drop_keys([key]));
        let indexed = join_all(
            indexes
                .iter()
                .map(|index| self.call(Op::Index, store.index_add(index, key, ttl))),
        );
        let (added, ()) = join(indexed, self.publish(&Message::Keys(key))).await;
        let mut full = false;
        for added in added {
            match added {
                Ok(IndexAdd::Added) => {}
                Ok(IndexAdd::Full) => full = true,
                Err(e) => {
                    self.fault("index", key, &e);
                    self.withdraw(key).await;
                    return SaveStatus::Failed;
                }
            }
        }
        if full {
            // Listed in the sets that had room: harmless, an invalidation
            // there finds no entry.
            self.withdraw(key).await;
            return SaveStatus::Full;
        }
        // Written, then checked (the generations live in other slots of a
        // cluster; in process, a write and a check are no single step).
        if self.changed_since(noted).await {
            self.withdraw(key).await;
            return SaveStatus::Invalidated;
        }
        self.keep_in_l1(key, value, ttl, seen);
        SaveStatus::Stored
    }

    /// [`Self::save`] on one server: entry, index sets and the L1 message
    /// in one pipeline, so a miss pays one round trip to store.
    async fn save_pipelined(
        &self,
        redis: &crate::store::RedisStore,
        key: &str,
        value: Bytes,
        ttl: Duration,
        indexes: &[Index],
        noted: &Generations,
    ) -> SaveStatus {
        let seen = self.inner.l1.as_ref().map(|l1| l1.drop_keys([key]));
        let publisher = self.inner.publisher.as_deref();
        let text = publisher.map(|p| p.prepare(&Message::Keys(key)));
        let message = publisher
            .zip(text.as_deref())
            .map(|(p, t)| (p.channel.as_str(), t));
        let saved = redis.save_pipelined(key, &value, ttl, indexes, message, noted);
        match self.call(Op::Set, saved).await {
            Ok(Save::Stored) => {}
            Ok(Save::Invalidated) => return SaveStatus::Invalidated,
            Ok(Save::Full) => return SaveStatus::Full,
            Err(e) => {
                self.fault("set", key, &e);
                // Any part may have landed: an entry that may be unindexed
                // must go.
                self.withdraw(key).await;
                return SaveStatus::Failed;
            }
        }
        self.keep_in_l1(key, value, ttl, seen);
        SaveStatus::Stored
    }

    /// Deletes an entry just written that must not stay, here and in every
    /// instance's L1. The backend may just have failed: when the delete
    /// fails too, fresh attempts follow in the background (each a new
    /// command, on a connection re-established meanwhile) until one lands
    /// or `invalidate_timeout` has passed, and an entry that could not be
    /// withdrawn is logged.
    async fn withdraw(&self, key: &str) {
        let deleted = self.call(Op::Delete, self.inner.store.delete(key)).await;
        self.forget_keys(&[key]).await;
        if deleted.is_ok() {
            return;
        }
        let (cache, key) = (self.clone(), key.to_owned());
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let limit = cache.inner.config.invalidate_timeout;
            let key = key.as_str();
            let delete = || cache.inner.store.delete(key);
            let landed = cache.call_until(Op::Delete, limit, delete, |_| {}).await;
            match landed {
                // An instance that read it meanwhile drops it again.
                Some(()) => cache.forget_keys(&[key]).await,
                None => tracing::warn!(
                    key_hash = %cache.key_name(key),
                    limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                    "route cache: an entry that may be unindexed could not be withdrawn; \
                     it lives until its TTL"
                ),
            }
        });
    }

    /// Notes a value just written as stored, and keeps it in this
    /// instance's L1 unless an invalidation arrived since `seen` (the epoch
    /// of the write's drop).
    fn keep_in_l1(&self, key: &str, value: Bytes, ttl: Duration, seen: Option<u64>) {
        // Its next lookup can be a plain read.
        self.inner.recent.found(Probe::of(key), true);
        if let (Some(l1), Some(seen)) = (&self.inner.l1, seen) {
            // Decoded only for an L1 that will keep it.
            if l1.is_live() {
                if let Some(epoch) = l1.written(seen) {
                    if let Ok(entry) = Prepared::decode(value.clone()) {
                        l1.fill(key, value, Arc::new(entry), ttl, epoch);
                    }
                }
            }
        }
    }
}
