//! Identity bodies of compressed entries, kept for the clients that do not
//! take the stored coding, so that such a client does not pay a
//! decompression on every hit (gunzip of a 64 KiB body costs about
//! 0.27 ms, of 1 MiB about 4.6 ms: the `codings` group of
//! `bench/benches/micro.rs`).
//!
//! A kept body is used only for the very entry it was made from: the same
//! key, the same store time and the same compressed bytes. The table is
//! bounded by weight (the bodies' bytes, an eighth of
//! `embedded_capacity`) and forgets a body a minute after its last use.

use super::Entry;
use crate::http::encoding::Encoding;
use bytes::Bytes;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

/// How long a decoded body is kept after its last use.
const IDLE: Duration = Duration::from_secs(60);

/// One decoded body and what it was decoded from.
struct Decoded {
    key: Box<str>,
    stored_at_ms: u64,
    packed: Bytes,
    body: Bytes,
}

pub(crate) struct DecodedBodies {
    table: Option<moka::sync::Cache<u64, Arc<Decoded>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl DecodedBodies {
    /// A table of at most `capacity` bytes (0: keeps nothing).
    pub(crate) fn new(capacity: u64) -> Self {
        let table = (capacity > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(capacity)
                .weigher(|_, d: &Arc<Decoded>| {
                    let bytes = d.body.len() + d.packed.len() + d.key.len() + 64;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .time_to_idle(IDLE)
                .build()
        });
        Self {
            table,
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// `entry`'s body (stored under `key` in `coding`) decompressed, at
    /// most `limit` bytes: the kept one when it was made from this very
    /// entry, else decompressed now and kept. `None` when it does not
    /// decompress.
    pub(crate) fn identity(
        &self,
        key: &str,
        entry: &Entry,
        coding: Encoding,
        limit: usize,
    ) -> Option<Bytes> {
        if let Some(kept) = self.kept(key, entry, limit) {
            return Some(kept);
        }
        let body = Bytes::from(coding.decompress(&entry.body, limit)?);
        self.keep(key, entry, body.clone());
        Some(body)
    }

    /// Whether [`decode_ahead`](Self::decode_ahead) would spare
    /// [`identity`](Self::identity) a decompression on the spot: bodies are
    /// kept, and this one is not yet. Without a table nothing can be kept,
    /// and a hit would decompress on the spot after the detour anyway.
    pub(crate) fn would_decode(&self, key: &str, entry: &Entry, limit: usize) -> bool {
        self.table.is_some() && self.kept(key, entry, limit).is_none()
    }

    /// Decompresses `entry`'s body off the async worker and keeps it, so
    /// that the [`identity`](Self::identity) that follows finds it.
    pub(crate) async fn decode_ahead(
        &self,
        key: &str,
        entry: &Entry,
        coding: Encoding,
        limit: usize,
    ) {
        if self.table.is_none() {
            return;
        }
        if let Some(body) = coding
            .decompress_off_worker(entry.body.clone(), limit)
            .await
        {
            self.keep(key, entry, Bytes::from(body));
        }
    }

    /// The slot of `entry` under `key`.
    fn slot(&self, key: &str, entry: &Entry) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        hasher.write(key.as_bytes());
        hasher.write_u64(entry.stored_at_ms);
        hasher.finish()
    }

    /// The body kept for this very entry, if any.
    fn kept(&self, key: &str, entry: &Entry, limit: usize) -> Option<Bytes> {
        let kept = self.table.as_ref()?.get(&self.slot(key, entry))?;
        (kept.stored_at_ms == entry.stored_at_ms
            && *kept.key == *key
            && same_bytes(&kept.packed, &entry.body)
            && kept.body.len() <= limit)
            .then(|| kept.body.clone())
    }

    /// Keeps `body`, decoded from `entry` under `key`.
    fn keep(&self, key: &str, entry: &Entry, body: Bytes) {
        if let Some(table) = &self.table {
            table.insert(
                self.slot(key, entry),
                Arc::new(Decoded {
                    key: key.into(),
                    stored_at_ms: entry.stored_at_ms,
                    packed: entry.body.clone(),
                    body,
                }),
            );
        }
    }
}

/// Whether `a` and `b` hold the same bytes: at once when they are the
/// same buffer (an entry kept in process), else byte for byte (a value
/// fetched again).
fn same_bytes(a: &Bytes, b: &Bytes) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

#[cfg(all(test, feature = "gzip"))]
mod tests {
    use super::*;
    use http::StatusCode;

    fn gzipped(text: &[u8], stored_at_ms: u64) -> Entry {
        let packed = Encoding::Gzip.compress(text).unwrap();
        let mut entry = Entry::new(StatusCode::OK, stored_at_ms, 60, Bytes::from(packed));
        entry.encoding = Some(Encoding::Gzip);
        entry
    }

    #[test]
    fn a_body_is_decoded_once_per_entry() {
        let bodies = DecodedBodies::new(1 << 20);
        let text = b"a catalogue page ".repeat(100);
        let entry = gzipped(&text, 1_000);
        let first = bodies
            .identity("k", &entry, Encoding::Gzip, 1 << 20)
            .unwrap();
        let again = bodies
            .identity("k", &entry, Encoding::Gzip, 1 << 20)
            .unwrap();
        assert_eq!(first, text);
        assert_eq!(
            first.as_ptr(),
            again.as_ptr(),
            "the kept body, not a new one"
        );
        // Another entry under the key (stored later, other bytes): decoded
        // afresh, never the old body.
        let newer = gzipped(b"the page changed", 2_000);
        let changed = bodies
            .identity("k", &newer, Encoding::Gzip, 1 << 20)
            .unwrap();
        assert_eq!(changed, &b"the page changed"[..]);
        // Another key with the same store time: its own body.
        let other = bodies
            .identity("other", &newer, Encoding::Gzip, 1 << 20)
            .unwrap();
        assert_ne!(other.as_ptr(), changed.as_ptr());
        // Over the limit, or not gzip: none.
        assert!(bodies.identity("k", &entry, Encoding::Gzip, 10).is_none());
        let mut junk = entry.clone();
        junk.body = Bytes::from_static(b"not gzip");
        junk.stored_at_ms = 3_000;
        assert!(bodies
            .identity("k", &junk, Encoding::Gzip, 1 << 20)
            .is_none());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_large_body_is_decoded_ahead_then_served_kept() {
        let bodies = DecodedBodies::new(16 << 20);
        let text = b"a large catalogue page, ".repeat(40_000);
        let entry = gzipped(&text, 1_000);
        assert!(bodies.would_decode("k", &entry, 4 << 20));
        bodies
            .decode_ahead("k", &entry, Encoding::Gzip, 4 << 20)
            .await;
        assert!(!bodies.would_decode("k", &entry, 4 << 20), "kept");
        let served = bodies.identity("k", &entry, Encoding::Gzip, 4 << 20);
        assert_eq!(served.as_deref(), Some(&text[..]));
        // A corrupt body keeps nothing, and the hit finds it undecodable.
        let mut junk = entry.clone();
        junk.body = Bytes::from(vec![0x1f; 20_000]);
        junk.stored_at_ms = 2_000;
        bodies
            .decode_ahead("k", &junk, Encoding::Gzip, 4 << 20)
            .await;
        assert!(bodies.would_decode("k", &junk, 4 << 20));
        assert!(bodies
            .identity("k", &junk, Encoding::Gzip, 4 << 20)
            .is_none());
    }

    #[test]
    fn no_capacity_keeps_nothing() {
        let bodies = DecodedBodies::new(0);
        let text = b"x".repeat(1000);
        let entry = gzipped(&text, 1);
        assert!(
            !bodies.would_decode("k", &entry, 1 << 20),
            "nothing to decode ahead into"
        );
        let first = bodies
            .identity("k", &entry, Encoding::Gzip, 1 << 20)
            .unwrap();
        let again = bodies
            .identity("k", &entry, Encoding::Gzip, 1 << 20)
            .unwrap();
        assert_eq!(first, again);
        assert_ne!(first.as_ptr(), again.as_ptr());
    }
}
