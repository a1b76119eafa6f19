//! Cache-wide settings: one `DEFAULT_*` constant, one getter on
//! [`CacheConfig`] and one [`RouteCacheBuilder`](crate::RouteCacheBuilder)
//! method per setting. Per-route settings live on the route's attribute.

use crate::edge::EdgeTags;
use crate::http::encoding::Encoding;
use std::{fmt, time::Duration};

/// Default first segment of every key ([`CacheConfig::prefix`]).
pub const DEFAULT_PREFIX: &str = "rc";
/// Default bound on every backend call ([`CacheConfig::timeout`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);
/// Default bound on each (re)connection attempt ([`CacheConfig::connect_timeout`]).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default largest body stored, 1 MiB ([`CacheConfig::max_body`]).
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// Default capacity of the in-process store, 64 MiB ([`CacheConfig::embedded_capacity`]).
pub const DEFAULT_EMBEDDED_CAPACITY: u64 = 64 * 1024 * 1024;
/// Default interval between log lines of a persisting fault ([`CacheConfig::fault_log_interval`]).
pub const DEFAULT_FAULT_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Default name of the cache in `Cache-Status` ([`CacheConfig::status_name`]).
pub const DEFAULT_STATUS_NAME: &str = "route-cache";
/// Default for honouring clients' `Cache-Control` ([`CacheConfig::honor_client`]).
const DEFAULT_HONOR_CLIENT: bool = false;
/// Default for capping the TTL to the handler's `max-age` ([`CacheConfig::cap_ttl_to_handler_max_age`]).
const DEFAULT_CAP_TTL_TO_HANDLER_MAX_AGE: bool = true;
/// Default consecutive failures that open the circuit breaker ([`CacheConfig::breaker_failures`]).
pub const DEFAULT_BREAKER_FAILURES: u32 = 5;
/// Default time the circuit stays open ([`CacheConfig::breaker_cooldown`]).
pub const DEFAULT_BREAKER_COOLDOWN: Duration = Duration::from_millis(500);
/// Default wait for another request computing the same entry ([`CacheConfig::coalesce_wait`]).
pub const DEFAULT_COALESCE_WAIT: Duration = Duration::from_secs(5);
/// Default life of the cross-instance lease on a missing entry ([`CacheConfig::lease_ttl`]).
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
/// Default stale window, none ([`CacheConfig::stale`]).
pub const DEFAULT_STALE: Duration = Duration::ZERO;
/// Default for serving stale entries when their refresh fails ([`CacheConfig::stale_if_error`]).
pub const DEFAULT_STALE_IF_ERROR: bool = true;
/// Default capacity of the L1 in front of Redis, none ([`CacheConfig::l1_capacity`]).
pub const DEFAULT_L1_CAPACITY: u64 = 0;
/// Default interval of the L1 channel's heartbeat ([`CacheConfig::l1_heartbeat`]).
pub const DEFAULT_L1_HEARTBEAT: Duration = Duration::from_secs(1);
/// Default for keying on `Forwarded`/`X-Forwarded-Host` ([`CacheConfig::trust_forwarded_host`]).
const DEFAULT_TRUST_FORWARDED_HOST: bool = false;
/// Default number of proxies in front of the app whose forwarded-host
/// values are trusted, when [`CacheConfig::trust_forwarded_host`] is on
/// ([`CacheConfig::trusted_proxies`]).
pub const DEFAULT_TRUSTED_PROXIES: usize = 1;
/// Request headers that always carry credentials
/// ([`CacheConfig::credential_headers`] adds to them).
pub const DEFAULT_CREDENTIAL_HEADERS: [http::HeaderName; 3] = [
    http::header::AUTHORIZATION,
    http::header::PROXY_AUTHORIZATION,
    http::header::COOKIE,
];
/// Default most live entries one request path's index set lists at once,
/// across hosts, `vary` values and routes ([`CacheConfig::max_path_variants`]).
pub const DEFAULT_MAX_PATH_VARIANTS: usize = 4096;
/// Default most live entries one tag's index set lists at once
/// ([`CacheConfig::max_tag_members`]).
pub const DEFAULT_MAX_TAG_MEMBERS: usize = 100_000;
/// Default for invalidating the targets of unsafe requests' answers (RFC
/// 9111 §4.4; [`CacheConfig::invalidate_unsafe`]).
const DEFAULT_INVALIDATE_UNSAFE: bool = true;
/// Default targeted cache-control field (RFC 9213) that governs this cache
/// when a response carries it ([`CacheConfig::targeted_cache_control`]).
pub const DEFAULT_TARGETED_CACHE_CONTROL: &str = "cdn-cache-control";
/// Default stored encoding of compressible bodies ([`CacheConfig::compression`]):
/// `gzip` when the `gzip` feature is on (it is by default).
pub const DEFAULT_COMPRESSION: Option<Encoding> = if Encoding::Gzip.is_available() {
    Some(Encoding::Gzip)
} else {
    None
};
/// Default smallest body compressed, 1 KiB ([`CacheConfig::compress_min_bytes`]).
pub const DEFAULT_COMPRESS_MIN_BYTES: usize = 1024;

