//! The cache handle: what it holds, how it is created (directly or from
//! the environment), and the calls on raw values. Its other methods live
//! with their concern: [`crate::lookup`], [`crate::lease`],
//! [`crate::invalidate`], [`crate::call`], and the layer in `axum`.

use crate::breaker::Breaker;
use crate::builder::RouteCacheBuilder;
use crate::clock::random_u64;
use crate::coalesce::Inflight;
use crate::config::CacheConfig;
use crate::error::{CacheError, StoreError};
use crate::fault::FaultLog;
use crate::observe::{Metrics, Op, StoreGauges, TierMetrics};
use crate::recent::Recent;
use crate::store::{MemoryStore, Store};
use crate::tier::{Channel, Publisher, L1};
use bytes::Bytes;
use std::{fmt, sync::Arc, time::Duration};

/// The Redis URL [`RouteCache::redis_from_env`] uses when `REDIS_URL` is
/// not set.
#[doc(hidden)]
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The environment variable [`RouteCache::from_env`] reads.
#[doc(hidden)]
pub const REDIS_URL_ENV: &str = "REDIS_URL";

/// The environment variable naming the sentinels for [`RouteCache::from_env`]:
/// URLs separated by commas (with [`REDIS_SENTINEL_MASTER_ENV`]).
#[doc(hidden)]
pub const REDIS_SENTINEL_URLS_ENV: &str = "REDIS_SENTINEL_URLS";

/// The environment variable naming the master the sentinels monitor.
#[doc(hidden)]
pub const REDIS_SENTINEL_MASTER_ENV: &str = "REDIS_SENTINEL_MASTER";

/// The environment variable saying whether the master behind Sentinel is
/// reached over TLS (`true`/`false`), when it differs from the sentinels
/// ([`RouteCacheBuilder::sentinel_master_tls`](crate::RouteCacheBuilder::sentinel_master_tls)).
#[doc(hidden)]
pub const REDIS_SENTINEL_MASTER_TLS_ENV: &str = "REDIS_SENTINEL_MASTER_TLS";

/// The environment variable naming a PEM file with the CA certificate(s)
/// to trust for `rediss://` (instead of the system's roots).
#[doc(hidden)]
pub const REDIS_TLS_CA_ENV: &str = "REDIS_TLS_CA";

/// The environment variable naming a PEM client certificate for mutual
/// TLS (with [`REDIS_TLS_KEY_ENV`]).
#[doc(hidden)]
pub const REDIS_TLS_CERT_ENV: &str = "REDIS_TLS_CERT";

/// The environment variable naming the PEM private key of
/// [`REDIS_TLS_CERT_ENV`].
#[doc(hidden)]
pub const REDIS_TLS_KEY_ENV: &str = "REDIS_TLS_KEY";

/// The environment variable [`RouteCache::from_env`] reads the key secret
/// from ([`RouteCacheBuilder::key_secret`](crate::RouteCacheBuilder::key_secret)):
/// at least 16 bytes, the same on every instance that shares the store.
#[doc(hidden)]
pub const ROUTE_CACHE_KEY_SECRET_ENV: &str = "ROUTE_CACHE_KEY_SECRET";

/// The environment variable naming Redis Cluster seed nodes for
/// [`RouteCache::from_env`]: URLs separated by commas.
#[doc(hidden)]
pub const REDIS_CLUSTER_URLS_ENV: &str = "REDIS_CLUSTER_URLS";

/// The backend a cache stores its entries in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// A standalone Redis server, shared by every instance.
    Redis,
    /// A Redis Cluster, shared by every instance.
    RedisCluster,
    /// A Redis master found through Sentinel, shared by every instance.
    RedisSentinel,
    /// The in-process store of this instance.
    Embedded,
    /// None: the configured backend cannot work (an invalid URL, a missing
    /// cargo feature, an unreadable certificate), so every request is
    /// served uncached. Never replaced by an in-process store, which would
    /// silently split one shared cache into one per instance.
    Disabled,
}

impl Backend {
    /// `redis`, `redis-cluster` or `embedded`.
    #[doc(hidden)]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::RedisCluster => "redis-cluster",
            Self::RedisSentinel => "redis-sentinel",
            Self::Embedded => "embedded",
            Self::Disabled => "disabled",
        }
    }

    /// Whether other instances share the backend (invalidations on one
    /// instance reach the others).
    #[doc(hidden)]
    pub const fn is_shared(self) -> bool {
        matches!(self, Self::Redis | Self::RedisCluster | Self::RedisSentinel)
    }
}

