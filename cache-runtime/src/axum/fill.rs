//! A fill: what a stored entry is listed under (its index sets), what can
//! invalidate it while it is computed (its generations, see
//! `crate::fill::generation`), and computing it.

use super::exchange::Exchange;
use super::storable::{store_if_cacheable, StoreDecision};
use crate::fill::generation::{self, Generations};
use crate::key;
use crate::store::Index;
use axum::response::IntoResponse;
use std::future::Future;

impl Exchange {
    /// The index sets a stored entry is listed in: its request path (for
    /// [`RouteCache::invalidate`](crate::RouteCache::invalidate)) and its
    /// tags.
    pub(super) fn indexes(&self) -> Vec<Index> {
        let config = self.cache.config();
        let prefix = &config.prefix;
        let path = key::path_index(
            prefix,
            self.uri.path().as_bytes(),
            self.uri.query().map(str::as_bytes),
            self.query,
        );
        let path = Index {
            key: path,
            cap: config.max_path_variants,
        };
        std::iter::once(path)
            .chain(self.tags.iter().map(|tag| Index {
                key: key::tag_index(prefix, tag),
                cap: config.max_tag_members,
            }))
            .collect()
    }

    /// The generation keys of everything whose invalidation names a fill
    /// of this request's entry (see `crate::fill::generation`): its index sets,
    /// its route, its namespace, and everything.
    pub(super) fn generation_keys(&self) -> Vec<String> {
        let policy = self.policy;
        let prefix = &self.cache.config().prefix;
        generation::keys_for(
            prefix,
            policy.namespace(),
            policy.route_id(),
            self.indexes().iter().map(|index| index.key.as_str()),
        )
    }

    /// The generation keys of this request's tags only: what a lookup made
    /// before the tags were known (a revalidating route's) could not note.
    pub(super) fn tag_generation_keys(&self) -> Vec<String> {
        let prefix = &self.cache.config().prefix;
        self.tags
            .iter()
            .map(|tag| generation::of_index(prefix, &key::tag_index(prefix, tag)))
            .collect()
    }

    /// Notes this request's fill generations now.
    pub(super) async fn note(&self) -> Generations {
        self.cache.note(self.generation_keys()).await
    }

    /// Notes the fill's generations, runs the handler and stores its
    /// response if it is cacheable and no invalidation named it meanwhile.
    pub(super) async fn compute<F>(&self, handler: F) -> StoreDecision
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let noted = self.note().await;
        self.compute_noted(handler, noted).await
    }

    /// [`Self::compute`] with the generations noted already (by the
    /// lookup or the lease, in their round trip).
    pub(super) async fn compute_noted<F>(&self, handler: F, noted: Generations) -> StoreDecision
    where
        F: Future,
        F::Output: IntoResponse,
    {
        let response = self.uncached(handler).await;
        store_if_cacheable(self, response, noted).await
    }
}