/// Default number of calls in a row that time out before the connection is
/// treated as dead ([`RouteCacheBuilder::dead_connection`](crate::RouteCacheBuilder::dead_connection)).
pub const DEFAULT_DEAD_AFTER_TIMEOUTS: u32 = 3;

/// Default length of a streak of timeouts (with no call succeeding) after
/// which the connection is treated as dead, however few calls it took.
pub const DEFAULT_DEAD_AFTER: Duration = Duration::from_secs(2);

/// Default idle time before TCP keepalive probes start on a Redis socket
/// ([`RouteCacheBuilder::tcp_keepalive`](crate::RouteCacheBuilder::tcp_keepalive)).
pub const DEFAULT_TCP_KEEPALIVE: Duration = Duration::from_secs(10);

/// Default `TCP_USER_TIMEOUT` of a Redis socket (Linux): how long sent
/// data, or a keepalive probe, may go unacknowledged before the kernel
/// closes the connection.
pub const DEFAULT_TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);

/// Default bound on one invalidation call ([`CacheConfig::invalidate_timeout`]).
pub const DEFAULT_INVALIDATE_TIMEOUT: Duration = Duration::from_secs(10);

/// Cache-wide settings, as built by [`RouteCacheBuilder`](crate::RouteCacheBuilder)
/// and read back with [`RouteCache::config`](crate::RouteCache::config):
/// `cache.config().timeout`. A snapshot of what is in effect; settings are
/// changed through the builder, which checks them.
#[derive(Clone)]
#[non_exhaustive]
pub struct CacheConfig {
    /// First segment of every key (default [`DEFAULT_PREFIX`], `rc`).
    pub prefix: String,
    /// Bound on every backend call on the request path (default
    /// [`DEFAULT_TIMEOUT`], 200 ms).
    pub timeout: Duration,
    /// Bound on each attempt to (re)connect to Redis (default
    /// [`DEFAULT_CONNECT_TIMEOUT`], 1 s).
    pub connect_timeout: Duration,
    /// Largest body stored, in bytes, unless a route overrides it (default
    /// [`DEFAULT_MAX_BODY`], 1 MiB).
    pub max_body: usize,
    /// Capacity of the in-process store in bytes (default
    /// [`DEFAULT_EMBEDDED_CAPACITY`], 64 MiB).
    pub embedded_capacity: u64,
    /// How often a persisting backend fault is logged (default
    /// [`DEFAULT_FAULT_LOG_INTERVAL`], 10 s).
    pub fault_log_interval: Duration,
    /// The cache's name in `Cache-Status` (default [`DEFAULT_STATUS_NAME`],
    /// `route-cache`).
    pub status_name: String,
    /// Whether clients' `Cache-Control: no-cache`/`no-store`/`max-age=0`
    /// are honoured on routes that do not decide (default
    /// `false`).
    pub honor_client: bool,
    /// Whether a handler's own `max-age`/`s-maxage` shorter than the route
    /// TTL shortens the entry's life (default
    /// `true`).
    pub cap_ttl_to_handler_max_age: bool,
    /// Consecutive backend failures that open the circuit breaker (default
    /// [`DEFAULT_BREAKER_FAILURES`], 5).
    pub breaker_failures: u32,
    /// How long the open circuit skips the backend before one probe
    /// (default [`DEFAULT_BREAKER_COOLDOWN`], 500 ms).
    pub breaker_cooldown: Duration,
    /// How long a request waits for another one computing the same entry
    /// before computing it itself (default [`DEFAULT_COALESCE_WAIT`], 5 s).
    pub coalesce_wait: Duration,
    /// Lifetime of the cross-instance lease on a missing entry (default
    /// [`DEFAULT_LEASE_TTL`], 10 s); a crashed owner frees it after this.
    pub lease_ttl: Duration,
    /// Stale window for routes that set none (default [`DEFAULT_STALE`]:
    /// none).
    pub stale: Duration,
    /// Whether a stale entry keeps being served when its refresh fails, for
    /// routes that do not decide (default [`DEFAULT_STALE_IF_ERROR`],
    /// `true`).
    pub stale_if_error: bool,
    /// Capacity of the in-process first tier in front of Redis, in bytes
    /// (default [`DEFAULT_L1_CAPACITY`], 0: no first tier).
    pub l1_capacity: u64,
    /// The cap on how long an entry stays in the L1 (default `None`: as
    /// long as the Redis entry).
    pub l1_max_ttl: Option<Duration>,
    /// Interval of the invalidation channel's heartbeat (default
    /// [`DEFAULT_L1_HEARTBEAT`], 1 s); an L1 whose channel is silent for
    /// three of them is flushed and turned off.
    pub l1_heartbeat: Duration,
    /// Bound on one invalidation call, which may scan the key space
    /// (default [`DEFAULT_INVALIDATE_TIMEOUT`], 10 s).
    pub invalidate_timeout: Duration,
    /// Whether the host in keys comes from `Forwarded: host=` or
    /// `X-Forwarded-Host` when a request carries one (default
    /// `false`: the request target's
    /// authority or `Host`).
    pub trust_forwarded_host: bool,
    /// How many proxies in front of the app append to `Forwarded` and
    /// `X-Forwarded-Host` (default [`DEFAULT_TRUSTED_PROXIES`], 1): the
    /// host keyed is the one the outermost of them wrote, the
    /// `trusted_proxies`-th value from the right. Read only under
    /// [`trust_forwarded_host`](Self::trust_forwarded_host).
    pub trusted_proxies: usize,
    /// The headers beyond [`DEFAULT_CREDENTIAL_HEADERS`] that carry
    /// credentials.
    pub(crate) credential_headers: Vec<http::HeaderName>,
    /// The most live entries one request path's index set lists at once
    /// (default [`DEFAULT_MAX_PATH_VARIANTS`], 4096): its variants across
    /// hosts, `vary` values and routes. A fill that would list one more is
    /// served but not stored (refusal `index-full`), so that requests with
    /// ever new `Host` or `vary` values cannot grow the set, or the store,
    /// without bound; expired members make room again.
    pub max_path_variants: usize,
    /// The most live entries one tag's index set lists at once (default
    /// [`DEFAULT_MAX_TAG_MEMBERS`], 100,000); like
    /// [`max_path_variants`](Self::max_path_variants) for tags.
    pub max_tag_members: usize,
    /// Whether a non-error answer to an unsafe request through the layer
    /// (`POST`, `PUT`, `PATCH`, `DELETE`, …) invalidates its target and
    /// its same-origin `Location`/`Content-Location` (default
    /// `true`; RFC 9111 §4.4). Costs such a
    /// request one invalidation by path.
    pub invalidate_unsafe: bool,
    /// Shadow mode for every route (default `false`; see
    /// [`RouteCacheBuilder::shadow`](crate::RouteCacheBuilder::shadow)).
    pub shadow: bool,
    /// The explain-on-request header, if configured
    /// ([`RouteCacheBuilder::explain_header`](crate::RouteCacheBuilder::explain_header)).
    pub(crate) explain: Option<crate::token::Explain>,
    /// The targeted cache-control field (RFC 9213) whose directives govern
    /// this cache, in place of `Cache-Control`, when a response carries it
    /// (default [`DEFAULT_TARGETED_CACHE_CONTROL`], `CDN-Cache-Control`;
    /// `None`: targeting off).
    pub targeted_cache_control: Option<http::HeaderName>,
    /// The encoding compressible bodies of at least
    /// [`compress_min_bytes`](Self::compress_min_bytes) are stored in
    /// (default [`DEFAULT_COMPRESSION`], `gzip`); `None` stores them as the
    /// handler produced them. A route's `compress` option overrides it.
    pub compression: Option<Encoding>,
    /// The smallest body compressed (default [`DEFAULT_COMPRESS_MIN_BYTES`],
    /// 1 KiB).
    pub compress_min_bytes: usize,
    /// Which header carries routes' tags to an edge cache in front of the
    /// app (`Surrogate-Key`, `Cache-Tag`), if any (default none); see
    /// [`crate::edge`].
    pub edge_tags: Option<EdgeTags>,
    pub(crate) key_secret: crate::key::secret::KeySecret,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            embedded_capacity: DEFAULT_EMBEDDED_CAPACITY,
            fault_log_interval: DEFAULT_FAULT_LOG_INTERVAL,
            status_name: DEFAULT_STATUS_NAME.to_owned(),
            honor_client: DEFAULT_HONOR_CLIENT,
            cap_ttl_to_handler_max_age: DEFAULT_CAP_TTL_TO_HANDLER_MAX_AGE,
            breaker_failures: DEFAULT_BREAKER_FAILURES,
            breaker_cooldown: DEFAULT_BREAKER_COOLDOWN,
            coalesce_wait: DEFAULT_COALESCE_WAIT,
            lease_ttl: DEFAULT_LEASE_TTL,
            stale: DEFAULT_STALE,
            stale_if_error: DEFAULT_STALE_IF_ERROR,
            l1_capacity: DEFAULT_L1_CAPACITY,
            l1_max_ttl: None,
            l1_heartbeat: DEFAULT_L1_HEARTBEAT,
            invalidate_timeout: DEFAULT_INVALIDATE_TIMEOUT,
            trust_forwarded_host: DEFAULT_TRUST_FORWARDED_HOST,
            trusted_proxies: DEFAULT_TRUSTED_PROXIES,
            credential_headers: Vec::new(),
            max_path_variants: DEFAULT_MAX_PATH_VARIANTS,
            max_tag_members: DEFAULT_MAX_TAG_MEMBERS,
            invalidate_unsafe: DEFAULT_INVALIDATE_UNSAFE,
            shadow: false,
            explain: None,
            targeted_cache_control: Some(http::HeaderName::from_static(
                DEFAULT_TARGETED_CACHE_CONTROL,
            )),
            compression: DEFAULT_COMPRESSION,
            compress_min_bytes: DEFAULT_COMPRESS_MIN_BYTES,
            edge_tags: None,
            key_secret: crate::key::secret::KeySecret::unconfigured(DEFAULT_PREFIX, false),
        }
    }
}

