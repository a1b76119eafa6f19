//! The in-process stores' map: sharded, bounded by bytes, entries that
//! expire on their own, CLOCK (second-chance) eviction and TinyLFU
//! admission.
//!
//! A hit is the hot path of the embedded store and the L1, and a general
//! cache's read was most of its cost (moka's `get`: about 1,230
//! instructions a hit, for the hash, the read's bookkeeping and its
//! share of housekeeping). Here a read takes one keyed SipHash of the key,
//! four counters of the frequency sketch, a shard's read lock, one probe
//! and a relaxed store of the slot's referenced bit when it is not set
//! yet: about 500 instructions. Everything else is paid by writes.
//!
//! - **Keys.** Hashed once with the standard library's randomly keyed
//!   SipHash (clients choose keys: no hash flooding), which picks the
//!   shard and is the shard's map key. Keys that share a hash are chained
//!   through their slots.
//! - **Capacity.** One byte budget for all shards. An insert that takes
//!   the map over it evicts, one shard at a time in turn, until it is
//!   back under: each shard's hand sweeps its slots, clearing referenced
//!   bits and evicting the first entry whose bit was clear (CLOCK, an
//!   approximation of LRU: an entry read since the hand last passed
//!   stays). Expired entries the hand meets go first. An entry heavier
//!   than the whole budget is not stored.
//! - **Admission.** Every lookup, found or not, counts its key in a
//!   count-min sketch (halved now and then, by an insert, so it follows
//!   what is asked for now). A new key that would push out a live entry asked for more
//!   often is dropped instead: the tail of a skewed trace cannot flush
//!   the popular entries, and the map keeps the hit rate of an ideal
//!   LRU of its bytes (`bench/curves.sh`, sweep `keys`).
//! - **Expiry.** An entry past its end is never returned. It is removed
//!   when the hand meets it, when a later insert into its shard sweeps
//!   past it (two slots an insert), or by [`ClockMap::sweep`].
//! - **Removals** of every kind are reported once, to the callback given
//!   at creation, with their cause.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Shards: a power of two.
const SHARDS: usize = 64;

/// No slot (the end of a chain).
const NONE: u32 = u32::MAX;

/// Why an entry left the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    /// Overwritten by an insert under its key.
    Replaced,
    /// Removed by [`ClockMap::remove`] or [`ClockMap::clear`].
    Deleted,
    /// Past its end.
    Expired,
    /// Evicted for room, or too heavy to store.
    Size,
}

/// The callback told of each removal: the value, its weight, the cause.
type OnRemove<V> = Box<dyn Fn(&V, u32, Removal) + Send + Sync>;

/// See the [module docs](self).
pub(crate) struct ClockMap<V> {
    shards: Box<[RwLock<Shard<V>>]>,
    hasher: RandomState,
    capacity: u64,
    /// Bytes held, all shards.
    held: AtomicU64,
    /// The shard that evicts next.
    next_evicting: AtomicUsize,
    /// How often keys were asked for lately, for admission.
    sketch: Sketch,
    on_remove: OnRemove<V>,
}

/// What eviction found in a shard's turn.
#[derive(Debug, PartialEq, Eq)]
enum Turn {
    /// A value went.
    Evicted,
    /// The victim is asked for more often than the new key: the new key
    /// goes instead.
    Refused,
    /// Nothing to evict here (every referenced bit was cleared).
    Nothing,
}

/// A count-min sketch of how often keys were asked for (TinyLFU): four
/// 4-bit-saturating counters per key, all halved after about ten reads
/// per counter, so that the counts follow what is popular now. The reads
/// are counted per shard, and the halving is left to the next insert
/// into a shard that counted its share: a hit never pays it, and no
/// counter is shared by every reader.
struct Sketch {
    counters: Box<[AtomicU8]>,
    mask: usize,
}

impl Sketch {
    /// A sketch of `slots` counters (a power of two).
    fn new(slots: usize) -> Self {
        Self {
            counters: (0..slots).map(|_| AtomicU8::new(0)).collect(),
            mask: slots - 1,
        }
    }

