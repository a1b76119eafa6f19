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
        let Some(table) = &self.table else {
            return coding.decompress(&entry.body, limit).map(Bytes::from);
        };
        let mut hasher = self.hasher.build_hasher();
        hasher.write(key.as_bytes());
        hasher.write_u64(entry.stored_at_ms);
        let slot = hasher.finish();
        if let Some(kept) = table.get(&slot) {
            if kept.stored_at_ms == entry.stored_at_ms
                && *kept.key == *key
                && same_bytes(&kept.packed, &entry.body)
                && kept.body.len() <= limit
            {
                return Some(kept.body.clone());
            }
        }
        let body = Bytes::from(coding.decompress(&entry.body, limit)?);
        table.insert(
            slot,
            Arc::new(Decoded {
                key: key.into(),
                stored_at_ms: entry.stored_at_ms,
                packed: entry.body.clone(),
                body: body.clone(),
            }),
        );
        Some(body)
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

    #[test]
    fn no_capacity_keeps_nothing() {
        let bodies = DecodedBodies::new(0);
        let text = b"x".repeat(1000);
        let entry = gzipped(&text, 1);
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
