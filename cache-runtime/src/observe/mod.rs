//! What the cache counts and times: through the [`metrics`] facade (the
//! application installs a recorder: Prometheus, StatsD, OpenTelemetry),
//! and in tallies of its own for [`RouteCache::stats`](crate::RouteCache::stats).
//!
//! Every handle is registered once: the cache-wide ones when the cache is
//! built, a route's the first time the route is served (`route.rs`). A hit
//! then adds to an atomic and to a handle, with no label hashing; without
//! a recorder the handles do nothing. Labels are route ids and the fixed
//! vocabularies below, never anything a request carries, so the label set
//! stays bounded whatever arrives. Names and meanings are listed in
//! `names.rs`.

pub(crate) mod names;
mod route;
mod tally;

pub use self::route::RouteSlot;
pub use self::route::RouteStats;
#[cfg(feature = "axum")]
pub(crate) use self::route::{Answered, Shadowed};
pub(crate) use self::route::{Bypass, NotStored, Refusal};
pub(crate) use self::route::{RouteHandle, Routes};
pub(crate) use self::tally::{vocabulary, Tally};

use self::names as metric;
use crate::error::ErrorKind;
use metrics::{Counter, Gauge, Histogram};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

vocabulary! {
    /// A backend operation, for the latency histogram and error counter.
    Op {
        Get = "get",
        Set = "set",
        Index = "index",
        Delete = "delete",
        Lease = "lease",
        Release = "release",
        Publish = "publish",
        Invalidate = "invalidate",
        /// Reading or bumping the generations of race-free fills.
        Generation = "generation",
        /// Purging the edge cache (see `crate::edge`).
        EdgePurge = "edge-purge",
    }
}

vocabulary! {
    /// Why the L1 was flushed.
    Flush {
        /// The subscription closed or could not be made.
        SubscriptionLost = "subscription-lost",
        /// Nothing heard for three heartbeats.
        Silence = "silence",
        /// A sender's message never arrived.
        LostMessage = "lost-message",
        /// The sentinels named another master: what the old one held may
        /// not have reached the new one.
        Failover = "failover",
    }
}

vocabulary! {
    /// What an invalidation named.
    Purge {
        Path = "path",
        Tag = "tag",
        Route = "route",
        Namespace = "namespace",
        All = "all",
    }
}

vocabulary! {
    /// A circuit breaker state (the gauge's value is the index).
    Circuit {
        Closed = "closed",
        HalfOpen = "half-open",
        Open = "open",
    }
}

/// A backend error's `kind` label.
pub(crate) const fn failure(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::TimedOut => "timeout",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::CircuitOpen => "circuit-open",
        ErrorKind::Rejected => "rejected",
        ErrorKind::Unauthorized => "unauthorized",
        ErrorKind::InvalidConfig => "invalid-config",
    }
}

/// The `kind` label of an undecodable stored value.
pub(crate) const CORRUPT: &str = "corrupt";

/// An in-process store's size, for the embedded store and the L1.
#[derive(Debug)]
pub(crate) struct StoreGauges {
    bytes: AtomicI64,
    entries: AtomicI64,
    bytes_gauge: Gauge,
    entries_gauge: Gauge,
    evictions: Tally,
}

impl StoreGauges {
    /// Registers the gauges of the in-process `tier` (`embedded`, `l1`).
    pub(crate) fn register(tier: &'static str) -> Self {
        Self {
            bytes: AtomicI64::new(0),
            entries: AtomicI64::new(0),
            bytes_gauge: metrics::gauge!(metric::STORE_BYTES, "tier" => tier),
            entries_gauge: metrics::gauge!(metric::STORE_ENTRIES, "tier" => tier),
            evictions: Tally::new(metrics::counter!(metric::EVICTIONS, "tier" => tier)),
        }
    }

    /// Not registered with the recorder (stores no cache observes).
    pub(crate) fn unobserved() -> Self {
        Self {
            bytes: AtomicI64::new(0),
            entries: AtomicI64::new(0),
            bytes_gauge: Gauge::noop(),
            entries_gauge: Gauge::noop(),
            evictions: Tally::new(Counter::noop()),
        }
    }

    /// An entry of `bytes` came in (`+1`) or went (`-1`).
    pub(crate) fn changed(&self, sign: i64, bytes: u64) {
        let bytes = i64::try_from(bytes)
            .unwrap_or(i64::MAX)
            .saturating_mul(sign);
        let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let entries = self.entries.fetch_add(sign, Ordering::Relaxed) + sign;
        self.bytes_gauge.set(total.max(0) as f64);
        self.entries_gauge.set(entries.max(0) as f64);
    }

    /// An entry was evicted for room.
    pub(crate) fn evicted(&self) {
        self.evictions.add(1);
    }

    pub(crate) fn bytes(&self) -> u64 {
        u64::try_from(self.bytes.load(Ordering::Relaxed)).unwrap_or(0)
    }

    pub(crate) fn entries(&self) -> u64 {
        u64::try_from(self.entries.load(Ordering::Relaxed)).unwrap_or(0)
    }