    /// Reads a shard counts between two halvings: its share of ten per
    /// counter.
    fn period_per_shard(&self) -> u64 {
        (10 * self.counters.len() as u64 / SHARDS as u64).max(1)
    }

    fn slots(&self, hash: u64) -> [usize; 4] {
        let mixed = hash.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // Truncations: each picks a counter.
        #[allow(clippy::cast_possible_truncation)]
        [
            hash as usize & self.mask,
            (hash >> 32) as usize & self.mask,
            mixed as usize & self.mask,
            (mixed >> 32) as usize & self.mask,
        ]
    }

    /// Counts a read of the key whose hash is `hash`.
    fn touch(&self, hash: u64) {
        for i in self.slots(hash) {
            let counter = &self.counters[i];
            let count = counter.load(Ordering::Relaxed);
            if count < 15 {
                counter.store(count + 1, Ordering::Relaxed);
            }
        }
    }

    /// Halves every counter.
    fn halve(&self) {
        for counter in &*self.counters {
            counter.store(counter.load(Ordering::Relaxed) / 2, Ordering::Relaxed);
        }
    }

    /// How often the key whose hash is `hash` was read lately.
    fn frequency(&self, hash: u64) -> u8 {
        self.slots(hash)
            .into_iter()
            .map(|i| self.counters[i].load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    }
}

struct Shard<V> {
    /// A key's hash → the first slot of the chain of keys with that hash.
    heads: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    slots: Vec<Option<Slot<V>>>,
    free: Vec<u32>,
    hand: usize,
    sweep: usize,
    /// Lookups in this shard since the sketch was last halved.
    reads: AtomicU64,
}

struct Slot<V> {
    key: Box<str>,
    hash: u64,
    next: u32,
    value: V,
    weight: u32,
    /// End of life, ms since the epoch: not returned from then on.
    end_ms: u64,
    referenced: AtomicBool,
}

/// The shard maps' hasher: their keys are SipHash outputs already.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl<V> ClockMap<V> {
    /// A map holding at most `capacity` bytes (as weighed at insert),
    /// telling `on_remove` of every value that leaves it.
    pub(crate) fn new(
        capacity: u64,
        on_remove: impl Fn(&V, u32, Removal) + Send + Sync + 'static,
    ) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::empty())).collect(),
            hasher: RandomState::new(),
            // A counter for every 512 bytes of capacity: several per entry
            // of any size worth caching.
            sketch: Sketch::new(
                usize::try_from(capacity / 512)
                    .unwrap_or(usize::MAX)
                    .clamp(1 << 10, 1 << 24)
                    .next_power_of_two(),
            ),
            capacity,
            held: AtomicU64::new(0),
            next_evicting: AtomicUsize::new(0),
            on_remove: Box::new(on_remove),
        }
    }

    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard_of(&self, hash: u64) -> &RwLock<Shard<V>> {
        // The shard from bits the shard's own table does not use for
        // placement (the low ones) or its control bytes (the top seven).
        #[allow(clippy::cast_possible_truncation)]
        let shard = (hash >> 32) as usize & (SHARDS - 1);
        &self.shards[shard]
    }

    fn read(&self, hash: u64) -> RwLockReadGuard<'_, Shard<V>> {
        self.shard_of(hash)
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_shard(shard: &RwLock<Shard<V>>) -> RwLockWriteGuard<'_, Shard<V>> {
        shard
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `read` of the live value under `key` at `now_ms`, marking it used.
    pub(crate) fn get<R>(&self, key: &str, now_ms: u64, read: impl FnOnce(&V) -> R) -> Option<R> {
        let hash = self.hash(key);
        let shard = self.read(hash);
        // Found or not: a miss is what makes a key worth admitting.
        self.sketch.touch(hash);
        // A load and a store, not an atomic add: readers of one shard on
        // two threads at once may count one read where there were two,
        // which only puts the sketch's halving off a little, and a hit
        // saves a locked instruction (tens of cycles on some CPUs).
        let reads = shard.reads.load(Ordering::Relaxed);
        shard.reads.store(reads.wrapping_add(1), Ordering::Relaxed);
        let slot = shard.find(hash, key)?;
        let slot = shard.slots[slot as usize].as_ref()?;
        if slot.end_ms <= now_ms {
            return None;
        }
        if !slot.referenced.load(Ordering::Relaxed) {
            slot.referenced.store(true, Ordering::Relaxed);
        }
        Some(read(&slot.value))
    }

    /// Stores `value` (weighing `weight` bytes, live until `end_ms`) under
    /// `key`, replacing what was there, then evicts while the map is over
    /// its capacity.
    pub(crate) fn insert(&self, key: &str, value: V, weight: u32, end_ms: u64, now_ms: u64) {
        self.insert_if(key, now_ms, |_| true, || (value, weight, end_ms));
    }

    /// [`Self::insert`] of what `make` gives, when `keep` holds of the live
    /// value under `key` (`None`: there is none), in one step for that
    /// key; whether it stored.
    pub(crate) fn insert_if(
        &self,
        key: &str,
        now_ms: u64,
        keep: impl FnOnce(Option<&V>) -> bool,
        make: impl FnOnce() -> (V, u32, u64),
    ) -> bool {
        let hash = self.hash(key);
        let (fresh, halve) = {
            let mut shard = Self::write_shard(self.shard_of(hash));
            let found = shard.find(hash, key);
            let live = found
                .and_then(|i| shard.slots[i as usize].as_ref())
                .filter(|slot| slot.end_ms > now_ms);
            if !keep(live.map(|slot| &slot.value)) {
                return false;
            }
            let (value, weight, end_ms) = make();
            if let Some(i) = found {
                let cause = if live.is_some() {
                    Removal::Replaced
                } else {
                    Removal::Expired
                };
                self.unlink(&mut shard, i, cause);
            }
            if u64::from(weight) > self.capacity {
                (self.on_remove)(&value, weight, Removal::Size);
                return true;
            }
            // Referenced from the start: a new entry outlives the hand's
            // next pass.
            shard.link(Slot {
                key: key.into(),
                hash,
                next: NONE,
                value,
                weight,
                end_ms,
                referenced: AtomicBool::new(true),
            });
            self.held.fetch_add(u64::from(weight), Ordering::Relaxed);
            self.sweep_some(&mut shard, now_ms, 2);
            let reads = shard.reads.get_mut();
            let halve = *reads >= self.sketch.period_per_shard();
            if halve {
                *reads = 0;
            }
            (found.is_none(), halve)
        };
        if halve {
            self.sketch.halve();
        }
        // A new key must be asked for at least as often as what it would
        // push out; a replaced value is admitted.
        self.evict_over(now_ms, fresh.then_some((hash, key)));
        true
    }

    /// Removes the value under `key`, if any.
    pub(crate) fn remove(&self, key: &str) {
        self.remove_hashed(self.hash(key), key, Removal::Deleted);
    }

    fn remove_hashed(&self, hash: u64, key: &str, cause: Removal) {
        let mut shard = Self::write_shard(self.shard_of(hash));
        if let Some(i) = shard.find(hash, key) {
            self.unlink(&mut shard, i, cause);
        }
    }

    /// Removes every value.
    pub(crate) fn clear(&self) {
        for shard in &*self.shards {
            let mut shard = Self::write_shard(shard);
            for i in 0..shard.slots.len() {
                if shard.slots[i].is_some() {
                    #[allow(clippy::cast_possible_truncation)]
                    self.unlink(&mut shard, i as u32, Removal::Deleted);
                }
            }
        }
    }

    /// Removes every value past its end at `now_ms`.
    pub(crate) fn sweep(&self, now_ms: u64) {
        for shard in &*self.shards {
            let mut shard = Self::write_shard(shard);
            let len = shard.slots.len();
            self.sweep_some(&mut shard, now_ms, len);
        }
    }

    /// The keys of the live values that satisfy `matches`.
    pub(crate) fn keys_where(&self, now_ms: u64, matches: impl Fn(&str) -> bool) -> Vec<String> {
        let mut keys = Vec::new();
        for shard in &*self.shards {
            let shard = shard
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            keys.extend(
                shard
                    .slots
                    .iter()
                    .flatten()
                    .filter(|slot| slot.end_ms > now_ms && matches(&slot.key))
                    .map(|slot| String::from(&*slot.key)),
            );
        }
        keys
    }

    /// Bytes held (expired values included until they are removed).
    pub(crate) fn bytes(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// Takes slot `i` out of its shard and reports it.
    fn unlink(&self, shard: &mut Shard<V>, i: u32, cause: Removal) {
        if let Some(slot) = shard.unlink(i) {
            self.held
                .fetch_sub(u64::from(slot.weight), Ordering::Relaxed);
            (self.on_remove)(&slot.value, slot.weight, cause);
        }
    }

    /// Removes the expired values among the next `count` slots of the
    /// shard's sweep.
    fn sweep_some(&self, shard: &mut Shard<V>, now_ms: u64, count: usize) {
        let len = shard.slots.len();
        for _ in 0..count.min(len) {
            let i = shard.sweep % len;
            shard.sweep = i + 1;
            if shard.slots[i].as_ref().is_some_and(|s| s.end_ms <= now_ms) {
                #[allow(clippy::cast_possible_truncation)]
                self.unlink(shard, i as u32, Removal::Expired);
            }
        }
    }

    /// Evicts, a shard at a time, while more than the capacity is held.
    /// With `candidate` (the hash and key of a new entry), the first live
    /// victim is weighed against it: the one asked for less often goes.
    fn evict_over(&self, now_ms: u64, mut candidate: Option<(u64, &str)>) {
        // A shard that evicts nothing in its turn has had every referenced
        // bit cleared, and evicts in its next: two turns of every shard
        // without an eviction means they are empty.
        let mut idle = 0;
        while self.held.load(Ordering::Relaxed) > self.capacity && idle < 2 * SHARDS {
            let turn = self.next_evicting.fetch_add(1, Ordering::Relaxed) % SHARDS;
            let against = candidate.map(|(hash, _)| self.sketch.frequency(hash));
            let mut shard = Self::write_shard(&self.shards[turn]);
            match self.evict_one(&mut shard, now_ms, against) {
                Turn::Evicted => {
                    idle = 0;
                    candidate = None;
                }
                Turn::Refused => {
                    drop(shard);
                    if let Some((hash, key)) = candidate.take() {
                        self.remove_hashed(hash, key, Removal::Size);
                    }
                    idle = 0;
                }
                Turn::Nothing => idle += 1,
            }
        }
    }

    /// Moves the shard's hand, for at most one turn, to its first expired
    /// or unreferenced value, clearing the referenced bits it passes, and
    /// removes that value, unless it is live and read more often than
    /// `against` (a new key's frequency).
    fn evict_one(&self, shard: &mut Shard<V>, now_ms: u64, against: Option<u8>) -> Turn {
        let len = shard.slots.len();
        for _ in 0..len {
            let i = shard.hand % len;
            shard.hand = i + 1;
            let Some(slot) = shard.slots[i].as_ref() else {
                continue;
            };
            let cause = if slot.end_ms <= now_ms {
                Removal::Expired
            } else if slot.referenced.swap(false, Ordering::Relaxed) {
                continue;
            } else if against.is_some_and(|new| self.sketch.frequency(slot.hash) > new) {
                return Turn::Refused;
            } else {
                Removal::Size
            };
            #[allow(clippy::cast_possible_truncation)]
            self.unlink(shard, i as u32, cause);
            return Turn::Evicted;
        }
        Turn::Nothing
    }
}

