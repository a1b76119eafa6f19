//! Observability against real servers: a real Prometheus recorder (its text
//! format, as a scrape sees it) and `cache.stats()` must count every
//! outcome, bypass and refusal exactly, on every backend; the breaker's
//! transitions against a Redis that is killed and restarted; L1 flushes
//! when the subscription is killed; delivery-lag samples after an
//! invalidation; and one span per request that never carries its key.
//!
//! The recorder and the tracing subscriber are process-wide, so the tests
//! in this binary run one at a time and compare scrapes taken before and
//! after.

mod support;

use axum::{
    extract::{Path, State},
    http::{header, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use bytes::Bytes;
use cache_runtime::{cached_route, route, BreakerState, RouteCache};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, OnceLock,
};
use std::time::{Duration, Instant};
use support::{Backend, Calls, Captured, Fixture, RedisServer, TestApp};

/// The recorder (installed before any cache of this binary is built) and
/// the captured `cache_runtime` log lines.
struct Observed {
    prometheus: PrometheusHandle,
    log: Captured,
}

fn observed() -> &'static Observed {
    static OBSERVED: OnceLock<Observed> = OnceLock::new();
    OBSERVED.get_or_init(|| {
        let prometheus = PrometheusBuilder::new()
            .install_recorder()
            .expect("install the Prometheus recorder");
        let log = Captured::default();
        let sink = log.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("cache_runtime=debug"))
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .init();
        Observed { prometheus, log }
    })
}

/// One test at a time (the recorder is shared); installs the recorder.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let guard = SERIAL.lock().await;
    observed();
    guard
}

/// A scrape: the Prometheus text format.
struct Scrape(String);

impl Scrape {
    fn now() -> Self {
        Self(observed().prometheus.render())
    }

    /// The sample of `name` whose labels include every one of `labels`
    /// (summed over the others); 0 when there is none.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
                if metric != name {
                    return None;
                }
                let all = labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
                all.then(|| value.parse::<f64>().ok()).flatten()
            })
            .sum()
    }

    /// How much the sample grew since `before`.
    fn since(&self, before: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels) - before.get(name, labels)
    }
}

fn route_id(handler: &str) -> String {
    format!("observability::{handler}")
}

#[derive(Clone, Default)]
struct Ctl {
    calls: Calls,
    fail: Arc<AtomicBool>,
}

#[cached_route(ttl = 3600)]
async fn plain(State(ctl): State<Ctl>, Path(id): Path<u64>) -> Json<u64> {
    ctl.calls.record("plain");
    Json(id)
}

#[cached_route(ttl = 3600, honor_client = true)]
async fn honoring(State(ctl): State<Ctl>) -> Json<usize> {
    Json(ctl.calls.record("honoring"))
}

#[cached_route(ttl = 3600)]
async fn slow(State(ctl): State<Ctl>) -> Json<usize> {
    ctl.calls.record("slow-started");
    tokio::time::sleep(Duration::from_millis(300)).await;
    Json(ctl.calls.record("slow"))
}

/// Served stale for 30 s while it is refreshed.
#[cached_route(ttl = 1, stale = 30)]
async fn swr(State(ctl): State<Ctl>) -> Json<usize> {
    Json(ctl.calls.record("swr"))
}

/// Stale only in place of a failure (`stale-if-error`).
#[cached_route(ttl = 3600)]
async fn sie(State(ctl): State<Ctl>) -> Response {
    let run = ctl.calls.record("sie");
    if ctl.fail.load(Ordering::SeqCst) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let cc = HeaderValue::from_static("max-age=1, stale-if-error=60");
    ([(header::CACHE_CONTROL, cc)], Json(run)).into_response()
}

/// Confirms an expired entry with a `304` when asked about its tag.
#[cached_route(ttl = 1, revalidate = true, allow_unkeyed = true)]
async fn confirmed(State(ctl): State<Ctl>, headers: axum::http::HeaderMap) -> Response {
    ctl.calls.record("confirmed");
    let tag = HeaderValue::from_static("\"v1\"");
    let cc = HeaderValue::from_static("max-age=1");
    if headers.get(header::IF_NONE_MATCH) == Some(&tag) {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, tag), (header::CACHE_CONTROL, cc)],
        )
            .into_response();
    }
    ([(header::ETAG, tag), (header::CACHE_CONTROL, cc)], "v1").into_response()
}

