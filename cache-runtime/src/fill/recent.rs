//! Entries recently fetched from Redis, kept decoded and reused while Redis
//! keeps returning the very same bytes for their key.
//!
//! Redis stays the source of truth: every request still fetches the value,
//! and a remembered decoding is used only when the fetched value is byte for
//! byte the one it was made from. What it saves is the decoding and, through
//! [`Prepared::fresh_head`], building the hit's headers on every request.
//!
//! It also remembers which keys were found the last time they were looked
//! up, so that a lookup can guess whether it will miss: a key not found
//! recently is looked up by a script that also takes the lease on
//! computing it (one round trip for a cold miss instead of two), a key
//! found recently by a plain `GET`, the cheapest hit. A wrong guess costs
//! a round trip or a little Redis CPU, never a wrong answer.

use crate::entry::prepared::Prepared;
use crate::entry::DecodeError;
use bytes::Bytes;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// Slots in the table; a key has one slot, chosen by its hash.
const SLOTS: usize = 256;

/// Slots of the table of keys found recently.
const SEEN: usize = 4096;

/// Largest value remembered, so that each cache's table holds at most
/// `SLOTS * MAX_VALUE` (4 MiB) of values, plus their decoded headers.
const MAX_VALUE: usize = 16 * 1024;

pub(crate) struct Recent {
    slots: Box<[Mutex<Option<Slot>>]>,
    /// Per slot, a fingerprint of the key last found there (never 0).
    seen: Box<[AtomicU32]>,
}

/// A key's hash, computed once per lookup.
#[derive(Clone, Copy)]
pub(crate) struct Probe(u64);

impl Probe {
    pub(crate) fn of(key: &str) -> Self {
        Self(hash_of(key))
    }

    fn slot(self) -> usize {
        // Truncation is fine: this only picks a slot.
        #[allow(clippy::cast_possible_truncation)]
        let slot = (self.0 >> 32) as usize % SLOTS;
        slot
    }

    fn seen_slot(self) -> usize {
        #[allow(clippy::cast_possible_truncation)]
        let slot = self.0 as usize % SEEN;
        slot
    }

    fn fingerprint(self) -> u32 {
        #[allow(clippy::cast_possible_truncation)]
        let print = (self.0 >> 32) as u32;
        print | 1
    }
}

struct Slot {
    key: Box<str>,
    value: Bytes,
    entry: Arc<Prepared>,
}

impl Default for Recent {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
            seen: (0..SEEN).map(|_| AtomicU32::new(0)).collect(),
        }
    }
}

impl Recent {
    /// `value`, fetched for `key`, decoded: the remembered decoding when it
    /// was made from these same bytes. Never waits on another request: a
    /// slot in use is passed over.
    pub(crate) fn decode(
        &self,
        probe: Probe,
        key: &str,
        value: Bytes,
    ) -> Result<Arc<Prepared>, DecodeError> {
        self.found(probe, true);
        if value.len() > MAX_VALUE {
            return Prepared::decode(value).map(Arc::new);
        }
        let slot = &self.slots[probe.slot()];
        if let Ok(held) = slot.try_lock() {
            if let Some(held) = held.as_ref() {
                if *held.key == *key && held.value == value {
                    return Ok(Arc::clone(&held.entry));
                }
            }
        }
        let entry = Arc::new(Prepared::decode(value.clone())?);
        if let Ok(mut held) = slot.try_lock() {
            *held = Some(Slot {
                key: key.into(),
                value,
                entry: Arc::clone(&entry),
            });
        }
        Ok(entry)
    }
}

impl Recent {
    /// Whether the key was found the last time it was looked up (as far as
    /// this table remembers).
    pub(crate) fn likely_stored(&self, probe: Probe) -> bool {
        self.seen[probe.seen_slot()].load(Ordering::Relaxed) == probe.fingerprint()
    }

    /// Notes whether the key was found.
    pub(crate) fn found(&self, probe: Probe, found: bool) {
        let slot = &self.seen[probe.seen_slot()];
        let print = probe.fingerprint();
        if found {
            // Written only when it changes: hits on hot keys do not keep
            // taking the cache line from other cores.
            if slot.load(Ordering::Relaxed) != print {
                slot.store(print, Ordering::Relaxed);
            }
        } else {
            let _ = slot.compare_exchange(print, 0, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
}

/// The key's hash. Not keyed against collisions on purpose: keys that
/// share a slot only displace each other, and each is then decoded (or
/// looked up) as if the table were not there, so crafted keys cost nothing
/// extra.
fn hash_of(key: &str) -> u64 {
    // FxHash's mixing, a word at a time.
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |hash: u64, word: u64| (hash.rotate_left(5) ^ word).wrapping_mul(K);
    let mut chunks = key.as_bytes().chunks_exact(8);
    let mut hash = 0;
    for chunk in &mut chunks {
        hash = mix(
            hash,
            u64::from_le_bytes(chunk.try_into().unwrap_or_default()),
        );
    }
    for &byte in chunks.remainder() {
        hash = mix(hash, u64::from(byte));
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;
    use http::StatusCode;

    fn value(body: &'static [u8]) -> Bytes {
        let entry = Entry::new(StatusCode::OK, 1, 60, Bytes::from_static(body));
        Bytes::from(entry.encode().unwrap())
    }

    #[test]
    fn a_decoding_is_reused_only_for_the_same_key_and_bytes() {
        let recent = Recent::default();
        let first = recent.decode(Probe::of("k"), "k", value(b"one")).unwrap();
        let again = recent.decode(Probe::of("k"), "k", value(b"one")).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "same key, same bytes: reused");
        let changed = recent.decode(Probe::of("k"), "k", value(b"two")).unwrap();
        assert!(!Arc::ptr_eq(&first, &changed), "new bytes: decoded anew");
        assert_eq!(changed.entry().body, &b"two"[..]);
        let other = recent
            .decode(Probe::of("other"), "other", value(b"two"))
            .unwrap();
        assert!(!Arc::ptr_eq(&changed, &other), "another key: its own");
        assert!(recent
            .decode(Probe::of("k"), "k", Bytes::from_static(b"garbage"))
            .is_err());
        let big = Entry::new(StatusCode::OK, 1, 60, Bytes::from(vec![b'x'; MAX_VALUE]));
        let big = Bytes::from(big.encode().unwrap());
        let a = recent.decode(Probe::of("big"), "big", big.clone()).unwrap();
        let b = recent.decode(Probe::of("big"), "big", big).unwrap();
        assert!(!Arc::ptr_eq(&a, &b), "too large to remember");
    }

    #[test]
    fn keys_found_are_remembered_until_they_miss() {
        let recent = Recent::default();
        let probe = Probe::of("k");
        assert!(!recent.likely_stored(probe), "never looked up");
        recent.decode(probe, "k", value(b"one")).unwrap();
        assert!(recent.likely_stored(probe), "found");
        assert!(!recent.likely_stored(Probe::of("other")));
        recent.found(Probe::of("other"), false);
        assert!(recent.likely_stored(probe), "another key's miss leaves it");
        recent.found(probe, false);
        assert!(!recent.likely_stored(probe), "missed");
    }
}
