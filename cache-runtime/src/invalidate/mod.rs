//! Invalidation: by path and by tag (through the index sets every stored
//! entry is listed in), by route, namespace or everything (by scanning),
//! and the L1 messages that carry each one to every instance.
//!
//! # Soft purge
//!
//! Invalidations that mark entries stale instead of deleting them, as
//! Fastly's soft purge and Varnish's `xkey.softpurge` do. A soft-purged
//! entry is served stale, under the stale-while-revalidate
//! rules, while one refresh per key (in process, and across instances
//! through the lease) recomputes it: a popular tag invalidated under load
//! costs the origin one request per entry, not one per client.
//!
//! Marking an entry: its freshness ends now, and its stale window is
//! stretched to the end of its original life, so that it is served stale
//! until then or until its refresh replaces it. It is written back only if
//! it is still the value that was read (on Redis, compare-and-set in one
//! script, which keeps the key's expiry; in process, one compute step on
//! the key), so a fill stored meanwhile is never overwritten. Like every
//! invalidation, a soft one first bumps the generation of what it names
//! (see `crate::fill::generation`): fills that began before it keep
//! nothing.

use crate::cache::RouteCache;
use crate::cached::CachedRoute;
use crate::clock::now_ms;
use crate::edge::EdgeTarget;
use crate::entry::Entry;
use crate::error::{ErrorKind, StoreError};
use crate::fill::generation;
use crate::key::{self, QueryPolicy};
use crate::observe::{failure, Op, Purge};
use crate::resilience::retry::bounded;
use crate::store::tier::Message;
use crate::store::{Index, Scope, Store};
use bytes::Bytes;
use std::{future::Future, time::Duration};

/// Index members removed per round trip when invalidating a tag or path.
const INDEX_BATCH: usize = 500;

/// Life of an index set recreated after a failed invalidation batch (the
/// members' own TTLs are unknown there).
const REINDEX_TTL: Duration = Duration::from_secs(86_400);

/// `/items/42?x=1` as its path and query (`None` without a `?`).
pub(crate) fn split_target(path_and_query: &str) -> (&str, Option<&str>) {
    match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    }
}

/// What an invalidation names: an index set (a path, a tag) or a key scope
/// (a route, a namespace, everything), and the generation it bumps before
/// touching either. Hard and soft invalidations name
/// alike.
pub(crate) struct Target {
    pub(crate) named: EntrySource,
    pub(crate) generation: String,
}

/// Where an invalidation's entries are found.
pub(crate) enum EntrySource {
    Index(String),
    Scope(Scope),
}

impl Target {
    /// The index set `index`, and its generation.
    fn index(prefix: &str, index: String) -> Self {
        Self {
            generation: generation::of_index(prefix, &index),
            named: EntrySource::Index(index),
        }
    }
}

impl RouteCache {
    /// Removes the entry under `key` (bounded by the timeout), from every
    /// instance's L1 too.
    ///
    /// # Errors
    /// When the backend fails or times out.
    pub(crate) async fn remove(&self, key: &str) -> Result<(), StoreError> {
        let result = self.call(Op::Delete, self.inner.store.delete(key)).await;
        self.forget_keys(&[key]).await;
        result
    }

    /// Invalidates every entry stored for a `GET` of `path_and_query` (for
    /// example `/items/42` or `/search?page=2&q=x`): on every route that
    /// stored one, with every `vary` value, on every instance's L1. The
    /// query is normalised as in keys; a route keying on some query
    /// parameters only is invalidated through the query it keys on. Costs
    /// one round trip per 500 entries, whatever the size of the cache.
    /// Returns how many entries were removed.
    ///
    /// ```no_run
    /// # async fn demo(cache: cache_runtime::RouteCache) -> Result<(), cache_runtime::StoreError> {
    /// cache.invalidate("/items/42").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// When the backend fails; entries not reached yet stay until their
    /// TTL.
    pub async fn invalidate(&self, path_and_query: &str) -> Result<usize, StoreError> {
        Ok(self.invalidate_path_as(path_and_query, false).await?.0)
    }

