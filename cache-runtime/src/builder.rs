//! [`RouteCacheBuilder`]: one method per setting (see [`crate::config`] for
//! the defaults), the backend choice, and [`RouteCacheBuilder::build`],
//! which validates the settings and opens the backend.

use crate::cache::RouteCache;
use crate::config::CacheConfig;
use crate::error::CacheError;
use crate::http::encoding::Encoding;
use crate::store::{MemoryStore, RedisStore, Secrets, Store};
use std::{fmt, time::Duration};

/// The environment variable [`RouteCache::from_env`] reads.
const REDIS_URL_ENV: &str = "REDIS_URL";

/// The environment variable naming the sentinels for [`RouteCache::from_env`]:
/// URLs separated by commas (with [`REDIS_SENTINEL_MASTER_ENV`]).
const REDIS_SENTINEL_URLS_ENV: &str = "REDIS_SENTINEL_URLS";

/// The environment variables with the ACL user and password of the master
/// behind Sentinel (the sentinels' own are in their URLs), as
/// [`RouteCacheBuilder::redis_auth`] sets them; the user defaults to
/// `default` (a `requirepass` password).
const REDIS_SENTINEL_MASTER_USERNAME_ENV: &str = "REDIS_SENTINEL_MASTER_USERNAME";
const REDIS_SENTINEL_MASTER_PASSWORD_ENV: &str = "REDIS_SENTINEL_MASTER_PASSWORD";

/// The environment variable naming the master the sentinels monitor.
const REDIS_SENTINEL_MASTER_ENV: &str = "REDIS_SENTINEL_MASTER";

/// The environment variable saying whether the master behind Sentinel is
/// reached over TLS (`true`/`false`), when it differs from the sentinels
/// ([`RouteCacheBuilder::sentinel_master_tls`](crate::RouteCacheBuilder::sentinel_master_tls)).
const REDIS_SENTINEL_MASTER_TLS_ENV: &str = "REDIS_SENTINEL_MASTER_TLS";

/// The environment variable naming a PEM file with the CA certificate(s)
/// to trust for `rediss://` (instead of the system's roots).
const REDIS_TLS_CA_ENV: &str = "REDIS_TLS_CA";

/// The environment variable naming a PEM client certificate for mutual
/// TLS (with [`REDIS_TLS_KEY_ENV`]).
const REDIS_TLS_CERT_ENV: &str = "REDIS_TLS_CERT";

/// The environment variable naming the PEM private key of
/// [`REDIS_TLS_CERT_ENV`].
const REDIS_TLS_KEY_ENV: &str = "REDIS_TLS_KEY";

/// The environment variable [`RouteCache::from_env`] reads the key secret
/// from ([`RouteCacheBuilder::key_secret`](crate::RouteCacheBuilder::key_secret)):
/// at least 16 bytes, the same on every instance that shares the store.
pub(crate) const ROUTE_CACHE_KEY_SECRET_ENV: &str = "ROUTE_CACHE_KEY_SECRET";

/// The environment variable naming Redis Cluster seed nodes for
/// [`RouteCache::from_env`]: URLs separated by commas.
const REDIS_CLUSTER_URLS_ENV: &str = "REDIS_CLUSTER_URLS";

/// Builds a [`RouteCache`]; see [`RouteCache::builder`].
///
/// ```
/// # async fn demo() -> Result<(), cache_runtime::CacheError> {
/// use cache_runtime::RouteCache;
/// use std::time::Duration;
///
/// let cache = RouteCache::builder()
///     .prefix("shop")
///     .timeout(Duration::from_millis(100))
///     .build()
///     .await?;
/// assert_eq!(cache.config().prefix, "shop");
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct RouteCacheBuilder {
    config: CacheConfig,
    redis: Option<RedisTarget>,
    secrets: Secrets,
    edge: Option<std::sync::Arc<dyn crate::edge::EdgePurge>>,
    /// Names given to `credential_headers` that are no header names,
    /// reported by `build`.
    invalid_credential_headers: Vec<String>,
    /// A key secret shorter than [`crate::key::secret::MIN_SECRET_LEN`] was given.
    short_key_secret: bool,
    /// `explain_header` was given an invalid name or a short token.
    bad_explain_header: bool,
    dead_after: crate::store::DeadAfter,
}

