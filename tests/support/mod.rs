//! Shared harness of the integration tests: real Redis servers, the test
//! application served on a loopback port, and a real HTTP client.
#![allow(dead_code, unused_imports)] // each test crate uses a different part of the harness

pub mod app;
pub mod certs;
pub mod cluster;
pub mod proxy;
pub mod redis;

use axum::Router;
use bytes::Bytes;
use cache_runtime::RouteCache;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::{
    net::SocketAddr,
    sync::atomic::{AtomicU64, Ordering},
};

pub use self::app::Calls;
pub use self::redis::{RedisServer, TestRedis};

/// The `Host` every test request carries unless it sets its own: the
/// public name that every instance behind one load balancer sees, so that
/// instances on different loopback ports share entries as in production.
pub const TEST_HOST: &str = "app.test";

/// A bound on each backend call for tests that are not about timeouts
/// (every [`Fixture`]'s, unless it sets another): under the cache's
/// default 200 ms, a call on a loaded 2-core machine can time out and
/// fail open, and its request computes on its own (seen: two or three
/// computations where the test counts one, half of 10,000 fills not
/// stored on the cluster, a first miss sent uncompressed).
pub const PATIENT: std::time::Duration = std::time::Duration::from_secs(2);

/// The segment of its keys that the route `route_id` (module path and
/// handler name) has, as the runtime derives it.
pub fn key_segment(route_id: &str) -> String {
    let id: &'static str = Box::leak(route_id.to_owned().into_boxed_str());
    cache_runtime::__private_0_1_0::RoutePolicy::new(id, 1)
        .key_id()
        .to_owned()
}

/// A prefix unique to this test run and call, so tests sharing a Redis
/// never see each other's entries.
pub fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "t{}-{}-{test}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The backends every behaviour test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Standalone Redis.
    Redis,
    /// A 3-master Redis Cluster.
    Cluster,
    /// Standalone Redis with the in-process L1 in front.
    TwoTier,
    /// The in-process store.
    Embedded,
}

/// Runs each listed `async fn(Backend)` once per backend, as separate tests
/// in `standalone::`, `cluster::`, `two_tier::` and `embedded::` modules.
#[macro_export]
macro_rules! backend_matrix {
    // The shared backends only: what a test reads back from Redis itself.
    (shared: $($name:ident),* $(,)?) => {
        $crate::backend_matrix!(@backend standalone, Redis; $($name),*);
        $crate::backend_matrix!(@backend cluster, Cluster; $($name),*);
        $crate::backend_matrix!(@backend two_tier, TwoTier; $($name),*);
    };
    ($($name:ident),* $(,)?) => {
        $crate::backend_matrix!(@backend standalone, Redis; $($name),*);
        $crate::backend_matrix!(@backend cluster, Cluster; $($name),*);
        $crate::backend_matrix!(@backend two_tier, TwoTier; $($name),*);
        $crate::backend_matrix!(@backend embedded, Embedded; $($name),*);
    };
    (@backend $module:ident, $variant:ident; $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::$variant).await;
                }
            )*
        }
    };
}

/// A cache on `backend` plus whatever keeps that backend alive.
pub struct Fixture {
    pub cache: RouteCache,
    pub redis: Option<TestRedis>,
}

impl Fixture {
    pub async fn new(backend: Backend, test: &str) -> Self {
        Self::with(backend, test, |b| b).await
    }

