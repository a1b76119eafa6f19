//! The decoded form the in-process tiers keep, with a fresh hit's header
//! block remembered.

use super::{DecodeError, Entry};
use bytes::Bytes;
use http::HeaderMap;
use std::{fmt, sync::RwLock};

/// An entry as the in-process tiers keep it: decoded once when stored, not
/// on every hit, with the header block of a fresh hit remembered for the
/// second of age it was made for (every hit in that second sends the same
/// one).
pub(crate) struct Prepared {
    entry: Entry,
    /// Behind a read-write lock, not a mutex holding a shared block: a
    /// hit clones the block under a read lock, two locked instructions
    /// where taking and dropping a reference to it added two more.
    head: RwLock<Option<Head>>,
}

struct Head {
    age: u64,
    /// The route it was made for, by the address of its (static) id.
    route: usize,
    /// The representation it was made for (see `respond::Representation`).
    variant: u8,
    headers: HeaderMap,
}

impl Prepared {
    pub(crate) fn decode(value: Bytes) -> Result<Self, DecodeError> {
        Entry::decode(value).map(|entry| Self {
            entry,
            head: RwLock::new(None),
        })
    }

    /// An entry built here rather than fetched (a refreshed one).
    pub(crate) fn from_entry(entry: Entry) -> Self {
        Self {
            entry,
            head: RwLock::new(None),
        }
    }

    pub(crate) fn entry(&self) -> &Entry {
        &self.entry
    }

    /// Roughly what this costs in memory beyond the stored value: the
    /// decoded fields and one remembered header block (the entry's own
    /// headers and the cache's eight). The in-process stores weigh entries
    /// with it.
    pub(crate) fn overhead(&self) -> usize {
        512 + 128 * self.entry.headers.len()
    }

    /// The headers of a fresh hit `age` seconds old on route `route`, in
    /// representation `variant`: the remembered block when it was made for
    /// all three, otherwise `make`'s,
    /// remembered for the hits after. Never waits: hits copy the block
    /// under a shared lock, side by side; a request that finds the block
    /// being replaced makes its own, and a new block is remembered only
    /// when no hit is copying the old one.
    pub(crate) fn fresh_head(
        &self,
        age: u64,
        route: &'static str,
        variant: u8,
        make: impl FnOnce() -> HeaderMap,
    ) -> HeaderMap {
        let route = route.as_ptr() as usize;
        if let Ok(held) = self.head.try_read() {
            if let Some(head) = held
                .as_ref()
                .filter(|h| h.age == age && h.route == route && h.variant == variant)
            {
                return head.headers.clone();
            }
        }
        let headers = make();
        if let Ok(mut held) = self.head.try_write() {
            *held = Some(Head {
                age,
                route,
                variant,
                headers: headers.clone(),
            });
        }
        headers
    }
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Prepared").field(&self.entry).finish()
    }
}

/// The entry in a stored value, if it decodes and is fresh.
pub(crate) fn fresh(value: Bytes) -> Option<(Prepared, Bytes)> {
    let entry = Prepared::decode(value.clone()).ok()?;
    (entry.entry().freshness(crate::clock::now_ms()) == crate::entry::Freshness::Fresh)
        .then_some((entry, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, StatusCode};

    fn stored() -> (Entry, Prepared) {
        let entry = Entry::new(StatusCode::OK, 1, 60, Bytes::from_static(b"{}"));
        let prepared = Prepared::decode(Bytes::from(entry.encode().unwrap())).unwrap();
        (entry, prepared)
    }

    /// Makes a header block marked `text`.
    fn block(text: &'static str) -> impl FnOnce() -> HeaderMap {
        move || {
            let mut headers = HeaderMap::new();
            headers.insert("x-made", HeaderValue::from_static(text));
            headers
        }
    }

    /// The mark of the block `headers` came from.
    fn made(headers: HeaderMap) -> String {
        headers["x-made"].to_str().unwrap().to_owned()
    }

    #[test]
    fn a_prepared_entry_remembers_one_header_block_per_age_and_route() {
        let (entry, prepared) = stored();
        assert_eq!(prepared.entry(), &entry);
        assert_eq!(made(prepared.fresh_head(0, "r::a", 0, block("a0"))), "a0");
        assert_eq!(
            made(prepared.fresh_head(0, "r::a", 0, block("again"))),
            "a0",
            "remembered"
        );
        assert_eq!(
            made(prepared.fresh_head(1, "r::a", 0, block("a1"))),
            "a1",
            "a second later"
        );
        assert_eq!(
            made(prepared.fresh_head(1, "r::b", 0, block("b1"))),
            "b1",
            "another route"
        );
    }

    #[test]
    fn hits_copy_the_block_side_by_side_and_never_wait_for_one() {
        let (_, prepared) = stored();
        assert_eq!(made(prepared.fresh_head(0, "r::a", 0, block("a0"))), "a0");
        // Another hit is copying the block.
        let copying = prepared.head.read().unwrap();
        assert_eq!(
            made(prepared.fresh_head(0, "r::a", 0, block("again"))),
            "a0",
            "copied beside the other hit"
        );
        assert_eq!(
            made(prepared.fresh_head(1, "r::a", 0, block("a1"))),
            "a1",
            "a block of its own, made without waiting"
        );
        drop(copying);
        assert_eq!(
            made(prepared.fresh_head(1, "r::a", 0, block("a1 again"))),
            "a1 again",
            "not remembered while the old block was being copied"
        );
        assert_eq!(
            made(prepared.fresh_head(1, "r::a", 0, block("later"))),
            "a1 again",
            "remembered once nothing copied the old one"
        );
        // A block being replaced: the hit makes its own.
        let replacing = prepared.head.write().unwrap();
        assert_eq!(made(prepared.fresh_head(1, "r::a", 0, block("own"))), "own");
        drop(replacing);
    }
}
