use super::clock::{ClockMap, Removal};
use super::{CacheStore, Index, IndexAdd, StoreError};
use crate::clock::now_ms;
use crate::entry::prepared::Prepared;
use crate::entry::DecodeError;
use crate::observe::StoreGauges;
use bytes::Bytes;
use moka::{notification::RemovalCause, sync::Cache, Expiry};
use std::{
    collections::HashMap,
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

/// The in-process store: a concurrent, size-bounded map (CLOCK eviction
/// with TinyLFU admission, see [`ClockMap`]) whose entries expire after
/// their own TTL. Same entry
/// format and semantics as Redis, for single-instance deployments, the L1
/// and development. Cloning is cheap and clones share the same entries.
#[derive(Clone)]
pub(crate) struct MemoryStore {
    cache: Arc<ClockMap<MemoryEntry>>,
    /// Tag and path indexes: members with their entries' ends of life,
    /// each set expiring with its longest-lived member, weighed by their
    /// bytes within an eighth of the store's capacity.
    indexes: Cache<String, Arc<Members>>,
    /// Entries and bytes held, and evictions.
    gauges: Arc<StoreGauges>,
    /// Generation counters (see `crate::fill::generation`), by a hash of their
    /// key: two keys sharing a slot only make a fill keep nothing more
    /// often, never keep a stale entry.
    generations: Arc<[AtomicU64]>,
}

/// Slots of the generation table.
const GENERATION_SLOTS: usize = 4096;

/// The share of the store's capacity its index sets may take.
const INDEX_SHARE: u64 = 8;

/// Bytes an index member counts beyond its key: the map slot, its end of
/// life and the allocation.
const MEMBER_OVERHEAD: usize = 48;

/// One index set: its members and when each one's entry ends.
#[derive(Default)]
struct Members {
    inner: Mutex<MemberMap>,
}

#[derive(Default)]
struct MemberMap {
    /// Member key → its entry's end of life (ms since the epoch).
    ends: HashMap<String, u64>,
    /// The latest end of any member: the set's own.
    end: u64,
    /// What the members weigh.
    bytes: usize,
    /// The member count after the last prune: the next comes at twice it.
    pruned_at: usize,
}

impl MemberMap {
    /// Drops the members whose entries have ended by `now`.
    fn prune(&mut self, now: u64) {
        let mut freed = 0;
        self.ends.retain(|member, end| {
            let live = *end > now;
            if !live {
                freed += member.len() + MEMBER_OVERHEAD;
            }
            live
        });
        self.bytes -= freed;
        self.pruned_at = self.ends.len();
    }
}

impl Members {
    fn weight(&self) -> u32 {
        let bytes = self.inner.lock().map_or(0, |m| m.bytes);
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

impl Members {
    /// How long the set has left: as long as its longest-lived member.
    fn ttl(&self) -> Duration {
        let end = self.inner.lock().map_or(0, |m| m.end);
        Duration::from_millis(end.saturating_sub(now_ms()))
    }
}

struct MemoryEntry {
    value: Bytes,
    /// The value decoded, once, when it was stored.
    prepared: Result<Arc<Prepared>, DecodeError>,
}

/// An index set expires with its longest-lived member.
struct SetTtl;

impl Expiry<String, Arc<Members>> for SetTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<Members>,
        _now: Instant,
    ) -> Option<Duration> {
        Some(value.ttl())
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Arc<Members>,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.gauges.entries())
            .field("bytes", &self.cache.bytes())
            .finish()
    }
}