    /// Like [`Fixture::new`], with the builder adjusted by `configure`.
    ///
    /// The backend timeout is [`PATIENT`] unless `configure` sets one: a
    /// loaded test machine must not turn a slow call into a fault (served
    /// uncached, its entry not stored) where a test expects none. Tests of
    /// faults set the timeout they exercise.
    pub async fn with(
        backend: Backend,
        test: &str,
        configure: impl FnOnce(cache_runtime::RouteCacheBuilder) -> cache_runtime::RouteCacheBuilder,
    ) -> Self {
        let builder = RouteCache::builder()
            .prefix(unique_prefix(test))
            .timeout(PATIENT);
        let builder = configure(builder);
        match backend {
            Backend::Redis | Backend::TwoTier => {
                let redis = TestRedis::acquire();
                let builder = builder.redis(redis.url());
                let builder = if backend == Backend::TwoTier {
                    builder.l1_capacity(16 * 1024 * 1024)
                } else {
                    builder
                };
                let cache = builder.build().await.expect("build Redis cache");
                if backend == Backend::TwoTier {
                    wait_for_l1(&cache).await;
                }
                Self {
                    cache,
                    redis: Some(redis),
                }
            }
            Backend::Cluster => Self {
                cache: builder
                    .redis_cluster(cluster::cluster_urls())
                    .build()
                    .await
                    .expect("build Redis Cluster cache"),
                redis: None,
            },
            Backend::Embedded => Self {
                cache: builder.build().await.expect("build embedded cache"),
                redis: None,
            },
        }
    }
}

impl Fixture {
    /// Another app instance's cache: a second handle on this fixture's
    /// backend, with the same prefix (on the embedded backend, the same
    /// cache: one process).
    pub async fn another_instance(&self, backend: Backend) -> RouteCache {
        self.another_instance_with(backend, |b| b).await
    }

    /// Like [`Fixture::another_instance`], with the builder adjusted by
    /// `configure`.
    pub async fn another_instance_with(
        &self,
        backend: Backend,
        configure: impl FnOnce(cache_runtime::RouteCacheBuilder) -> cache_runtime::RouteCacheBuilder,
    ) -> RouteCache {
        let builder = RouteCache::builder()
            .prefix(&self.cache.config().prefix)
            .timeout(self.cache.config().timeout);
        let builder = configure(builder);
        let builder = match backend {
            Backend::Embedded => return self.cache.clone(),
            Backend::Cluster => builder.redis_cluster(cluster::cluster_urls()),
            Backend::TwoTier => builder
                .redis(self.redis.as_ref().expect("redis").url())
                .l1_capacity(16 << 20),
            Backend::Redis => builder.redis(self.redis.as_ref().expect("redis").url()),
        };
        let cache = builder.build().await.expect("second cache");
        if backend == Backend::TwoTier {
            wait_for_l1(&cache).await;
        }
        cache
    }

    /// What the index set `index` weighs and its live members: from Redis
    /// (`MEMORY USAGE`, `ZCARD`) on a shared backend, else the embedded
    /// store's index bytes (members are not counted there: 0).
    pub async fn index_weight(&self, backend: Backend, index: &str) -> (u64, usize) {
        if backend == Backend::Embedded {
            return (self.cache.stats().index_bytes, 0);
        }
        let mut inspector = self.inspector().await;
        let place = cache_runtime::key::IndexPlace::of(index);
        (
            inspector.memory_usage(&place.bucket).await + inspector.memory_usage(&place.own).await,
            inspector.index_members(index).await.len(),
        )
    }

    /// A connection to look at what the cache stored, on a Redis backend.
    pub async fn inspector(&self) -> Inspector {
        if let Some(redis) = &self.redis {
            let conn = ::redis::Client::open(redis.url())
                .expect("Redis URL")
                .get_multiplexed_async_connection()
                .await
                .expect("connect to the test Redis");
            return Inspector::Server(conn);
        }
        let client =
            ::redis::cluster::ClusterClient::new(cluster::cluster_urls()).expect("cluster URLs");
        Inspector::Cluster(
            client
                .get_async_connection()
                .await
                .expect("connect to the test cluster"),
        )
    }
}

/// Reads keys and TTLs back from a standalone server or a whole cluster.
pub enum Inspector {
    Server(::redis::aio::MultiplexedConnection),
    Cluster(::redis::cluster_async::ClusterConnection),
}