#[derive(Clone)]
enum RedisTarget {
    Standalone(String),
    Cluster(Vec<String>),
    Sentinel {
        urls: Vec<String>,
        master: String,
        /// TLS to the master: as the sentinels (`None`), or as said.
        master_tls: Option<bool>,
    },
}

impl RedisTarget {
    /// Where the cache connects, for [`RouteCache`]'s `Display`: hosts and
    /// ports, whether TLS is on, and never a user or password.
    fn summary(&self, secrets: &Secrets) -> String {
        use redis::IntoConnectionInfo;
        let node = |url: &str| match url.into_connection_info() {
            Ok(info) => (
                info.addr().to_string(),
                matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }),
            ),
            Err(_) => ("an invalid URL".to_owned(), false),
        };
        let nodes = |urls: &[String]| {
            let nodes: Vec<(String, bool)> = urls.iter().map(|url| node(url)).collect();
            let tls = !nodes.is_empty() && nodes.iter().all(|(_, tls)| *tls);
            let names: Vec<String> = nodes.into_iter().map(|(name, _)| name).collect();
            (names.join(", "), tls)
        };
        let (text, tls) = match self {
            Self::Standalone(url) => {
                let (name, tls) = node(url);
                (format!("Redis at {name}"), tls)
            }
            Self::Cluster(seeds) => {
                let (names, tls) = nodes(seeds);
                (format!("Redis Cluster (seeds {names})"), tls)
            }
            Self::Sentinel {
                urls,
                master,
                master_tls,
            } => {
                let (names, tls) = nodes(urls);
                let text = format!("Redis master {master:?} through Sentinel ({names})");
                match master_tls {
                    // TLS to the sentinels only, or to the master only:
                    // said as it is.
                    Some(to_master) if *to_master != tls => {
                        let (sentinels, master) = if tls {
                            ("TLS", "plaintext")
                        } else {
                            ("plaintext", "TLS")
                        };
                        return format!(
                            "{text}, {sentinels} to the sentinels, {master} to the master"
                        );
                    }
                    _ => (text, tls),
                }
            }
        };
        let tls = match (tls, secrets.is_set()) {
            (false, _) => "",
            (true, false) => ", TLS",
            (true, true) => ", TLS with the configured certificates",
        };
        format!("{text}{tls}")
    }
}

impl fmt::Debug for RouteCacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // URLs may carry passwords: only the kind of backend is shown.
        let backend = match &self.redis {
            None => "embedded",
            Some(RedisTarget::Standalone(_)) => "redis",
            Some(RedisTarget::Cluster(_)) => "redis-cluster",
            Some(RedisTarget::Sentinel { .. }) => "redis-sentinel",
        };
        f.debug_struct("RouteCacheBuilder")
            .field("backend", &backend)
            .field("secrets", &self.secrets)
            .field("config", &self.config)
            .finish()
    }
}

/// Characters a prefix may not contain: the key separator `:`, the index
/// and variant marker `#`, glob characters (bulk invalidation matches on
/// the prefix), braces (they would change the Redis Cluster hash slot) and
/// whitespace. Without `:`, prefix `rc:v2` cannot collide with prefix `rc`
/// and namespace `v2`.
const PREFIX_FORBIDDEN: &[char] = &[':', '#', '*', '?', '[', ']', '{', '}', '\\'];

fn check_prefix(prefix: &str) -> Result<(), CacheError> {
    let bad = prefix.is_empty()
        || prefix
            .chars()
            .any(|c| PREFIX_FORBIDDEN.contains(&c) || c.is_whitespace() || c.is_control());
    if bad {
        return Err(CacheError::InvalidSetting {
            setting: "prefix",
            rule: "non-empty, without `:`, `#`, `*`, `?`, `[`, `]`, braces, `\\`, whitespace or control characters",
        });
    }
    Ok(())
}

