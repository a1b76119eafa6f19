//! Stampede protection and stale serving on every backend
//! (`backend_matrix!`), and Redis faults against real `redis-server`
//! processes the tests start, stop, pause and restart.

use crate::support;

use axum::{extract::State, http::StatusCode, routing::get, Json, Router};
use cache_runtime::{cached_route, RouteCache, RouteCacheBuilder};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{unique_prefix, Backend, Calls, Fixture, RedisServer, Reply, TestApp};

#[derive(Clone, Default)]
struct Ctl {
    calls: Calls,
    failing: Arc<AtomicBool>,
}

/// A slow miss: long enough for hundreds of requests to pile up on it.
#[cached_route(ttl = 3600)]
async fn slow(State(ctl): State<Ctl>) -> Json<usize> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    Json(ctl.calls.record("slow"))
}

/// The first run fails after a while; later runs succeed.
#[cached_route(ttl = 3600)]
async fn first_fails(State(ctl): State<Ctl>) -> Result<Json<&'static str>, StatusCode> {
    let run = ctl.calls.record("first_fails");
    tokio::time::sleep(Duration::from_millis(200)).await;
    if run == 1 {
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Ok(Json("fine"))
}

/// The first run panics after a while; later runs succeed.
#[cached_route(ttl = 3600)]
async fn first_panics(State(ctl): State<Ctl>) -> Json<&'static str> {
    let run = ctl.calls.record("first_panics");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(run != 1, "the leader panics");
    Json("fine")
}

#[cached_route(ttl = 1, stale = 30)]
async fn stale_ok(State(ctl): State<Ctl>) -> Result<Json<usize>, StatusCode> {
    let run = ctl.calls.record("stale_ok");
    if run > 1 {
        // Refreshes take a while, so a burst arrives while one runs.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    if ctl.failing.load(Ordering::SeqCst) {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    Ok(Json(run))
}

#[cached_route(ttl = 1, stale = 30, stale_if_error = false)]
async fn stale_strict(State(ctl): State<Ctl>) -> Result<Json<usize>, StatusCode> {
    let run = ctl.calls.record("stale_strict");
    if ctl.failing.load(Ordering::SeqCst) {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    Ok(Json(run))
}

#[cached_route(ttl = 3600)]
async fn quick(
    State(ctl): State<Ctl>,
    axum::extract::Path(id): axum::extract::Path<u32>,
) -> Json<(u32, usize)> {
    Json((id, ctl.calls.record("quick")))
}

fn router(ctl: Ctl) -> Router {
    Router::new()
        .route("/slow", get(slow))
        .route("/first-fails", get(first_fails))
        .route("/first-panics", get(first_panics))
        .route("/stale-ok", get(stale_ok))
        .route("/stale-strict", get(stale_strict))
        .route("/quick/{id}", get(quick))
        .with_state(ctl)
}

async fn app(ctl: &Ctl, builder: RouteCacheBuilder) -> (TestApp, RouteCache) {
    let cache = builder.build().await.expect("build cache");
    let app = TestApp::serve(router(ctl.clone()).layer(cache.layer()), ctl.calls.clone()).await;
    (app, cache)
}

fn redis_builder(server: &RedisServer, prefix: &str) -> RouteCacheBuilder {
    RouteCache::builder()
        .prefix(prefix)
        .redis(server.url())
        .timeout(Duration::from_millis(200))
}

/// Fires `n` concurrent GETs at each app (round robin) and collects them.
async fn burst(apps: &[Arc<TestApp>], path: &str, n: usize) -> Vec<Result<Reply, String>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let app = Arc::clone(&apps[i % apps.len()]);
            let path = path.to_owned();
            tokio::spawn(async move { app.try_get(&path).await })
        })
        .collect();
    let mut replies = Vec::with_capacity(n);
    for task in tasks {
        replies.push(task.await.expect("request task"));
    }
    replies
}

backend_matrix!(
    five_hundred_cold_requests_run_the_handler_once,
    a_failing_or_panicking_leader_does_not_leave_followers_hanging,
    stale_entries_are_served_at_once_and_refreshed_once,
    a_failing_refresh_keeps_serving_stale_unless_disabled,
);

/// The test router on `backend`, with a 200 ms backend timeout.
async fn on(backend: Backend, test: &str, ctl: &Ctl) -> (TestApp, Fixture) {
    on_with(backend, test, ctl, Duration::from_millis(200)).await
}