impl Inspector {
    /// Every key matching `pattern` (on every master of a cluster), sorted.
    pub async fn keys(&mut self, pattern: &str) -> Vec<String> {
        match self {
            Self::Server(conn) => redis::scan_keys(conn, pattern).await,
            Self::Cluster(_) => cluster::cluster_keys(pattern).await,
        }
    }

    /// The length of the string stored under `key`.
    pub async fn strlen(&mut self, key: &str) -> usize {
        let mut cmd = ::redis::cmd("STRLEN");
        cmd.arg(key);
        match self {
            Self::Server(conn) => cmd.query_async(conn).await.expect("STRLEN"),
            Self::Cluster(conn) => cmd.query_async(conn).await.expect("STRLEN"),
        }
    }

    /// What `key` takes in Redis's memory (`MEMORY USAGE`), in bytes; 0
    /// for a key that does not exist.
    pub async fn memory_usage(&mut self, key: &str) -> u64 {
        let mut cmd = ::redis::cmd("MEMORY");
        cmd.arg("USAGE").arg(key).arg("SAMPLES").arg(0);
        let bytes: Option<u64> = match self {
            Self::Server(conn) => cmd.query_async(conn).await.expect("MEMORY USAGE"),
            Self::Cluster(conn) => cmd.query_async(conn).await.expect("MEMORY USAGE"),
        };
        bytes.unwrap_or(0)
    }

    /// The members of the sorted set `key`, expired ones included.
    pub async fn zrange(&mut self, key: &str) -> Vec<String> {
        let mut cmd = ::redis::cmd("ZRANGE");
        cmd.arg(key).arg(0).arg(-1);
        match self {
            Self::Server(conn) => cmd.query_async(conn).await.expect("ZRANGE"),
            Self::Cluster(conn) => cmd.query_async(conn).await.expect("ZRANGE"),
        }
    }

    /// The entry keys the index set named `index` (`<prefix>:#p:…`,
    /// `<prefix>:#t:…`) lists, expired members included: those in its
    /// own sorted set and those under its id in its bucket.
    pub async fn index_members(&mut self, index: &str) -> Vec<String> {
        let place = cache_runtime::key::IndexPlace::of(index);
        let mut members = self.zrange(&place.own).await;
        let bucket = self.zrange(&place.bucket).await;
        members.extend(
            bucket
                .iter()
                .filter_map(|m| m.strip_prefix(place.id.as_str()).map(str::to_owned)),
        );
        members
    }

    /// The TTL of `key` in seconds.
    pub async fn ttl(&mut self, key: &str) -> i64 {
        let mut cmd = ::redis::cmd("TTL");
        cmd.arg(key);
        match self {
            Self::Server(conn) => cmd.query_async(conn).await.expect("TTL"),
            Self::Cluster(conn) => cmd.query_async(conn).await.expect("TTL"),
        }
    }
}

/// Polls `condition` every 10 ms until it holds, and returns how long
/// that took; panics when it still does not after `timeout`. The one
/// wait-for-a-condition loop of the async tests (helpers that wait for
/// something particular are built on it): no fixed sleep stands in for
/// synchronisation.
pub async fn eventually<F, Fut>(timeout: std::time::Duration, condition: F) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_explained(timeout, condition, String::new).await
}

