//! What the cache has done: [`RouteCache::stats`](crate::RouteCache::stats)
//! for applications without a metrics stack, and the names of the metrics
//! it records through the [`metrics`](https://docs.rs/metrics) facade
//! ([`metric`]).
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
use crate::observe::{Flush, Purge};
use crate::policy::CachedRoute;
use crate::store::Store;

pub use crate::breaker::BreakerState;

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
    #[doc(hidden)]
    pub fn route_named(&self, id: &str) -> Option<&RouteStats> {
        self.routes.iter().find(|r| r.route == id)
    }
}

/// One route's counts. Every request is counted once, under one of
/// `hits`, `stale`, `collapsed`, `revalidated`, `misses`, `errors` or
/// `bypassed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteStats {
    /// The route id (`module::handler`).
    pub route: &'static str,
    /// Answered from a fresh entry.
    pub hits: u64,
    /// Answered from an entry past its lifetime (while it was refreshed,
    /// or because the handler failed: see
    /// [`stale_on_error`](Self::stale_on_error)).
    pub stale: u64,
    /// Answered from the entry another request computed while this one
    /// waited (in this process or, with Redis, on another instance).
    pub collapsed: u64,
    /// Answered from an expired entry the handler confirmed with a `304`.
    pub revalidated: u64,
    /// The handler ran: nothing usable was stored, or the client asked for
    /// a fresh answer.
    pub misses: u64,
    /// The backend failed, and the handler ran uncached.
    pub errors: u64,
    /// Not looked up (another method, credentials, client `no-store`, a
    /// disabled cache).
    pub bypassed: u64,
    /// Responses stored.
    pub stored: u64,
    /// Responses not stored, whatever the reason.
    pub refused: u64,
    /// Stale entries served because the handler failed (`stale-if-error`):
    /// an outage a good hit ratio would hide.
    pub stale_on_error: u64,
}

impl RouteStats {
    /// Requests the cache looked up: every request but the bypassed ones.
    #[doc(hidden)]
    pub fn lookups(&self) -> u64 {
        self.hits + self.stale + self.collapsed + self.revalidated + self.misses + self.errors
    }

    /// The share of lookups answered from a stored entry (hits, stale,
    /// collapsed and revalidated), between 0 and 1; 0 before any lookup.
    pub fn hit_ratio(&self) -> f64 {
        let lookups = self.lookups();
        if lookups == 0 {
            return 0.0;
        }
        let served = self.hits + self.stale + self.collapsed + self.revalidated;
        served as f64 / lookups as f64
    }
}