/// The test router on `backend`, with the backend timeout `timeout`.
async fn on_with(backend: Backend, test: &str, ctl: &Ctl, timeout: Duration) -> (TestApp, Fixture) {
    let fixture = Fixture::with(backend, test, |b| b.timeout(timeout)).await;
    let app = TestApp::serve(
        router(ctl.clone()).layer(fixture.cache.layer()),
        ctl.calls.clone(),
    )
    .await;
    (app, fixture)
}

async fn five_hundred_cold_requests_run_the_handler_once(backend: Backend) {
    let ctl = Ctl::default();
    let (app, _fixture) = on_with(backend, "burst", &ctl, support::PATIENT).await;
    let replies = tokio::time::timeout(
        Duration::from_secs(30),
        burst(&[Arc::new(app)], "/slow", 500),
    )
    .await
    .expect("no request hangs");
    for reply in &replies {
        let reply = reply.as_ref().expect("every request answered");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json(), 1, "everyone got the one computed body");
    }
    assert_eq!(ctl.calls.get("slow"), 1, "the handler ran exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_redis_compute_once() {
    let server = RedisServer::start();
    let prefix = unique_prefix("two_instances");
    // One counter across both instances.
    let ctl = Ctl::default();
    let patient = || redis_builder(&server, &prefix).timeout(support::PATIENT);
    let (a, _ca) = app(&ctl, patient()).await;
    let (b, _cb) = app(&ctl, patient()).await;
    let apps = [Arc::new(a), Arc::new(b)];
    let replies = tokio::time::timeout(Duration::from_secs(30), burst(&apps, "/slow", 500))
        .await
        .expect("no request hangs");
    for reply in &replies {
        let reply = reply.as_ref().expect("every request answered");
        assert_eq!(
            (reply.status.as_u16(), reply.json()),
            (200, serde_json::json!(1))
        );
    }
    assert_eq!(
        ctl.calls.get("slow"),
        1,
        "one computation across both instances"
    );
}

async fn a_failing_or_panicking_leader_does_not_leave_followers_hanging(backend: Backend) {
    let ctl = Ctl::default();
    let (app, _fixture) = on(backend, "leader", &ctl).await;
    let app = Arc::new(app);
    for path in ["/first-fails", "/first-panics"] {
        let started = Instant::now();
        let replies = tokio::time::timeout(
            Duration::from_secs(20),
            burst(&[Arc::clone(&app)], path, 50),
        )
        .await
        .expect("followers must not hang");
        let ok = replies
            .iter()
            .filter(|r| {
                r.as_ref()
                    .is_ok_and(|r| r.status == 200 && r.json() == "fine")
            })
            .count();
        assert!(ok >= 49, "{path}: {ok} of 50 got the correct response");
        // Followers did not sit out the whole coalescing bound (5 s).
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{path}: took {:?}",
            started.elapsed()
        );
    }
}