impl RouteCacheBuilder {
    /// Sets the first segment of every key (default `rc`), so several
    /// applications (or deploys) can share one Redis without sharing
    /// entries. Separator, glob and brace characters and whitespace are
    /// rejected by [`build`](Self::build).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.prefix = prefix.into();
        self
    }

    /// Bounds every backend call on the request path (default 200 ms); past
    /// it the request is served as a miss.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// Bounds each attempt to (re)connect to Redis (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Largest response body stored, in bytes (default 1 MiB); larger
    /// responses are returned but not stored.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.config.max_body = bytes;
        self
    }

    /// Stores compressible bodies (text, JSON, XML, JavaScript, SVG) of at
    /// least [`compress_min_bytes`](Self::compress_min_bytes) compressed in
    /// `encoding` (default `gzip`), or as the handler produced them with
    /// `None`. Hits are served compressed to clients that accept it and
    /// decompressed for the others. An encoding whose cargo feature is off
    /// fails [`build`](Self::build).
    pub fn compression(mut self, encoding: Option<Encoding>) -> Self {
        self.config.compression = encoding;
        self
    }

    /// The smallest body compressed, in bytes (default 1 KiB): below it,
    /// compression saves little and costs a decompression for clients that
    /// do not accept it.
    pub fn compress_min_bytes(mut self, bytes: usize) -> Self {
        self.config.compress_min_bytes = bytes;
        self
    }

    /// Capacity of the in-process store in bytes (default 64 MiB): keys,
    /// stored values, and each entry's decoded form (kept so that a hit
    /// never decodes; counted as 512 bytes plus 128 per stored header).
    pub fn embedded_capacity(mut self, bytes: u64) -> Self {
        self.config.embedded_capacity = bytes;
        self
    }

    /// How often a persisting backend fault is logged (default every 10 s).
    pub fn fault_log_interval(mut self, interval: Duration) -> Self {
        self.config.fault_log_interval = interval;
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
        self.config.cap_ttl_to_handler_max_age = cap;
        self
    }

    /// The circuit breaker: after `failures` consecutive backend failures
    /// (unreachable or timed out; error replies do not count) the backend is
    /// skipped for `cooldown`, then one probe call decides whether to
    /// resume. Default: 5 failures, 500 ms.
    pub fn circuit_breaker(mut self, failures: u32, cooldown: Duration) -> Self {
        self.config.breaker_failures = failures;
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

    /// Uses Redis at `url` (`redis://[user:password@]host:port[/db]`)
    /// instead of the in-process store.
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

    /// Authenticates as the ACL user `user` with `password` (use `default`
    /// for a `requirepass` password), instead of credentials in the URL;
    /// behind Sentinel, these are the master's. Wrong credentials are
    /// logged at start-up with the user name, never the password, and
    /// requests are then served uncached.
    pub fn redis_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.secrets.auth = Some((user.into(), password.into()));
        self
    }

    /// Trusts the CA certificate(s) in `pem` for `rediss://` connections,
    /// instead of the system's roots (a private CA, as managed services
    /// and self-signed deployments use). Needs the `tls` cargo feature;
    /// without it [`build`](Self::build) fails.
    ///
    /// Never use the `rediss://…/#insecure` URL form in production: it
    /// turns certificate checks off, so anyone on the path can read and
    /// rewrite every cached response.
    pub fn tls_root_ca(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.secrets.root_ca = Some(pem.into());
        self
    }

    /// Presents the client certificate `cert_pem` with its private key
    /// `key_pem` (mutual TLS, `tls-auth-clients yes`). Needs the `tls`
    /// cargo feature.
    pub fn tls_client_cert(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.secrets.client = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Uses the Redis master that the sentinels at `urls` (`redis://host:26379`,
    /// or all `rediss://` for TLS) know as `master_name`, found again after
    /// every failover: on a lost connection, a refused one, `READONLY` from
    /// a demoted master or a connection that stopped answering, the cache
    /// asks the sentinels anew, and serves uncached meanwhile.
    ///
    /// With `rediss://` sentinels the master is reached over TLS too; the CA
    /// and client certificate ([`tls_root_ca`](Self::tls_root_ca),
    /// [`tls_client_cert`](Self::tls_client_cert)) serve both, and the ACL
    /// user ([`redis_auth`](Self::redis_auth)) is the master's (a sentinel
    /// URL's own credentials are the sentinels'). Mixed `redis://` and
    /// `rediss://` sentinels are an error at [`build`](Self::build).
    ///
    /// The L1 ([`l1_capacity`](Self::l1_capacity)) subscribes on the master
    /// and follows it: when the sentinels name another master, it is
    /// flushed and subscribes again there.
    pub fn redis_sentinel<I, S>(mut self, urls: I, master_name: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.redis = Some(RedisTarget::Sentinel {
            urls: urls.into_iter().map(Into::into).collect(),
            master: master_name.into(),
            master_tls: None,
        });
        self
    }

    /// Behind Sentinel: whether the master is reached over TLS, when it
    /// differs from the sentinels (by default it is whenever the sentinels'
    /// URLs are `rediss://`); also `REDIS_SENTINEL_MASTER_TLS` (`true` or
    /// `false`) for [`RouteCache::from_env`](crate::RouteCache::from_env).
    /// `false` with TLS sentinels and a password is an error at
    /// [`build`](Self::build): the password would cross the network in
    /// plaintext. Without Sentinel it has no effect.
    pub fn sentinel_master_tls(mut self, tls: bool) -> Self {
        if let Some(RedisTarget::Sentinel { master_tls, .. }) = &mut self.redis {
            *master_tls = Some(tls);
        }
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

    /// Keys on the host a proxy forwarded (`Forwarded: host=…`, else
    /// `X-Forwarded-Host`) instead of the request's own target or `Host`,
    /// for apps behind a proxy that rewrites `Host`. Default `false`: any
    /// client can send these headers, so trust them only when a proxy
    /// you run sets them (and strips clients' own).
    ///
    /// Proxies append to these headers what they received, so the host
    /// keyed is the value the outermost of the
    /// [`trusted_proxies`](Self::trusted_proxies) wrote; a request whose
    /// client wrote a different value in front of it bypasses the cache on
    /// routes keyed on the host (see
    /// [`CacheConfig::trusted_proxies`](crate::CacheConfig::trusted_proxies)).
    pub fn trust_forwarded_host(mut self, trust: bool) -> Self {
        self.config.trust_forwarded_host = trust;
        self
    }

    /// How many proxies you run in front of the app append to `Forwarded`
    /// and `X-Forwarded-Host` (default 1; 0 is taken as 1). Read only
    /// under [`trust_forwarded_host`](Self::trust_forwarded_host).
    pub fn trusted_proxies(mut self, proxies: usize) -> Self {
        self.config.trusted_proxies = proxies.max(1);
        self
    }

    /// The most live entries one request path's index set lists at once,
    /// across hosts, `vary` values and routes (default 4096; see
    /// [`CacheConfig::max_path_variants`](crate::CacheConfig::max_path_variants)).
    pub fn max_path_variants(mut self, entries: usize) -> Self {
        self.config.max_path_variants = entries.max(1);
        self
    }

    /// The most live entries one tag's index set lists at once (default
    /// 100,000; see [`CacheConfig::max_tag_members`](crate::CacheConfig::max_tag_members)).
    pub fn max_tag_members(mut self, entries: usize) -> Self {
        self.config.max_tag_members = entries.max(1);
        self
    }

    /// Whether a non-error answer to an unsafe request (`POST`, `PUT`,
    /// `PATCH`, `DELETE`, any method but `GET`, `HEAD`, `OPTIONS`, `TRACE`)
    /// through the layer invalidates its target path and its same-origin
    /// `Location` and `Content-Location` (RFC 9111 §4.4), on every route
    /// and instance. Default `true`; `false` leaves invalidation to
    /// `#[invalidates]` and [`RouteCache::invalidate`].
    pub fn invalidate_unsafe(mut self, invalidate: bool) -> Self {
        self.config.invalidate_unsafe = invalidate;
        self
    }

    /// Explain on request: a request carrying the header `name` with the
    /// value `token` gets a response header of that name explaining what
    /// the cache did with it: the key's short hash, the decision (`HIT`,
    /// `STALE`, `MISS`, `REVALIDATED`, `BYPASS`) and its reason, the TTL
    /// left and the backend.
    ///
    /// ```text
    /// cache-explain: key=3fa1c0de9b7e2a41; decision=HIT; reason=fresh; ttl=3587; backend=redis
    /// ```
    ///
    /// Without the token, or with another value, the header is ignored.
    /// Either way the layer removes it from the request before the
    /// handler and the key see it, so it never enters the key. The token
    /// is compared in constant time. Costs a request without the header
    /// one header lookup in the layer. An invalid header name or a token
    /// under 16 bytes fails [`build`](Self::build).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), cache_runtime::CacheError> {
    /// let token = std::env::var("CACHE_EXPLAIN_TOKEN").unwrap_or_default();
    /// let cache = cache_runtime::RouteCache::builder()
    ///     .explain_header("cache-explain", token)
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn explain_header(mut self, name: impl AsRef<str>, token: impl AsRef<str>) -> Self {
        let name = name.as_ref().trim().to_ascii_lowercase();
        let token = token.as_ref();
        match http::HeaderName::from_bytes(name.as_bytes()) {
            Ok(name) if token.len() >= crate::token::MIN_TOKEN_BYTES => {
                self.config.explain = Some(crate::token::Explain {
                    name,
                    token: crate::token::Token::new(token),
                });
            }
            _ => self.bad_explain_header = true,
        }
        self
    }

    /// Shadow mode for every route (also the route option
    /// `#[cached_route(shadow = true)]`), for turning caching on with
    /// evidence: the handler answers every request, and its answer is what
    /// the client gets. The cache still derives the key, reads the entry
    /// it would have served, stores the fresh answer when it may, and
    /// compares the two bodies byte for byte after decoding, counted as
    /// `route_cache_shadow_total{route, outcome}` (`match`, `diverged`,
    /// `no-entry`) with the entry's age at a divergence in
    /// `route_cache_shadow_divergence_age_seconds{route}`. A fresh answer
    /// that may not be stored where an entry existed counts as
    /// `diverged`; a streamed one is not compared.
    ///
    /// Costs each request, on top of the handler, what a miss costs: the
    /// lookup, the read of the fill's generations (see the guide's
    /// `distributed` chapter on race-free fills), and the store when the
    /// answer may be stored. On Redis that is three round trips, one
    /// script each; in process, three map operations. There is no
    /// coalescing: the handler always runs. A route not in shadow mode
    /// pays nothing. Default `false`.
    ///
    /// ```
    /// use axum::{body::Body, http::Request, routing::get, Router};
    /// use cache_runtime::{cached_route, RouteCache};
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use tower::ServiceExt;
    ///
    /// static VERSION: AtomicU64 = AtomicU64::new(1);
    ///
    /// // Not yet trusted with a cache: shadowed, every request runs it.
    /// #[cached_route(ttl = 60, shadow = true)]
    /// async fn price() -> String {
    ///     format!("v{}", VERSION.load(Ordering::SeqCst))
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let cache = RouteCache::embedded();
    /// let app: Router = Router::new().route("/price", get(price)).layer(cache.layer());
    /// let get = || Request::get("/price").body(Body::empty()).unwrap();
    /// for _ in 0..2 {
    ///     let response = app.clone().oneshot(get()).await.unwrap();
    ///     assert_eq!(response.headers()["x-cache"], "MISS", "the handler answers");
    /// }
    /// VERSION.store(2, Ordering::SeqCst); // the data changed under the entry
    /// app.clone().oneshot(get()).await.unwrap();
    /// // First no entry, then a match, then a divergence the cache would
    /// // have served.
    /// let stats = cache.stats();
    /// let route = stats.route::<cache_runtime::route!(price)>().unwrap();
    /// assert_eq!((route.shadow_matched, route.shadow_diverged), (1, 1));
    /// # });
    /// ```
    pub fn shadow(mut self, shadow: bool) -> Self {
        self.config.shadow = shadow;
        self
    }

    /// When a Redis connection counts as dead: after `timeouts` calls in a
    /// row time out (default [`DEFAULT_DEAD_AFTER_TIMEOUTS`], 3), or after
    /// timeouts with no call answering for `window` (default
    /// [`DEFAULT_DEAD_AFTER`], 2 s). A dead connection is replaced; behind
    /// Sentinel the sentinels are asked for the master again. This is what
    /// ends a half-open connection (a lost VM, a partition, an isolated old
    /// master), which no error ever closes: with calls going on, it is
    /// replaced within `min(timeouts × timeout, window + timeout)` (600 ms
    /// with the defaults), plus a connection attempt.
    ///
    /// [`DEFAULT_DEAD_AFTER_TIMEOUTS`]: crate::config::DEFAULT_DEAD_AFTER_TIMEOUTS
    /// [`DEFAULT_DEAD_AFTER`]: crate::config::DEFAULT_DEAD_AFTER
    pub fn dead_connection(mut self, timeouts: u32, window: Duration) -> Self {
        self.dead_after = crate::store::DeadAfter {
            timeouts: timeouts.max(1),
            window,
        };
        self
    }

    /// TCP keepalive on every Redis socket: probes after `idle` with no
    /// traffic (default [`DEFAULT_TCP_KEEPALIVE`], 10 s), and, on Linux,
    /// `TCP_USER_TIMEOUT` (default [`DEFAULT_TCP_USER_TIMEOUT`], 10 s): how
    /// long sent data or a probe may go unacknowledged before the kernel
    /// closes the connection. With no calls at all, a half-open connection
    /// is closed after `idle + user_timeout`.
    ///
    /// [`DEFAULT_TCP_KEEPALIVE`]: crate::config::DEFAULT_TCP_KEEPALIVE
    /// [`DEFAULT_TCP_USER_TIMEOUT`]: crate::config::DEFAULT_TCP_USER_TIMEOUT
    pub fn tcp_keepalive(mut self, idle: Duration, user_timeout: Duration) -> Self {
        self.secrets.tcp = crate::store::TcpOptions {
            keepalive: idle.max(Duration::from_secs(1)),
            user_timeout: user_timeout.max(Duration::from_secs(1)),
        };
        self
    }

    /// The deployment's key secret (at least 16 bytes; 32 random bytes are
    /// a good choice), the same on every instance that shares the store;
    /// also read from `ROUTE_CACHE_KEY_SECRET` by
    /// [`RouteCache::from_env`](crate::RouteCache::from_env).
    ///
    /// The credentials a key carries (a `private` route's, or a `vary` on
    /// a credential header) go into it as HMAC-SHA-256 under this secret,
    /// never as the value or a plain hash that a log or a Redis `SCAN`
    /// would let anyone test guesses against; logs name keys by a short
    /// MAC under it too.
    ///
    /// Without one, the MAC is keyed by a public default derived from the
    /// prefix: instances with the same prefix share entries as they would
    /// with a secret, but anyone who reads a key (in Redis) can test
    /// guessed credentials against its digest offline, and the first key
    /// that carries a credential logs a warning when the store is shared.
    /// Setting a secret changes the keys of credentialed entries only (the
    /// old ones are missed once, then expire). A shorter secret is an error
    /// at `build`.
    ///
    /// ```
    /// # async fn demo() -> Result<(), cache_runtime::CacheError> {
    /// let cache = cache_runtime::RouteCache::builder()
    ///     .key_secret("a secret of at least sixteen bytes")
    ///     .build()
    ///     .await?;
    /// assert!(cache.config().has_key_secret());
    /// # Ok(()) }
    /// ```
    pub fn key_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        let secret = secret.as_ref();
        self.short_key_secret = secret.len() < crate::key::secret::MIN_SECRET_LEN;
        self.config.key_secret = crate::key::secret::KeySecret::new(secret);
        self
    }

    /// Request headers that carry credentials, besides `Authorization`,
    /// `Proxy-Authorization` and `Cookie` (for example `x-api-key`). A
    /// request carrying one bypasses routes that do not say how to key it
    /// (`shared`, `private`, `vary`); a `private` route keys on a digest of
    /// it, and a route varying on it sends `Cache-Control: private`.
    /// Names that are not valid header names are reported at
    /// [`build`](Self::build).
    ///
    /// ```
    /// # async fn demo() -> Result<(), cache_runtime::CacheError> {
    /// let cache = cache_runtime::RouteCache::builder()
    ///     .credential_headers(["x-api-key"])
    ///     .build()
    ///     .await?;
    /// assert!(cache.config().credential_headers().any(|h| h == "x-api-key"));
    /// # Ok(()) }
    /// ```
    pub fn credential_headers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in names {
            let name = name.as_ref().trim().to_ascii_lowercase();
            match http::HeaderName::from_bytes(name.as_bytes()) {
                Ok(header) => {
                    if !self.config.is_credential(header.as_str()) {
                        self.config.credential_headers.push(header);
                    }
                }
                Err(_) => self.invalid_credential_headers.push(name),
            }
        }
        self
    }

    /// The targeted cache-control field (RFC 9213) whose directives govern
    /// this cache when a handler's response carries it, in place of
    /// `Cache-Control` (which still goes to clients unchanged). Default
    /// `CDN-Cache-Control`; name another (`Route-Cache-Control`, say) to
    /// keep CDN directives for the CDN, or `None` to turn targeting off.
    ///
    /// ```
    /// use cache_runtime::RouteCache;
    /// use http::HeaderName;
    ///
    /// # async fn run() -> Result<(), cache_runtime::CacheError> {
    /// let cache = RouteCache::builder()
    ///     .targeted_cache_control(Some(HeaderName::from_static("route-cache-control")))
    ///     .build()
    ///     .await?;
    /// let field = cache.config().targeted_cache_control.as_ref();
    /// assert_eq!(field.unwrap(), "route-cache-control");
    /// # Ok(()) }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
    /// ```
    pub fn targeted_cache_control(mut self, field: Option<http::HeaderName>) -> Self {
        self.config.targeted_cache_control = field;
        self
    }

    /// Sends each route's `tags` to an edge cache in front of the app, in
    /// a `Surrogate-Key` and/or `Cache-Tag` response header (hits and
    /// misses alike), so that the edge can purge by tag too. Default
    /// `None`: the tags stay internal.
    pub fn edge_tags(mut self, which: Option<crate::edge::EdgeTags>) -> Self {
        self.config.edge_tags = which;
        self
    }

    /// Purges `edge` (a CDN's or proxy's purge API) whenever this cache is
    /// invalidated by tag or path, `#[invalidates]` included, after its
    /// own entries are gone; see [`EdgePurge`](crate::edge::EdgePurge).
    pub fn edge_purge(mut self, edge: impl crate::edge::EdgePurge) -> Self {
        self.edge = Some(std::sync::Arc::new(edge));
        self
    }

    /// Creates the cache. With Redis, the connection is opened lazily and
    /// kept by a reconnecting manager: an unreachable server is logged and
    /// requests are served uncached until it answers. Must be called inside
    /// a Tokio runtime.
    ///
    /// # Errors
    /// An invalid setting ([`CacheError::InvalidSetting`]: a prefix with a
    /// separator, glob or brace character, a heartbeat of zero or over an
    /// hour) or an unusable Redis URL ([`CacheError::Backend`]).
    pub async fn build(mut self) -> Result<RouteCache, CacheError> {
        check_prefix(&self.config.prefix)?;
        if !self.invalid_credential_headers.is_empty() {
            return Err(CacheError::InvalidSetting {
                setting: "credential_headers",
                rule: "valid HTTP header names (token characters only)",
            });
        }
        if self.short_key_secret {
            return Err(CacheError::InvalidSetting {
                setting: "key_secret",
                rule: "at least 16 bytes",
            });
        }
        if self.bad_explain_header {
            return Err(CacheError::InvalidSetting {
                setting: "explain_header",
                rule: "a valid HTTP header name, and a token of at least 16 bytes",
            });
        }
        if let Some(encoding) = self.config.compression {
            if !encoding.is_available() {
                return Err(CacheError::InvalidSetting {
                    setting: "compression",
                    rule: "an encoding whose cargo feature of cache-runtime is on (`gzip`, `brotli`, `zstd`)",
                });
            }
        }
        if self.config.l1_heartbeat.is_zero()
            || self.config.l1_heartbeat > Duration::from_secs(3600)
        {
            return Err(CacheError::InvalidSetting {
                setting: "l1_heartbeat",
                rule: "between 1 ns and 1 hour",
            });
        }
        let connect = self.config.connect_timeout;
        let tls = &self.secrets;
        let dead = self.dead_after;
        let store = match &self.redis {
            Some(RedisTarget::Standalone(url)) => Store::Redis(
                RedisStore::open(url, connect, tls, dead).map_err(CacheError::Backend)?,
            ),
            Some(RedisTarget::Cluster(seeds)) => Store::Redis(
                RedisStore::open_cluster(seeds, connect, tls, dead).map_err(CacheError::Backend)?,
            ),
            Some(RedisTarget::Sentinel {
                urls,
                master,
                master_tls,
            }) => Store::Redis(
                RedisStore::open_sentinel(urls, master, *master_tls, connect, tls, dead)
                    .map_err(CacheError::Backend)?,
            ),
            None => Store::Memory(MemoryStore::new(
                self.config.embedded_capacity,
                std::sync::Arc::new(crate::observe::StoreGauges::register("embedded")),
            )),
        };
        if !self.config.key_secret.is_configured() {
            let prefix = &self.config.prefix;
            self.config.key_secret =
                crate::key::secret::KeySecret::unconfigured(prefix, store.is_shared());
        }
        let target = self.redis.as_ref().map(|t| t.summary(&self.secrets));
        let cache = RouteCache::with_edge(store, self.config, self.edge, target);
        cache.start().await;
        Ok(cache)
    }
}