/// One refusal per `kind`.
#[cached_route(ttl = 3600, max_body = 64)]
async fn refused(State(ctl): State<Ctl>, Path(kind): Path<String>) -> Response {
    ctl.calls.record("refused");
    let ok = |name: header::HeaderName, value: &'static str| {
        ([(name, HeaderValue::from_static(value))], "body").into_response()
    };
    match kind.as_str() {
        "status" => (StatusCode::NOT_FOUND, "none").into_response(),
        "set-cookie" => ok(header::SET_COOKIE, "a=b"),
        "no-store" => ok(header::CACHE_CONTROL, "no-store"),
        "max-age-0" => ok(header::CACHE_CONTROL, "max-age=0"),
        "vary" => ok(header::VARY, "accept-language"),
        "size" => "x".repeat(65).into_response(),
        "headers" => {
            // An entity tag longer than an entry can hold.
            let tag = format!("\"{}\"", "e".repeat(300));
            let tag = HeaderValue::from_str(&tag).unwrap();
            ([(header::ETAG, tag)], "body").into_response()
        }
        _ => "stored".into_response(),
    }
}

/// Served stale for 30 s after its 1 s TTL; every run after the first
/// hangs for 2 s.
#[cached_route(ttl = 1, stale = 30)]
async fn hung(State(ctl): State<Ctl>) -> Json<usize> {
    let run = ctl.calls.record("hung");
    if run > 1 {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Json(run)
}

/// Keys on its whole query string.
#[cached_route(ttl = 3600)]
async fn searched(axum::extract::RawQuery(q): axum::extract::RawQuery) -> String {
    format!("results for {}", q.unwrap_or_default().len())
}

fn router(ctl: Ctl) -> Router {
    Router::new()
        .route("/search", get(searched))
        .route("/hung", get(hung))
        .route("/plain/{id}", get(plain).post(plain))
        .route("/honoring", get(honoring))
        .route("/slow", get(slow))
        .route("/swr", get(swr))
        .route("/sie", get(sie))
        .route("/confirmed", get(confirmed))
        .route("/refused/{kind}", get(refused))
        .with_state(ctl)
}

async fn serve(cache: &RouteCache, ctl: &Ctl) -> TestApp {
    TestApp::serve(router(ctl.clone()).layer(cache.layer()), ctl.calls.clone()).await
}

async fn every_outcome_is_counted_once(backend: Backend) {
    let _serial = serial().await;
    let fixture = Fixture::new(backend, "outcomes").await;
    let ctl = Ctl::default();
    let app = serve(&fixture.cache, &ctl).await;
    // Primed before the first scrape: entries that go stale below.
    assert_eq!(app.get("/swr").await.x_cache(), "MISS");
    assert_eq!(app.get("/sie").await.x_cache(), "MISS");
    assert_eq!(app.get("/confirmed").await.x_cache(), "MISS");
    let before = Scrape::now();

    assert_eq!(app.get("/plain/1").await.x_cache(), "MISS");
    assert_eq!(app.get("/plain/1").await.x_cache(), "HIT");
    let post = app
        .request(Method::POST, "/plain/1", &[], Bytes::new())
        .await;
    assert!(post.header("cache-status").contains("detail=method"));
    for (name, value) in [
        ("authorization", "Bearer t"),
        ("proxy-authorization", "Basic x"),
        ("cookie", "s=1"),
    ] {
        app.request(Method::GET, "/plain/1", &[(name, value)], Bytes::new())
            .await;
    }
    let no_store = [("cache-control", "no-store")];
    app.request(Method::GET, "/honoring", &no_store, Bytes::new())
        .await;
    let no_cache = [("cache-control", "no-cache")];
    app.request(Method::GET, "/honoring", &no_cache, Bytes::new())
        .await;

    // Five at once: one runs the handler, four wait for its entry.
    let app = Arc::new(app);
    let burst: Vec<_> = (0..5)
        .map(|_| {
            let app = Arc::clone(&app);
            tokio::spawn(async move { app.get("/slow").await })
        })
        .collect();
    for reply in burst {
        assert_eq!(reply.await.unwrap().status, StatusCode::OK);
    }
    assert_eq!(ctl.calls.get("slow"), 1);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.get("/swr").await.x_cache(), "STALE");
    // Until the stale entry's refresh.
    support::eventually(Duration::from_secs(5), || async {
        ctl.calls.get("swr") == 2
    })
    .await;
    let reply = app.get("/confirmed").await;
    assert!(
        reply.header("cache-status").contains("fwd-status=304"),
        "{reply:?}"
    );
    ctl.fail.store(true, Ordering::SeqCst);
    let reply = app.get("/sie").await;
    assert_eq!(reply.status, StatusCode::OK, "the stale entry stood in");
    assert_eq!(reply.x_cache(), "STALE");
    // The refresh's store may still be on its way to a shared backend.
    let stats = fixture.cache.stats();
    // Until the refresh stored.
    support::eventually(Duration::from_secs(5), || async {
        // Primed, then refreshed.
        fixture.cache.stats().route::<route!(swr)>().unwrap().stored == 2
    })
    .await;

    let after = Scrape::now();
    let requests = |route: &str, outcome: &str| {
        after.since(
            &before,
            "route_cache_requests_total",
            &[("route", &route_id(route)), ("outcome", outcome)],
        )
    };
    let bypasses = |reason: &str| {
        let routes = [route_id("plain"), route_id("honoring")];
        routes
            .iter()
            .map(|route| {
                after.since(
                    &before,
                    "route_cache_bypasses_total",
                    &[("route", route), ("reason", reason)],
                )
            })
            .sum::<f64>()
    };
    assert_eq!(requests("plain", "miss"), 1.0);
    assert_eq!(requests("plain", "hit"), 1.0);
    assert_eq!(requests("plain", "bypass"), 4.0);
    for reason in ["method", "authorization", "proxy-authorization", "cookie"] {
        assert_eq!(bypasses(reason), 1.0, "bypass {reason}");
    }
    assert_eq!(bypasses("no-store"), 1.0);
    assert_eq!(requests("honoring", "bypass"), 1.0);
    assert_eq!(
        requests("honoring", "miss"),
        1.0,
        "no-cache: a fresh answer"
    );
    assert_eq!(requests("slow", "miss"), 1.0);
    assert_eq!(requests("slow", "collapsed"), 4.0);
    assert_eq!(requests("swr", "stale"), 1.0);
    assert_eq!(requests("sie", "stale"), 1.0);
    assert_eq!(requests("sie", "miss"), 0.0, "served stale, not the 500");
    let stale_on_error = |route: &str| {
        after.since(
            &before,
            "route_cache_stale_on_error_total",
            &[("route", &route_id(route))],
        )
    };
    assert_eq!(requests("confirmed", "revalidated"), 1.0);
    assert_eq!(stale_on_error("sie"), 1.0);
    assert_eq!(stale_on_error("swr"), 0.0, "a refresh is not an error");
    let stores = |route: &str| {
        after.since(
            &before,
            "route_cache_stores_total",
            &[("route", &route_id(route))],
        )
    };
    assert_eq!(stores("plain"), 1.0);
    assert_eq!(stores("honoring"), 1.0, "no-cache refreshes the entry");
    assert_eq!(stores("slow"), 1.0);
    assert_eq!(stores("swr"), 1.0, "the background refresh");
    let handler_runs = after.since(
        &before,
        "route_cache_handler_seconds_count",
        &[("route", &route_id("plain"))],
    );
    assert_eq!(handler_runs, 1.0, "timed once: the miss");
    let entry_sizes = after.since(
        &before,
        "route_cache_entry_bytes_count",
        &[("route", &route_id("plain"))],
    );
    assert_eq!(entry_sizes, 1.0);

    // The snapshot agrees, for this cache alone.
    let plain = *stats.route::<route!(plain)>().expect("plain was served");
    assert_eq!(
        (plain.hits, plain.misses, plain.bypassed, plain.stored),
        (1, 1, 4, 1)
    );
    assert_eq!(plain.hit_ratio(), 0.5);
    let slow = stats.route::<route!(slow)>().unwrap();
    assert_eq!((slow.misses, slow.collapsed), (1, 4));
    assert_eq!(slow.hit_ratio(), 0.8);
    let sie = stats.route::<route!(sie)>().unwrap();
    // Primed (a miss), then stale in place of the 500.
    assert_eq!((sie.misses, sie.stale, sie.stale_on_error), (1, 1, 1));
    assert_eq!(stats.backend_errors, 0);
    assert_eq!(stats.breaker, BreakerState::Closed);
}

