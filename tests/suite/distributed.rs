//! Invalidation (by path, tag, route, namespace, everything, and through
//! `#[invalidates]`), the coherent two-tier cache across instances, and
//! cross-instance stampede protection, against real Redis, a real 3-master
//! Redis Cluster and the in-process store, over real HTTP.

use crate::support;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::get,
    Json, Router,
};
use cache_runtime::{cached_route, invalidates, route, RouteCache};
use http::Method;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use support::{Backend, Calls, Fixture, RedisServer, TestApp};

#[cached_route(ttl = 3600, tags = ["item:{id}", "items"], vary = ["accept-language"])]
async fn item(State(calls): State<Calls>, Path(id): Path<u64>) -> Json<(u64, usize)> {
    Json((id, calls.record("item")))
}

#[cached_route(ttl = 3600, tags = ["items"])]
async fn listing(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("listing"))
}

#[cached_route(ttl = 3600, namespace = "v2")]
async fn versioned(State(calls): State<Calls>, Path(id): Path<u64>) -> Json<(u64, usize)> {
    Json((id, calls.record("versioned")))
}

/// Re-stored on demand: the client's `no-cache` is honoured here.
#[cached_route(ttl = 3600, honor_client = true)]
async fn refreshable(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("refreshable"))
}

#[invalidates(tags = ["item:{id}"], paths = ["/items"])]
async fn update_item(Path(id): Path<u64>, Json(ok): Json<bool>) -> StatusCode {
    let _ = id;
    if ok {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// Named by a string id, which may hold `/`, `?` or `%`.
#[cached_route(ttl = 3600)]
async fn named(State(calls): State<Calls>, Path(name): Path<String>) -> String {
    format!("{name} {}", calls.record("named"))
}

#[invalidates(paths = ["/named/{name}"])]
async fn rename(Path(name): Path<String>) -> StatusCode {
    let _ = name;
    StatusCode::NO_CONTENT
}

/// Commits at once, then takes a while to answer: a client giving up in
/// between must not cancel the invalidation.
#[invalidates(tags = ["items"])]
async fn slow_update(State(calls): State<Calls>) -> StatusCode {
    calls.record("commit");
    tokio::time::sleep(Duration::from_millis(300)).await;
    StatusCode::NO_CONTENT
}

/// Slow to compute, so that concurrent cold requests overlap.
#[cached_route(ttl = 3600)]
async fn slow(State(calls): State<Calls>) -> Json<usize> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    Json(calls.record("slow"))
}

fn router(calls: Calls) -> Router {
    Router::new()
        .route("/items/{id}", get(item).put(update_item))
        .route("/items", get(listing))
        .route("/v2/{id}", get(versioned))
        .route("/refreshable", get(refreshable))
        .route("/slow", get(slow))
        .route("/named/{name}", get(named).put(rename))
        .route("/slow-update", axum::routing::post(slow_update))
        .with_state(calls)
}

async fn serve(cache: &RouteCache, calls: &Calls) -> TestApp {
    TestApp::serve(router(calls.clone()).layer(cache.layer()), calls.clone()).await
}

async fn setup(backend: Backend, test: &str) -> (Fixture, TestApp) {
    let fixture = Fixture::new(backend, test).await;
    let app = serve(&fixture.cache, &Calls::default()).await;
    (fixture, app)
}

async fn get_with(app: &TestApp, path: &str, language: &str) -> support::Reply {
    app.request(
        Method::GET,
        path,
        &[("accept-language", language)],
        bytes::Bytes::new(),
    )
    .await
}

backend_matrix!(
    invalidating_a_path_drops_every_variant_and_nothing_else,
    invalidating_a_tag_drops_exactly_the_tagged_entries,
    invalidates_attribute_drops_entries_after_success_only,
    routes_namespaces_and_everything_can_be_invalidated,
    concurrent_cold_requests_on_two_instances_compute_once,
    invalidates_paths_reach_ids_that_need_encoding,
    a_cancelled_write_still_invalidates,
    lookups_racing_an_invalidation_keep_nothing_it_removed,
    lookups_racing_a_write_keep_nothing_older,
);

/// Six tasks firing GETs of one path until stopped.
struct Hammer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Hammer {
    fn start(app: &Arc<TestApp>, path: &str) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers = (0..6)
            .map(|_| {
                let (app, stop, path) = (Arc::clone(app), Arc::clone(&stop), path.to_owned());
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        app.get(&path).await;
                    }
                })
            })
            .collect();
        Self { stop, readers }
    }

    async fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for reader in self.readers {
            reader.await.expect("reader");
        }
    }
}

