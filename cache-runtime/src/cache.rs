//! The cache handle and its configuration.

use crate::breaker::{Admission, Breaker};
use crate::coalesce::Inflight;
use crate::entry::{DecodeError, Entry, Prepared};
use crate::fault::FaultLog;
use crate::key::{self, QueryPolicy};
use crate::policy::CachedRoute;
use crate::recent::Recent;
use crate::store::{MemoryStore, RedisStore, Scope, Store, StoreError};
use crate::tier::{Channel, Message, Publisher, L1};
use bytes::Bytes;
use std::{fmt, sync::Arc, time::Duration};

/// The Redis URL [`RouteCache::redis_from_env`] uses when `REDIS_URL` is
/// not set.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

const CIRCUIT_OPEN: &str = "circuit open";

/// The environment variable [`RouteCache::from_env`] reads.
pub const REDIS_URL_ENV: &str = "REDIS_URL";

/// The environment variable naming Redis Cluster seed nodes for
/// [`RouteCache::from_env`]: URLs separated by commas.
pub const REDIS_CLUSTER_URLS_ENV: &str = "REDIS_CLUSTER_URLS";

/// Index members removed per round trip when invalidating a tag or path.
const INDEX_BATCH: usize = 500;

/// Life of an index set recreated after a failed invalidation batch (the
/// members' own TTLs are unknown there).
const REINDEX_TTL: Duration = Duration::from_secs(86_400);

/// `fut`, failing as unavailable after `limit`.
async fn bounded<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| Err(StoreError::unavailable("timed out")))
}

/// The shared cache handle: created once at start-up, cheap to clone (one
/// `Arc`), and installed on the router with [`RouteCache::layer`].
///
/// ```no_run
/// # async fn demo() {
/// use cache_runtime::RouteCache;
///
/// // Redis when REDIS_URL is set, the in-process store otherwise.
/// let cache = RouteCache::from_env().await;
/// println!("caching in {}", cache.backend_name());
/// # }
/// ```
#[derive(Clone)]
pub struct RouteCache {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: CacheConfig,
    faults: FaultLog,
    corrupt: FaultLog,
    breaker: Breaker,
    inflight: Inflight,
    /// The in-process first tier, with Redis and `l1_capacity` set.
    l1: Option<Arc<L1>>,
    /// This cache's side of the invalidation channel (Redis only).
    publisher: Option<Arc<Publisher>>,
    /// Decodings of values recently fetched from Redis.
    recent: Recent,
}

impl fmt::Debug for RouteCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteCache")
            .field("backend", &self.inner.store.name())
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Cache-wide settings; per-route settings live on the route's attribute.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CacheConfig {
    prefix: String,
    timeout: Duration,
    connect_timeout: Duration,
    max_body: usize,
    embedded_capacity: u64,
    log_interval: Duration,
    status_name: String,
    honor_client: bool,
    cap_ttl: bool,
    breaker_threshold: u32,
    breaker_cooldown: Duration,
    coalesce_wait: Duration,
    lease_ttl: Duration,
    stale: Duration,
    stale_if_error: bool,
    l1_capacity: u64,
    l1_max_ttl: Option<Duration>,
    l1_heartbeat: Duration,
    invalidate_timeout: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            prefix: "rc".to_owned(),
            timeout: Duration::from_millis(200),
            connect_timeout: Duration::from_secs(1),
            max_body: 1024 * 1024,
            embedded_capacity: 64 * 1024 * 1024,
            log_interval: Duration::from_secs(10),
            status_name: "route-cache".to_owned(),
            honor_client: false,
            cap_ttl: true,
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_millis(500),
            coalesce_wait: Duration::from_secs(5),
            lease_ttl: Duration::from_secs(10),
            stale: Duration::ZERO,
            stale_if_error: true,
            l1_capacity: 0,
            l1_max_ttl: None,
            l1_heartbeat: Duration::from_secs(1),
            invalidate_timeout: Duration::from_secs(10),
        }
    }
}

impl CacheConfig {
    /// First segment of every key (default `rc`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Bound on every backend call (default 200 ms).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Largest body stored, in bytes, unless a route overrides it
    /// (default 1 MiB).
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Capacity of the in-process store in bytes (default 64 MiB).
    pub fn embedded_capacity(&self) -> u64 {
        self.embedded_capacity
    }

