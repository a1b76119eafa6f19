//! Invalidation: by path and by tag (through the index sets every stored
//! entry is listed in), by route, namespace or everything (by scanning),
//! and the L1 messages that carry each one to every instance.

pub(crate) mod soft;

use crate::cache::RouteCache;
use crate::cached::CachedRoute;
use crate::edge::EdgeTarget;
use crate::error::{ErrorKind, StoreError};
use crate::fill::generation;
use crate::key::{self, QueryPolicy};
use crate::observe::{failure, Op, Purge};
use crate::resilience::retry::bounded;
use crate::store::tier::Message;
use crate::store::{Index, Scope, Store};
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
/// touching either. Hard and soft ([`crate::invalidate::soft`]) invalidations name
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
        self.invalidate_target(Purge::Route, self.route_target::<R>())
            .await
    }

    /// Invalidates every entry of the routes declared with
    /// `namespace = "<namespace>"`. Scans like
    /// [`invalidate_route`](Self::invalidate_route).
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_namespace(&self, namespace: &str) -> Result<usize, StoreError> {
        let target = self.namespace_target(namespace);
        self.invalidate_target(Purge::Namespace, target).await
    }

    /// Invalidates everything under this cache's prefix (entries, indexes
    /// and leases). Scans like [`invalidate_route`](Self::invalidate_route).
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_all(&self) -> Result<usize, StoreError> {
        self.invalidate_target(Purge::All, self.all_target()).await
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

    /// What [`Self::invalidate_route`] names: the route's key scope.
    pub(crate) fn route_target<R: CachedRoute>(&self) -> Target {
        self.route_target_of(&R::POLICY)
    }

    /// The key scope of the route `policy` governs.
    pub(crate) fn route_target_of(&self, policy: &crate::policy::RoutePolicy) -> Target {
        let prefix = &self.inner.config.prefix;
        let scope = key::KeyBuilder::new(prefix, policy.namespace(), policy.route_id(), "GET");
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
                if let Some(l1) = &self.inner.l1 {
                    l1.drop_keys(refs.iter().copied());
                }
                // A message lost with a failed pipeline leaves a gap in
                // this sender's numbers, which receivers flush on.
                let text = publisher.prepare(&Message::Keys(&refs.join("\n")));
                let sent = redis.delete_and_publish(keys, &publisher.channel, &text);
                return bounded(step, "delete", sent).await;
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
    pub(crate) async fn invalidate_tag_as(
        &self,
        tag: &str,
        soft: bool,
    ) -> Result<(usize, EdgeStatus), StoreError> {
        let removed = self
            .invalidate_as(Purge::Tag, self.tag_target(tag), soft)
            .await?;
        let edge = if soft {
            EdgeTarget::SoftTag(tag)
        } else {
            EdgeTarget::Tag(tag)
        };
        Ok((removed, self.purge_edge(edge).await))
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