async fn every_refusal_is_counted_by_reason(backend: Backend) {
    let _serial = serial().await;
    let fixture = Fixture::new(backend, "refusals").await;
    let ctl = Ctl::default();
    let app = serve(&fixture.cache, &ctl).await;
    let before = Scrape::now();
    let kinds = [
        ("status", "status"),
        ("set-cookie", "set-cookie"),
        ("no-store", "cache-control"),
        ("max-age-0", "cache-control"),
        ("vary", "vary"),
        ("size", "size"),
        ("headers", "headers"),
    ];
    for (kind, _) in kinds {
        let reply = app.get(&format!("/refused/{kind}")).await;
        assert_eq!(reply.x_cache(), "MISS", "{kind}");
        assert!(!reply.header("cache-status").contains("stored"), "{kind}");
    }
    assert_eq!(app.get("/refused/fine").await.x_cache(), "MISS");
    let after = Scrape::now();
    let route = route_id("refused");
    for reason in ["status", "set-cookie", "vary", "size", "headers"] {
        let counted = after.since(
            &before,
            "route_cache_refusals_total",
            &[("route", &route), ("reason", reason)],
        );
        assert_eq!(counted, 1.0, "refused for {reason}");
    }
    let cc = after.since(
        &before,
        "route_cache_refusals_total",
        &[("route", &route), ("reason", "cache-control")],
    );
    assert_eq!(cc, 2.0, "no-store and max-age=0");
    let stored = after.since(&before, "route_cache_stores_total", &[("route", &route)]);
    assert_eq!(stored, 1.0, "only the storable one");
    let stats = fixture.cache.stats();
    let refused = stats.route::<route!(refused)>().unwrap();
    assert_eq!((refused.misses, refused.refused, refused.stored), (8, 7, 1));
    if backend == Backend::Embedded {
        // What the in-process store holds: the one stored entry.
        assert_eq!(stats.entries, 1);
        assert!(stats.bytes > 0);
        let entries = after.get("route_cache_store_entries", &[("tier", "embedded")]);
        assert_eq!(entries, 1.0);
    }
}