impl MemoryStore {
    /// Creates a store holding at most `capacity_bytes` of keys and values.
    /// An entry also counts its decoded form (512 bytes and 128 per stored
    /// header), which is kept so that a hit does not decode it again. What
    /// it holds is reported to `gauges`.
    pub(crate) fn new(capacity_bytes: u64, gauges: Arc<StoreGauges>) -> Self {
        let counted = Arc::clone(&gauges);
        // Entries and index sets share the capacity: the sets may take an
        // eighth of it.
        let index_capacity = capacity_bytes / INDEX_SHARE;
        // Every removal (replaced, expired, deleted, evicted, or too heavy
        // to store) is reported here, once.
        let cache = Arc::new(ClockMap::new(
            capacity_bytes - index_capacity,
            move |_: &MemoryEntry, weight, cause| {
                counted.changed(-1, u64::from(weight));
                if cause == Removal::Size {
                    counted.evicted();
                }
            },
        ));
        // Index sets are weighed by their members (re-weighed on every
        // add). One evicted for room takes its entries with it: an entry
        // must never outlive the index an invalidation would find it
        // through.
        let entries = Arc::clone(&cache);
        let indexes = Cache::builder()
            .max_capacity(index_capacity)
            .weigher(|key: &String, members: &Arc<Members>| {
                u32::try_from(key.len())
                    .unwrap_or(u32::MAX)
                    .saturating_add(members.weight())
            })
            .expire_after(SetTtl)
            .eviction_listener(move |_key, members: Arc<Members>, cause| {
                if cause == RemovalCause::Size {
                    if let Ok(map) = members.inner.lock() {
                        for member in map.ends.keys() {
                            entries.remove(member);
                        }
                    }
                }
            })
            .build();
        Self {
            cache,
            indexes,
            gauges,
            generations: (0..GENERATION_SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn generation_slot(&self, key: &str) -> &AtomicU64 {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        // Truncation is the point: a slot of the table.
        #[allow(clippy::cast_possible_truncation)]
        &self.generations[hash as usize % GENERATION_SLOTS]
    }

    /// The generations of `keys`, now.
    pub(crate) fn generations(&self, keys: &[String]) -> Vec<u64> {
        keys.iter()
            .map(|key| self.generation_slot(key).load(Ordering::SeqCst))
            .collect()
    }

    /// Bumps the generation `key`.
    pub(crate) fn bump(&self, key: &str) {
        self.generation_slot(key).fetch_add(1, Ordering::SeqCst);
    }

    /// What the store holds, and its evictions, once the entries past
    /// their end are removed (they are otherwise removed as writes or
    /// evictions come across them).
    pub(crate) fn gauges(&self) -> &StoreGauges {
        self.cache.sweep(now_ms());
        &self.gauges
    }

    /// Lists `member`, whose entry lives `ttl` more, in the index set
    /// `index`, unless the set holds its cap of live members; the set lives
    /// as long as its longest-lived member.
    ///
    /// One step per set (moka's per-key compute): two adds racing on a set
    /// that is new, or has just ended, would otherwise each make a set and
    /// write it back, and the members of the one replaced would be lost to
    /// every invalidation.
    pub(crate) fn index_add(&self, index: &Index, member: &str, ttl: Duration) -> IndexAdd {
        use moka::ops::compute::Op;
        let now = now_ms();
        let end = now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        let mut added = IndexAdd::Full;
        self.indexes
            .entry_by_ref(index.key.as_str())
            .and_compute_with(|current| {
                let members = current.map_or_else(Arc::default, moka::Entry::into_value);
                let Ok(mut map) = members.inner.lock() else {
                    return Op::Nop;
                };
                match map.ends.get_mut(member) {
                    Some(old) => *old = (*old).max(end),
                    None => {
                        if map.ends.len() >= index.cap
                            || map.ends.len() >= 2 * map.pruned_at.max(32)
                        {
                            map.prune(now);
                        }
                        if map.ends.len() >= index.cap {
                            return Op::Nop;
                        }
                        map.ends.insert(member.to_owned(), end);
                        map.bytes += member.len() + MEMBER_OVERHEAD;
                    }
                }
                map.end = map.end.max(end);
                drop(map);
                added = IndexAdd::Added;
                // Written back: re-weighed, and its expiry pushed out.
                Op::Put(members)
            });
        added
    }

    /// Removes and returns up to `count` live members of the index set
    /// `index`, after dropping its expired ones.
    pub(crate) fn index_pop(&self, index: &str, count: usize) -> Vec<String> {
        let Some(members) = self.indexes.get(index) else {
            return Vec::new();
        };
        let Ok(mut map) = members.inner.lock() else {
            return Vec::new();
        };
        map.prune(now_ms());
        let popped: Vec<String> = map.ends.keys().take(count).cloned().collect();
        for member in &popped {
            map.ends.remove(member);
            map.bytes -= member.len() + MEMBER_OVERHEAD;
        }
        popped
    }

    /// What the index sets weigh, in bytes (for the tests and the bench).
    pub(crate) fn index_bytes(&self) -> u64 {
        self.indexes.run_pending_tasks();
        self.indexes.weighted_size()
    }

    /// Deletes every entry and index whose key satisfies `matches`; returns
    /// how many entries there were.
    pub(crate) fn delete_where(&self, matches: impl Fn(&str) -> bool) -> usize {
        let keys = self.cache.keys_where(now_ms(), &matches);
        for key in &keys {
            self.cache.remove(key);
        }
        self.indexes
            .iter()
            .filter(|(key, _)| matches(key))
            .for_each(|(key, _)| self.indexes.invalidate(key.as_str()));
        keys.len()
    }

    /// Every live member of the index set `index`, left in place.
    pub(crate) fn index_members(&self, index: &str) -> Vec<String> {
        let now = now_ms();
        self.indexes
            .get(index)
            .and_then(|members| {
                members.inner.lock().ok().map(|map| {
                    map.ends
                        .iter()
                        .filter(|(_, end)| **end > now)
                        .map(|(member, _)| member.clone())
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    /// Every entry key satisfying `matches`.
    pub(crate) fn keys_where(&self, matches: impl Fn(&str) -> bool) -> Vec<String> {
        self.cache.keys_where(now_ms(), matches)
    }

    /// Drops the entry under `key`.
    pub(crate) fn forget(&self, key: &str) {
        self.cache.remove(key);
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        self.cache.clear();
        self.indexes.invalidate_all();
    }

    /// The value under `key`, without going through the async trait.
    pub(crate) fn peek(&self, key: &str) -> Option<Bytes> {
        self.cache.get(key, now_ms(), |stored| stored.value.clone())
    }

    /// The entry under `key`, decoded when it was stored, if it is live at
    /// `now_ms`; an error for a value that is not an entry.
    pub(crate) fn peek_prepared(
        &self,
        key: &str,
        now_ms: u64,
    ) -> Option<Result<Arc<Prepared>, DecodeError>> {
        self.cache
            .get(key, now_ms, |stored| stored.prepared.clone())
    }

    /// Stores `value` under `key` for `ttl` (sub-second precision kept).
    pub(crate) fn put(&self, key: &str, value: Bytes, ttl: Duration) {
        let prepared = Prepared::decode(value.clone()).map(Arc::new);
        self.put_prepared(key, value, prepared, ttl);
    }

    /// [`Self::put`] for a value already decoded into `prepared`.
    pub(crate) fn put_prepared(
        &self,
        key: &str,
        value: Bytes,
        prepared: Result<Arc<Prepared>, DecodeError>,
        ttl: Duration,
    ) {
        let now = now_ms();
        let (stored, weight, end) = self.stored(key, value, prepared, ttl, now);
        self.cache.insert(key, stored, weight, end, now);
    }

    /// What the map holds for `value` under `key`, counted in the gauges:
    /// the entry, its weight and its end of life (`ttl` after `now`).
    fn stored(
        &self,
        key: &str,
        value: Bytes,
        prepared: Result<Arc<Prepared>, DecodeError>,
        ttl: Duration,
        now: u64,
    ) -> (MemoryEntry, u32, u64) {
        let overhead = prepared.as_ref().map_or(0, |p| p.overhead());
        let weight = u32::try_from(key.len() + value.len() + overhead).unwrap_or(u32::MAX);
        self.gauges.changed(1, u64::from(weight));
        let end = now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        (MemoryEntry { value, prepared }, weight, end)
    }

    /// Replaces the value under `key` with `new` (to live `ttl`) if it is
    /// still `old`, in one step for that key (under its shard's lock);
    /// whether it did.
    pub(crate) fn replace(&self, key: &str, old: &Bytes, new: Bytes, ttl: Duration) -> bool {
        let now = now_ms();
        self.cache.insert_if(
            key,
            now,
            |current| current.is_some_and(|entry| entry.value == *old),
            || {
                let prepared = Prepared::decode(new.clone()).map(Arc::new);
                self.stored(key, new, prepared, ttl, now)
            },
        )
    }
}

impl CacheStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        Ok(self.peek(key))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        self.put(key, value, Duration::from_secs(ttl.as_secs().max(1)));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.forget(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds racing on a set that does not exist yet all land: none is
    /// written into a set another add replaces.
    #[test]
    fn concurrent_adds_to_a_new_set_all_land() {
        const THREADS: usize = 4;
        const EACH: usize = 25;
        let store = MemoryStore::new(64 << 20, Arc::new(StoreGauges::unobserved()));
        for round in 0..200 {
            let index = Index {
                key: format!("set{round}"),
                cap: usize::MAX,
            };
            std::thread::scope(|s| {
                for t in 0..THREADS {
                    let (store, index) = (&store, &index);
                    s.spawn(move || {
                        for m in 0..EACH {
                            let added = store.index_add(
                                index,
                                &format!("k{t}-{m}"),
                                Duration::from_secs(60),
                            );
                            assert_eq!(added, IndexAdd::Added);
                        }
                    });
                }
            });
            let members = store.index_members(&index.key).len();
            assert_eq!(members, THREADS * EACH, "round {round}: members lost");
        }
    }
}