/// Lookups racing an invalidation may read the entry just before its
/// delete, and answer with it; but once the invalidation has returned, no
/// request is served the removed entry (an L1 keeps nothing read before
/// the delete, though its instance ignores its own invalidation message).
async fn lookups_racing_an_invalidation_keep_nothing_it_removed(backend: Backend) {
    let (f, app) = setup(backend, "racing_lookups").await;
    let app = Arc::new(app);
    for round in 0..40 {
        let path = format!("/v2/{round}");
        let removed = app.get(&path).await.json()[1].clone();
        support::eventually(Duration::from_secs(5), || async {
            app.get(&path).await.x_cache() == "HIT"
        })
        .await;
        let readers = Hammer::start(&app, &path);
        tokio::time::sleep(Duration::from_millis(5)).await;
        f.cache.invalidate(&path).await.expect("invalidate");
        for _ in 0..5 {
            let after = app.get(&path).await;
            assert_ne!(
                after.json()[1],
                removed,
                "round {round}: served the removed entry ({}) after the invalidation",
                after.x_cache()
            );
        }
        readers.stop().await;
    }
}

/// Lookups racing a write of an entry (a client's `no-cache` storing it
/// again) may read the old one just before it lands, and answer with it;
/// but once the write is done, every request gets the new one (an L1
/// keeps nothing read before the write, though its instance ignores its
/// own message).
async fn lookups_racing_a_write_keep_nothing_older(backend: Backend) {
    let (f, app) = setup(backend, "racing_writes").await;
    let app = Arc::new(app);
    let stored = || {
        f.cache
            .stats()
            .route::<route!(refreshable)>()
            .map_or(0, |r| r.stored)
    };
    app.get("/refreshable").await;
    for round in 0..40 {
        let readers = Hammer::start(&app, "/refreshable");
        tokio::time::sleep(Duration::from_millis(5)).await;
        let before = stored();
        let again = app
            .request(
                Method::GET,
                "/refreshable",
                &[("cache-control", "no-cache")],
                bytes::Bytes::new(),
            )
            .await;
        support::eventually(Duration::from_secs(5), || async { stored() > before }).await;
        for _ in 0..5 {
            let after = app.get("/refreshable").await;
            assert_eq!(
                after.json(),
                again.json(),
                "round {round}: served an entry older than the last write ({})",
                after.x_cache()
            );
        }
        readers.stop().await;
    }
}

/// `#[invalidates(paths = ["/named/{name}"])]` formats the decoded id in
/// the encoded form the request path has. The layer's own invalidation of
/// an unsafe request's target is off here: it would drop the entry of the
/// `PUT`'s path whatever the attribute formats.
async fn invalidates_paths_reach_ids_that_need_encoding(backend: Backend) {
    let f = Fixture::with(backend, "inv_encoded", |b| b.invalidate_unsafe(false)).await;
    let app = serve(&f.cache, &Calls::default()).await;
    for encoded in ["a%2Fb", "a%3Fb", "100%2541", "caf%C3%A9", "plain"] {
        let path = format!("/named/{encoded}");
        assert_eq!(app.get(&path).await.x_cache(), "MISS", "{path}");
        assert_eq!(app.get(&path).await.x_cache(), "HIT", "{path}");
        let put = app
            .request(Method::PUT, &path, &[], bytes::Bytes::new())
            .await;
        assert_eq!(put.status, StatusCode::NO_CONTENT);
        assert_eq!(
            app.get(&path).await.x_cache(),
            "MISS",
            "{path} was invalidated"
        );
    }
}