backend_matrix!(
    every_outcome_is_counted_once,
    every_refusal_is_counted_by_reason,
    an_abandoned_background_refresh_is_counted_and_logged
);

/// A background refresh whose handler outlives the lease (300 ms here) is
/// abandoned: counted as the refusal `refresh-abandoned`, logged, and the
/// stale entry stays in place.
async fn an_abandoned_background_refresh_is_counted_and_logged(backend: Backend) {
    let _serial = serial().await;
    let f = Fixture::with(backend, "abandoned", |b| {
        b.lease_ttl(Duration::from_millis(300))
    })
    .await;
    let ctl = Ctl::default();
    let app = serve(&f.cache, &ctl).await;
    assert_eq!(app.get("/hung").await.x_cache(), "MISS");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = Scrape::now();
    let logged_before = observed()
        .log
        .text()
        .matches("background refresh abandoned")
        .count();
    let stale = app.get("/hung").await;
    assert_eq!(stale.x_cache(), "STALE", "served stale, refreshing");
    assert_eq!(stale.json(), 1);
    let abandoned = || {
        Scrape::now().since(
            &before,
            "route_cache_refusals_total",
            &[
                ("route", &route_id("hung")),
                ("reason", "refresh-abandoned"),
            ],
        )
    };
    // Until the refresh is abandoned.
    support::eventually(Duration::from_secs(2), || async { abandoned() == 1.0 }).await;
    let logged = observed()
        .log
        .text()
        .matches("background refresh abandoned")
        .count();
    assert_eq!(logged, logged_before + 1, "logged once");
    let after = app.get("/hung").await;
    assert_eq!(after.json(), 1, "the stale entry stays as it was");
    assert_eq!(after.x_cache(), "STALE");
}

