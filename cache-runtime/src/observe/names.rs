//! The names of the metrics the cache records, all prefixed
//! `route_cache_`. Labels are fixed vocabularies and route ids
//! (`module::handler`), never paths, keys, queries, users or tags.
//!
//! Handles are registered with the recorder installed when the cache is
//! built (cache-wide metrics) and when a route is first served (per-route
//! metrics): install the recorder before building the cache. Counters of
//! several caches in one process add up; the gauges carry no cache label,
//! so with several caches the last one to change a gauge sets it (use
//! [`RouteCache::stats`](crate::RouteCache::stats) per cache there).

/// Counter, labels `route`, `outcome`: every request to a cached route,
/// once, as `hit`, `stale`, `collapsed`, `revalidated`, `miss`, `error`
/// (the backend failed) or `bypass`.
pub(crate) const REQUESTS: &str = "route_cache_requests_total";
/// Counter, labels `route`, `reason`: bypassed requests by reason:
/// `method`, `authorization`, `proxy-authorization`, `cookie`,
/// `no-store` (the client's), `cache-disabled`, `no-layer`.
pub(crate) const BYPASSES: &str = "route_cache_bypasses_total";
/// Counter, label `route`: responses stored.
pub(crate) const STORES: &str = "route_cache_stores_total";
/// Counter, labels `route`, `reason`: responses not stored, by reason:
/// `status`, `set-cookie`, `cache-control`, `vary`, `size`,
/// `headers`, `store-failed`, `incomplete` (a streamed body that failed
/// or was dropped before its end).
pub(crate) const REFUSALS: &str = "route_cache_refusals_total";
/// Counter, label `route`: stale entries served because the handler
/// failed (`stale-if-error`).
pub(crate) const STALE_ON_ERROR: &str = "route_cache_stale_on_error_total";
/// Counter, labels `op`, `kind`: failed backend calls, by operation
/// (`get`, `set`, `index`, `delete`, `lease`, `release`, `publish`,
/// `invalidate`) and kind (`timeout`, `unavailable`, `corrupt`,
/// `rejected`, `unauthorized`, `circuit-open`, `invalid-config`).
pub(crate) const BACKEND_ERRORS: &str = "route_cache_backend_errors_total";
/// Counter, label `to`: circuit breaker transitions to `open`,
/// `half-open` or `closed`.
pub(crate) const BREAKER_TRANSITIONS: &str = "route_cache_breaker_transitions_total";
/// Counter: lookups the L1 answered (an entry it held; the request
/// may still find it expired).
pub(crate) const L1_HITS: &str = "route_cache_l1_hits_total";
/// Counter, label `cause`: L1 flushes, by cause: `subscription-lost`,
/// `silence`, `lost-message`.
pub(crate) const L1_FLUSHES: &str = "route_cache_l1_flushes_total";
/// Counter, label `tier` (`embedded`, `l1`): entries evicted for room,
/// or not admitted for lack of it.
pub(crate) const EVICTIONS: &str = "route_cache_evictions_total";
/// Counter, label `kind` (`path`, `tag`, `route`, `namespace`, `all`):
/// invalidation calls that succeeded.
pub(crate) const INVALIDATIONS: &str = "route_cache_invalidations_total";
/// Counter, label `kind`: keys those invalidations removed.
pub(crate) const INVALIDATED_KEYS: &str = "route_cache_invalidated_keys_total";
/// Histogram (seconds), label `op`: backend call latency.
pub(crate) const BACKEND_SECONDS: &str = "route_cache_backend_seconds";
/// Histogram (seconds), label `route`: handler time on a miss.
pub(crate) const HANDLER_SECONDS: &str = "route_cache_handler_seconds";
/// Histogram (bytes), label `route`: size of each stored entry.
pub(crate) const ENTRY_BYTES: &str = "route_cache_entry_bytes";
/// Histogram (seconds): from a key invalidation message's sending
/// (path and tag invalidations, overwrites) to its arrival at another
/// instance's L1 (wall clocks: keep them in sync).
pub(crate) const L1_DELIVERY_LAG: &str = "route_cache_l1_delivery_lag_seconds";
/// Gauge: the circuit breaker's state: 0 closed, 1 half-open, 2 open.
pub(crate) const BREAKER_STATE: &str = "route_cache_breaker_state";
/// Gauge: 1 while the L1 is live (its invalidation channel works).
pub(crate) const L1_LIVE: &str = "route_cache_l1_live";
/// Counter, labels `route`, `outcome`: shadow-mode comparisons of the
/// handler's answer with the entry the cache would have served: `match`,
/// `diverged`, or `no-entry` (nothing stored yet).
pub(crate) const SHADOW: &str = "route_cache_shadow_total";
/// Histogram, label `route`: in shadow mode, the age of an entry whose
/// body differed from the handler's fresh answer.
pub(crate) const SHADOW_DIVERGENCE_AGE: &str = "route_cache_shadow_divergence_age_seconds";
/// Gauge, label `tier` (`embedded`, `l1`): bytes held in process.
pub(crate) const STORE_BYTES: &str = "route_cache_store_bytes";
/// Gauge, label `tier`: entries held in process.
pub(crate) const STORE_ENTRIES: &str = "route_cache_store_entries";

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
    (
        SHADOW,
        "Shadow-mode comparisons of fresh answers with stored entries.",
    ),
];

/// Every histogram, with its unit and help text.
pub(crate) const HISTOGRAMS: &[(&str, &str, &str)] = &[
    (BACKEND_SECONDS, "seconds", "Backend call latency."),
    (HANDLER_SECONDS, "seconds", "Handler time on a miss."),
    (ENTRY_BYTES, "bytes", "Size of stored entries."),
    (
        SHADOW_DIVERGENCE_AGE,
        "seconds",
        "Age of stored entries that differed from the fresh answer (shadow mode).",
    ),
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
