//! What the cache has done: [`RouteCache::stats`](crate::RouteCache::stats)
//! for applications without a metrics stack. The metrics the cache
//! records through the [`metrics`](https://docs.rs/metrics) facade are
//! listed in the guide's `observability` chapter.
//!
//! ```
//! use cache_runtime::{cached_route, route, RouteCache};
//!
//! #[cached_route(ttl = 60)]
//! async fn list() -> &'static str { "[]" }
//!
//! let cache = RouteCache::embedded();
//! let stats = cache.stats();
//! // Routes appear once they have been served.
//! assert!(stats.route::<route!(list)>().is_none());
//! assert_eq!(stats.backend_errors, 0);
//! ```

use crate::cache::RouteCache;
use crate::cached::CachedRoute;
use crate::observe::{Flush, Purge};
use crate::store::Store;

pub use crate::observe::RouteStats;
pub use crate::resilience::breaker::BreakerState;

impl RouteCache {
    /// The cache's counts since it was built, per route and cache-wide:
    /// the numbers its metrics report, for applications without a metrics
    /// stack (or for a health page).
    pub fn stats(&self) -> CacheStats {
        let inner = &self.inner;
        let metrics = &inner.metrics;
        let l1 = inner.l1.as_deref();
        let memory = match (&inner.store, l1) {
            (Store::Memory(memory), _) => Some(memory.gauges()),
            (Store::Redis(_), Some(l1)) => Some(l1.gauges()),
            (Store::Redis(_), None) => None,
        };
        let (invalidations, invalidated_keys) = Purge::ALL
            .iter()
            .map(|&kind| metrics.purges(kind))
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
        CacheStats {
            routes: metrics.routes.snapshot(),
            backend_errors: metrics.errors(),
            breaker: inner.breaker.state(),
            breaker_opened: inner
                .breaker
                .metrics
                .transitions(crate::observe::Circuit::Open),
            l1_live: self.l1_is_live(),
            l1_hits: l1.map_or(0, |l1| l1.metrics.hits()),
            l1_flushes: l1.map_or(0, |l1| {
                Flush::ALL.iter().map(|&c| l1.metrics.flushes(c)).sum()
            }),
            entries: memory.map_or(0, |m| m.entries()),
            bytes: memory.map_or(0, |m| m.bytes()),
            evictions: memory.map_or(0, |m| m.evictions()),
            index_bytes: match &inner.store {
                Store::Memory(memory) => memory.index_bytes(),
                Store::Redis(_) => 0,
            },
            invalidations,
            invalidated_keys,
        }
    }
}

/// A snapshot of a cache's counts since it was built.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Every route served so far, ordered by route id.
    pub routes: Vec<RouteStats>,
    /// Failed backend calls (timeouts, unreachable, refused, undecodable
    /// values, calls skipped while the circuit is open).
    pub backend_errors: u64,
    /// The circuit breaker's state now.
    pub breaker: BreakerState,
    /// How many times the circuit has opened.
    pub breaker_opened: u64,
    /// Whether the L1 is configured and live.
    pub l1_live: bool,
    /// Hits answered by the L1.
    pub l1_hits: u64,
    /// Times the L1 was flushed (its channel lost, silent, or a message
    /// lost).
    pub l1_flushes: u64,
    /// Entries and bytes in the in-process store (the embedded backend, or
    /// the L1 in front of Redis).
    pub entries: u64,
    /// See [`entries`](Self::entries).
    pub bytes: u64,
    /// Entries evicted from the in-process store for room.
    pub evictions: u64,
    /// What the embedded store's index sets (paths, tags) weigh, in bytes:
    /// a share of its capacity (0 on Redis, whose sets are on the server).
    pub index_bytes: u64,
    /// Invalidation calls that succeeded, and the keys they removed.
    pub invalidations: u64,
    /// See [`invalidations`](Self::invalidations).
    pub invalidated_keys: u64,
}

impl CacheStats {
    /// The numbers of the route `R`, named with [`route!`](crate::route):
    /// `stats.route::<route!(list)>()`; `None` before it is first served.
    pub fn route<R: CachedRoute>(&self) -> Option<&RouteStats> {
        self.route_named(R::POLICY.route_id())
    }

    /// The numbers of the route with id `id` (`module::handler`).
    pub(crate) fn route_named(&self, id: &str) -> Option<&RouteStats> {
        self.routes.iter().find(|r| r.route == id)
    }
}