/// Backend errors by operation and kind, the breaker opening and closing
/// again, and a write Redis refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_faults_and_the_breaker_are_counted() {
    let _serial = serial().await;
    let mut server = RedisServer::start();
    let cache = RouteCache::builder()
        .prefix(support::unique_prefix("faults"))
        .redis(server.url())
        .timeout(Duration::from_millis(100))
        .circuit_breaker(2, Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let ctl = Ctl::default();
    let app = serve(&cache, &ctl).await;
    let start = Scrape::now();
    assert_eq!(app.get("/plain/1").await.x_cache(), "MISS");
    // The miss's lease is released in the background: let that call end
    // before Redis goes, or it would be a failure the breaker counts too.
    let releases = |scrape: &Scrape| {
        scrape.since(
            &start,
            "route_cache_backend_seconds_count",
            &[("op", "release")],
        )
    };
    // Until the lease released.
    support::eventually(Duration::from_secs(2), || async {
        releases(&Scrape::now()) == 1.0
    })
    .await;
    let before = Scrape::now();

    server.stop();
    for id in 2..6 {
        let reply = app.get(&format!("/plain/{id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "fails open");
        assert!(reply.header("cache-status").contains("backend-error"));
    }
    let down = Scrape::now();
    let errors = |scrape: &Scrape, kind: &str| {
        scrape.since(
            &before,
            "route_cache_backend_errors_total",
            &[("op", "get"), ("kind", kind)],
        )
    };
    let failed = errors(&down, "unavailable") + errors(&down, "timeout");
    assert_eq!(failed, 2.0, "two calls failed, then the circuit opened");
    assert_eq!(errors(&down, "circuit-open"), 2.0, "two calls skipped");
    let opened = down.since(
        &before,
        "route_cache_breaker_transitions_total",
        &[("to", "open")],
    );
    assert_eq!(opened, 1.0);
    assert_eq!(down.get("route_cache_breaker_state", &[]), 2.0);
    assert_eq!(cache.stats().breaker, BreakerState::Open);
    let requests = down.since(
        &before,
        "route_cache_requests_total",
        &[("route", &route_id("plain")), ("outcome", "error")],
    );
    assert_eq!(requests, 4.0);
    assert_eq!(cache.stats().route::<route!(plain)>().unwrap().errors, 4);

    server.restart();
    let started = Instant::now();
    while cache.stats().breaker != BreakerState::Closed {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the circuit closed again"
        );
        app.get("/plain/1").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let up = Scrape::now();
    let moved = |to: &str| {
        up.since(
            &before,
            "route_cache_breaker_transitions_total",
            &[("to", to)],
        )
    };
    assert_eq!(moved("closed"), 1.0);
    assert!(moved("half-open") >= 1.0, "probed before closing");
    assert_eq!(up.get("route_cache_breaker_state", &[]), 0.0);
    let get_calls = up.since(
        &before,
        "route_cache_backend_seconds_count",
        &[("op", "get")],
    );
    assert!(get_calls >= 3.0, "calls are timed: {get_calls}");

    // A write Redis refuses (out of memory) is not stored, and says why.
    server.config_set("maxmemory", "1").await;
    let before = Scrape::now();
    assert_eq!(app.get("/plain/99").await.x_cache(), "MISS");
    let after = Scrape::now();
    let refused = after.since(
        &before,
        "route_cache_refusals_total",
        &[("route", &route_id("plain")), ("reason", "store-failed")],
    );
    assert_eq!(refused, 1.0);
    let rejected = after.since(
        &before,
        "route_cache_backend_errors_total",
        &[("op", "set"), ("kind", "rejected")],
    );
    assert_eq!(rejected, 1.0);
}

async fn l1_pair(server: &RedisServer, test: &str) -> (RouteCache, RouteCache) {
    let prefix = support::unique_prefix(test);
    let build = || {
        RouteCache::builder()
            .prefix(prefix.clone())
            .redis(server.url())
            .l1_capacity(1 << 20)
            .l1_heartbeat(Duration::from_millis(200))
            .build()
    };
    let (a, b) = (build().await.unwrap(), build().await.unwrap());
    support::wait_for_l1(&a).await;
    support::wait_for_l1(&b).await;
    (a, b)
}

/// L1 hits, flushes by cause when the subscription is killed, the live
/// gauge, and one delivery-lag sample per invalidation another instance
/// receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_l1_reports_hits_flushes_and_delivery_lag() {
    let _serial = serial().await;
    let server = RedisServer::start();
    let (cache_a, cache_b) = l1_pair(&server, "l1_metrics").await;
    let ctl = Ctl::default();
    let (a, b) = (serve(&cache_a, &ctl).await, serve(&cache_b, &ctl).await);
    let lag = |scrape: &Scrape| scrape.get("route_cache_l1_delivery_lag_seconds_count", &[]);

    // A stores (B hears of the write), B reads it from Redis, then from
    // its L1.
    let before = Scrape::now();
    assert_eq!(a.get("/plain/1").await.x_cache(), "MISS");
    // Until B heard A's write.
    support::eventually(Duration::from_secs(2), || async {
        lag(&Scrape::now()) > lag(&before)
    })
    .await;
    assert_eq!(b.get("/plain/1").await.x_cache(), "HIT");
    assert_eq!(b.get("/plain/1").await.x_cache(), "HIT");
    assert_eq!(cache_b.stats().l1_hits, 1);

    // One invalidation on A: one lag sample at B, heartbeats add none.
    let before = Scrape::now();
    assert_eq!(cache_a.invalidate("/plain/1").await.unwrap(), 1);
    // Until B received the invalidation.
    support::eventually(Duration::from_secs(2), || async {
        lag(&Scrape::now()) - lag(&before) >= 1.0
    })
    .await;
    // And no second sample follows.
    let lagged = support::settled(
        Duration::from_millis(500),
        Duration::from_secs(5),
        |_| false,
        || async { lag(&Scrape::now()) - lag(&before) },
    )
    .await;
    assert_eq!(lagged, 1.0);
    let after = Scrape::now();
    let purged = after.since(
        &before,
        "route_cache_invalidated_keys_total",
        &[("kind", "path")],
    );
    assert_eq!(purged, 1.0);
    assert_eq!(cache_a.stats().invalidations, 1);

    // Killing both subscriptions flushes both L1s, once each.
    let before = Scrape::now();
    let mut conn = server.connect().await;
    let killed: u32 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(killed >= 2);
    let flushes = |scrape: &Scrape| {
        scrape.since(
            &before,
            "route_cache_l1_flushes_total",
            &[("cause", "subscription-lost")],
        )
    };
    // Until both L1s flushed.
    support::eventually(Duration::from_secs(3), || async {
        flushes(&Scrape::now()) >= 2.0
    })
    .await;
    support::wait_for_l1(&cache_a).await;
    support::wait_for_l1(&cache_b).await;
    assert_eq!(flushes(&Scrape::now()), 2.0);
    assert_eq!(cache_b.stats().l1_flushes, 1);
    assert_eq!(Scrape::now().get("route_cache_l1_live", &[]), 1.0);
}

#[cached_route(ttl = 3600, private = true)]
async fn spanned(State(ctl): State<Ctl>, Path(id): Path<u64>) -> Json<u64> {
    ctl.calls.record("spanned");
    Json(id)
}

/// One span per request with its route and outcome, a short key hash and
/// never the key or a credential; a debug event for each decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_has_one_span_without_its_key() {
    let _serial = serial().await;
    let cache = RouteCache::embedded();
    let ctl = Ctl::default();
    let router = router(ctl.clone()).route("/spanned/{id}", get(spanned).with_state(ctl.clone()));
    let app = TestApp::serve(router.layer(cache.layer()), ctl.calls.clone()).await;
    let log = &observed().log;
    log.clear();
    let secret = [("authorization", "Bearer very-secret-token")];
    for _ in 0..2 {
        app.request(Method::GET, "/spanned/424242", &secret, Bytes::new())
            .await;
    }
    app.request(Method::GET, "/plain/7", &[("cookie", "s=1")], Bytes::new())
        .await;
    app.get("/refused/set-cookie").await;
    let text = log.text();
    let closes: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("route_cache{") && l.contains(": close"))
        .collect();
    let spanned_route = route_id("spanned");
    let of_route = |outcome: &str| {
        closes
            .iter()
            .filter(|l| l.contains(&spanned_route) && l.contains(&format!("outcome=\"{outcome}\"")))
            .count()
    };
    assert_eq!(of_route("miss"), 1, "{text}");
    assert_eq!(of_route("hit"), 1, "{text}");
    assert!(
        closes.iter().all(|l| !l.contains("424242")),
        "no path or key in a span:\n{text}"
    );
    assert!(
        !text.contains("very-secret-token"),
        "no credential:\n{text}"
    );
    let hashed = closes
        .iter()
        .filter(|l| l.contains(&spanned_route) && l.contains("key_hash="))
        .count();
    assert_eq!(hashed, 2, "{text}");
    // Decisions, as debug events inside the request's span.
    assert!(
        text.lines().any(|l| l.contains("route cache: bypass")
            && l.contains("reason=\"cookie\"")
            && l.contains(&route_id("plain"))),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.contains("response not stored")
            && l.contains("reason=\"set-cookie\"")
            && l.contains(&route_id("refused"))),
        "{text}"
    );
}