/// A client that disconnects after the handler's commit (while it is
/// still answering) does not cancel the invalidation: a second client
/// sees a miss.
async fn a_cancelled_write_still_invalidates(backend: Backend) {
    use tokio::io::AsyncWriteExt;
    let (_f, app) = setup(backend, "inv_cancelled").await;
    assert_eq!(get_with(&app, "/items", "en").await.x_cache(), "MISS");
    assert_eq!(get_with(&app, "/items", "en").await.x_cache(), "HIT");
    let mut client = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    client
        .write_all(b"POST /slow-update HTTP/1.1\r\nHost: app.test\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    support::eventually(Duration::from_secs(2), || async {
        app.calls.get("commit") == 1
    })
    .await;
    // Gone after the commit, before the answer.
    drop(client);
    support::eventually(Duration::from_secs(3), || async {
        get_with(&app, "/items", "en").await.x_cache() == "MISS"
    })
    .await;
}

async fn invalidating_a_path_drops_every_variant_and_nothing_else(backend: Backend) {
    let (f, app) = setup(backend, "inv_path").await;
    for language in ["en", "fr"] {
        assert_eq!(get_with(&app, "/items/1", language).await.x_cache(), "MISS");
        assert_eq!(get_with(&app, "/items/1", language).await.x_cache(), "HIT");
    }
    assert_eq!(get_with(&app, "/items/2", "en").await.x_cache(), "MISS");

    let removed = f.cache.invalidate("/items/1").await.expect("invalidate");
    assert_eq!(removed, 2, "both language variants of /items/1");
    for language in ["en", "fr"] {
        let reply = get_with(&app, "/items/1", language).await;
        assert_eq!(reply.x_cache(), "MISS", "{language} after invalidation");
    }
    assert_eq!(get_with(&app, "/items/2", "en").await.x_cache(), "HIT");
    assert_eq!(app.calls.get("item"), 5);
    // Nothing left to remove, and an unknown path is no error.
    assert_eq!(f.cache.invalidate("/nowhere?x=1").await.unwrap(), 0);
}

async fn invalidating_a_tag_drops_exactly_the_tagged_entries(backend: Backend) {
    let (f, app) = setup(backend, "inv_tag").await;
    for path in ["/items/1", "/items/2", "/items"] {
        assert_eq!(get_with(&app, path, "en").await.x_cache(), "MISS", "{path}");
    }
    assert_eq!(f.cache.invalidate_tag("item:1").await.unwrap(), 1);
    assert_eq!(get_with(&app, "/items/1", "en").await.x_cache(), "MISS");
    assert_eq!(get_with(&app, "/items/2", "en").await.x_cache(), "HIT");
    assert_eq!(get_with(&app, "/items", "en").await.x_cache(), "HIT");

    // `items` is on both routes: three entries now carry it.
    assert_eq!(f.cache.invalidate_tag("items").await.unwrap(), 3);
    for path in ["/items/1", "/items/2", "/items"] {
        assert_eq!(get_with(&app, path, "en").await.x_cache(), "MISS", "{path}");
    }
}

async fn invalidates_attribute_drops_entries_after_success_only(backend: Backend) {
    let (_f, app) = setup(backend, "inv_attr").await;
    let put_item = |ok: &'static str| {
        app.request(
            Method::PUT,
            "/items/7",
            &[("content-type", "application/json")],
            bytes::Bytes::from_static(ok.as_bytes()),
        )
    };
    for path in ["/items/7", "/items/8", "/items"] {
        get_with(&app, path, "en").await;
    }
    // A failed update invalidates nothing.
    assert_eq!(put_item("false").await.status, 422);
    assert_eq!(get_with(&app, "/items/7", "en").await.x_cache(), "HIT");
    assert_eq!(get_with(&app, "/items", "en").await.x_cache(), "HIT");

    let runs = app.calls.get("item");
    assert_eq!(put_item("true").await.status, 204);
    let after = get_with(&app, "/items/7", "en").await;
    assert_eq!(after.x_cache(), "MISS", "tag item:7 was invalidated");
    assert_eq!(app.calls.get("item"), runs + 1, "the handler ran again");
    assert_eq!(
        get_with(&app, "/items", "en").await.x_cache(),
        "MISS",
        "path /items"
    );
    assert_eq!(get_with(&app, "/items/8", "en").await.x_cache(), "HIT");
}