/// Compares with the name [`Backend::as_str`] gives: `backend == "redis"`.
impl PartialEq<str> for Backend {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Backend {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
/// println!("caching in {}", cache.backend());
/// # }
/// ```
#[derive(Clone)]
pub struct RouteCache {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) config: CacheConfig,
    pub(crate) faults: FaultLog,
    pub(crate) corrupt: FaultLog,
    pub(crate) breaker: Breaker,
    pub(crate) inflight: Inflight,
    /// The in-process first tier, with Redis and `l1_capacity` set.
    pub(crate) l1: Option<Arc<L1>>,
    /// This cache's side of the invalidation channel (Redis only).
    pub(crate) publisher: Option<Arc<Publisher>>,
    /// Decodings of values recently fetched from Redis.
    pub(crate) recent: Recent,
    /// Why the cache is disabled (see [`Backend::Disabled`]), if it is.
    pub(crate) disabled: Option<String>,
    pub(crate) metrics: Metrics,
    /// The edge cache every invalidation by tag or path also purges.
    pub(crate) edge: Option<Arc<dyn crate::edge::EdgePurge>>,
    /// Where a Redis backend is, without credentials (for `Display`).
    pub(crate) target: Option<String>,
}

/// What the cache stores in, and how: the backend, where it is (hosts and
/// ports, never credentials), TLS, and the L1; or why it is disabled. For
/// a start-up line.
///
/// ```
/// # async fn demo() {
/// let cache = cache_runtime::RouteCache::embedded();
/// assert!(cache.to_string().starts_with("embedded in-process store"));
/// # }
/// ```
impl fmt::Display for RouteCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(reason) = &self.inner.disabled {
            return write!(f, "DISABLED, every request uncached: {reason}");
        }
        let config = &self.inner.config;
        match (&self.inner.store, &self.inner.target) {
            (Store::Memory(_), _) => write!(
                f,
                "embedded in-process store of this instance, {} MiB",
                config.embedded_capacity >> 20
            ),
            (Store::Redis(_), target) => {
                let target = target.as_deref().unwrap_or("Redis");
                write!(f, "{target}, shared by every instance")?;
                match &self.inner.l1 {
                    Some(_) => write!(f, "; L1 of {} MiB", config.l1_capacity >> 20),
                    None => Ok(()),
                }
            }
        }
    }
}