    /// The cache's name in `Cache-Status` (default `route-cache`).
    pub fn status_name(&self) -> &str {
        &self.status_name
    }

    /// Whether clients' `Cache-Control: no-cache`/`no-store`/`max-age=0`
    /// are honoured by default (default `false`).
    pub fn honor_client(&self) -> bool {
        self.honor_client
    }

    /// Whether a handler's own `max-age`/`s-maxage` shorter than the route
    /// TTL shortens the entry's life (default `true`).
    pub fn cap_ttl_to_handler_max_age(&self) -> bool {
        self.cap_ttl
    }

    /// How long a request waits for another one computing the same entry
    /// before computing it itself (default 5 s).
    pub fn coalesce_wait(&self) -> Duration {
        self.coalesce_wait
    }

    /// Lifetime of the cross-instance lease on a missing entry (default
    /// 10 s); a crashed owner frees it after this.
    pub fn lease_ttl(&self) -> Duration {
        self.lease_ttl
    }

    /// Default stale window for routes that set none (default 0: none).
    pub fn stale(&self) -> Duration {
        self.stale
    }

    /// Default for serving a stale entry when its refresh fails (default
    /// `true`).
    pub fn stale_if_error(&self) -> bool {
        self.stale_if_error
    }

    /// Capacity of the in-process first tier in front of Redis, in bytes
    /// (default 0: no first tier).
    pub fn l1_capacity(&self) -> u64 {
        self.l1_capacity
    }

    /// Interval of the invalidation channel's heartbeat (default 1 s); an L1
    /// whose channel is silent for three of them is flushed and turned off.
    pub fn l1_heartbeat(&self) -> Duration {
        self.l1_heartbeat
    }

    /// Bound on one invalidation call, which may scan the key space
    /// (default 10 s).
    pub fn invalidate_timeout(&self) -> Duration {
        self.invalidate_timeout
    }
}

/// An error creating a cache.
#[derive(Debug)]
#[non_exhaustive]
pub enum CacheError {
    /// The backend could not be set up (for example an invalid Redis URL).
    Backend(StoreError),
    /// A setting is invalid.
    Config(String),
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backend(e) => write!(f, "cache backend: {e}"),
            Self::Config(e) => write!(f, "cache configuration: {e}"),
        }
    }
}

impl std::error::Error for CacheError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Backend(e) => Some(e),
            Self::Config(_) => None,
        }
    }
}

/// Builds a [`RouteCache`]; see [`RouteCache::builder`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct RouteCacheBuilder {
    config: CacheConfig,
    redis: Option<RedisTarget>,
}

#[derive(Debug, Clone)]
enum RedisTarget {
    Standalone(String),
    Cluster(Vec<String>),
}