async fn routes_namespaces_and_everything_can_be_invalidated(backend: Backend) {
    let (f, app) = setup(backend, "inv_bulk").await;
    // Enough entries to land on every master of a cluster.
    let ids = 0..24;
    for id in ids.clone() {
        get_with(&app, &format!("/items/{id}"), "en").await;
        get_with(&app, &format!("/v2/{id}"), "en").await;
    }
    let removed = f
        .cache
        .invalidate_route::<route!(item)>()
        .await
        .expect("invalidate the route");
    assert!(removed >= 24, "removed {removed}");
    gone_and_kept(&app, ids.clone(), "/items", "/v2").await;

    assert!(f.cache.invalidate_namespace("v2").await.unwrap() >= 24);
    gone_and_kept(&app, ids.clone(), "/v2", "/items").await;

    assert!(f.cache.invalidate_all().await.unwrap() >= 48);
    for id in ids {
        for path in [format!("/v2/{id}"), format!("/items/{id}")] {
            assert_eq!(
                get_with(&app, &path, "en").await.x_cache(),
                "MISS",
                "{path}"
            );
        }
    }
}

/// For each id, `<gone>/<id>` misses (it was invalidated) and `<kept>/<id>`
/// still hits.
async fn gone_and_kept(app: &TestApp, ids: std::ops::Range<u64>, gone: &str, kept: &str) {
    for id in ids {
        let path = format!("{gone}/{id}");
        assert_eq!(get_with(app, &path, "en").await.x_cache(), "MISS", "{path}");
        let path = format!("{kept}/{id}");
        assert_eq!(get_with(app, &path, "en").await.x_cache(), "HIT", "{path}");
    }
}

async fn concurrent_cold_requests_on_two_instances_compute_once(backend: Backend) {
    let f = Fixture::new(backend, "two_instances").await;
    // A second cache on the same backend and prefix: another app server.
    let second = f.another_instance(backend).await;
    let calls = Calls::default();
    let apps = [
        Arc::new(serve(&f.cache, &calls).await),
        Arc::new(serve(&second, &calls).await),
    ];
    let mut tasks = Vec::new();
    for i in 0..200 {
        let app = Arc::clone(&apps[i % 2]);
        tasks.push(tokio::spawn(async move { app.get("/slow").await }));
    }
    for task in tasks {
        let reply = task.await.expect("request task");
        assert_eq!(
            (reply.status.as_u16(), reply.json()),
            (200, serde_json::json!(1))
        );
    }
    assert_eq!(
        calls.get("slow"),
        1,
        "one computation across both instances"
    );
}

// ---- The two-tier cache across instances -------------------------------

/// Two app instances, each with an L1, sharing Redis (standalone or
/// cluster).
struct Pair {
    a: TestApp,
    b: TestApp,
    cache_a: RouteCache,
    cache_b: RouteCache,
    /// The shared Redis, and the key of `/items/1` in English.
    backing: Backing,
    key: String,
}

/// The Redis two instances share: a standalone server (by URL) or the test
/// cluster.
enum Backing {
    Server(String),
    Cluster,
}

impl Backing {
    /// Runs `cmd` on the server, or on the cluster (routed by key).
    async fn run<T: ::redis::FromRedisValue>(&self, cmd: &::redis::Cmd) -> T {
        match self {
            Self::Server(url) => {
                let client = ::redis::Client::open(url.as_str()).unwrap();
                let mut conn = client.get_multiplexed_async_connection().await.unwrap();
                cmd.query_async(&mut conn).await.unwrap()
            }
            Self::Cluster => {
                let client =
                    ::redis::cluster::ClusterClient::new(support::cluster::cluster_urls()).unwrap();
                let mut conn = client.get_async_connection().await.unwrap();
                cmd.query_async(&mut conn).await.unwrap()
            }
        }
    }
}

async fn pair(backing: Backing, test: &str) -> Pair {
    let prefix = support::unique_prefix(test);
    let build = || {
        let builder = RouteCache::builder()
            .prefix(prefix.clone())
            .l1_capacity(16 << 20)
            .l1_heartbeat(Duration::from_millis(200));
        match &backing {
            Backing::Server(url) => builder.redis(url.as_str()),
            Backing::Cluster => builder.redis_cluster(support::cluster::cluster_urls()),
        }
        .build()
    };
    let (cache_a, cache_b) = (build().await.unwrap(), build().await.unwrap());
    support::wait_for_l1(&cache_a).await;
    support::wait_for_l1(&cache_b).await;
    let calls = Calls::default();
    let request = http::Request::get("http://app.test/items/1")
        .header("accept-language", "en")
        .body(())
        .unwrap();
    let key = cache_a.key_for_request::<route!(item)>(&request).unwrap();
    Pair {
        a: serve(&cache_a, &calls).await,
        b: serve(&cache_b, &calls).await,
        cache_a,
        cache_b,
        backing,
        key,
    }
}