async fn stale_entries_are_served_at_once_and_refreshed_once(backend: Backend) {
    let ctl = Ctl::default();
    let (app, _fixture) = on(backend, "stale", &ctl).await;
    let app = Arc::new(app);
    assert_eq!(app.get("/stale-ok").await.json(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let replies = burst(&[Arc::clone(&app)], "/stale-ok", 20).await;
    for reply in &replies {
        let reply = reply.as_ref().unwrap();
        assert_eq!(reply.x_cache(), "STALE");
        assert_eq!(reply.json(), 1, "the stale body, at once");
        let status = reply.headers["cache-status"].to_str().unwrap();
        assert!(status.starts_with("route-cache; hit; ttl=-"), "{status}");
    }
    let refreshed = wait_until(
        || async { app.get("/stale-ok").await },
        |r| r.x_cache() == "HIT",
    )
    .await;
    assert_eq!(refreshed.json(), 2, "the refreshed body");
    assert_eq!(
        ctl.calls.get("stale_ok"),
        2,
        "twenty stale hits, one refresh"
    );
}

async fn a_failing_refresh_keeps_serving_stale_unless_disabled(backend: Backend) {
    let ctl = Ctl::default();
    let (app, _fixture) = on(backend, "stale_error", &ctl).await;
    assert_eq!(app.get("/stale-ok").await.json(), 1);
    assert_eq!(app.get("/stale-strict").await.json(), 1);
    ctl.failing.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // stale-if-error (the default): the failed refresh leaves the entry.
    for _ in 0..3 {
        let reply = app.get("/stale-ok").await;
        assert_eq!(
            (reply.status.as_u16(), reply.x_cache(), reply.json()),
            (200, "STALE", serde_json::json!(1))
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ctl.calls.get("stale_ok") >= 2, "refreshes were attempted");

    // stale_if_error = false: after the failed refresh the error shows.
    assert_eq!(app.get("/stale-strict").await.x_cache(), "STALE");
    let failed = wait_until(
        || async { app.get("/stale-strict").await },
        |r| r.x_cache() == "MISS",
    )
    .await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
}

/// Polls `get` until `done` holds of its reply (at most 5 s), and returns
/// that reply.
async fn wait_until<F, Fut>(get: F, done: impl Fn(&Reply) -> bool) -> Reply
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let last = std::sync::Mutex::new(None);
    support::eventually_explained(
        Duration::from_secs(5),
        || async {
            let reply = get().await;
            let held = done(&reply);
            *last.lock().unwrap() = Some(reply);
            held
        },
        || {
            last.lock().unwrap().as_ref().map_or_else(String::new, |r| {
                format!(
                    "; the last reply: {} x-cache {:?} cache-status {:?} body {:?}",
                    r.status,
                    r.x_cache(),
                    r.header("cache-status"),
                    r.body
                )
            })
        },
    )
    .await;
    last.into_inner().unwrap().expect("a reply")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_under_load_fails_no_request_and_hits_resume_after_restart() {
    let mut server = RedisServer::start();
    let ctl = Ctl::default();
    let builder = redis_builder(&server, &unique_prefix("kill"))
        .circuit_breaker(5, Duration::from_millis(200));
    let (app, _cache) = app(&ctl, builder).await;
    let app = Arc::new(app);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (app, stop) = (Arc::clone(&app), Arc::clone(&stop));
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0usize, 0usize);
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let id = (w * 7 + i) % 20;
                    match app.try_get(&format!("/quick/{id}")).await {
                        Ok(r) if r.status == 200 && r.json()[0] == id => ok += 1,
                        _ => failed += 1,
                    }
                    i += 1;
                }
                (ok, failed)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.restart();
    // Hits resume within 10 s of the restart.
    let resumed = support::eventually(Duration::from_secs(10), || async {
        app.get("/quick/99").await.x_cache() == "HIT"
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut failed) = (0, 0);
    for worker in workers {
        let (o, f) = worker.await.unwrap();
        ok += o;
        failed += f;
    }
    assert_eq!(failed, 0, "{failed} of {} requests failed", ok + failed);
    assert!(ok > 100, "steady load: {ok} requests");
    assert!(
        resumed < Duration::from_secs(1),
        "hits resumed {resumed:?} after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_opens_the_breaker_so_requests_stop_waiting_on_it() {
    let server = RedisServer::start();
    let ctl = Ctl::default();
    let builder = redis_builder(&server, &unique_prefix("paused"))
        .circuit_breaker(5, Duration::from_secs(30));
    let (app, _cache) = app(&ctl, builder).await;
    app.get("/quick/1").await;
    server.signal_pause(true);
    let mut slow = 0;
    for i in 0..30 {
        let started = Instant::now();
        let reply = app.get(&format!("/quick/{i}")).await;
        assert_eq!(reply.status, 200);
        // A hang detector: every request completes within the timeout.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "request {i} took {:?}",
            started.elapsed()
        );
        if started.elapsed() >= Duration::from_millis(150) {
            slow += 1;
        }
    }
    server.signal_pause(false);
    // Only the requests before the breaker opened waited for Redis.
    assert!(
        slow <= 6,
        "{slow} of 30 requests waited for the paused Redis"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_refusing_writes_still_serves_reads_and_never_fails_a_request() {
    let server = RedisServer::start();
    let ctl = Ctl::default();
    let (app, _cache) = app(&ctl, redis_builder(&server, &unique_prefix("oom"))).await;
    assert_eq!(app.get("/quick/1").await.x_cache(), "MISS");
    server.config_set("maxmemory-policy", "noeviction").await;
    server.config_set("maxmemory", "1").await;
    for round in 0..10 {
        let reply = app.get("/quick/2").await;
        assert_eq!(
            (reply.status.as_u16(), reply.x_cache()),
            (200, "MISS"),
            "round {round}: writes are refused"
        );
        // Reads still work: the error replies did not open the breaker.
        assert_eq!(app.get("/quick/1").await.x_cache(), "HIT", "round {round}");
    }
    assert_eq!(ctl.calls.get("quick"), 11);
}