impl fmt::Debug for RouteCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteCache")
            .field("backend", &self.backend())
            .field("config", &self.inner.config)
            .finish()
    }
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
            Store::Memory(MemoryStore::new(
                config.embedded_capacity,
                Arc::new(StoreGauges::register("embedded")),
            )),
            config,
        )
    }

    /// A Redis-backed cache with the default configuration.
    ///
    /// # Errors
    /// When the URL is invalid.
    pub async fn redis(url: &str) -> Result<Self, CacheError> {
        Self::builder().redis(url).build().await
    }

    /// Redis at `$REDIS_URL`, or at [`DEFAULT_REDIS_URL`] when that variable
    /// is not set or empty.
    ///
    /// # Errors
    /// When the URL is invalid.
    #[doc(hidden)]
    pub async fn redis_from_env() -> Result<Self, CacheError> {
        let url = std::env::var(REDIS_URL_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty());
        Self::redis(url.as_deref().map_or(DEFAULT_REDIS_URL, str::trim)).await
    }

    /// A Redis Cluster-backed cache with the default configuration; see
    /// [`RouteCacheBuilder::redis_cluster`].
    ///
    /// # Errors
    /// When a URL is invalid or none is given.
    #[doc(hidden)]
    pub async fn redis_cluster<I, S>(seeds: I) -> Result<Self, CacheError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::builder().redis_cluster(seeds).build().await
    }

    /// Redis Cluster at `$REDIS_CLUSTER_URLS` (comma-separated seed URLs)
    /// when that is set, else the master the sentinels at
    /// `$REDIS_SENTINEL_URLS` know as `$REDIS_SENTINEL_MASTER`, else Redis
    /// at `$REDIS_URL` when that is set, else the in-process store. With the
    /// `tls` feature, `$REDIS_TLS_CA` (a PEM
    /// file) is the CA to trust, and `$REDIS_TLS_CERT` with
    /// `$REDIS_TLS_KEY` the client certificate for mutual TLS.
    ///
    /// Start-up never fails on the cache, and never silently changes what
    /// is shared between instances: when Redis is configured but the
    /// configuration cannot work (an invalid URL, `rediss://` without the
    /// `tls` feature, an unreadable certificate), the error is logged at
    /// `error` and the cache is [disabled](Backend::Disabled): requests are
    /// served uncached, never from a per-process store. Use
    /// [`try_from_env`](Self::try_from_env) to act on the error instead.
    pub async fn from_env() -> Self {
        match Self::try_from_env().await {
            Ok(cache) => cache,
            Err(e) => {
                let reason = crate::error::chain(&e);
                tracing::error!(
                    error = %reason,
                    "route cache: Redis is configured but the configuration cannot work; \
                     serving every request UNCACHED (no in-process fallback) until it is fixed"
                );
                Self::disabled(reason)
            }
        }
    }

    /// [`from_env`](Self::from_env), with the configuration error returned.
    ///
    /// # Errors
    /// A configured backend that cannot work: an invalid URL, TLS without
    /// the `tls` feature, a certificate file that cannot be read.
    pub async fn try_from_env() -> Result<Self, CacheError> {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        // `a, b,c` as its non-empty, trimmed items.
        let list = |urls: String| -> Vec<String> {
            urls.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut builder = if let Some(urls) = var(REDIS_CLUSTER_URLS_ENV) {
            Self::builder().redis_cluster(list(urls))
        } else if let Some(urls) = var(REDIS_SENTINEL_URLS_ENV) {
            let Some(master) = var(REDIS_SENTINEL_MASTER_ENV) else {
                return Err(CacheError::InvalidSetting {
                    setting: REDIS_SENTINEL_MASTER_ENV,
                    rule: "the master's name, with REDIS_SENTINEL_URLS",
                });
            };
            let builder = Self::builder().redis_sentinel(list(urls), master.trim());
            match var(REDIS_SENTINEL_MASTER_TLS_ENV).as_deref().map(str::trim) {
                None => builder,
                Some("true" | "1" | "yes") => builder.sentinel_master_tls(true),
                Some("false" | "0" | "no") => builder.sentinel_master_tls(false),
                Some(_) => {
                    return Err(CacheError::InvalidSetting {
                        setting: REDIS_SENTINEL_MASTER_TLS_ENV,
                        rule: "true or false",
                    })
                }
            }
        } else if let Some(url) = var(REDIS_URL_ENV) {
            Self::builder().redis(url.trim())
        } else {
            return Ok(Self::embedded());
        };
        let read = |name: &'static str, path: String| {
            std::fs::read(path.trim()).map_err(|_| CacheError::InvalidSetting {
                setting: name,
                rule: "the path of a readable PEM file",
            })
        };
        if let Some(secret) = var(ROUTE_CACHE_KEY_SECRET_ENV) {
            builder = builder.key_secret(secret.trim());
        }
        if let Some(path) = var(REDIS_TLS_CA_ENV) {
            builder = builder.tls_root_ca(read(REDIS_TLS_CA_ENV, path)?);
        }
        match (var(REDIS_TLS_CERT_ENV), var(REDIS_TLS_KEY_ENV)) {
            (Some(cert), Some(key)) => {
                builder = builder.tls_client_cert(
                    read(REDIS_TLS_CERT_ENV, cert)?,
                    read(REDIS_TLS_KEY_ENV, key)?,
                );
            }
            (None, None) => {}
            _ => {
                return Err(CacheError::InvalidSetting {
                    setting: REDIS_TLS_CERT_ENV,
                    rule: "REDIS_TLS_CERT and REDIS_TLS_KEY go together",
                })
            }
        }
        builder.build().await
    }

    pub(crate) fn from_parts(store: Store, config: CacheConfig) -> Self {
        Self::new(store, config, None, None)
    }

    /// [`Self::from_parts`], purging `edge` too.
    pub(crate) fn with_edge(
        store: Store,
        config: CacheConfig,
        edge: Option<Arc<dyn crate::edge::EdgePurge>>,
        target: Option<String>,
    ) -> Self {
        let mut cache = Self::new(store, config, None, edge);
        if let Some(inner) = Arc::get_mut(&mut cache.inner) {
            inner.target = target;
        }
        cache
    }

    fn new(
        store: Store,
        config: CacheConfig,
        disabled: Option<String>,
        edge: Option<Arc<dyn crate::edge::EdgePurge>>,
    ) -> Self {
        let interval = config.fault_log_interval;
        let l1 = (matches!(store, Store::Redis(_)) && config.l1_capacity > 0).then(|| {
            Arc::new(L1::new(
                config.l1_capacity,
                config.l1_max_ttl,
                TierMetrics::register(),
            ))
        });
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
                breaker: Breaker::new(config.breaker_failures, config.breaker_cooldown),
                config,
                faults: FaultLog::new(interval),
                corrupt: FaultLog::new(interval),
                recent: Recent::default(),
                inflight: Inflight::default(),
                l1,
                publisher,
                disabled,
                metrics: Metrics::register(),
                edge,
                target: None,
            }),
        }
    }

    /// A cache that caches nothing: every request runs its handler
    /// (`Cache-Status: …; fwd=bypass; detail=cache-disabled`), and
    /// invalidations and raw calls fail. What [`RouteCache::from_env`]
    /// returns when the configured backend cannot work; `reason` says why.
    pub fn disabled(reason: impl Into<String>) -> Self {
        let store = Store::Memory(MemoryStore::new(0, Arc::new(StoreGauges::unobserved())));
        Self::new(store, CacheConfig::default(), Some(reason.into()), None)
    }

    /// Why the cache is disabled, when [`backend`](Self::backend) is
    /// [`Backend::Disabled`].
    pub fn disabled_reason(&self) -> Option<&str> {
        self.inner.disabled.as_deref()
    }

    /// With Redis: starts the L1's subscriber, waits a moment for a
    /// cluster to connect, and warms the connection so that the first
    /// request does not pay for it (an unreachable Redis is logged).
    pub(crate) async fn start(&self) {
        let Store::Redis(redis) = &self.inner.store else {
            return;
        };
        let config = &self.inner.config;
        if let (Some(l1), Some(publisher)) = (&self.inner.l1, &self.inner.publisher) {
            let channel = Channel {
                publisher: Arc::clone(publisher),
                heartbeat: config.l1_heartbeat,
                connect_timeout: config.connect_timeout,
            };
            crate::tier::spawn_subscriber(l1, redis.clone(), channel);
        }
        redis.ready(config.connect_timeout).await;
        match self
            .call(Op::Get, self.inner.store.get("\u{0}rc-ping"))
            .await
        {
            Ok(_) => tracing::debug!("route cache connected to Redis"),
            Err(e) if e.kind() == crate::error::ErrorKind::Unauthorized => tracing::error!(
                user = redis.user().unwrap_or("default"),
                error = %crate::error::chain(&e),
                "route cache: Redis refused the credentials; serving every request uncached \
                 (no in-process fallback) until they are fixed"
            ),
            Err(e) => tracing::warn!(
                error = %e,
                "route cache: Redis is not reachable yet; serving uncached until it is"
            ),
        }
    }

    /// Whether the L1 is configured and its invalidation channel is up.
    #[doc(hidden)]
    pub fn l1_is_live(&self) -> bool {
        self.inner.l1.as_ref().is_some_and(|l1| l1.is_live())
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        if self.inner.disabled.is_some() {
            return Backend::Disabled;
        }
        match &self.inner.store {
            Store::Redis(s) if s.is_cluster() => Backend::RedisCluster,
            Store::Redis(s) if s.is_sentinel() => Backend::RedisSentinel,
            Store::Redis(_) => Backend::Redis,
            Store::Memory(_) => Backend::Embedded,
        }
    }

    /// The cache-wide configuration.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// Fetches the raw (encoded, see [`crate::entry`]) value under `key`,
    /// bounded by the timeout.
    ///
    /// # Errors
    /// When the backend fails or times out.
    #[doc(hidden)]
    pub async fn raw_get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        self.call(Op::Get, self.inner.store.get(key)).await
    }

    /// Stores a raw value under `key` (bounded by the timeout); every
    /// instance's L1 drops what it had under `key`. A value that does not
    /// decode as an entry is served as a miss.
    ///
    /// # Errors
    /// When the backend fails or times out.
    #[doc(hidden)]
    pub async fn raw_set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        let result = self
            .call(Op::Set, self.inner.store.set(key, value, ttl))
            .await;
        // Also after an error: the write may have landed.
        self.forget_keys(&[key]).await;
        result
    }

    /// Removes the entry under `key` (bounded by the timeout), from every
    /// instance's L1 too.
    ///
    /// # Errors
    /// When the backend fails or times out.
    #[doc(hidden)]
    pub async fn remove(&self, key: &str) -> Result<(), StoreError> {
        let result = self.call(Op::Delete, self.inner.store.delete(key)).await;
        self.forget_keys(&[key]).await;
        result
    }

    pub(crate) fn inflight(&self) -> &Inflight {
        &self.inner.inflight
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::lookup::Lookup;
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
            assert!(matches!(
                cache.lookup("k", None::<fn() -> Vec<String>>).await,
                Lookup::Fault
            ));
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
        let CacheError::Backend(store) = &err else {
            panic!("a backend error: {err:?}");
        };
        assert_eq!(store.kind(), ErrorKind::InvalidConfig);
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn backends_are_named_by_an_enum() {
        // The Redis backends are checked against real servers in the
        // integration tests (building one here would log from a callsite
        // another test's subscriber watches).
        assert_eq!(RouteCache::embedded().backend(), Backend::Embedded);
        assert!(!Backend::Embedded.is_shared());
        assert!(Backend::RedisCluster.is_shared());
        assert_eq!(Backend::RedisCluster.to_string(), "redis-cluster");
        assert_eq!(Backend::Embedded, "embedded");
    }
}