/// Deletes `key` straight from Redis, behind the caches' backs (nothing is
/// published): only an L1 can still answer for it.
async fn delete_behind_the_back(backing: &Backing, key: &str) {
    let deleted: u32 = backing.run(::redis::cmd("DEL").arg(key)).await;
    assert_eq!(deleted, 1, "{key} was in Redis");
}

/// Runs `test` against standalone Redis and against the cluster.
macro_rules! standalone_and_cluster {
    ($($name:ident),* $(,)?) => {
        mod l1_standalone {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let server = super::RedisServer::start();
                    super::$name(super::Backing::Server(server.url())).await;
                }
            )*
        }
        mod l1_cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backing::Cluster).await;
                }
            )*
        }
    };
}

standalone_and_cluster!(
    an_invalidation_on_a_reaches_b_within_100_ms,
    an_overwrite_on_a_is_served_by_b,
    a_lost_invalidation_message_flushes_the_l1,
);

/// Polls B for `/items/1` (every request answered) until it is a miss;
/// fails with `what` once `limit` has passed since `started`. Returns the
/// time from `started`.
async fn until_b_misses(p: &Pair, started: Instant, limit: Duration, what: &str) -> Duration {
    let left = limit.saturating_sub(started.elapsed());
    support::eventually(left, || async {
        let reply = get_with(&p.b, "/items/1", "en").await;
        assert_eq!(reply.status, 200, "requests keep being answered ({what})");
        reply.x_cache() == "MISS"
    })
    .await;
    started.elapsed()
}

/// Makes `/items/1` an L1 hit on B with nothing behind it in Redis, so that
/// B answering `HIT` proves it answers from its L1.
async fn only_in_b_l1(p: &Pair) -> support::Reply {
    let first = get_with(&p.a, "/items/1", "en").await;
    assert_eq!(first.x_cache(), "MISS");
    assert_eq!(get_with(&p.b, "/items/1", "en").await.x_cache(), "HIT");
    delete_behind_the_back(&p.backing, &p.key).await;
    let from_l1 = get_with(&p.b, "/items/1", "en").await;
    assert_eq!(from_l1.x_cache(), "HIT", "B answers from its L1");
    assert_eq!(from_l1.body, first.body);
    first
}

async fn an_invalidation_on_a_reaches_b_within_100_ms(backing: Backing) {
    let p = pair(backing, "l1_invalidate").await;
    // Both L1s hold the entry (B's is its only copy after a refill below).
    get_with(&p.a, "/items/1", "en").await;
    assert_eq!(get_with(&p.b, "/items/1", "en").await.x_cache(), "HIT");
    assert_eq!(get_with(&p.b, "/items/1", "en").await.x_cache(), "HIT");

    let started = Instant::now();
    assert_eq!(p.cache_a.invalidate("/items/1").await.unwrap(), 1);
    let elapsed = until_b_misses(
        &p,
        started,
        Duration::from_secs(2),
        "B kept serving the invalidated entry",
    )
    .await;
    assert!(
        elapsed < Duration::from_millis(100),
        "B served the old body for {elapsed:?} after the invalidation"
    );
    drop(p.cache_b);
}

