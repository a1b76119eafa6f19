use super::{CacheStore, StoreError};
use crate::entry::{DecodeError, Prepared};
use crate::observe::StoreGauges;
use bytes::Bytes;
use moka::{notification::RemovalCause, sync::Cache, Expiry};
use std::{
    collections::HashSet,
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

/// The in-process store: a concurrent, size-bounded map (moka, TinyLFU
/// admission) whose entries expire after their own TTL. Same entry format and
/// semantics as Redis, for single-instance deployments and development.
/// Cloning is cheap and clones share the same entries.
#[derive(Clone)]
pub(crate) struct MemoryStore {
    cache: Cache<String, Arc<Stored>>,
    /// Tag and path indexes: key sets, expiring with their longest-lived
    /// member.
    indexes: Cache<String, Index>,
    /// Entries and bytes held, and evictions.
    gauges: Arc<StoreGauges>,
    /// Generation counters (see `crate::generation`), by a hash of their
    /// key: two keys sharing a slot only make a fill keep nothing more
    /// often, never keep a stale entry.
    generations: Arc<[AtomicU64]>,
}

/// Slots of the generation table.
const GENERATION_SLOTS: usize = 4096;

#[derive(Clone)]
struct Index {
    members: Arc<Mutex<HashSet<String>>>,
    ttl: Duration,
}

impl HasTtl for Index {
    fn ttl(&self) -> Duration {
        self.ttl
    }
}

impl HasTtl for Arc<Stored> {
    fn ttl(&self) -> Duration {
        self.ttl
    }
}

trait HasTtl {
    fn ttl(&self) -> Duration;
}

struct Stored {
    value: Bytes,
    /// The value decoded, once, when it was stored.
    prepared: Result<Arc<Prepared>, DecodeError>,
    ttl: Duration,
    /// What it counts against the capacity.
    weight: u32,
}

struct PerEntryTtl;

impl<V: HasTtl> Expiry<String, V> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &V, _now: Instant) -> Option<Duration> {
        Some(value.ttl())
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &V,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.cache.entry_count())
            .field("bytes", &self.cache.weighted_size())
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
        let cache = Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|_key: &String, stored: &Arc<Stored>| stored.weight)
            .expire_after(PerEntryTtl)
            // Every removal (replaced, expired, deleted, evicted, or not
            // admitted) is reported here, once.
            .eviction_listener(move |_key, stored: Arc<Stored>, cause| {
                counted.changed(-1, u64::from(stored.weight));
                if cause == RemovalCause::Size {
                    counted.evicted();
                }
            })
            .build();
        // Index sets are counted, not weighed (they grow after insertion).
        // One evicted for room takes its entries with it: an entry must
        // never outlive the index an invalidation would find it through.
        let entries = cache.clone();
        let indexes = Cache::builder()
            .max_capacity(capacity_bytes / 64 + 1024)
            .expire_after(PerEntryTtl)
            .eviction_listener(move |_key, index: Index, cause| {
                if cause == RemovalCause::Size {
                    if let Ok(members) = index.members.lock() {
                        for member in members.iter() {
                            entries.invalidate(member);
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

    /// What the store holds, and its evictions.
    pub(crate) fn gauges(&self) -> &StoreGauges {
        &self.gauges
    }

    /// Adds `member` to the index set `index`, which lives at least `ttl`.
    pub(crate) fn index_add(&self, index: &str, member: &str, ttl: Duration) {
        let entry = self.indexes.entry_by_ref(index).or_insert_with(|| Index {
            members: Arc::default(),
            ttl,
        });
        let mut current = entry.into_value();
        if let Ok(mut members) = current.members.lock() {
            members.insert(member.to_owned());
        }
        if ttl > current.ttl {
            // Re-inserting pushes the set's expiry out.
            current.ttl = ttl;
            self.indexes.insert(index.to_owned(), current);
        }
    }

    /// Removes and returns up to `count` members of the index set `index`.
    pub(crate) fn index_pop(&self, index: &str, count: usize) -> Vec<String> {
        let Some(current) = self.indexes.get(index) else {
            return Vec::new();
        };
        let Ok(mut members) = current.members.lock() else {
            return Vec::new();
        };
        let popped: Vec<String> = members.iter().take(count).cloned().collect();
        for member in &popped {
            members.remove(member);
        }
        popped
    }

    /// Deletes every entry and index whose key satisfies `matches`; returns
    /// how many entries there were.
    pub(crate) fn delete_where(&self, matches: impl Fn(&str) -> bool) -> usize {
        let keys: Vec<String> = self
            .cache
            .iter()
            .filter(|(key, _)| matches(key))
            .map(|(key, _)| String::clone(&key))
            .collect();
        for key in &keys {
            self.cache.invalidate(key);
        }
        self.indexes
            .iter()
            .filter(|(key, _)| matches(key))
            .for_each(|(key, _)| self.indexes.invalidate(key.as_str()));
        keys.len()
    }

    /// Every member of the index set `index`, left in place.
    pub(crate) fn index_members(&self, index: &str) -> Vec<String> {
        self.indexes
            .get(index)
            .and_then(|i| i.members.lock().ok().map(|m| m.iter().cloned().collect()))
            .unwrap_or_default()
    }

    /// Every entry key satisfying `matches`.
    pub(crate) fn keys_where(&self, matches: impl Fn(&str) -> bool) -> Vec<String> {
        self.cache
            .iter()
            .filter(|(key, _)| matches(key))
            .map(|(key, _)| String::clone(&key))
            .collect()
    }

    /// Drops the entry under `key`.
    pub(crate) fn forget(&self, key: &str) {
        self.cache.invalidate(key);
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        self.cache.invalidate_all();
        self.indexes.invalidate_all();
        // `invalidate_all` removes lazily: remove now, so that what the
        // gauges report (through the listener) is what is held.
        self.cache.run_pending_tasks();
    }

    /// The value under `key`, without going through the async trait.
    pub(crate) fn peek(&self, key: &str) -> Option<Bytes> {
        self.cache.get(key).map(|stored| stored.value.clone())
    }

    /// The entry under `key`, decoded when it was stored; an error for a
    /// value that is not an entry.
    pub(crate) fn peek_prepared(&self, key: &str) -> Option<Result<Arc<Prepared>, DecodeError>> {
        self.cache.get(key).map(|stored| stored.prepared.clone())
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
        let stored = self.stored(key, value, prepared, ttl);
        self.cache.insert(key.to_owned(), stored);
    }

    /// What the map holds for `value` under `key`, counted in the gauges.
    fn stored(
        &self,
        key: &str,
        value: Bytes,
        prepared: Result<Arc<Prepared>, DecodeError>,
        ttl: Duration,
    ) -> Arc<Stored> {
        let overhead = prepared.as_ref().map_or(0, |p| p.overhead());
        let weight = u32::try_from(key.len() + value.len() + overhead).unwrap_or(u32::MAX);
        self.gauges.changed(1, u64::from(weight));
        Arc::new(Stored {
            value,
            prepared,
            ttl,
            weight,
        })
    }

    /// Replaces the value under `key` with `new` (to live `ttl`) if it is
    /// still `old`, in one step for that key (moka runs computations on one
    /// key one at a time); whether it did.
    pub(crate) fn replace(&self, key: &str, old: &Bytes, new: Bytes, ttl: Duration) -> bool {
        use moka::ops::compute::{CompResult, Op};
        let result = self
            .cache
            .entry_by_ref(key)
            .and_compute_with(|current| match current {
                Some(entry) if entry.value().value == *old => {
                    let prepared = Prepared::decode(new.clone()).map(Arc::new);
                    Op::Put(self.stored(key, new.clone(), prepared, ttl))
                }
                _ => Op::Nop,
            });
        matches!(result, CompResult::ReplacedWith(_))
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