impl RouteCacheBuilder {
    /// Sets the first segment of every key, so several applications (or
    /// deploys) can share one Redis without sharing entries.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.prefix = prefix.into();
        self
    }

    /// Bounds every backend call; past it the request is served as a miss.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// Bounds each attempt to (re)connect to Redis (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Largest response body stored, in bytes; larger responses are returned
    /// but not stored.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.config.max_body = bytes;
        self
    }

    /// Capacity of the in-process store in bytes: keys, stored values, and
    /// each entry's decoded form (kept so that a hit never decodes; counted
    /// as 512 bytes plus 128 per stored header).
    pub fn embedded_capacity(mut self, bytes: u64) -> Self {
        self.config.embedded_capacity = bytes;
        self
    }

    /// How often a persisting backend fault is logged (default every 10 s).
    pub fn fault_log_interval(mut self, interval: Duration) -> Self {
        self.config.log_interval = interval;
        self
    }

    /// The cache's name in `Cache-Status` responses (default `route-cache`).
    pub fn status_name(mut self, name: impl Into<String>) -> Self {
        self.config.status_name = name.into();
        self
    }

    /// Honours clients' `Cache-Control: no-cache`/`max-age=0` (answer from
    /// the handler and refresh the entry) and `no-store` (answer from the
    /// handler, store nothing) on routes that do not decide themselves.
    /// Off by default: otherwise any client can send every request to the
    /// origin.
    pub fn honor_client_cache_control(mut self, honor: bool) -> Self {
        self.config.honor_client = honor;
        self
    }

    /// Whether a handler's own `Cache-Control: max-age`/`s-maxage` shorter
    /// than the route TTL shortens the entry's life (default `true`).
    pub fn cap_ttl_to_handler_max_age(mut self, cap: bool) -> Self {
        self.config.cap_ttl = cap;
        self
    }

    /// The circuit breaker: after `failures` consecutive backend failures
    /// (unreachable or timed out; error replies do not count) the backend is
    /// skipped for `cooldown`, then one probe call decides whether to
    /// resume. Default: 5 failures, 500 ms.
    pub fn circuit_breaker(mut self, failures: u32, cooldown: Duration) -> Self {
        self.config.breaker_threshold = failures;
        self.config.breaker_cooldown = cooldown;
        self
    }

    /// How long a request waits for another request (in this process or,
    /// with Redis, another instance) computing the same entry, before it
    /// computes the entry itself. Default 5 s.
    pub fn coalesce_wait(mut self, wait: Duration) -> Self {
        self.config.coalesce_wait = wait;
        self
    }

    /// Lifetime of the cross-instance lease taken on a missing entry
    /// (default 10 s): if its owner dies, others take over after this.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.config.lease_ttl = ttl;
        self
    }

    /// Stale window for routes that do not set `stale`: an entry past its
    /// TTL but inside the window is served at once while one background
    /// refresh recomputes it. Default 0 (no stale serving).
    pub fn stale(mut self, window: Duration) -> Self {
        self.config.stale = window;
        self
    }

    /// Whether a stale entry keeps being served when its refresh fails
    /// (error or 5xx), for routes that do not decide. Default `true`;
    /// with `false` the entry is dropped so the next request sees the
    /// handler's answer.
    pub fn stale_if_error(mut self, serve: bool) -> Self {
        self.config.stale_if_error = serve;
        self
    }

    /// Uses Redis at `url` instead of the in-process store.
    pub fn redis(mut self, url: impl Into<String>) -> Self {
        self.redis = Some(RedisTarget::Standalone(url.into()));
        self
    }

    /// Uses the Redis Cluster reachable through `seeds` (node URLs; the rest
    /// of the cluster is discovered) instead of the in-process store. The
    /// cache behaves as with standalone Redis; bulk invalidations scan every
    /// master.
    pub fn redis_cluster<I, S>(mut self, seeds: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.redis = Some(RedisTarget::Cluster(
            seeds.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Adds an in-process first tier (L1) of `capacity_bytes` in front of
    /// Redis: hits are answered from process memory, and every instance's L1
    /// drops an entry as soon as any instance overwrites or invalidates it
    /// (Redis pub/sub). Ignored without Redis. See the crate docs for the
    /// staleness bound. Entries are weighed as in
    /// [`embedded_capacity`](Self::embedded_capacity).
    pub fn l1_capacity(mut self, capacity_bytes: u64) -> Self {
        self.config.l1_capacity = capacity_bytes;
        self
    }

    /// Caps how long an entry stays in the L1 (by default it stays as long
    /// as the Redis entry).
    pub fn l1_max_ttl(mut self, ttl: Duration) -> Self {
        self.config.l1_max_ttl = Some(ttl);
        self
    }

    /// Interval of the L1 invalidation channel's heartbeat (default 1 s). A
    /// channel silent for three intervals counts as lost: the L1 is flushed
    /// and off until a new subscription is in place.
    pub fn l1_heartbeat(mut self, interval: Duration) -> Self {
        self.config.l1_heartbeat = interval;
        self
    }

    /// Bounds one invalidation call (default 10 s): bulk invalidations scan
    /// the key space.
    pub fn invalidate_timeout(mut self, timeout: Duration) -> Self {
        self.config.invalidate_timeout = timeout;
        self
    }

    /// Creates the cache. With Redis, the connection is opened lazily and
    /// kept by a reconnecting manager: an unreachable server is logged and
    /// requests are served uncached until it answers. Only an invalid URL is
    /// an error. Must be called inside a Tokio runtime.
    pub async fn build(self) -> Result<RouteCache, CacheError> {
        let prefix = &self.config.prefix;
        if prefix.is_empty() || prefix.contains(['{', '}']) || prefix.chars().any(char::is_control)
        {
            // Braces would change the Redis Cluster hash slot of keys.
            return Err(CacheError::Config(format!(
                "prefix {prefix:?} must be non-empty, without braces or control characters"
            )));
        }
        if self.config.l1_heartbeat.is_zero()
            || self.config.l1_heartbeat > Duration::from_secs(3600)
        {
            return Err(CacheError::Config(
                "l1_heartbeat must be between 1 ns and 1 hour".to_owned(),
            ));
        }
        let connect = self.config.connect_timeout;
        let store = match &self.redis {
            Some(RedisTarget::Standalone(url)) => {
                Store::Redis(RedisStore::open(url, connect).map_err(CacheError::Backend)?)
            }
            Some(RedisTarget::Cluster(seeds)) => {
                Store::Redis(RedisStore::open_cluster(seeds, connect).map_err(CacheError::Backend)?)
            }
            None => Store::Memory(MemoryStore::new(self.config.embedded_capacity)),
        };
        let cache = RouteCache::from_parts(store, self.config);
        if let (Store::Redis(redis), Some(l1), Some(publisher)) =
            (&cache.inner.store, &cache.inner.l1, &cache.inner.publisher)
        {
            let config = &cache.inner.config;
            crate::tier::spawn_subscriber(
                l1,
                redis.clone(),
                Channel {
                    publisher: Arc::clone(publisher),
                    heartbeat: config.l1_heartbeat,
                    connect_timeout: config.connect_timeout,
                },
            );
        }
        if let Store::Redis(redis) = &cache.inner.store {
            // A cluster connects in the background; give it a moment.
            redis.ready(cache.inner.config.connect_timeout).await;
            // Warm the connection so the first request does not pay for it.
            match cache.call(cache.inner.store.get("\u{0}rc-ping")).await {
                Ok(_) => tracing::debug!("route cache connected to Redis"),
                Err(e) => tracing::warn!(
                    error = %e,
                    "route cache: Redis is not reachable yet; serving uncached until it is"
                ),
            }
        }
        Ok(cache)
    }
}

/// Holds a cross-instance lease; dropping it releases the lease (in the
/// background), whatever way its holder ends.
pub(crate) struct LeaseGuard {
    cache: RouteCache,
    key: String,
    token: String,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let (key, token) = (
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.token),
        );
        self.cache.release_in_background(key, token);
    }
}

