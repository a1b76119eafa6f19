//! Soft purge: invalidations that mark entries stale instead of deleting
//! them, as Fastly's soft purge and Varnish's `xkey.softpurge` do. A
//! soft-purged entry is served stale, under the stale-while-revalidate
//! rules, while one refresh per key (in process, and across instances
//! through the lease) recomputes it: a popular tag invalidated under load
//! costs the origin one request per entry, not one per client.
//!
//! Marking an entry: its freshness ends now, and its stale window is
//! stretched to the end of its original life, so that it is served stale
//! until then or until its refresh replaces it. It is written back only if
//! it is still the value that was read (on Redis, compare-and-set in one
//! script, which keeps the key's expiry; in process, one compute step on
//! the key), so a fill stored meanwhile is never overwritten. Like every invalidation, a soft one first bumps the
//! generation of what it names (see `crate::fill::generation`): fills that began
//! before it keep nothing.

use crate::cache::RouteCache;
use crate::cached::CachedRoute;
use crate::clock::now_ms;
use crate::entry::Entry;
use crate::error::StoreError;
use crate::fill::lookup::remaining_life;
use crate::invalidate::{EntrySource, Target};
use crate::observe::Purge;
use crate::resilience::retry::bounded;
use crate::store::tier::Message;
use bytes::Bytes;
use std::time::Duration;

/// Keys read and marked per round trip.
const BATCH: usize = 500;

/// Soft invalidations of a cache: [`RouteCache::soft`].
#[derive(Debug, Clone, Copy)]
pub struct Soft<'a> {
    cache: &'a RouteCache,
}

impl RouteCache {
    /// Soft invalidations: the same calls as [`RouteCache::invalidate`],
    /// [`invalidate_tag`](RouteCache::invalidate_tag),
    /// [`invalidate_route`](RouteCache::invalidate_route),
    /// [`invalidate_namespace`](RouteCache::invalidate_namespace) and
    /// [`invalidate_all`](RouteCache::invalidate_all), which mark the
    /// entries stale instead of deleting them: each is then served stale,
    /// under the stale-while-revalidate rules, while one refresh per key
    /// recomputes it (also `#[invalidates(soft = true)]`). A marked entry
    /// stays servable until the end of its original life; fills that
    /// began before the call keep nothing. Each returns how many entries it
    /// marked.
    ///
    /// ```no_run
    /// # async fn demo(cache: cache_runtime::RouteCache) -> Result<(), cache_runtime::StoreError> {
    /// // Every page showing item 42 is served stale while it is recomputed.
    /// cache.soft().invalidate_tag("item:42").await?;
    /// # Ok(()) }
    /// ```
    pub fn soft(&self) -> Soft<'_> {
        Soft { cache: self }
    }
}

impl Soft<'_> {
    /// Marks stale every entry stored for a `GET` of `path_and_query`.
    ///
    /// # Errors
    /// When the backend fails; entries not reached yet stay fresh.
    pub async fn invalidate(&self, path_and_query: &str) -> Result<usize, StoreError> {
        Ok(self.cache.invalidate_path_as(path_and_query, true).await?.0)
    }

    /// Marks stale every entry carrying `tag`.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<usize, StoreError> {
        Ok(self.cache.invalidate_tag_as(tag, true).await?.0)
    }

    /// Marks stale every entry of the route `R` (scanning, like
    /// [`RouteCache::invalidate_route`]).
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_route<R: CachedRoute>(&self) -> Result<usize, StoreError> {
        self.mark(Purge::Route, self.cache.route_target::<R>())
            .await
    }

    /// Marks stale every entry of the routes in `namespace`.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_namespace(&self, namespace: &str) -> Result<usize, StoreError> {
        let target = self.cache.namespace_target(namespace);
        self.mark(Purge::Namespace, target).await
    }

    /// Marks stale every entry of this cache.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_all(&self) -> Result<usize, StoreError> {
        self.mark(Purge::All, self.cache.all_target()).await
    }

    /// Marks every entry `target` names, in batches, after bumping its
    /// generation; in a task of its own like every invalidation.
    pub(crate) async fn mark(&self, kind: Purge, target: Target) -> Result<usize, StoreError> {
        let Target { named, generation } = target;
        let cache = self.cache.clone();
        self.cache
            .bulk(kind, generation, async move {
                let step = cache.inner.config.timeout;
                let store = &cache.inner.store;
                let keys = match &named {
                    EntrySource::Index(index) => store.index_members(index).await?,
                    EntrySource::Scope(scope) => store.scope_keys(scope).await?,
                };
                let mut marked = 0;
                for batch in keys.chunks(BATCH) {
                    let values = bounded(step, "get", store.get_many(batch)).await?;
                    let mut changed = Vec::new();
                    for (key, value) in batch.iter().zip(values) {
                        let Some((old, (new, life))) =
                            value.and_then(|v| stale_now(&v).map(|marked| (v, marked)))
                        else {
                            continue;
                        };
                        if store.replace(key, &old, new, life).await? {
                            marked += 1;
                            changed.push(key.as_str());
                        }
                    }
                    cache.forget_keys(&changed).await;
                }
                if let EntrySource::Scope(scope) = &named {
                    // Other instances' L1s drop the whole scope.
                    cache.publish(&Message::Scope(scope.clone())).await;
                }
                Ok(marked)
            })
            .await
    }
}

/// `value` marked stale as of now, and how long it has left to live, or
/// `None` when it is no entry or no longer fresh (it is left as it is).
fn stale_now(value: &Bytes) -> Option<(Bytes, Duration)> {
    let mut entry = Entry::decode(value.clone()).ok()?;
    if entry.freshness(now_ms()) != crate::entry::Freshness::Fresh {
        return None;
    }
    let age_secs = now_ms().saturating_sub(entry.stored_at_ms) / 1000;
    let fresh = u32::try_from(age_secs).unwrap_or(u32::MAX);
    // Served stale until the end of its original life, or its refresh.
    let life = entry.ttl_secs.saturating_add(entry.stale_secs);
    entry.ttl_secs = fresh;
    entry.stale_secs = life.saturating_sub(fresh).max(1);
    entry.stale_on_error_only = false;
    let left = remaining_life(&entry);
    entry
        .encode()
        .ok()
        .map(|encoded| (Bytes::from(encoded), left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Freshness;
    use http::StatusCode;

    #[test]
    fn a_marked_entry_is_stale_until_its_original_end_of_life() {
        let stored = now_ms() - 10_000;
        let mut entry = Entry::new(StatusCode::OK, stored, 60, Bytes::from_static(b"x"));
        entry.stale_on_error_only = true;
        let value = Bytes::from(entry.encode().unwrap());
        let (marked, left) = stale_now(&value).unwrap();
        let marked = Entry::decode(marked).unwrap();
        assert!(left <= Duration::from_secs(50) && left > Duration::from_secs(45));
        assert_eq!(marked.freshness(now_ms()), Freshness::Stale);
        assert!(!marked.stale_on_error_only, "served while refreshed");
        assert_eq!(marked.freshness(stored + 59_000), Freshness::Stale);
        assert_eq!(marked.freshness(stored + 61_000), Freshness::Expired);
        assert_eq!(marked.body, entry.body);
        // Already stale, or not an entry: left alone.
        assert!(stale_now(&Bytes::from(marked.encode().unwrap())).is_none());
        assert!(stale_now(&Bytes::from_static(b"junk")).is_none());
    }
}