/// A disabled cache (a backend configuration that cannot work) and a
/// router without the layer: every request bypasses, by reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_cache_and_a_missing_layer_are_bypasses() {
    let _serial = serial().await;
    let ctl = Ctl::default();
    let disabled = RouteCache::disabled("test: no backend");
    let app = serve(&disabled, &ctl).await;
    let bare = TestApp::serve(router(ctl.clone()), ctl.calls.clone()).await;
    let before = Scrape::now();
    for _ in 0..2 {
        assert!(app
            .get("/plain/1")
            .await
            .header("cache-status")
            .contains("cache-disabled"));
        assert_eq!(bare.get("/plain/1").await.x_cache(), "");
    }
    let after = Scrape::now();
    let route = route_id("plain");
    let bypassed = |reason: &str| {
        after.since(
            &before,
            "route_cache_bypasses_total",
            &[("route", &route), ("reason", reason)],
        )
    };
    assert_eq!(bypassed("cache-disabled"), 2.0);
    assert_eq!(bypassed("no-layer"), 2.0);
    let requests = after.since(
        &before,
        "route_cache_requests_total",
        &[("route", &route), ("outcome", "bypass")],
    );
    assert_eq!(requests, 4.0);
    assert_eq!(
        disabled.stats().route::<route!(plain)>().unwrap().bypassed,
        2
    );
    assert_eq!(ctl.calls.get("plain"), 4, "every request ran the handler");
}