/// The constructors that go through the builder: from the environment,
/// or from one Redis URL.
impl RouteCache {
    /// Starts a builder with the default configuration (in-process store).
    pub fn builder() -> RouteCacheBuilder {
        RouteCacheBuilder::default()
    }

    /// A Redis-backed cache with the default configuration.
    ///
    /// # Errors
    /// When the URL is invalid.
    pub async fn redis(url: &str) -> Result<Self, CacheError> {
        Self::builder().redis(url).build().await
    }

    /// Redis Cluster at `$REDIS_CLUSTER_URLS` (comma-separated seed URLs)
    /// when that is set, else the master the sentinels at
    /// `$REDIS_SENTINEL_URLS` know as `$REDIS_SENTINEL_MASTER`, else Redis
    /// at `$REDIS_URL` when that is set, else the in-process store. With the
    /// `tls` feature, `$REDIS_TLS_CA` (a PEM
    /// file) is the CA to trust, and `$REDIS_TLS_CERT` with
    /// `$REDIS_TLS_KEY` the client certificate for mutual TLS.
    ///
    /// Behind Sentinel, `$REDIS_SENTINEL_MASTER_TLS` (`true` or `false`)
    /// says whether the master speaks TLS (by default as the sentinels do),
    /// and `$REDIS_SENTINEL_MASTER_PASSWORD` with
    /// `$REDIS_SENTINEL_MASTER_USERNAME` (default `default`) are the
    /// master's credentials (the sentinels' are in their URLs). On every
    /// backend, `$ROUTE_CACHE_KEY_SECRET` is the
    /// [key secret](RouteCacheBuilder::key_secret).
    ///
    /// Start-up never fails on the cache, and never silently changes what
    /// is shared between instances: when Redis is configured but the
    /// configuration cannot work (an invalid URL, `rediss://` without the
    /// `tls` feature, an unreadable certificate), the error is logged at
    /// `error` and the cache is [disabled](crate::Backend::Disabled): requests are
    /// served uncached, never from a per-process store. Use
    /// [`try_from_env`](Self::try_from_env) to act on the error instead.
    pub async fn from_env() -> Self {
        match Self::try_from_env().await {
            Ok(cache) => cache,
            Err(e) => {
                let reason = crate::error::chain(&e);
                tracing::error!(
                    error = %reason,
                    "route cache: the configuration cannot work; \
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
        // The key secret keys credentials on every backend (a short one
        // is an error on every backend too).
        let mut base = Self::builder();
        if let Some(secret) = var(ROUTE_CACHE_KEY_SECRET_ENV) {
            base = base.key_secret(secret.trim());
        }
        let mut builder = if let Some(urls) = var(REDIS_CLUSTER_URLS_ENV) {
            base.redis_cluster(list(urls))
        } else if let Some(urls) = var(REDIS_SENTINEL_URLS_ENV) {
            let Some(master) = var(REDIS_SENTINEL_MASTER_ENV) else {
                return Err(CacheError::InvalidSetting {
                    setting: REDIS_SENTINEL_MASTER_ENV,
                    rule: "the master's name, with REDIS_SENTINEL_URLS",
                });
            };
            let mut builder = base.redis_sentinel(list(urls), master.trim());
            if let Some(password) = var(REDIS_SENTINEL_MASTER_PASSWORD_ENV) {
                let user = var(REDIS_SENTINEL_MASTER_USERNAME_ENV);
                builder = builder.redis_auth(user.as_deref().unwrap_or("default").trim(), password);
            }
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
            base.redis(url.trim())
        } else {
            // In process: the TLS settings below are Redis's.
            return base.build().await;
        };
        let read = |name: &'static str, path: String| {
            std::fs::read(path.trim()).map_err(|_| CacheError::InvalidSetting {
                setting: name,
                rule: "the path of a readable PEM file",
            })
        };
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn prefixes_that_could_collide_or_glob_are_rejected() {
        for prefix in [
            "", "rc:v2", "a#b", "a*", "a?", "a[b]", "a{b}", "a b", "a\tb", "a\\b",
        ] {
            let built = RouteCache::builder().prefix(prefix).build().await;
            assert!(
                matches!(
                    built,
                    Err(CacheError::InvalidSetting {
                        setting: "prefix",
                        ..
                    })
                ),
                "prefix {prefix:?} must be rejected"
            );
        }
        for prefix in ["rc", "rc-v2", "my_app.v2"] {
            assert!(
                RouteCache::builder().prefix(prefix).build().await.is_ok(),
                "{prefix}"
            );
        }
    }
}
