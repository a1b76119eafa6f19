//! Per-route handles and tallies, registered the first time a route is
//! served, and found again on every request by the address of its id.

use super::names as metric;
use super::tally::{vocabulary, Tally};
use crate::key::KeyBuilder;
use crate::policy::RoutePolicy;
use metrics::Histogram;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

vocabulary! {
    /// How a request was answered (`outcome`).
    Answered {
        /// A fresh entry.
        Hit = "hit",
        /// An entry past its lifetime, inside its stale window (including
        /// in place of a failed handler).
        Stale = "stale",
        /// An entry another request computed while this one waited.
        Collapsed = "collapsed",
        /// An expired entry the handler confirmed with a `304`.
        Revalidated = "revalidated",
        /// The handler ran (nothing usable was stored, or the client asked
        /// for a fresh answer).
        Miss = "miss",
        /// The backend failed; the handler ran uncached.
        Error = "error",
        /// The cache was not consulted (see [`Bypass`]).
        Bypass = "bypass",
    }
}

vocabulary! {
    /// Why a request bypassed the cache (`reason`).
    Bypass {
        Method = "method",
        Authorization = "authorization",
        ProxyAuthorization = "proxy-authorization",
        Cookie = "cookie",
        /// A credential header added with `credential_headers`.
        Credential = "credential",
        /// The request names its host inconsistently on a route keyed on
        /// the host (see `key::host`).
        Host = "host",
        /// The client sent `Cache-Control: no-store`.
        NoStore = "no-store",
        /// The cache is disabled (a backend configuration that cannot work).
        Disabled = "cache-disabled",
        /// The router has no cache layer.
        NoLayer = "no-layer",
    }
}

vocabulary! {
    /// Why a response was not stored (`reason`).
    Refusal {
        Status = "status",
        SetCookie = "set-cookie",
        /// `no-store`, `no-cache`, `private`, or no freshness left.
        CacheControl = "cache-control",
        Vary = "vary",
        Size = "size",
        Headers = "headers",
        StoreFailed = "store-failed",
        /// A streamed body that failed or was dropped before its end.
        Incomplete = "incomplete",
        /// A `Content-Encoding` the cache cannot decode for clients that
        /// do not accept it (several codings, or one whose feature is off).
        ContentEncoding = "content-encoding",
        /// An invalidation named the entry while it was computed (see
        /// `crate::fill::generation`): the response is served, not stored.
        Invalidated = "invalidated",
        /// An index set of the entry (its path's, a tag's) holds its most
        /// live members (`max_path_variants`, `max_tag_members`).
        IndexFull = "index-full",
        /// A background refresh ran past the lease's life and was
        /// abandoned (logged): the entry stays as it was.
        Abandoned = "refresh-abandoned",
    }
}

impl Bypass {
    /// The reason a request carrying the credential header `name` bypasses.
    pub(crate) fn credential(name: &http::HeaderName) -> Self {
        if name == http::header::AUTHORIZATION {
            Self::Authorization
        } else if name == http::header::PROXY_AUTHORIZATION {
            Self::ProxyAuthorization
        } else if name == http::header::COOKIE {
            Self::Cookie
        } else {
            Self::Credential
        }
    }
}

vocabulary! {
    /// A shadow-mode comparison (`outcome`).
    Shadowed {
        /// The stored entry's body equals the handler's fresh answer.
        Match = "match",
        /// It differs (or the fresh answer may not be stored at all).
        Diverged = "diverged",
        /// Nothing was stored for the key yet.
        NoEntry = "no-entry",
    }
}

/// Why a miss's response was not stored (yet): the `Cache-Status` detail
/// and, for a refusal, the counted reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotStored {
    /// Refused, for the reason counted.
    Refused(Refusal),
    /// The governing directives leave it no freshness (detail `max-age`;
    /// counted as `cache-control`, which decided it).
    NoFreshness,
    /// A body of unknown length, stored if it ends within the limit after
    /// the response has gone (detail `streamed`; counted then, if refused).
    Streamed,
    /// A `HEAD`'s answer, never stored as the `GET`'s entry (detail
    /// `head`; not counted).
    Head,
}