    /// Invalidates every entry carrying `tag` (the route option
    /// `tags = ["item:{id}"]`), on every instance's L1 too. Proportional to
    /// the number of entries with the tag. Returns how many were removed.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<usize, StoreError> {
        Ok(self.invalidate_tag_as(tag, false).await?.0)
    }

    /// Invalidates every entry of the route `R`, named with
    /// [`route!`](crate::route): `cache.invalidate_route::<route!(get_item)>()`.
    /// Scans the key space (`SCAN` + `UNLINK`, on every master of a
    /// cluster). Returns how many keys were removed.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_route<R: CachedRoute>(&self) -> Result<usize, StoreError> {
        Ok(self.invalidate_route_as(&R::POLICY, false).await?.0)
    }

    /// Invalidates every entry of the routes declared with
    /// `namespace = "<namespace>"`. Scans like
    /// [`invalidate_route`](Self::invalidate_route).
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_namespace(&self, namespace: &str) -> Result<usize, StoreError> {
        Ok(self.invalidate_namespace_as(namespace, false).await?.0)
    }

    /// Invalidates everything under this cache's prefix (entries, indexes
    /// and leases). Scans like [`invalidate_route`](Self::invalidate_route).
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_all(&self) -> Result<usize, StoreError> {
        Ok(self.invalidate_all_as(false).await?.0)
    }

    /// What [`Self::invalidate`] of `path_and_query` names.
    pub(crate) fn path_target(&self, path_and_query: &str) -> Target {
        let (path, query) = split_target(path_and_query);
        let prefix = &self.inner.config.prefix;
        let index = key::path_index(
            prefix,
            path.as_bytes(),
            query.map(str::as_bytes),
            QueryPolicy::All,
        );
        Target::index(prefix, index)
    }

    /// What [`Self::invalidate_tag`] of `tag` names.
    pub(crate) fn tag_target(&self, tag: &str) -> Target {
        let prefix = &self.inner.config.prefix;
        Target::index(prefix, key::tag_index(prefix, tag))
    }

    /// The key scope of the route `policy` governs.
    pub(crate) fn route_target_of(&self, policy: &crate::policy::RoutePolicy) -> Target {
        let prefix = &self.inner.config.prefix;
        let scope = key::KeyBuilder::new(prefix, policy.namespace(), policy.key_id(), "GET");
        Target {
            generation: generation::of_route(prefix, scope.scope()),
            named: EntrySource::Scope(Scope {
                prefix: scope.scope().to_owned(),
                namespace: false,
            }),
        }
    }

    /// What [`Self::invalidate_namespace`] names.
    pub(crate) fn namespace_target(&self, namespace: &str) -> Target {
        let prefix = &self.inner.config.prefix;
        Target {
            generation: generation::of_namespace(prefix, namespace),
            named: EntrySource::Scope(Scope {
                prefix: format!("{prefix}:{namespace}:"),
                namespace: true,
            }),
        }
    }

    /// What [`Self::invalidate_all`] names: the whole prefix.
    pub(crate) fn all_target(&self) -> Target {
        let prefix = &self.inner.config.prefix;
        Target {
            generation: generation::of_all(prefix),
            named: EntrySource::Scope(Scope {
                prefix: format!("{prefix}:"),
                namespace: false,
            }),
        }
    }

    /// Deletes what `target` names.
    async fn invalidate_target(&self, kind: Purge, target: Target) -> Result<usize, StoreError> {
        let Target { named, generation } = target;
        match named {
            EntrySource::Index(index) => self.invalidate_index(kind, index, generation).await,
            EntrySource::Scope(scope) => self.invalidate_scope(kind, scope, generation).await,
        }
    }

    async fn invalidate_index(
        &self,
        kind: Purge,
        index: String,
        generation: String,
    ) -> Result<usize, StoreError> {
        let cache = self.clone();
        self.bulk(kind, generation, async move {
            let store = &cache.inner.store;
            let step = cache.inner.config.timeout;
            let mut removed = 0;
            loop {
                // Popped, so an entry stored again meanwhile is indexed again
                // rather than lost from the index.
                let keys = bounded(step, "index pop", store.index_pop(&index, INDEX_BATCH)).await?;
                if keys.is_empty() {
                    return Ok(removed);
                }
                let deleted = cache.delete_and_forget(&keys, step).await;
                if let Err(e) = deleted {
                    // Put them back so that a retry finds them (best effort:
                    // the backend has just failed), whatever the set's cap.
                    let back = Index {
                        key: index.clone(),
                        cap: usize::MAX,
                    };
                    for key in &keys {
                        let _ =
                            bounded(step, "index add", store.index_add(&back, key, REINDEX_TTL))
                                .await;
                    }
                    return Err(e);
                }
                removed += keys.len();
                if keys.len() < INDEX_BATCH {
                    return Ok(removed);
                }
            }
        })
        .await
    }

    /// Deletes `keys` and drops them from every instance's L1. On one
    /// server the delete and the L1 message go in one round trip, in that
    /// order. On a cluster the message may go to another node, so it is
    /// sent once the delete is done: sent sooner, it could let an instance
    /// read an entry back into its L1 just before the delete.
    async fn delete_and_forget(&self, keys: &[String], step: Duration) -> Result<(), StoreError> {
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let store = &self.inner.store;
        if let (Store::Redis(redis), Some(publisher)) = (store, self.inner.publisher.as_deref()) {
            if !redis.is_cluster() {
                self.drop_from_l1(&refs);
                // A message lost with a failed pipeline leaves a gap in
                // this sender's numbers, which receivers flush on.
                let text = publisher.prepare(&Message::Keys(&refs.join("\n")));
                let sent = redis.delete_and_publish(keys, &publisher.channel, &text);
                let deleted = bounded(step, "delete", sent).await;
                // Again once the delete is done (or may be): a lookup that
                // read an entry just before it then keeps nothing in this
                // L1, which ignores its own message.
                self.drop_from_l1(&refs);
                return deleted;
            }
        }
        let deleted = bounded(step, "delete", store.delete_many(keys)).await;
        self.forget_keys(&refs).await;
        deleted
    }

    async fn invalidate_scope(
        &self,
        kind: Purge,
        scope: Scope,
        generation: String,
    ) -> Result<usize, StoreError> {
        let cache = self.clone();
        self.bulk(kind, generation, async move {
            let result = cache.inner.store.delete_scope(&scope).await;
            // Also after a partial failure: some keys may be gone.
            if let Some(l1) = &cache.inner.l1 {
                l1.drop_scope(&scope);
            }
            cache.publish(&Message::Scope(scope.clone())).await;
            result
        })
        .await
    }

    /// Runs an invalidation in a task of its own, so that a caller giving up
    /// cannot cut a batch in half, bounded by `invalidate_timeout` and kept
    /// out of the circuit breaker (whose job is to protect requests, not to
    /// veto explicit invalidations). Counted; a failure is logged, always.
    /// `generation` is bumped first: a fill that began before the
    /// invalidation keeps no entry, even one it stores after `work` is done
    /// (see `crate::fill::generation`).
    pub(crate) async fn bulk(
        &self,
        kind: Purge,
        generation: String,
        work: impl Future<Output = Result<usize, StoreError>> + Send + 'static,
    ) -> Result<usize, StoreError> {
        let op = "invalidate";
        if self.inner.disabled.is_some() {
            return Err(StoreError::bare(
                ErrorKind::Unavailable,
                "the cache is disabled",
            ));
        }
        let limit = self.inner.config.invalidate_timeout;
        let (cache, step) = (self.clone(), self.inner.config.timeout);
        let work = async move {
            bounded(step, "generation", cache.bump(&generation)).await?;
            work.await
        };
        let task = async {
            tokio::spawn(work)
                .await
                .unwrap_or_else(|join| Err(StoreError::new(ErrorKind::Unavailable, op, join)))
        };
        let result = bounded(limit, op, task).await;
        let metrics = &self.inner.metrics;
        match &result {
            Ok(removed) => {
                metrics.purged(kind, *removed);
                tracing::debug!(kind = kind.as_str(), removed, "route cache: invalidated");
            }
            Err(e) => {
                metrics.failed(Op::Invalidate, failure(e.kind()));
                tracing::warn!(backend = %self.backend(), op, kind = %e.kind(), error = %e, "route cache: invalidation failed");
            }
        }
        result
    }

    /// Drops `keys` from this instance's L1, if it has one.
    fn drop_from_l1(&self, keys: &[&str]) {
        if let Some(l1) = &self.inner.l1 {
            l1.drop_keys(keys.iter().copied());
        }
    }

    /// Drops `keys` from this instance's L1 and tells the other instances.
    pub(crate) async fn forget_keys(&self, keys: &[&str]) {
        self.drop_from_l1(keys);
        if !keys.is_empty() {
            self.publish(&Message::Keys(&keys.join("\n"))).await;
        }
    }

    /// Publishes on the invalidation channel (Redis only), outside the
    /// circuit breaker; a failure is logged, and receivers detect the gap
    /// it leaves.
    pub(crate) async fn publish(&self, message: &Message<'_>) {
        let (Store::Redis(redis), Some(publisher)) = (&self.inner.store, &self.inner.publisher)
        else {
            return;
        };
        if let Err(e) = publisher.publish(redis, message).await {
            self.inner.metrics.failed(Op::Publish, failure(e.kind()));
            if let Some(suppressed) = self.inner.faults.admit() {
                tracing::warn!(error = %e, suppressed, "route cache: invalidation message not published");
            }
        }
    }

    /// Purges `target` from the edge cache, if one is registered; a
    /// failure is logged and counted.
    pub(crate) async fn purge_edge(&self, target: crate::edge::EdgeTarget<'_>) -> EdgeStatus {
        let Some(edge) = &self.inner.edge else {
            return EdgeStatus::NotConfigured;
        };
        let one = |value: &str| vec![value.to_owned()];
        let purge = async {
            match &target {
                crate::edge::EdgeTarget::Tag(tag) => {
                    edge.purge_tags(&[crate::edge::edge_tag(tag)]).await
                }
                crate::edge::EdgeTarget::Path(path) => edge.purge_paths(&one(path)).await,
                crate::edge::EdgeTarget::SoftTag(tag) => {
                    edge.soft_purge_tags(&[crate::edge::edge_tag(tag)]).await
                }
                crate::edge::EdgeTarget::SoftPath(path) => edge.soft_purge_paths(&one(path)).await,
            }
        };
        // Bounded like the invalidation itself.
        let limit = self.inner.config.invalidate_timeout;
        let purged = tokio::time::timeout(limit, purge)
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
        match purged {
            Ok(()) => {
                tracing::debug!(%target, "route cache: edge purged");
                EdgeStatus::Sent
            }
            Err(e) => {
                let kind = crate::error::ErrorKind::Unavailable;
                self.inner
                    .metrics
                    .failed(crate::observe::Op::EdgePurge, crate::observe::failure(kind));
                tracing::warn!(%target, error = %e, "route cache: edge purge failed");
                EdgeStatus::Failed
            }
        }
    }

    /// Invalidates (or, `soft`, marks stale) what `target` names, counted
    /// as `kind`: the one step under every public invalidation.
    pub(crate) async fn invalidate_as(
        &self,
        kind: Purge,
        target: Target,
        soft: bool,
    ) -> Result<usize, StoreError> {
        if soft {
            self.soft().mark(kind, target).await
        } else {
            self.invalidate_target(kind, target).await
        }
    }

    /// Invalidates (or marks stale) every entry of a `GET` of
    /// `path_and_query`, then purges the edge of it.
    pub(crate) async fn invalidate_path_as(
        &self,
        path_and_query: &str,
        soft: bool,
    ) -> Result<(usize, EdgeStatus), StoreError> {
        let target = self.path_target(path_and_query);
        let removed = self.invalidate_as(Purge::Path, target, soft).await?;
        let edge = if soft {
            EdgeTarget::SoftPath(path_and_query)
        } else {
            EdgeTarget::Path(path_and_query)
        };
        Ok((removed, self.purge_edge(edge).await))
    }

    /// Invalidates (or marks stale) every entry carrying `tag`, then
    /// purges the edge of it.
    /// Invalidates (or marks stale) every entry of the route `policy`
    /// governs, then purges the edge of its route tag.
    pub(crate) async fn invalidate_route_as(
        &self,
        policy: &crate::policy::RoutePolicy,
        soft: bool,
    ) -> Result<(usize, EdgeStatus), StoreError> {
        let tag = crate::edge::route_tag(&self.inner.config.prefix, policy.route_id());
        let target = self.route_target_of(policy);
        self.invalidate_then_purge_tag(Purge::Route, target, &tag, soft)
            .await
    }

    /// Invalidates (or marks stale) every entry of `namespace`, then purges
    /// the edge of its namespace tag.
    pub(crate) async fn invalidate_namespace_as(
        &self,
        namespace: &str,
        soft: bool,
    ) -> Result<(usize, EdgeStatus), StoreError> {
        let tag = crate::edge::namespace_tag(&self.inner.config.prefix, namespace);
        let target = self.namespace_target(namespace);
        self.invalidate_then_purge_tag(Purge::Namespace, target, &tag, soft)
            .await
    }

    /// Invalidates (or marks stale) every entry, then purges the edge of
    /// the cache-wide tag.
    pub(crate) async fn invalidate_all_as(
        &self,
        soft: bool,
    ) -> Result<(usize, EdgeStatus), StoreError> {
        let tag = crate::edge::all_tag(&self.inner.config.prefix);
        self.invalidate_then_purge_tag(Purge::All, self.all_target(), &tag, soft)
            .await
    }

    /// Invalidates (or marks stale) what `target` names, counted as
    /// `kind`, then purges the edge of `tag`: a tag's invalidation, or a
    /// scope's with the scope tag.
    async fn invalidate_then_purge_tag(
        &self,
        kind: Purge,
        target: Target,
        tag: &str,
        soft: bool,
    ) -> Result<(usize, EdgeStatus), StoreError> {
        let removed = self.invalidate_as(kind, target, soft).await?;
        let edge = if soft {
            EdgeTarget::SoftTag(tag)
        } else {
            EdgeTarget::Tag(tag)
        };
        Ok((removed, self.purge_edge(edge).await))
    }

    pub(crate) async fn invalidate_tag_as(
        &self,
        tag: &str,
        soft: bool,
    ) -> Result<(usize, EdgeStatus), StoreError> {
        self.invalidate_then_purge_tag(Purge::Tag, self.tag_target(tag), tag, soft)
            .await
    }
}

/// What became of an edge purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EdgeStatus {
    /// No edge purger is configured.
    NotConfigured,
    Sent,
    /// Failed or timed out (counted and logged).
    Failed,
}

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
        Ok(self.cache.invalidate_route_as(&R::POLICY, true).await?.0)
    }

    /// Marks stale every entry of the routes in `namespace`.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_namespace(&self, namespace: &str) -> Result<usize, StoreError> {
        Ok(self.cache.invalidate_namespace_as(namespace, true).await?.0)
    }

    /// Marks stale every entry of this cache.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_all(&self) -> Result<usize, StoreError> {
        Ok(self.cache.invalidate_all_as(true).await?.0)
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
    let left = entry.remaining_life();
    entry
        .encode()
        .ok()
        .map(|encoded| (Bytes::from(encoded), left))
}

#[cfg(test)]
mod soft_tests {
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