impl<V> Shard<V> {
    fn empty() -> Self {
        Self {
            heads: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
            sweep: 0,
            reads: AtomicU64::new(0),
        }
    }

    /// The slot of `key`, whose hash is `hash`.
    fn find(&self, hash: u64, key: &str) -> Option<u32> {
        let mut i = *self.heads.get(&hash)?;
        while i != NONE {
            let slot = self.slots[i as usize].as_ref()?;
            if *slot.key == *key {
                return Some(i);
            }
            i = slot.next;
        }
        None
    }

    /// Puts `slot` in a free place, at the head of its hash's chain.
    fn link(&mut self, mut slot: Slot<V>) {
        let hash = slot.hash;
        slot.next = self.heads.get(&hash).copied().unwrap_or(NONE);
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                // More than 4 billion entries in one shard is beyond any
                // byte budget this map is given.
                u32::try_from(self.slots.len() - 1).unwrap_or(NONE - 1)
            }
        };
        self.heads.insert(hash, i);
    }

    /// Takes slot `i` out of its chain and its place.
    fn unlink(&mut self, i: u32) -> Option<Slot<V>> {
        let slot = self.slots.get_mut(i as usize)?.take()?;
        match self.heads.get(&slot.hash).copied() {
            Some(head) if head == i => {
                if slot.next == NONE {
                    self.heads.remove(&slot.hash);
                } else {
                    self.heads.insert(slot.hash, slot.next);
                }
            }
            Some(mut at) => {
                while at != NONE {
                    let Some(prev) = self.slots[at as usize].as_mut() else {
                        break;
                    };
                    if prev.next == i {
                        prev.next = slot.next;
                        break;
                    }
                    at = prev.next;
                }
            }
            None => {}
        }
        self.free.push(i);
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::{ClockMap, Removal};
    use std::sync::{Arc, Mutex};

    /// What a test map reported removed.
    type Removed = Arc<Mutex<Vec<(u32, Removal)>>>;

    fn map(capacity: u64) -> (ClockMap<u32>, Removed) {
        let removed = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&removed);
        let map = ClockMap::new(capacity, move |value: &u32, _weight, cause| {
            seen.lock().unwrap().push((*value, cause));
        });
        (map, removed)
    }

    #[test]
    fn values_are_read_until_their_end() {
        let (map, removed) = map(1000);
        map.insert("a", 1, 10, 100, 0);
        assert_eq!(map.get("a", 99, |v| *v), Some(1));
        assert_eq!(map.get("a", 100, |v| *v), None, "past its end");
        assert_eq!(map.get("b", 0, |v| *v), None);
        map.sweep(100);
        assert_eq!(*removed.lock().unwrap(), [(1, Removal::Expired)]);
        assert_eq!(map.bytes(), 0);
    }

    #[test]
    fn an_insert_replaces_and_a_remove_deletes() {
        let (map, removed) = map(1000);
        map.insert("a", 1, 10, 100, 0);
        map.insert("a", 2, 20, 100, 0);
        assert_eq!(map.get("a", 0, |v| *v), Some(2));
        assert_eq!(map.bytes(), 20);
        map.remove("a");
        assert_eq!(map.get("a", 0, |v| *v), None);
        assert_eq!(
            *removed.lock().unwrap(),
            [(1, Removal::Replaced), (2, Removal::Deleted)]
        );
        assert_eq!(map.bytes(), 0);
    }

    #[test]
    fn the_capacity_holds_and_read_entries_stay() {
        let (map, removed) = map(100);
        let keys: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
        for (i, key) in (0..).zip(&keys) {
            map.insert(key, i, 10, 1000, 0);
        }
        assert_eq!(map.bytes(), 100);
        // Over by one: the hands clear every bit (new entries start
        // referenced), then one entry goes.
        map.insert("x", 10, 10, 1000, 0);
        assert_eq!(map.bytes(), 100);
        let gone: Vec<u32> = removed.lock().unwrap().drain(..).map(|(v, _)| v).collect();
        assert_eq!(gone.len(), 1);
        // Read every entry left but one: that one is the next to go.
        let kept: Vec<u32> = (0..11).filter(|v| !gone.contains(v)).collect();
        let cold = kept[kept.len() / 2];
        let name = |v: u32| {
            if v == 10 {
                "x".to_owned()
            } else {
                format!("k{v}")
            }
        };
        for &v in kept.iter().filter(|&&v| v != cold) {
            assert_eq!(map.get(&name(v), 0, |v| *v), Some(v));
        }
        map.insert("y", 11, 10, 1000, 0);
        assert_eq!(map.bytes(), 100);
        assert_eq!(*removed.lock().unwrap(), [(cold, Removal::Size)]);
        assert!(map.get(&name(cold), 0, |_| ()).is_none());
        for &v in kept.iter().filter(|&&v| v != cold) {
            assert!(map.get(&name(v), 0, |_| ()).is_some(), "{v} stays");
        }
        // Heavier than the whole budget: not stored.
        map.insert("huge", 12, 101, 1000, 0);
        assert!(map.get("huge", 0, |_| ()).is_none());
        assert_eq!(removed.lock().unwrap().last(), Some(&(12, Removal::Size)));
        // A zero budget stores nothing.
        let (empty, _) = super::tests::map(0);
        empty.insert("a", 1, 1, 1000, 0);
        assert!(empty.get("a", 0, |_| ()).is_none());
    }

    #[test]
    fn a_new_key_asked_for_less_than_its_victim_is_refused() {
        let (map, removed) = map(100);
        let keys: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
        for (i, key) in (0..).zip(&keys) {
            map.insert(key, i, 10, 1000, 0);
            // Asked for twice before it was stored, as a miss and a hit.
            for _ in 0..2 {
                map.get(key, 0, |_| ());
            }
        }
        // Never asked for: it does not push out what is.
        map.insert("cold", 10, 10, 1000, 0);
        assert_eq!(*removed.lock().unwrap(), [(10, Removal::Size)]);
        assert!(map.get("cold", 0, |_| ()).is_none());
        assert_eq!(map.bytes(), 100);
        // Asked for as often as the others (its two misses): it gets in.
        removed.lock().unwrap().clear();
        map.get("warm", 0, |_| ());
        map.get("warm", 0, |_| ());
        map.get("warm", 0, |_| ());
        map.insert("warm", 11, 10, 1000, 0);
        assert_eq!(map.get("warm", 0, |v| *v), Some(11));
        assert_eq!(removed.lock().unwrap().len(), 1, "one entry made room");
        assert_eq!(map.bytes(), 100);
    }

    #[test]
    fn the_sketch_is_halved_by_an_insert_after_its_reads() {
        let (map, _) = map(1000);
        let hash = map.hash("a");
        let period = map.sketch.period_per_shard();
        // Every lookup of `a` is counted in `a`'s shard.
        for _ in 0..period {
            map.get("a", 0, |_| ());
        }
        assert_eq!(
            map.sketch.frequency(hash),
            15,
            "saturated, not halved by reads"
        );
        map.insert("a", 1, 1, 1000, 0);
        assert_eq!(map.sketch.frequency(hash), 7, "halved by the insert");
        map.insert("a", 2, 1, 1000, 0);
        assert_eq!(map.sketch.frequency(hash), 7, "once per period");
    }

    #[test]
    fn keys_sharing_a_hash_chain() {
        let (map, _) = map(1000);
        let mut shard = super::Shard::empty();
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            shard.link(super::Slot {
                key: key.into(),
                hash: 7,
                next: super::NONE,
                value: i,
                weight: 1,
                end_ms: 10,
                referenced: false.into(),
            });
        }
        assert_eq!(shard.find(7, "a"), Some(0));
        assert_eq!(shard.find(7, "c"), Some(2));
        assert_eq!(shard.unlink(1).map(|s| s.value), Some(1), "the middle");
        assert_eq!(shard.find(7, "a"), Some(0));
        assert_eq!(shard.find(7, "b"), None);
        assert_eq!(shard.unlink(2).map(|s| s.value), Some(2), "the head");
        assert_eq!(shard.find(7, "a"), Some(0));
        drop(map);
    }

    #[test]
    fn insert_if_decides_on_the_live_value() {
        let (map, _) = map(1000);
        assert!(map.insert_if("a", 0, |v| v.is_none(), || (1, 1, 100)));
        assert!(!map.insert_if("a", 0, |v| v == Some(&2), || (3, 1, 100)));
        assert!(map.insert_if("a", 0, |v| v == Some(&1), || (3, 1, 100)));
        assert_eq!(map.get("a", 0, |v| *v), Some(3));
        assert!(
            map.insert_if("a", 100, |v| v.is_none(), || (4, 1, 200)),
            "expired"
        );
        assert_eq!(map.get("a", 100, |v| *v), Some(4));
    }
}
