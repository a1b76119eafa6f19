//! Invalidation: by path and by tag (through the index sets every stored
//! entry is listed in), by route, namespace or everything (by scanning),
//! and the L1 messages that carry each one to every instance.

use crate::cache::RouteCache;
use crate::edge::EdgeTarget;
use crate::error::{ErrorKind, StoreError};
use crate::generation;
use crate::key::{self, QueryPolicy};
use crate::observe::{failure, Op, Purge};
use crate::policy::CachedRoute;
use crate::retry::bounded;
use crate::store::{Scope, Store};
use crate::tier::Message;
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

impl RouteCache {
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
        let (path, query) = split_target(path_and_query);
        let index = key::path_index(
            &self.inner.config.prefix,
            path.as_bytes(),
            query.map(str::as_bytes),
            QueryPolicy::All,
        );
        let removed = self.invalidate_index(Purge::Path, &index).await?;
        self.purge_edge(EdgeTarget::Path(path_and_query)).await;
        Ok(removed)
    }

    /// Invalidates every entry carrying `tag` (the route option
    /// `tags = ["item:{id}"]`), on every instance's L1 too. Proportional to
    /// the number of entries with the tag. Returns how many were removed.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<usize, StoreError> {
        let index = key::tag_index(&self.inner.config.prefix, tag);
        let removed = self.invalidate_index(Purge::Tag, &index).await?;
        self.purge_edge(EdgeTarget::Tag(tag)).await;
        Ok(removed)
    }

    /// Invalidates every entry of the route `R`, named with
    /// [`route!`](crate::route): `cache.invalidate_route::<route!(get_item)>()`.
    /// Scans the key space (`SCAN` + `UNLINK`, on every master of a
    /// cluster). Returns how many keys were removed.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_route<R: CachedRoute>(&self) -> Result<usize, StoreError> {
        let policy = R::POLICY;
        let scope = key::KeyBuilder::new(
            &self.inner.config.prefix,
            policy.namespace(),
            policy.route_id(),
            "GET",
        );
        let generation = generation::of_route(&self.inner.config.prefix, scope.scope());
        let scope = Scope {
            prefix: scope.scope().to_owned(),
            namespace: false,
        };
        self.invalidate_scope(Purge::Route, scope, generation).await
    }

    /// Invalidates every entry of the routes declared with
    /// `namespace = "<namespace>"`. Scans like
    /// [`invalidate_route`](Self::invalidate_route).
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_namespace(&self, namespace: &str) -> Result<usize, StoreError> {
        let prefix = &self.inner.config.prefix;
        let scope = Scope {
            prefix: format!("{prefix}:{namespace}:"),
            namespace: true,
        };
        let generation = generation::of_namespace(prefix, namespace);
        self.invalidate_scope(Purge::Namespace, scope, generation)
            .await
    }

    /// Invalidates everything under this cache's prefix (entries, indexes
    /// and leases). Scans like [`invalidate_route`](Self::invalidate_route).
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_all(&self) -> Result<usize, StoreError> {
        let prefix = &self.inner.config.prefix;
        let scope = Scope {
            prefix: format!("{prefix}:"),
            namespace: false,
        };
        let generation = generation::of_all(prefix);
        self.invalidate_scope(Purge::All, scope, generation).await
    }

    async fn invalidate_index(&self, kind: Purge, index: &str) -> Result<usize, StoreError> {
        let (cache, index) = (self.clone(), index.to_owned());
        let generation = generation::of_index(&self.inner.config.prefix, &index);
        self.bulk(kind, async move {
            let store = &cache.inner.store;
            let step = cache.inner.config.timeout;
            // First: a fill that began before this keeps no entry, even one
            // it stores after the entries below are gone.
            bounded(step, "generation", cache.bump(&generation)).await?;
            let mut removed = 0;
            loop {
                // Popped, so an entry stored again meanwhile is indexed again
                // rather than lost from the index.
                let keys = bounded(step, "index pop", store.index_pop(&index, INDEX_BATCH)).await?;
                if keys.is_empty() {
                    return Ok(removed);
                }
                let deleted = bounded(step, "delete", store.delete_many(&keys)).await;
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                cache.forget_keys(&refs).await;
                if let Err(e) = deleted {
                    // Put them back so that a retry finds them (best effort:
                    // the backend has just failed).
                    for key in &keys {
                        let _ =
                            bounded(step, "index add", store.index_add(&index, key, REINDEX_TTL))
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

    async fn invalidate_scope(
        &self,
        kind: Purge,
        scope: Scope,
        generation: String,
    ) -> Result<usize, StoreError> {
        let cache = self.clone();
        self.bulk(kind, async move {
            let step = cache.inner.config.timeout;
            // First, as for an index (see `invalidate_index`).
            bounded(step, "generation", cache.bump(&generation)).await?;
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
    pub(crate) async fn bulk(
        &self,
        kind: Purge,
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

    /// Drops `keys` from this instance's L1 and tells the other instances.
    pub(crate) async fn forget_keys(&self, keys: &[&str]) {
        if let Some(l1) = &self.inner.l1 {
            l1.drop_keys(keys.iter().copied());
        }
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
}