impl NotStored {
    /// The `Cache-Status` detail.
    pub(crate) const fn detail(self) -> &'static str {
        match self {
            Self::Refused(reason) => reason.as_str(),
            Self::NoFreshness => "max-age",
            Self::Streamed => "streamed",
            Self::Head => "head",
        }
    }

    /// The refusal counted for it, if one is.
    pub(crate) const fn refusal(self) -> Option<Refusal> {
        match self {
            Self::Refused(reason) => Some(reason),
            Self::NoFreshness => Some(Refusal::CacheControl),
            Self::Streamed | Self::Head => None,
        }
    }
}

impl From<Refusal> for NotStored {
    fn from(reason: Refusal) -> Self {
        Self::Refused(reason)
    }
}

/// One route's handles and tallies, and its policy (what the admin API
/// reports and purges by route id).
#[derive(Debug)]
pub(crate) struct RouteMetrics {
    pub(crate) id: &'static str,
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) policy: &'static RoutePolicy,
    /// Its mount point is known to the admin API's explain (`admin`).
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) mounted: std::sync::atomic::AtomicBool,
    /// The start its keys share on this cache ([`KeyBuilder::scope`]),
    /// made once rather than on every request.
    key_scope: Box<str>,
    answered: [Tally; Answered::ALL.len()],
    bypassed: [Tally; Bypass::ALL.len()],
    refused: [Tally; Refusal::ALL.len()],
    stored: Tally,
    stale_on_error: Tally,
    shadowed: [Tally; Shadowed::ALL.len()],
    handler: Histogram,
    entry_bytes: Histogram,
    divergence_age: Histogram,
}

impl RouteMetrics {
    /// Registers the route's handles with the recorder installed now, for
    /// a cache whose keys start with `prefix`.
    pub(crate) fn register(policy: &'static RoutePolicy, prefix: &str) -> Self {
        let id = policy.route_id();
        let scope = KeyBuilder::new(prefix, policy.namespace(), policy.key_id(), "GET");
        let tally = |name, label, value: &'static str| {
            Tally::new(metrics::counter!(name, "route" => id, label => value))
        };
        Self {
            id,
            policy,
            mounted: std::sync::atomic::AtomicBool::new(false),
            key_scope: scope.scope().into(),
            answered: Answered::ALL.map(|a| tally(metric::REQUESTS, "outcome", a.as_str())),
            bypassed: Bypass::ALL.map(|b| tally(metric::BYPASSES, "reason", b.as_str())),
            refused: Refusal::ALL.map(|r| tally(metric::REFUSALS, "reason", r.as_str())),
            stored: Tally::new(metrics::counter!(metric::STORES, "route" => id)),
            stale_on_error: Tally::new(metrics::counter!(metric::STALE_ON_ERROR, "route" => id)),
            shadowed: Shadowed::ALL.map(|s| tally(metric::SHADOW, "outcome", s.as_str())),
            divergence_age: metrics::histogram!(metric::SHADOW_DIVERGENCE_AGE, "route" => id),
            handler: metrics::histogram!(metric::HANDLER_SECONDS, "route" => id),
            entry_bytes: metrics::histogram!(metric::ENTRY_BYTES, "route" => id),
        }
    }

    /// The key of a request of the route `policy` on a cache whose keys
    /// start with `prefix`, begun: its scope written, copied from the one
    /// made at registration. A hand-written route sharing this one's id
    /// with another namespace gets its own scope made.
    pub(crate) fn key(&self, policy: &RoutePolicy, prefix: &str) -> KeyBuilder {
        if self.policy.same_key_scope(policy) {
            return KeyBuilder::from_scope(&self.key_scope);
        }
        KeyBuilder::new(prefix, policy.namespace(), policy.key_id(), "GET")
    }

    #[inline]
    pub(crate) fn answered(&self, how: Answered) {
        self.answered[how as usize].add(1);
    }

    pub(crate) fn bypassed(&self, why: Bypass) {
        self.answered(Answered::Bypass);
        self.bypassed[why as usize].add(1);
    }

    pub(crate) fn refused(&self, why: Refusal) {
        self.refused[why as usize].add(1);
    }

    /// An entry of `bytes` was stored.
    pub(crate) fn stored(&self, bytes: usize) {
        self.stored.add(1);
        self.entry_bytes.record(bytes as f64);
    }

    /// A stale entry was served because the handler failed.
    pub(crate) fn stale_on_error(&self) {
        self.stale_on_error.add(1);
    }

    /// A shadow-mode comparison came out `how`; `age` is the stored
    /// entry's, at a divergence.
    pub(crate) fn shadowed(&self, how: Shadowed, age: Option<Duration>) {
        self.shadowed[how as usize].add(1);
        if let Some(age) = age {
            self.divergence_age.record(age.as_secs_f64());
        }
    }

    pub(crate) fn handler_ran(&self, elapsed: Duration) {
        self.handler.record(elapsed.as_secs_f64());
    }

    pub(crate) fn snapshot(&self) -> RouteStats {
        let a = |how: Answered| self.answered[how as usize].get();
        RouteStats {
            route: self.id,
            hits: a(Answered::Hit),
            stale: a(Answered::Stale),
            collapsed: a(Answered::Collapsed),
            revalidated: a(Answered::Revalidated),
            misses: a(Answered::Miss),
            errors: a(Answered::Error),
            bypassed: a(Answered::Bypass),
            stored: self.stored.get(),
            refused: self.refused.iter().map(Tally::get).sum(),
            stale_on_error: self.stale_on_error.get(),
            shadow_matched: self.shadowed[Shadowed::Match as usize].get(),
            shadow_diverged: self.shadowed[Shadowed::Diverged as usize].get(),
            shadow_no_entry: self.shadowed[Shadowed::NoEntry as usize].get(),
        }
    }
}