    pub(crate) fn evictions(&self) -> u64 {
        self.evictions.get()
    }
}

/// The L1's hits, flushes, liveness and delivery lag.
#[derive(Debug)]
pub(crate) struct TierMetrics {
    hits: Tally,
    flushes: [Tally; Flush::ALL.len()],
    live: Gauge,
    lag: Histogram,
}

impl TierMetrics {
    pub(crate) fn register() -> Self {
        Self {
            hits: Tally::new(metrics::counter!(metric::L1_HITS)),
            flushes: Flush::ALL.map(|cause| {
                Tally::new(metrics::counter!(metric::L1_FLUSHES, "cause" => cause.as_str()))
            }),
            live: metrics::gauge!(metric::L1_LIVE),
            lag: metrics::histogram!(metric::L1_DELIVERY_LAG),
        }
    }

    pub(crate) fn hit(&self) {
        self.hits.add(1);
    }

    pub(crate) fn flushed(&self, cause: Flush) {
        self.flushes[cause as usize].add(1);
    }

    pub(crate) fn set_live(&self, live: bool) {
        self.live.set(if live { 1.0 } else { 0.0 });
    }

    /// A message sent at `sent_ms` (the sender's wall clock) arrived at
    /// `now_ms`; a sender's clock ahead of ours counts as no lag.
    pub(crate) fn delivered(&self, sent_ms: u64, now_ms: u64) {
        let lag = Duration::from_millis(now_ms.saturating_sub(sent_ms));
        self.lag.record(lag.as_secs_f64());
    }

    pub(crate) fn hits(&self) -> u64 {
        self.hits.get()
    }

    pub(crate) fn flushes(&self, cause: Flush) -> u64 {
        self.flushes[cause as usize].get()
    }
}

/// A cache's handles and tallies: per route, per backend operation, and
/// for invalidations. The breaker, the in-process stores and the L1 keep
/// their own.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// This cache's id, unique in the process (see [`RouteSlot`]).
    pub(crate) id: u64,
    pub(crate) routes: Routes,
    calls: [Histogram; Op::ALL.len()],
    errors: AtomicU64,
    purges: [Tally; Purge::ALL.len()],
    purged: [Tally; Purge::ALL.len()],
}

impl Metrics {
    /// Registers the cache-wide handles with the recorder installed now.
    /// `prefix` is the cache's key prefix, which starts its routes' keys.
    pub(crate) fn register(prefix: &str) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        describe();
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            routes: Routes::new(prefix),
            calls: Op::ALL
                .map(|op| metrics::histogram!(metric::BACKEND_SECONDS, "op" => op.as_str())),
            errors: AtomicU64::new(0),
            purges: Purge::ALL.map(|kind| {
                Tally::new(metrics::counter!(metric::INVALIDATIONS, "kind" => kind.as_str()))
            }),
            purged: Purge::ALL.map(|kind| {
                Tally::new(metrics::counter!(metric::INVALIDATED_KEYS, "kind" => kind.as_str()))
            }),
        }
    }

    /// The handles of the route `R`.
    #[inline]
    pub(crate) fn route<R: crate::cached::CachedRoute>(&self) -> RouteHandle {
        self.routes.of(R::slot(), &R::POLICY, self.id)
    }

    /// A backend call of `op` took `elapsed`.
    pub(crate) fn called(&self, op: Op, elapsed: Duration) {
        self.calls[op as usize].record(elapsed.as_secs_f64());
    }

    /// A backend call of `op` failed with `kind` (a label of
    /// [`failure`], or [`CORRUPT`]). Errors are rare: the handle is looked
    /// up here rather than kept for every pair.
    pub(crate) fn failed(&self, op: Op, kind: &'static str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(metric::BACKEND_ERRORS, "op" => op.as_str(), "kind" => kind).increment(1);
    }

    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// An invalidation of `kind` removed `keys` keys.
    pub(crate) fn purged(&self, kind: Purge, keys: usize) {
        self.purges[kind as usize].add(1);
        self.purged[kind as usize].add(u64::try_from(keys).unwrap_or(u64::MAX));
    }

    pub(crate) fn purges(&self, kind: Purge) -> (u64, u64) {
        (
            self.purges[kind as usize].get(),
            self.purged[kind as usize].get(),
        )
    }
}

/// Describes every metric to the recorder installed now (its help text and
/// unit), once per recorder lifetime in practice: describing again is
/// harmless.
fn describe() {
    use metrics::Unit;
    for (name, help) in metric::COUNTERS {
        metrics::describe_counter!(*name, Unit::Count, *help);
    }
    for (name, unit, help) in metric::HISTOGRAMS {
        let unit = if *unit == "seconds" {
            Unit::Seconds
        } else {
            Unit::Bytes
        };
        metrics::describe_histogram!(*name, unit, *help);
    }
    for (name, help) in metric::GAUGES {
        metrics::describe_gauge!(*name, *help);
    }
}
