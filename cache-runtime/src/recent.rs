//! Entries recently fetched from Redis, kept decoded and reused while Redis
//! keeps returning the very same bytes for their key.
//!
//! Redis stays the source of truth: every request still fetches the value,
//! and a remembered decoding is used only when the fetched value is byte for
//! byte the one it was made from. What it saves is the decoding and, through
//! [`Prepared::fresh_head`], building the hit's headers on every request.

use crate::entry::{DecodeError, Prepared};
use bytes::Bytes;
use std::sync::{Arc, Mutex};

/// Slots in the table; a key has one slot, chosen by its hash.
const SLOTS: usize = 256;

/// Largest value remembered, so that each cache's table holds at most
/// `SLOTS * MAX_VALUE` (4 MiB) of values, plus their decoded headers.
const MAX_VALUE: usize = 16 * 1024;

pub(crate) struct Recent {
    slots: Box<[Mutex<Option<Slot>>]>,
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
        }
    }
}

impl Recent {
    /// `value`, fetched for `key`, decoded: the remembered decoding when it
    /// was made from these same bytes. Never waits on another request: a
    /// slot in use is passed over.
    pub(crate) fn decode(&self, key: &str, value: Bytes) -> Result<Arc<Prepared>, DecodeError> {
        if value.len() > MAX_VALUE {
            return Prepared::decode(value).map(Arc::new);
        }
        let slot = &self.slots[slot_of(key)];
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

/// The key's slot. Not keyed against collisions on purpose: keys that share
/// a slot only displace each other, and each is then decoded as if the
/// table were not there, so crafted keys cost nothing extra.
fn slot_of(key: &str) -> usize {
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
    // Truncation is fine: this only picks a slot.
    #[allow(clippy::cast_possible_truncation)]
    let slot = (hash >> 32) as usize % SLOTS;
    slot
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
        let first = recent.decode("k", value(b"one")).unwrap();
        let again = recent.decode("k", value(b"one")).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "same key, same bytes: reused");
        let changed = recent.decode("k", value(b"two")).unwrap();
        assert!(!Arc::ptr_eq(&first, &changed), "new bytes: decoded anew");
        assert_eq!(changed.entry().body, &b"two"[..]);
        let other = recent.decode("other", value(b"two")).unwrap();
        assert!(!Arc::ptr_eq(&changed, &other), "another key: its own");
        assert!(recent.decode("k", Bytes::from_static(b"garbage")).is_err());
        let big = Entry::new(StatusCode::OK, 1, 60, Bytes::from(vec![b'x'; MAX_VALUE]));
        let big = Bytes::from(big.encode().unwrap());
        let a = recent.decode("big", big.clone()).unwrap();
        let b = recent.decode("big", big).unwrap();
        assert!(!Arc::ptr_eq(&a, &b), "too large to remember");
    }
}