/// A client that goes away while the handler runs still leaves its
/// request in the counts (as a miss).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_cut_off_mid_miss_is_counted() {
    use tokio::io::AsyncWriteExt;
    let _serial = serial().await;
    let cache = RouteCache::embedded();
    let ctl = Ctl::default();
    let app = serve(&cache, &ctl).await;
    let before = Scrape::now();
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: app.test\r\n\r\n")
        .await
        .unwrap();
    // Once the handler runs, and before it answers (300 ms).
    support::eventually(Duration::from_secs(5), || async {
        ctl.calls.get("slow-started") >= 1
    })
    .await;
    drop(stream);
    let route = route_id("slow");
    let misses = || {
        Scrape::now().since(
            &before,
            "route_cache_requests_total",
            &[("route", &route), ("outcome", "miss")],
        )
    };
    // Until the cut-off request was counted.
    support::eventually(Duration::from_secs(3), || async { misses() == 1.0 }).await;
    assert_eq!(cache.stats().route::<route!(slow)>().unwrap().misses, 1);
    assert_eq!(ctl.calls.get("slow"), 0, "the handler never finished");
}

/// The fault paths with every log line captured: corrupt entries, a
/// stopped Redis, failed saves and invalidations. No line carries a stored
/// key, the query string a key holds, a credential or its digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_carries_a_key_a_query_or_a_credential_digest() {
    let _serial = serial().await;
    let mut server = RedisServer::start();
    let cache = RouteCache::builder()
        .prefix(support::unique_prefix("log_secrets"))
        .redis(server.url())
        .key_secret("the deployment secret of this test")
        .timeout(Duration::from_millis(200))
        .circuit_breaker(1000, Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    let ctl = Ctl::default();
    let router = router(ctl.clone()).route("/spanned/{id}", get(spanned).with_state(ctl.clone()));
    let app = TestApp::serve(router.layer(cache.layer()), ctl.calls.clone()).await;
    let logged_from = observed().log.text().len();
    let query = "q=needle-in-the-query&page=7";
    let search = format!("/search?{query}");
    let bearer = "Bearer alice-credential";
    let auth = [("authorization", bearer)];
    let private = |id: u32| format!("/spanned/{id}");
    let mut keys = Vec::new();
    for id in 1..=3 {
        let get = |path: &str| {
            let mut request = http::Request::get(path).body(()).unwrap();
            request
                .headers_mut()
                .insert("authorization", bearer.parse().unwrap());
            request
        };
        keys.push(
            cache
                .key_for_request::<route!(spanned)>(&get(&private(id)))
                .unwrap(),
        );
    }
    keys.push(cache.key_for::<route!(searched)>(&search).unwrap());
    // Filled, then corrupted in place: an undecodable entry is logged.
    assert_eq!(app.get(&search).await.x_cache(), "MISS");
    let request = |path: String| {
        let app = &app;
        async move { app.request(Method::GET, &path, &auth, Bytes::new()).await }
    };
    assert_eq!(request(private(1)).await.x_cache(), "MISS");
    let mut conn = server.connect().await;
    for key in &keys[..] {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg("not an entry")
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    assert_eq!(app.get(&search).await.x_cache(), "MISS");
    assert_eq!(request(private(1)).await.x_cache(), "MISS");
    // Redis stops: lookups, saves and invalidations fail, and are logged.
    server.stop();
    for id in 2..=3 {
        assert_eq!(request(private(id)).await.status, StatusCode::OK);
    }
    assert_eq!(app.get(&search).await.status, StatusCode::OK);
    assert!(cache.invalidate(&search).await.is_err());
    // The log lines are written as the faults happen; wait until they
    // stop coming.
    support::settled(
        Duration::from_millis(200),
        Duration::from_secs(5),
        |_| false,
        || async { observed().log.text().len() },
    )
    .await;
    let text = observed().log.text()[logged_from..].to_owned();
    assert!(
        text.contains("undecodable entry") && text.contains("backend fault"),
        "the faults were logged: {text}"
    );
    assert!(text.contains("key_hash="), "keys are named by their hash");
    let mut secrets: Vec<String> = vec![
        query.to_owned(),
        "needle-in-the-query".to_owned(),
        "alice-credential".to_owned(),
    ];
    for key in &keys {
        secrets.push(key.clone());
        // The key's credential digest, and its request part.
        if let Some((_, digest)) = key.split_once("hmac.") {
            secrets.push(digest.chars().take(64).collect());
        }
        if let Some((_, rest)) = key.split_once(":GET:") {
            secrets.push(rest.to_owned());
        }
    }
    for secret in &secrets {
        let line = text.lines().find(|line| line.contains(secret.as_str()));
        assert!(line.is_none(), "{secret:?} logged: {line:?}");
    }
    println!(
        "{} log lines checked for {} secrets",
        text.lines().count(),
        secrets.len()
    );
}

/// Without a key secret, in front of a shared store, the first key that
/// carries a credential warns that its digest uses the public default;
/// building such a cache is quiet, and one with a secret never warns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_keyed_without_a_secret_warns() {
    let _serial = serial().await;
    let warning = "no key secret (ROUTE_CACHE_KEY_SECRET";
    let server = RedisServer::start();
    let build = |secret: Option<&str>| {
        let builder = RouteCache::builder()
            .prefix(support::unique_prefix("no_secret"))
            .redis(server.url());
        match secret {
            Some(secret) => builder.key_secret(secret),
            None => builder,
        }
        .build()
    };
    let request = |cache: &RouteCache| {
        let mut request = http::Request::get("/spanned/1").body(()).unwrap();
        request
            .headers_mut()
            .insert("authorization", "Bearer x".parse().unwrap());
        cache.key_for_request::<route!(spanned)>(&request).unwrap()
    };
    let with_secret = build(Some("a secret of sixteen bytes or more"))
        .await
        .unwrap();
    let before = observed().log.text().len();
    request(&with_secret);
    let quiet = &observed().log.text()[before..];
    assert!(!quiet.contains(warning), "{quiet}");
    let without = build(None).await.unwrap();
    request(&without);
    assert!(
        observed().log.text().contains(warning),
        "the first credential keyed without a secret warns"
    );
}