/// The cross-instance lease on computing an entry.
pub(crate) enum Lease {
    /// Ours, until the guard is dropped (only its drop is used).
    Acquired(#[allow(dead_code)] LeaseGuard),
    /// Another instance is computing the entry.
    Held,
    /// No shared store, or the backend failed: compute without one.
    NotNeeded,
}

/// The lease key of entry `key`: inside the entry's key space, and in the
/// same Redis Cluster hash slot (its hash tag is the whole entry key, and
/// entry keys contain no braces).
fn lease_key(key: &str) -> String {
    format!("{key}#lease{{{key}}}")
}

/// 64 random bits (from the standard library's randomly keyed hasher).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(crate::fault::now_ms());
    hasher.finish()
}

/// 128 random bits.
fn lease_token() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

/// `/items/42?x=1` as its path and query (`None` without a `?`).
fn split_target(path_and_query: &str) -> (&str, Option<&str>) {
    match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    }
}

/// How long the backend keeps `entry`: its TTL and stale window from when
/// it was stored.
fn remaining_life(entry: &Entry) -> Duration {
    let secs = u64::from(entry.ttl_secs) + u64::from(entry.stale_secs);
    let end = entry.stored_at_ms.saturating_add(secs.saturating_mul(1000));
    Duration::from_millis(end.saturating_sub(crate::fault::now_ms()))
}

/// The outcome of a cache lookup.
#[derive(Debug)]
pub(crate) enum Lookup {
    Hit(Arc<Prepared>),
    Miss,
    /// The backend failed or timed out; it has been logged.
    Fault,
}

impl RouteCache {
    /// Starts a builder with the default configuration (in-process store).
    pub fn builder() -> RouteCacheBuilder {
        RouteCacheBuilder::default()
    }

    /// An in-process cache with the default configuration.
    pub fn embedded() -> Self {
        let config = CacheConfig::default();
        Self::from_parts(
            Store::Memory(MemoryStore::new(config.embedded_capacity)),
            config,
        )
    }