impl fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured, so that a new setting cannot be left out.
        let Self {
            prefix,
            timeout,
            connect_timeout,
            max_body,
            embedded_capacity,
            fault_log_interval,
            status_name,
            honor_client,
            cap_ttl_to_handler_max_age,
            breaker_failures,
            breaker_cooldown,
            coalesce_wait,
            lease_ttl,
            stale,
            stale_if_error,
            l1_capacity,
            l1_max_ttl,
            l1_heartbeat,
            invalidate_timeout,
            trust_forwarded_host,
            trusted_proxies,
            credential_headers,
            max_path_variants,
            max_tag_members,
            invalidate_unsafe,
            shadow,
            explain,
            targeted_cache_control,
            compression,
            compress_min_bytes,
            edge_tags,
            key_secret,
        } = self;
        f.debug_struct("CacheConfig")
            .field("prefix", prefix)
            .field("timeout", timeout)
            .field("connect_timeout", connect_timeout)
            .field("max_body", max_body)
            .field("embedded_capacity", embedded_capacity)
            .field("fault_log_interval", fault_log_interval)
            .field("status_name", status_name)
            .field("honor_client", honor_client)
            .field("cap_ttl_to_handler_max_age", cap_ttl_to_handler_max_age)
            .field("breaker_failures", breaker_failures)
            .field("breaker_cooldown", breaker_cooldown)
            .field("coalesce_wait", coalesce_wait)
            .field("lease_ttl", lease_ttl)
            .field("stale", stale)
            .field("stale_if_error", stale_if_error)
            .field("l1_capacity", l1_capacity)
            .field("l1_max_ttl", l1_max_ttl)
            .field("l1_heartbeat", l1_heartbeat)
            .field("invalidate_timeout", invalidate_timeout)
            .field("trust_forwarded_host", trust_forwarded_host)
            .field("trusted_proxies", trusted_proxies)
            .field("credential_headers", credential_headers)
            .field("max_path_variants", max_path_variants)
            .field("max_tag_members", max_tag_members)
            .field("invalidate_unsafe", invalidate_unsafe)
            .field("shadow", shadow)
            .field("explain", &explain.as_ref().map(|e| e.name.as_str()))
            .field("targeted_cache_control", targeted_cache_control)
            .field("compression", compression)
            .field("compress_min_bytes", compress_min_bytes)
            .field("edge_tags", edge_tags)
            .field("key_secret", key_secret)
            .finish()
    }
}