static SHADOW_VERSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[cached_route(ttl = 60, shadow = true)]
async fn shadowed() -> String {
    format!("version {}", SHADOW_VERSION.load(Ordering::SeqCst))
}

/// Shadow mode's counter by outcome, the age of a divergence in its
/// histogram, and one rate-limited `debug` line naming the key's hash and
/// the first differing byte, never the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_comparisons_are_counted_and_divergence_ages_recorded() {
    let _serial = serial().await;
    let cache = RouteCache::embedded();
    let router = Router::new()
        .route("/shadowed", axum::routing::get(shadowed))
        .layer(cache.layer());
    let app = TestApp::serve(router, Calls::default()).await;
    let route = route_id("shadowed");
    let before = Scrape::now();
    observed().log.clear();
    assert_eq!(app.get("/shadowed").await.x_cache(), "MISS");
    assert_eq!(app.get("/shadowed").await.x_cache(), "MISS");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    SHADOW_VERSION.fetch_add(1, Ordering::SeqCst);
    let diverged = app.get("/shadowed").await;
    assert_eq!(diverged.x_cache(), "MISS");
    assert_eq!(diverged.body, "version 1", "the handler's own answer");
    let after = Scrape::now();
    let shadow = |outcome: &str| {
        after.since(
            &before,
            "route_cache_shadow_total",
            &[("route", &route), ("outcome", outcome)],
        )
    };
    assert_eq!(shadow("no-entry"), 1.0);
    assert_eq!(shadow("match"), 1.0);
    assert_eq!(shadow("diverged"), 1.0);
    let age = |suffix: &str| {
        after.since(
            &before,
            &format!("route_cache_shadow_divergence_age_seconds_{suffix}"),
            &[("route", &route)],
        )
    };
    assert_eq!(age("count"), 1.0);
    assert!(
        age("sum") >= 1.0,
        "the entry was over a second old: {}",
        age("sum")
    );
    let log = observed().log.text();
    let line = log
        .lines()
        .find(|l| l.contains("shadow mode: the stored entry differs"))
        .unwrap_or_else(|| panic!("a debug line: {log}"));
    assert!(
        line.contains("key_hash=") && line.contains("offset=8"),
        "{line}"
    );
    assert!(!line.contains("/shadowed"), "never the key: {line}");
}