/// The names of the metrics the cache records, all prefixed
/// `route_cache_`. Labels are fixed vocabularies and route ids
/// (`module::handler`), never paths, keys, queries, users or tags.
///
/// Handles are registered with the recorder installed when the cache is
/// built (cache-wide metrics) and when a route is first served (per-route
/// metrics): install the recorder before building the cache. Counters of
/// several caches in one process add up; the gauges carry no cache label,
/// so with several caches the last one to change a gauge sets it (use
/// [`RouteCache::stats`] per cache there).
#[doc(hidden)]
pub mod metric {
    /// Counter, labels `route`, `outcome`: every request to a cached route,
    /// once, as `hit`, `stale`, `collapsed`, `revalidated`, `miss`, `error`
    /// (the backend failed) or `bypass`.
    pub const REQUESTS: &str = "route_cache_requests_total";
    /// Counter, labels `route`, `reason`: bypassed requests by reason:
    /// `method`, `authorization`, `proxy-authorization`, `cookie`,
    /// `no-store` (the client's), `cache-disabled`, `no-layer`.
    pub const BYPASSES: &str = "route_cache_bypasses_total";
    /// Counter, label `route`: responses stored.
    pub const STORES: &str = "route_cache_stores_total";
    /// Counter, labels `route`, `reason`: responses not stored, by reason:
    /// `status`, `set-cookie`, `cache-control`, `vary`, `size`,
    /// `headers`, `store-failed`, `incomplete` (a streamed body that failed
    /// or was dropped before its end).
    pub const REFUSALS: &str = "route_cache_refusals_total";
    /// Counter, label `route`: stale entries served because the handler
    /// failed (`stale-if-error`).
    pub const STALE_ON_ERROR: &str = "route_cache_stale_on_error_total";
    /// Counter, labels `op`, `kind`: failed backend calls, by operation
    /// (`get`, `set`, `index`, `delete`, `lease`, `release`, `publish`,
    /// `invalidate`) and kind (`timeout`, `unavailable`, `corrupt`,
    /// `rejected`, `unauthorized`, `circuit-open`, `invalid-config`).
    pub const BACKEND_ERRORS: &str = "route_cache_backend_errors_total";
    /// Counter, label `to`: circuit breaker transitions to `open`,
    /// `half-open` or `closed`.
    pub const BREAKER_TRANSITIONS: &str = "route_cache_breaker_transitions_total";
    /// Counter: lookups the L1 answered (an entry it held; the request
    /// may still find it expired).
    pub const L1_HITS: &str = "route_cache_l1_hits_total";
    /// Counter, label `cause`: L1 flushes, by cause: `subscription-lost`,
    /// `silence`, `lost-message`.
    pub const L1_FLUSHES: &str = "route_cache_l1_flushes_total";
    /// Counter, label `tier` (`embedded`, `l1`): entries evicted for room,
    /// or not admitted for lack of it.
    pub const EVICTIONS: &str = "route_cache_evictions_total";
    /// Counter, label `kind` (`path`, `tag`, `route`, `namespace`, `all`):
    /// invalidation calls that succeeded.
    pub const INVALIDATIONS: &str = "route_cache_invalidations_total";
    /// Counter, label `kind`: keys those invalidations removed.
    pub const INVALIDATED_KEYS: &str = "route_cache_invalidated_keys_total";
    /// Histogram (seconds), label `op`: backend call latency.
    pub const BACKEND_SECONDS: &str = "route_cache_backend_seconds";
    /// Histogram (seconds), label `route`: handler time on a miss.
    pub const HANDLER_SECONDS: &str = "route_cache_handler_seconds";
    /// Histogram (bytes), label `route`: size of each stored entry.
    pub const ENTRY_BYTES: &str = "route_cache_entry_bytes";
    /// Histogram (seconds): from a key invalidation message's sending
    /// (path and tag invalidations, overwrites) to its arrival at another
    /// instance's L1 (wall clocks: keep them in sync).
    pub const L1_DELIVERY_LAG: &str = "route_cache_l1_delivery_lag_seconds";
    /// Gauge: the circuit breaker's state: 0 closed, 1 half-open, 2 open.
    pub const BREAKER_STATE: &str = "route_cache_breaker_state";
    /// Gauge: 1 while the L1 is live (its invalidation channel works).
    pub const L1_LIVE: &str = "route_cache_l1_live";
    /// Gauge, label `tier` (`embedded`, `l1`): bytes held in process.
    pub const STORE_BYTES: &str = "route_cache_store_bytes";
    /// Gauge, label `tier`: entries held in process.
    pub const STORE_ENTRIES: &str = "route_cache_store_entries";

    /// Every counter, with its help text.
    pub(crate) const COUNTERS: &[(&str, &str)] = &[
        (REQUESTS, "Requests to cached routes, by outcome."),
        (BYPASSES, "Requests that bypassed the cache, by reason."),
        (STORES, "Responses stored."),
        (REFUSALS, "Responses not stored, by reason."),
        (
            STALE_ON_ERROR,
            "Stale entries served because the handler failed.",
        ),
        (
            BACKEND_ERRORS,
            "Failed backend calls, by operation and kind.",
        ),
        (BREAKER_TRANSITIONS, "Circuit breaker transitions."),
        (L1_HITS, "Hits answered by the L1."),
        (L1_FLUSHES, "L1 flushes, by cause."),
        (EVICTIONS, "Entries evicted for room."),
        (INVALIDATIONS, "Invalidation calls that succeeded."),
        (INVALIDATED_KEYS, "Keys removed by invalidations."),
    ];

    /// Every histogram, with its unit and help text.
    pub(crate) const HISTOGRAMS: &[(&str, &str, &str)] = &[
        (BACKEND_SECONDS, "seconds", "Backend call latency."),
        (HANDLER_SECONDS, "seconds", "Handler time on a miss."),
        (ENTRY_BYTES, "bytes", "Size of stored entries."),
        (
            L1_DELIVERY_LAG,
            "seconds",
            "Invalidation message delivery lag.",
        ),
    ];

    /// Every gauge, with its help text.
    pub(crate) const GAUGES: &[(&str, &str)] = &[
        (
            BREAKER_STATE,
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
        ),
        (L1_LIVE, "1 while the L1 is live."),
        (STORE_BYTES, "Bytes held in process."),
        (STORE_ENTRIES, "Entries held in process."),
    ];
}
