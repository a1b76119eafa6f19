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
//! generation of what it names (see `crate::generation`): fills that began
//! before it keep nothing.

use crate::cache::RouteCache;
use crate::edge::EdgeTarget;
use crate::entry::Entry;
use crate::error::StoreError;
use crate::fault::now_ms;
use crate::generation;
use crate::key::{self, QueryPolicy};
use crate::observe::Purge;
use crate::policy::CachedRoute;
use crate::retry::bounded;
use crate::store::Scope;
use crate::tier::Message;
use bytes::Bytes;

/// Keys read and marked per round trip.
const BATCH: usize = 500;

/// Soft invalidations of a cache: [`RouteCache::soft`].
#[derive(Debug, Clone, Copy)]
pub struct Soft<'a> {
    cache: &'a RouteCache,
}

/// What a soft invalidation names: an index set, or a key scope.
enum Named {
    Index(String),
    Scope(Scope),
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
        let prefix = &self.cache.inner.config.prefix;
        let (path, query) = crate::invalidate::split_target(path_and_query);
        let index = key::path_index(
            prefix,
            path.as_bytes(),
            query.map(str::as_bytes),
            QueryPolicy::All,
        );
        let generation = generation::of_index(prefix, &index);
        let marked = self
            .mark(Purge::Path, Named::Index(index), generation)
            .await?;
        self.cache
            .purge_edge(EdgeTarget::SoftPath(path_and_query))
            .await;
        Ok(marked)
    }

    /// Marks stale every entry carrying `tag`.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<usize, StoreError> {
        let prefix = &self.cache.inner.config.prefix;
        let index = key::tag_index(prefix, tag);
        let generation = generation::of_index(prefix, &index);
        let marked = self
            .mark(Purge::Tag, Named::Index(index), generation)
            .await?;
        self.cache.purge_edge(EdgeTarget::SoftTag(tag)).await;
        Ok(marked)
    }

    /// Marks stale every entry of the route `R` (scanning, like
    /// [`RouteCache::invalidate_route`]).
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_route<R: CachedRoute>(&self) -> Result<usize, StoreError> {
        let policy = R::POLICY;
        let prefix = &self.cache.inner.config.prefix;
        let scope = key::KeyBuilder::new(prefix, policy.namespace(), policy.route_id(), "GET");
        let generation = generation::of_route(prefix, scope.scope());
        let scope = Scope {
            prefix: scope.scope().to_owned(),
            namespace: false,
        };
        self.mark(Purge::Route, Named::Scope(scope), generation)
            .await
    }

    /// Marks stale every entry of the routes in `namespace`.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_namespace(&self, namespace: &str) -> Result<usize, StoreError> {
        let prefix = &self.cache.inner.config.prefix;
        let scope = Scope {
            prefix: format!("{prefix}:{namespace}:"),
            namespace: true,
        };
        let generation = generation::of_namespace(prefix, namespace);
        self.mark(Purge::Namespace, Named::Scope(scope), generation)
            .await
    }

    /// Marks stale every entry of this cache.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_all(&self) -> Result<usize, StoreError> {
        let prefix = &self.cache.inner.config.prefix;
        let scope = Scope {
            prefix: format!("{prefix}:"),
            namespace: false,
        };
        let generation = generation::of_all(prefix);
        self.mark(Purge::All, Named::Scope(scope), generation).await
    }

    /// Bumps `generation`, then marks every entry `named` lists, in
    /// batches; in a task of its own like every invalidation.
    async fn mark(
        &self,
        kind: Purge,
        named: Named,
        generation: String,
    ) -> Result<usize, StoreError> {
        let cache = self.cache.clone();
        self.cache
            .bulk(kind, async move {
                let step = cache.inner.config.timeout;
                bounded(step, "generation", cache.bump(&generation)).await?;
                let store = &cache.inner.store;
                let keys = match &named {
                    Named::Index(index) => store.index_members(index).await?,
                    Named::Scope(scope) => store.scope_keys(scope).await?,
                };
                let mut marked = 0;
                for batch in keys.chunks(BATCH) {
                    let values = bounded(step, "get", store.get_many(batch)).await?;
                    let mut changed = Vec::new();
                    for (key, value) in batch.iter().zip(values) {
                        let Some((old, new)) = value.and_then(|v| stale_now(&v).map(|n| (v, n)))
                        else {
                            continue;
                        };
                        let replaced = store.replace(key, &old, new).await?;
                        if replaced {
                            marked += 1;
                            changed.push(key.as_str());
                        }
                    }
                    cache.forget_keys(&changed).await;
                }
                if let Named::Scope(scope) = &named {
                    // Other instances' L1s drop the whole scope.
                    cache.publish(&Message::Scope(scope.clone())).await;
                }
                Ok(marked)
            })
            .await
    }
}

/// `value` marked stale as of now, or `None` when it is no entry or no
/// longer fresh (it is left as it is).
fn stale_now(value: &Bytes) -> Option<Bytes> {
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
    entry.encode().ok().map(Bytes::from)
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
        let marked = Entry::decode(stale_now(&value).unwrap()).unwrap();
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