    /// A Redis-backed cache with the default configuration.
    pub async fn redis(url: &str) -> Result<Self, CacheError> {
        Self::builder().redis(url).build().await
    }

    /// Redis at `$REDIS_URL`, or at [`DEFAULT_REDIS_URL`] when that variable
    /// is not set or empty.
    ///
    /// # Errors
    /// When the URL is invalid.
    pub async fn redis_from_env() -> Result<Self, CacheError> {
        let url = std::env::var(REDIS_URL_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty());
        Self::redis(url.as_deref().map_or(DEFAULT_REDIS_URL, str::trim)).await
    }

    /// A Redis Cluster-backed cache with the default configuration; see
    /// [`RouteCacheBuilder::redis_cluster`].
    pub async fn redis_cluster<I, S>(seeds: I) -> Result<Self, CacheError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::builder().redis_cluster(seeds).build().await
    }

    /// Redis Cluster at `$REDIS_CLUSTER_URLS` (comma-separated seed URLs)
    /// when that is set, else Redis at `$REDIS_URL` when that is set, else
    /// the in-process store. An invalid URL is logged and falls back to the
    /// in-process store, so start-up never fails on the cache.
    pub async fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let built = if let Some(urls) = var(REDIS_CLUSTER_URLS_ENV) {
            Self::redis_cluster(urls.split(',').map(str::trim).filter(|u| !u.is_empty())).await
        } else if let Some(url) = var(REDIS_URL_ENV) {
            Self::redis(url.trim()).await
        } else {
            return Self::embedded();
        };
        built.unwrap_or_else(|e| {
            tracing::error!(error = %e, "route cache: the Redis configuration is invalid; using the in-process store");
            Self::embedded()
        })
    }

    fn from_parts(store: Store, config: CacheConfig) -> Self {
        let interval = config.log_interval;
        let l1 = (matches!(store, Store::Redis(_)) && config.l1_capacity > 0)
            .then(|| Arc::new(L1::new(config.l1_capacity, config.l1_max_ttl)));
        let publisher = matches!(store, Store::Redis(_)).then(|| {
            Arc::new(Publisher::new(
                format!("{}:#l1", config.prefix),
                random_u64(),
                config.timeout,
            ))
        });
        Self {
            inner: Arc::new(Inner {
                store,
                breaker: Breaker::new(config.breaker_threshold, config.breaker_cooldown),
                config,
                faults: FaultLog::new(interval),
                corrupt: FaultLog::new(interval),
                recent: Recent::default(),
                inflight: Inflight::default(),
                l1,
                publisher,
            }),
        }
    }

    /// Whether the L1 is configured and its invalidation channel is up.
    pub fn l1_is_live(&self) -> bool {
        self.inner.l1.as_ref().is_some_and(|l1| l1.is_live())
    }

    /// `"redis"` or `"embedded"`.
    pub fn backend_name(&self) -> &'static str {
        self.inner.store.name()
    }

    /// The cache-wide configuration.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// The key under which a `GET` of `path_and_query` (for example
    /// `/items/42?x=1`) to route `route_id` is stored. A route's id is its
    /// handler's module path and name, `my_app::routes::get_item`.
    pub fn key_for(&self, route_id: &str, path_and_query: &str) -> String {
        let (path, query) = split_target(path_and_query);
        key::request_key(
            &self.inner.config.prefix,
            route_id,
            "GET",
            path.as_bytes(),
            query.map(str::as_bytes),
        )
    }

    /// Fetches the raw value under `key` (bounded by the timeout).
    pub async fn raw_get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        self.call(self.inner.store.get(key)).await
    }

    /// Stores a raw value under `key` (bounded by the timeout); every
    /// instance's L1 drops what it had under `key`.
    pub async fn raw_set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        let result = self.call(self.inner.store.set(key, value, ttl)).await;
        // Also after an error: the write may have landed.
        self.forget_keys(&[key]).await;
        result
    }

    /// Removes the entry under `key` (bounded by the timeout), from every
    /// instance's L1 too.
    pub async fn remove(&self, key: &str) -> Result<(), StoreError> {
        let result = self.call(self.inner.store.delete(key)).await;
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
    /// # async fn demo(cache: cache_runtime::RouteCache) -> Result<(), cache_runtime::store::StoreError> {
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
        self.invalidate_index(&index).await
    }

    /// Invalidates every entry carrying `tag` (the route option
    /// `tags = ["item:{id}"]`), on every instance's L1 too. Proportional to
    /// the number of entries with the tag. Returns how many were removed.
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<usize, StoreError> {
        let index = key::tag_index(&self.inner.config.prefix, tag);
        self.invalidate_index(&index).await
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
        self.invalidate_scope(Scope {
            prefix: scope.scope().to_owned(),
            namespace: false,
        })
        .await
    }

    /// Invalidates every entry of the routes declared with
    /// `namespace = "<namespace>"`. Scans like
    /// [`invalidate_route`](Self::invalidate_route).
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_namespace(&self, namespace: &str) -> Result<usize, StoreError> {
        self.invalidate_scope(Scope {
            prefix: format!("{}:{namespace}:", self.inner.config.prefix),
            namespace: true,
        })
        .await
    }

    /// Invalidates everything under this cache's prefix (entries, indexes
    /// and leases). Scans like [`invalidate_route`](Self::invalidate_route).
    ///
    /// # Errors
    /// When the backend fails.
    pub async fn invalidate_all(&self) -> Result<usize, StoreError> {
        self.invalidate_scope(Scope {
            prefix: format!("{}:", self.inner.config.prefix),
            namespace: false,
        })
        .await
    }

    async fn invalidate_index(&self, index: &str) -> Result<usize, StoreError> {
        let (cache, index) = (self.clone(), index.to_owned());
        self.bulk("invalidate", async move {
            let store = &cache.inner.store;
            let step = cache.inner.config.timeout;
            let mut removed = 0;
            loop {
                // Popped, so an entry stored again meanwhile is indexed again
                // rather than lost from the index.
                let keys = bounded(step, store.index_pop(&index, INDEX_BATCH)).await?;
                if keys.is_empty() {
                    return Ok(removed);
                }
                let deleted = bounded(step, store.delete_many(&keys)).await;
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                cache.forget_keys(&refs).await;
                if let Err(e) = deleted {
                    // Put them back so that a retry finds them (best effort:
                    // the backend has just failed).
                    for key in &keys {
                        let _ = bounded(step, store.index_add(&index, key, REINDEX_TTL)).await;
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

    async fn invalidate_scope(&self, scope: Scope) -> Result<usize, StoreError> {
        let cache = self.clone();
        self.bulk("invalidate", async move {
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
    /// veto explicit invalidations). A failure is logged, always.
    async fn bulk<T: Send + 'static>(
        &self,
        op: &'static str,
        work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let limit = self.inner.config.invalidate_timeout;
        let result = match tokio::time::timeout(limit, tokio::spawn(work)).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(StoreError::unavailable(format!("{op} task failed: {join}"))),
            Err(_) => Err(StoreError::unavailable(format!(
                "{op} did not finish within {} ms",
                limit.as_millis()
            ))),
        };
        if let Err(e) = &result {
            tracing::warn!(backend = self.backend_name(), op, error = %e, "route cache: invalidation failed");
        }
        result
    }

    /// Drops `keys` from this instance's L1 and tells the other instances.
    async fn forget_keys(&self, keys: &[&str]) {
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
    async fn publish(&self, message: &Message<'_>) {
        let (Store::Redis(redis), Some(publisher)) = (&self.inner.store, &self.inner.publisher)
        else {
            return;
        };
        if let Err(e) = publisher.publish(redis, message).await {
            if let Some(suppressed) = self.inner.faults.admit() {
                tracing::warn!(error = %e, suppressed, "route cache: invalidation message not published");
            }
        }
    }

    async fn call<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if !self.inner.store.is_shared() {
            // The in-process store cannot hang or go away: no timer, no
            // breaker on the hot path.
            return fut.await;
        }
        let admission = self.inner.breaker.admit();
        if admission == Admission::Reject {
            return Err(StoreError::unavailable(CIRCUIT_OPEN));
        }
        // If this future is dropped mid-call, the probe is handed back.
        struct Outcome<'a> {
            breaker: &'a Breaker,
            admission: Admission,
            recorded: bool,
        }
        impl Drop for Outcome<'_> {
            fn drop(&mut self) {
                if !self.recorded {
                    self.breaker.abandon(self.admission);
                }
            }
        }
        let mut outcome = Outcome {
            breaker: &self.inner.breaker,
            admission,
            recorded: false,
        };
        let timeout = self.inner.config.timeout;
        let result = match tokio::time::timeout(timeout, fut).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::unavailable(format!(
                "timed out after {} ms",
                timeout.as_millis()
            ))),
        };
        match &result {
            Err(e) if e.is_unavailable() => self.inner.breaker.failure(admission),
            _ => self.inner.breaker.success(admission),
        }
        outcome.recorded = true;
        result
    }

    pub(crate) fn fault(&self, op: &'static str, key: &str, error: &StoreError) {
        // While the circuit is open, its opening was logged once.
        if error.to_string() == CIRCUIT_OPEN {
            return;
        }
        if let Some(suppressed) = self.inner.faults.admit() {
            tracing::warn!(
                backend = self.backend_name(),
                op,
                key,
                error = %error,
                suppressed,
                "route cache backend fault; serving uncached"
            );
        }
    }

    /// The lookup when it needs no I/O: an L1 hit, or the in-process
    /// store's answer. `None` when Redis must be asked ([`Self::fetch`]).
    pub(crate) fn lookup_now(&self, key: &str) -> Option<Lookup> {
        let l1 = self.inner.l1.as_deref();
        if let Some(entry) = l1.and_then(|l1| l1.get(key)) {
            return Some(Lookup::Hit(entry));
        }
        match &self.inner.store {
            Store::Memory(memory) => Some(match memory.peek_prepared(key) {
                Some(Ok(entry)) => Lookup::Hit(entry),
                Some(Err(e)) => self.corrupt(key, e),
                None => Lookup::Miss,
            }),
            Store::Redis(_) => None,
        }
    }

    /// The entry under `key` from the L1, else one backend round trip: the
    /// entry, a miss, or a logged fault. An undecodable value is a miss.
    pub(crate) async fn lookup(&self, key: &str) -> Lookup {
        match self.lookup_now(key) {
            Some(found) => found,
            None => self.fetch(key).await,
        }
    }

    /// The Redis half of [`Self::lookup`], after [`Self::lookup_now`] said
    /// Redis must be asked; what it reads is kept in the L1.
    pub(crate) async fn fetch(&self, key: &str) -> Lookup {
        let l1 = self.inner.l1.as_deref();
        let seen = l1.map(L1::epoch);
        // Not boxed on its own: requests that get here already run in a
        // future of their own (see `flow::start`), and one allocation per
        // Redis hit is cheaper than two.
        match self.call(self.inner.store.get(key)).await {
            Ok(Some(value)) => match self.inner.recent.decode(key, value.clone()) {
                Ok(entry) => {
                    if let (Some(l1), Some(seen)) = (l1, seen) {
                        let life = remaining_life(entry.entry());
                        l1.fill(key, value, Arc::clone(&entry), life, seen);
                    }
                    Lookup::Hit(entry)
                }
                Err(e) => self.corrupt(key, e),
            },
            Ok(None) => Lookup::Miss,
            Err(e) => {
                self.fault("get", key, &e);
                Lookup::Fault
            }
        }
    }

    /// An undecodable entry: logged (rate-limited), and a miss.
    fn corrupt(&self, key: &str, e: DecodeError) -> Lookup {
        if let Some(suppressed) = self.inner.corrupt.admit() {
            tracing::warn!(key, error = %e, suppressed, "route cache: undecodable entry treated as a miss");
        }
        Lookup::Miss
    }

    pub(crate) fn inflight(&self) -> &Inflight {
        &self.inner.inflight
    }

    /// Takes the cross-instance lease on computing `key`. Without a shared
    /// store, or when the backend fails, the caller computes (fail open).
    pub(crate) async fn acquire_lease(&self, key: &str) -> Lease {
        if !self.inner.store.is_shared() {
            return Lease::NotNeeded;
        }
        let guard = |token| {
            Lease::Acquired(LeaseGuard {
                cache: self.clone(),
                key: key.to_owned(),
                token,
            })
        };
        let token = lease_token();
        let lease_key = lease_key(key);
        match self
            .call(
                self.inner
                    .store
                    .try_lease(&lease_key, &token, self.inner.config.lease_ttl),
            )
            .await
        {
            Ok(true) => guard(token),
            Ok(false) => Lease::Held,
            Err(e) => {
                self.fault("lease", key, &e);
                Lease::NotNeeded
            }
        }
    }

    /// Releases a lease in the background: the response does not wait for
    /// it. Called when a [`LeaseGuard`] is dropped, so a panicking or
    /// cancelled leader releases its lease too.
    fn release_in_background(&self, key: String, token: String) {
        let cache = self.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = cache
                    .call(cache.inner.store.release_lease(&lease_key(&key), &token))
                    .await
                {
                    cache.fault("release", &key, &e);
                }
            });
        }
    }

    /// Polls for the entry another instance is computing, until `wait`
    /// has passed. Returns the raw value once it is there.
    pub(crate) async fn wait_for_entry(&self, key: &str, wait: Duration) -> Option<Bytes> {
        let now = tokio::time::Instant::now();
        let deadline = now
            .checked_add(wait)
            .unwrap_or(now + Duration::from_secs(86_400));
        let mut pause = Duration::from_millis(5);
        loop {
            match self.call(self.inner.store.get(key)).await {
                Ok(Some(value)) => return Some(value),
                Ok(None) => {}
                // The backend is failing: nothing will show up in time.
                Err(_) => return None,
            }
            if tokio::time::Instant::now() + pause >= deadline {
                return None;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// Stores an encoded entry and lists it in `indexes` (its path and tag
    /// sets), then tells other instances' L1s. A failure is logged and
    /// reported as `false`, never returned as an error; an entry that could
    /// not be indexed is removed again, so no invalidation can miss it.
    pub(crate) async fn save(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
        indexes: &[String],
    ) -> bool {
        use futures_util::future::join_all;
        let store = &self.inner.store;
        if let Err(e) = self.call(store.set(key, value.clone(), ttl)).await {
            self.fault("set", key, &e);
            // A timed-out write may still land.
            self.forget_keys(&[key]).await;
            return false;
        }
        // Indexed after the write: an invalidation that pops the index in
        // between finds the old entry; one that runs later finds this one.
        let added = join_all(
            indexes
                .iter()
                .map(|index| self.call(store.index_add(index, key, ttl))),
        )
        .await;
        if let Some(e) = added.into_iter().find_map(Result::err) {
            self.fault("index", key, &e);
            let _ = self.call(store.delete(key)).await;
            self.forget_keys(&[key]).await;
            return false;
        }
        // Drop what this instance's L1 held, tell the others, then keep
        // the new value unless an invalidation arrived meanwhile.
        let seen = self.inner.l1.as_ref().map(|l1| l1.drop_keys([key]));
        self.publish(&Message::Keys(key)).await;
        if let (Some(l1), Some(seen)) = (&self.inner.l1, seen) {
            // Decoded only for an L1 that will keep it.
            if l1.is_live() {
                if let Ok(entry) = Prepared::decode(value.clone()) {
                    l1.fill(key, value, Arc::new(entry), ttl, seen);
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Captures formatted log lines.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn dead_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn faults_are_misses_and_logged_without_flooding() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let cache = RouteCache::builder()
            .redis(format!("redis://127.0.0.1:{}", dead_port()))
            .timeout(Duration::from_millis(50))
            .build()
            .await
            .expect("an unreachable Redis is not a build error");
        for _ in 0..20 {
            assert!(matches!(cache.lookup("k").await, Lookup::Fault));
        }
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let faults = log.matches("route cache backend fault").count();
        assert_eq!(
            faults, 1,
            "one line for 20 faults within the interval:\n{log}"
        );
        assert!(
            log.contains("not reachable yet"),
            "start-up warning:\n{log}"
        );
    }

    #[tokio::test]
    async fn an_invalid_url_is_a_build_error() {
        let err = RouteCache::redis("http://not-redis").await.unwrap_err();
        assert!(err.to_string().contains("invalid Redis URL"), "{err}");
    }

    #[test]
    fn key_for_matches_the_request_key() {
        let cache = RouteCache::embedded();
        assert_eq!(
            cache.key_for("m::h", "/items/1?b=2&a=1"),
            "rc:m::h:GET:/items/1?a=1&b=2"
        );
    }
}