impl CacheConfig {
    /// Whether a key secret was configured (never the secret): see
    /// [`RouteCacheBuilder::key_secret`](crate::RouteCacheBuilder::key_secret).
    pub fn has_key_secret(&self) -> bool {
        self.key_secret.is_configured()
    }

    /// Every request header that carries credentials: the
    /// [`DEFAULT_CREDENTIAL_HEADERS`] and those added with
    /// [`RouteCacheBuilder::credential_headers`](crate::RouteCacheBuilder::credential_headers).
    /// A request carrying one shares an entry only on a route that says
    /// how (`shared`, `private`, or `vary` on that header), and such a
    /// header enters keys only as a digest.
    pub fn credential_headers(&self) -> impl Iterator<Item = &http::HeaderName> {
        DEFAULT_CREDENTIAL_HEADERS
            .iter()
            .chain(&self.credential_headers)
    }

    /// Whether the header `name` carries credentials
    /// ([`credential_headers`](Self::credential_headers)).
    pub(crate) fn is_credential(&self, name: &str) -> bool {
        self.credential_headers()
            .any(|c| name.eq_ignore_ascii_case(c.as_str()))
    }

    /// The number of trusted proxies, or 0 when forwarded hosts are not
    /// trusted at all.
    pub(crate) fn forwarded_hops(&self) -> usize {
        if self.trust_forwarded_host {
            self.trusted_proxies
        } else {
            0
        }
    }
}