/// A route's counters for the first cache that served it (by the cache's
/// id), kept in a static the macro generates for the route: a request of
/// that cache reaches them with one load and one comparison.
#[doc(hidden)]
#[derive(Debug)]
pub struct RouteSlot(OnceLock<(u64, Arc<RouteMetrics>)>);

impl RouteSlot {
    /// An empty slot.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(OnceLock::new())
    }
}

/// A request's handle on its route's counters: in the route's slot, or
/// shared with the cache's table.
#[derive(Debug, Clone)]
pub(crate) enum RouteHandle {
    Slot(&'static RouteMetrics),
    Table(Arc<RouteMetrics>),
}

impl std::ops::Deref for RouteHandle {
    type Target = RouteMetrics;

    #[inline]
    fn deref(&self) -> &RouteMetrics {
        match self {
            Self::Slot(metrics) => metrics,
            Self::Table(metrics) => metrics,
        }
    }
}

/// A route id's address and length: a request finds its route's handles
/// without hashing the id's text.
type Address = (usize, usize);

/// Hashes an [`Address`] with one multiplication per word.
#[derive(Default)]
pub(crate) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        let h = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // The low bits pick the bucket: fold the well-mixed high ones in.
        self.0 = h ^ (h >> 29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Every route this cache has served, by the address of its id. One route
/// may appear under several addresses (a constant's text may be copied
/// between crates); they share one [`RouteMetrics`].
#[derive(Debug)]
pub(crate) struct Routes {
    map: RwLock<HashMap<Address, Arc<RouteMetrics>, BuildHasherDefault<AddressHasher>>>,
    /// The cache's key prefix.
    prefix: Box<str>,
}

impl Routes {
    /// No routes yet, for a cache whose keys start with `prefix`.
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            map: RwLock::default(),
            prefix: prefix.into(),
        }
    }

    /// The handles of the route `policy` names, registered on first use.
    pub(crate) fn get(&self, policy: &'static RoutePolicy) -> Arc<RouteMetrics> {
        let id = policy.route_id();
        let address = (id.as_ptr() as usize, id.len());
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(route) = map.get(&address) {
            return Arc::clone(route);
        }
        drop(map);
        self.register(address, policy)
    }

    /// The handles of the route `R` for the cache `cache` (an id no other
    /// cache has): from the route's slot when this cache was the first to
    /// serve it, else from the table.
    #[inline]
    pub(crate) fn of(
        &self,
        slot: Option<&'static RouteSlot>,
        policy: &'static RoutePolicy,
        cache: u64,
    ) -> RouteHandle {
        if let Some((owner, metrics)) = slot.and_then(|slot| slot.0.get()) {
            if *owner == cache {
                return RouteHandle::Slot(metrics);
            }
        }
        let metrics = self.get(policy);
        if let Some(slot) = slot {
            // Taken by the first cache only; the others use the table.
            let _ = slot.0.set((cache, Arc::clone(&metrics)));
        }
        RouteHandle::Table(metrics)
    }

