//! The cache handle: what it holds, and the guarded call every
//! request-path backend operation goes through ([`RouteCache::call`]:
//! circuit breaker, then the timeout) with the fault log it reports to
//! ([`RouteCache::fault`]). Its other methods live with their concern:
//! construction in [`crate::builder`], lookups, saves and raw values in
//! [`crate::fill::lookup`], leases in [`crate::fill::lease`], invalidation
//! in [`crate::invalidate`], and the layer in `axum`.

use crate::clock::random_u64;
use crate::config::CacheConfig;
use crate::entry::decoded::DecodedBodies;
use crate::error::{ErrorKind, StoreError};
use crate::fill::coalesce::Inflight;
use crate::fill::recent::Recent;
use crate::observe::{failure, Metrics, Op, StoreGauges, TierMetrics};
use crate::resilience::breaker::{Admission, Breaker};
use crate::resilience::fault::FaultLog;
use crate::resilience::retry::{bounded, deadline_after, retry, Backoff, Step};
use crate::store::tier::{Channel, Publisher, L1};
use crate::store::{MemoryStore, Store};
use std::{fmt, future::Future, sync::Arc, time::Duration};

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
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::RedisCluster => "redis-cluster",
            Self::RedisSentinel => "redis-sentinel",
            Self::Embedded => "embedded",
            Self::Disabled => "disabled",
        }
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
    /// Identity bodies of compressed entries, for clients that do not take
    /// the stored coding.
    pub(crate) decoded: DecodedBodies,
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
        let decoded = DecodedBodies::new(config.embedded_capacity / 8);
        let metrics = Metrics::register(&config.prefix);
        Self {
            inner: Arc::new(Inner {
                store,
                breaker: Breaker::new(config.breaker_failures, config.breaker_cooldown),
                config,
                faults: FaultLog::new(interval),
                corrupt: FaultLog::new(interval),
                recent: Recent::default(),
                decoded,
                inflight: Inflight::default(),
                l1,
                publisher,
                disabled,
                metrics,
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
            crate::store::tier::spawn_subscriber(l1, redis.clone(), channel);
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

    pub(crate) fn inflight(&self) -> &Inflight {
        &self.inner.inflight
    }

    /// `fut`, a call of `op` to the backend: skipped while the circuit is
    /// open, bounded by the timeout, counted by the breaker, timed, and
    /// counted when it fails. The in-process store is called directly (it
    /// cannot hang or go away).
    pub(crate) async fn call<T>(
        &self,
        op: Op,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.call_with(op, move || fut).await
    }

    /// [`Self::call`] of the future `make` makes, made only when the call
    /// goes ahead: the caller's future then holds the small `make` and
    /// one copy of the call's future, not two (an `async fn` keeps its
    /// arguments for its whole life). The Redis hit's `GET` uses it.
    pub(crate) async fn call_with<T, F>(
        &self,
        op: Op,
        make: impl FnOnce() -> F,
    ) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        if self.inner.disabled.is_some() {
            return Err(StoreError::bare(
                ErrorKind::Unavailable,
                "the cache is disabled",
            ));
        }
        if !self.inner.store.is_shared() {
            return make().await;
        }
        let admission = self.inner.breaker.admit();
        if admission == Admission::Reject {
            self.inner
                .metrics
                .failed(op, failure(ErrorKind::CircuitOpen));
            return Err(StoreError::bare(ErrorKind::CircuitOpen, "backend call"));
        }
        // If this future is dropped mid-call, the probe is handed back.
        struct ProbeGuard<'a> {
            breaker: &'a Breaker,
            admission: Admission,
            recorded: bool,
        }
        impl Drop for ProbeGuard<'_> {
            fn drop(&mut self) {
                if !self.recorded {
                    self.breaker.abandon(self.admission);
                }
            }
        }
        let mut outcome = ProbeGuard {
            breaker: &self.inner.breaker,
            admission,
            recorded: false,
        };
        let started = std::time::Instant::now();
        let result = bounded(self.inner.config.timeout, "backend call", make()).await;
        if let crate::store::Store::Redis(redis) = &self.inner.store {
            redis.observe(&result);
        }
        self.inner.metrics.called(op, started.elapsed());
        match &result {
            Err(e) if e.is_unavailable() => self.inner.breaker.failure(admission),
            _ => self.inner.breaker.success(admission),
        }
        outcome.recorded = true;
        if let Err(e) = &result {
            self.inner.metrics.failed(op, failure(e.kind()));
        }
        result
    }

    /// A write that must land eventually, off the request path (an entry
    /// withdrawn, a lease released): `attempt` through [`Self::call`] as
    /// `op`, made again with [`Backoff::BACKGROUND_WRITE`] after each
    /// failure (`failed` hears of each) until it succeeds or `limit` has
    /// passed (`None`).
    pub(crate) async fn call_until<T, F, Fut>(
        &self,
        op: Op,
        limit: Duration,
        mut attempt: F,
        failed: impl Fn(&StoreError),
    ) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let failed = &failed;
        retry(
            Backoff::BACKGROUND_WRITE,
            Some(deadline_after(limit)),
            || {
                let call = attempt();
                async move {
                    match self.call(op, call).await {
                        Ok(value) => Step::Done(value),
                        Err(e) => {
                            failed(&e);
                            Step::Again
                        }
                    }
                }
            },
        )
        .await
    }

    /// How logs and spans name `key`: 64 bits of its MAC under the key
    /// secret, never the key (whose query string, custom value or
    /// credential digest a log must not carry).
    pub(crate) fn key_name(&self, key: &str) -> String {
        self.inner.config.key_secret.short(key)
    }

    /// Logs a backend fault (rate-limited); the request is served
    /// uncached. While the circuit is open, only its opening was logged.
    pub(crate) fn fault(&self, op: &'static str, key: &str, error: &StoreError) {
        if error.kind() == ErrorKind::CircuitOpen {
            return;
        }
        if let Some(suppressed) = self.inner.faults.admit() {
            tracing::warn!(
                backend = %self.backend(),
                op,
                key_hash = %self.key_name(key),
                kind = %error.kind(),
                error = %error,
                suppressed,
                "route cache backend fault; serving uncached"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fill::lookup::Lookup;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

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
        let crate::error::CacheError::Backend(store) = &err else {
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
        assert_eq!(Backend::RedisCluster.to_string(), "redis-cluster");
    }
}