/// [`eventually`], whose panic adds what `explain` says (what the last
/// attempt saw).
pub async fn eventually_explained<F, Fut>(
    timeout: std::time::Duration,
    mut condition: F,
    explain: impl Fn() -> String,
) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    loop {
        if condition().await {
            return started.elapsed();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the condition did not hold within {timeout:?}{}",
            explain()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Samples `value` every 10 ms until it has not changed for `quiet` (or
/// `done` holds for it), and returns the last sample; panics when it is
/// still moving after `timeout`. For asserting that background work (a
/// lease release, a save, a log line) has finished when nothing signals
/// its end: a condition, not a fixed sleep.
pub async fn settled<T, F, Fut>(
    quiet: std::time::Duration,
    timeout: std::time::Duration,
    mut done: impl FnMut(&T) -> bool,
    mut value: F,
) -> T
where
    T: PartialEq,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = value().await;
    let mut since = tokio::time::Instant::now();
    loop {
        if done(&last) || since.elapsed() >= quiet {
            return last;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the value was still changing after {timeout:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        let now = value().await;
        if now != last {
            last = now;
            since = tokio::time::Instant::now();
        }
    }
}

/// Waits (up to 5 s) until the cache's L1 has subscribed to its
/// invalidation channel.
pub async fn wait_for_l1(cache: &RouteCache) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !cache.l1_is_live() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the L1 did not subscribe to its invalidation channel within 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Log output captured for a test: a `tracing_subscriber` writer (clone
/// it into `with_writer`) whose text can be read back.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Forgets what was written so far.
    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// An application served over HTTP on a loopback port.
pub struct TestApp {
    pub addr: SocketAddr,
    pub calls: Calls,
    client: Client<HttpConnector, Full<Bytes>>,
    server: tokio::task::JoinHandle<()>,
}

/// A response as the client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The `x-cache` header, or `""`.
    pub fn x_cache(&self) -> &str {
        self.header("x-cache")
    }

    /// The header `name` as text, or `""` when absent or not text.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }
}

impl TestApp {
    /// Serves the standard test router inside `cache`'s layer (the suites
    /// that build their own router apply it with `Router::layer`, so both
    /// placements are tested).
    pub async fn spawn(cache: &RouteCache) -> Self {
        let calls = Calls::default();
        Self::serve_around(app::router(calls.clone()), cache, calls).await
    }

    /// Serves `router` (already carrying whatever layers it needs),
    /// finalised as `axum::serve` finalises a bare router.
    pub async fn serve(router: Router, calls: Calls) -> Self {
        Self::serve_service(router.with_state(()), calls).await
    }

    /// Serves `cache`'s layer around the whole of `router` (the layer
    /// applied once to the application, not by `Router::layer` to each
    /// route).
    pub async fn serve_around(router: Router, cache: &RouteCache, calls: Calls) -> Self {
        let router = router.with_state(());
        Self::serve_service(tower::Layer::layer(&cache.layer(), router), calls).await
    }

    /// Serves `service`, an application as a tower service (a router in it
    /// finalised with `with_state(())`: `into_make_service` leaves that to
    /// the caller).
    pub async fn serve_service<S>(service: S, calls: Calls) -> Self
    where
        S: tower::Service<
                axum::extract::Request,
                Response = axum::response::Response,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + 'static,
        S::Future: Send,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let service = axum::ServiceExt::<axum::extract::Request>::into_make_service(service);
        let server = tokio::spawn(async move {
            axum::serve(listener, service).await.expect("serve");
        });
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            addr,
            calls,
            client,
            server,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[], Bytes::new()).await
    }

    /// A `GET` with this instance's own address as `Host`
    /// (`127.0.0.1:<port>`), as a client calling the instance directly
    /// sends it: no `Host` shared with any other instance.
    pub async fn get_direct(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let own = self.addr.to_string();
        let mut all = vec![("host", own.as_str())];
        all.extend_from_slice(headers);
        self.request(Method::GET, path, &all, Bytes::new()).await
    }

    /// Like [`TestApp::request`], but a failed exchange (for example a
    /// connection dropped by a panicking handler) is returned, not a panic.
    pub async fn try_get(&self, path: &str) -> Result<Reply, String> {
        let req = Request::builder()
            .uri(format!("http://{}{path}", self.addr))
            .header("host", TEST_HOST)
            .body(Full::new(Bytes::new()))
            .expect("build request");
        let res = self.client.request(req).await.map_err(|e| e.to_string())?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            req = req.header("host", TEST_HOST);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Full::new(body)).expect("build request");
        let res = self
            .client
            .request(req)
            .await
            .unwrap_or_else(|e| panic!("GET {path} failed: {e}"));
        let (parts, body) = res.into_parts();
        let body = body.collect().await.expect("read body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}