    #[cold]
    fn register(&self, address: Address, policy: &'static RoutePolicy) -> Arc<RouteMetrics> {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        let id = policy.route_id();
        let route = map
            .values()
            .find(|route| route.id == id)
            .cloned()
            .unwrap_or_else(|| Arc::new(RouteMetrics::register(policy, &self.prefix)));
        map.insert(address, Arc::clone(&route));
        route
    }

    /// Every route's policy, once each, by route id.
    #[cfg_attr(not(feature = "admin"), allow(dead_code))]
    pub(crate) fn policies(&self) -> Vec<&'static RoutePolicy> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        let mut policies: Vec<&'static RoutePolicy> = map.values().map(|r| r.policy).collect();
        policies.sort_by(|a, b| a.route_id().cmp(b.route_id()));
        policies.dedup_by(|a, b| a.route_id() == b.route_id());
        policies
    }

    /// Every route's numbers, once each, by route id.
    pub(crate) fn snapshot(&self) -> Vec<RouteStats> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        let mut routes: Vec<RouteStats> = map.values().map(|r| r.snapshot()).collect();
        routes.sort_by(|a, b| a.route.cmp(b.route));
        routes.dedup_by(|a, b| a.route == b.route);
        routes
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
    /// Shadow mode: fresh answers equal to the stored entry.
    pub shadow_matched: u64,
    /// Shadow mode: fresh answers that differed from the stored entry.
    pub shadow_diverged: u64,
    /// Shadow mode: fresh answers with no stored entry to compare with.
    pub shadow_no_entry: u64,
}

impl RouteStats {
    /// Requests the cache looked up: every request but the bypassed ones.
    pub(crate) fn lookups(&self) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_sharing_an_id_keep_their_own_key_scope() {
        let routes = Routes::new("p");
        let leak = |policy| &*Box::leak(Box::new(policy));
        let plain: &'static RoutePolicy = leak(RoutePolicy::new("app::item", 60));
        let spaced = leak(RoutePolicy::new("app::item", 60).with_namespace("v2"));
        let scope =
            |policy: &'static RoutePolicy| routes.get(policy).key(policy, "p").scope().to_owned();
        let expected = |namespace| {
            KeyBuilder::new("p", namespace, plain.key_id(), "GET")
                .scope()
                .to_owned()
        };
        assert_eq!(scope(plain), expected(None));
        assert_eq!(scope(spaced), expected(Some("v2")));
        assert_eq!(scope(plain), expected(None), "made once, copied after");
    }

    #[test]
    fn one_route_under_two_addresses_shares_its_tallies() {
        let routes = Routes::new("p");
        let policy = |id| &*Box::leak(Box::new(RoutePolicy::new(id, 60)));
        let first: &'static str = "app::list";
        // The same text at another address.
        let copy: &'static str = Box::leak(first.to_owned().into_boxed_str());
        routes.get(policy(first)).answered(Answered::Hit);
        routes.get(policy(copy)).answered(Answered::Hit);
        routes.get(policy("app::other")).answered(Answered::Miss);
        let stats = routes.snapshot();
        assert_eq!(stats.len(), 2, "{stats:?}");
        assert_eq!(stats[0].route, "app::list");
        assert_eq!(stats[0].hits, 2);
        assert_eq!(stats[1].misses, 1);
    }

    #[test]
    fn details_map_to_their_reasons() {
        assert_eq!(Bypass::credential(&http::header::COOKIE), Bypass::Cookie);
        assert_eq!(
            Bypass::credential(&http::header::PROXY_AUTHORIZATION),
            Bypass::ProxyAuthorization
        );
        let api_key = http::HeaderName::from_static("x-api-key");
        assert_eq!(Bypass::credential(&api_key), Bypass::Credential);
        assert_eq!(NotStored::NoFreshness.detail(), "max-age");
        assert_eq!(
            NotStored::NoFreshness.refusal(),
            Some(Refusal::CacheControl)
        );
        let failed = NotStored::from(Refusal::StoreFailed);
        assert_eq!(
            (failed.detail(), failed.refusal()),
            ("store-failed", Some(Refusal::StoreFailed))
        );
        assert_eq!(NotStored::Streamed.refusal(), None);
        assert_eq!(NotStored::Head.refusal(), None);
    }
}