async fn an_overwrite_on_a_is_served_by_b(backing: Backing) {
    let p = pair(backing, "l1_overwrite").await;
    let old = get_with(&p.a, "/refreshable", "en").await;
    assert_eq!(get_with(&p.b, "/refreshable", "en").await.body, old.body);
    assert_eq!(get_with(&p.b, "/refreshable", "en").await.x_cache(), "HIT");

    // A recomputes and overwrites the entry (its client asked for a
    // refresh on a route that honours that).
    let new =
        p.a.request(
            Method::GET,
            "/refreshable",
            &[("cache-control", "no-cache")],
            bytes::Bytes::new(),
        )
        .await;
    assert_ne!(new.body, old.body);
    // Within 100 ms B serves the new body, a hit on A's new entry.
    support::eventually(Duration::from_millis(100), || async {
        let reply = get_with(&p.b, "/refreshable", "en").await;
        let new_body = reply.body == new.body;
        if new_body {
            assert_eq!(reply.x_cache(), "HIT", "B reads A's new entry");
        }
        new_body
    })
    .await;
    drop(p.cache_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_invalidation_channel_flushes_the_l1() {
    let server = RedisServer::start();
    let p = pair(Backing::Server(server.url()), "l1_lost").await;
    only_in_b_l1(&p).await;

    // Kill every subscriber connection (both instances').
    let killed: u32 = p
        .backing
        .run(::redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub"))
        .await;
    assert!(killed >= 2, "killed {killed} subscriber connections");

    until_b_misses(
        &p,
        Instant::now(),
        Duration::from_secs(1),
        "B's L1 was not flushed after its channel was killed",
    )
    .await;
    // It comes back: subscribed again, and used again.
    support::wait_for_l1(&p.cache_b).await;
    assert_eq!(get_with(&p.b, "/items/1", "en").await.x_cache(), "HIT");
    delete_behind_the_back(&p.backing, &p.key).await;
    assert_eq!(get_with(&p.b, "/items/1", "en").await.x_cache(), "HIT");
    drop(p.cache_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_flushes_the_l1() {
    let mut server = RedisServer::start();
    let p = pair(Backing::Server(server.url()), "l1_restart").await;
    only_in_b_l1(&p).await;
    server.restart();
    until_b_misses(
        &p,
        Instant::now(),
        Duration::from_secs(2),
        "B's L1 outlived a Redis restart",
    )
    .await;
    drop((p.cache_a, p.cache_b));
}

async fn a_lost_invalidation_message_flushes_the_l1(backing: Backing) {
    let p = pair(backing, "l1_gap").await;
    only_in_b_l1(&p).await;
    // Another instance's messages 1 and 3 arrive; 2 (say, an invalidation
    // whose publish failed) never does.
    let channel = format!("{}:#l1", p.cache_b.config().prefix);
    for message in ["00000000000000aa 1 h", "00000000000000aa 3 h"] {
        let receivers: u32 = p
            .backing
            .run(::redis::cmd("PUBLISH").arg(&channel).arg(message))
            .await;
        if matches!(p.backing, Backing::Server(_)) {
            // (A cluster node counts only its own subscribers.)
            assert_eq!(receivers, 2, "both instances subscribe");
        }
    }
    // The gap counts as a loss after one heartbeat (200 ms here).
    until_b_misses(
        &p,
        Instant::now(),
        Duration::from_secs(1),
        "B kept its L1 after a lost message",
    )
    .await;
    assert!(p.cache_b.l1_is_live(), "a loss flushes the L1; it stays on");
    drop(p.cache_a);
}

/// A new instance's first pub/sub message (its first heartbeat) is lost on
/// the way (the recording proxy sends it to another channel): B, listening
/// for long, hears that instance first at message 2 and flushes its L1, so
/// the next read is a Redis read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_peers_lost_first_message_flushes_the_l1() {
    let server = RedisServer::start();
    let p = pair(Backing::Server(server.url()), "l1_first_lost").await;
    only_in_b_l1(&p).await;
    // Well past B's window for senders heard mid-sequence (two heartbeats).
    tokio::time::sleep(Duration::from_millis(600)).await;
    let flushes = p.cache_b.stats().l1_flushes;
    let proxy = support::proxy::RecordingProxy::start(
        server.url().trim_start_matches("redis://").to_owned(),
    )
    .await;
    proxy.divert_next_publish();
    let newcomer = RouteCache::builder()
        .prefix(&p.cache_b.config().prefix)
        .l1_capacity(16 << 20)
        .l1_heartbeat(Duration::from_millis(200))
        .redis(proxy.url.clone())
        .build()
        .await
        .unwrap();
    support::wait_for_l1(&newcomer).await;
    let started = Instant::now();
    until_b_misses(
        &p,
        started,
        Duration::from_secs(2),
        "B's L1 kept its entry after a new peer's first message was lost",
    )
    .await;
    assert!(
        proxy.diverted(),
        "the newcomer's first message was diverted"
    );
    assert!(p.cache_b.stats().l1_flushes > flushes, "B flushed its L1");
    println!(
        "B flushed {:?} after the newcomer started",
        started.elapsed()
    );
    drop((newcomer, p.cache_a));
}
