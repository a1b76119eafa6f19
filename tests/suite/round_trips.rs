//! Round trips to Redis on a request's critical path, counted on the wire:
//! the cache talks to a real `redis-server` through a recording TCP proxy
//! (`support::proxy`), and the handler notes when it started and ended.
//! A cold miss must make one round trip before its handler runs (the
//! lookup, which also takes the lease) and one after (entry, index sets
//! and invalidation message in one pipeline); the lease's release is
//! sent in the background. A hit makes one, a plain `GET`.
//!
//! Milliseconds are measured by `bench/roundtrips.sh`, not here.

use crate::support;

use axum::{
    extract::{Path, State},
    routing::get,
    Json, Router,
};
use cache_runtime::{cached_route, RouteCache};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::proxy::{RecordingProxy, Write};
use support::{Calls, RedisServer, TestApp};

/// When the handler last started and ended.
#[derive(Clone, Default)]
struct Times(Arc<Mutex<Option<(Instant, Instant)>>>);

/// A 30 ms handler body that notes when it ran.
async fn timed(times: &Times, id: u64) -> Json<u64> {
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(30)).await;
    *times.0.lock().unwrap() = Some((started, Instant::now()));
    Json(id)
}

#[cached_route(ttl = 60)]
async fn item(State(times): State<Times>, Path(id): Path<u64>) -> Json<u64> {
    timed(&times, id).await
}

/// The same, on a route that revalidates (whose lookup runs before the
/// other extractors, when its tags are not known yet).
#[cached_route(ttl = 60, revalidate = true)]
async fn revalidated(State(times): State<Times>, Path(id): Path<u64>) -> Json<u64> {
    timed(&times, id).await
}

const LOOKUP: &str = "EVAL local value = redis.pcall('GET',";
const RELEASE: &str = "EVAL if redis.call('GET',";

/// The server and the prefix of a test's caches.
struct Setup {
    server: RedisServer,
    prefix: String,
}

async fn cache(prefix: &str, url: String) -> RouteCache {
    RouteCache::builder()
        .prefix(prefix)
        .redis(url)
        .build()
        .await
        .expect("build the cache")
}

/// One of many entries under one tag.
#[cached_route(ttl = 3600, tags = ["big"])]
async fn member(Path(id): Path<u64>) -> Json<u64> {
    Json(id)
}

async fn serve(cache: &RouteCache, times: &Times) -> TestApp {
    let router = Router::new()
        .route("/items/{id}", get(item))
        .route("/members/{id}", get(member))
        .route("/revalidated/{id}", get(revalidated))
        .with_state(times.clone())
        .layer(cache.layer());
    TestApp::serve(router, Calls::default()).await
}

/// A server, a proxy in front of it, and the test app whose cache talks
/// to the server through the proxy.
async fn setup(test: &str) -> (Setup, RecordingProxy, TestApp, Times) {
    let server = RedisServer::start();
    let upstream = server.url().trim_start_matches("redis://").to_owned();
    let proxy = RecordingProxy::start(upstream).await;
    let prefix = support::unique_prefix(test);
    let times = Times::default();
    let app = serve(&cache(&prefix, proxy.url.clone()).await, &times).await;
    // The connection is up, and one key is known to be stored (its lease
    // released in the background).
    assert_eq!(app.get("/items/0").await.x_cache(), "MISS");
    assert_eq!(app.get("/items/0").await.x_cache(), "HIT");
    released(&proxy).await;
    (Setup { server, prefix }, proxy, app, times)
}

/// Waits until a lease's release has gone out through the proxy.
async fn released(proxy: &RecordingProxy) {
    support::eventually(Duration::from_secs(5), || async {
        proxy
            .writes()
            .iter()
            .any(|w| w.commands.iter().any(|c| c.starts_with(RELEASE)))
    })
    .await;
}

/// What the proxy has seen once no write has come for a while:
/// background writes (a lease release) may follow an answer.
async fn settled_writes(proxy: &RecordingProxy) -> Vec<Write> {
    support::settled(
        Duration::from_millis(150),
        Duration::from_secs(5),
        |_| false,
        || async { proxy.writes().len() },
    )
    .await;
    proxy.writes()
}

fn names(writes: &[&Write]) -> Vec<Vec<String>> {
    writes.iter().map(|w| w.commands.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_miss_makes_one_round_trip_before_its_handler_and_one_after() {
    let (_setup, proxy, app, times) = setup("cold_miss").await;
    proxy.clear();
    let reply = app.get("/items/1").await;
    let answered = Instant::now();
    assert_eq!(reply.x_cache(), "MISS");
    // The release is sent in the background.
    released(&proxy).await;
    let (started, ended) = times.0.lock().unwrap().expect("the handler ran");
    let writes = proxy.writes();
    let before: Vec<&Write> = writes.iter().filter(|w| w.at < started).collect();
    let after: Vec<&Write> = writes
        .iter()
        .filter(|w| w.at > ended && w.at < answered)
        .filter(|w| !w.commands.iter().any(|c| c.starts_with(RELEASE)))
        .collect();
    assert_eq!(
        before.len(),
        1,
        "one round trip before the handler: {:?}",
        names(&before)
    );
    // The lookup (which takes the lease) and the fill's generations, in one
    // pipeline.
    assert_eq!(before[0].commands.len(), 2, "{:?}", before[0].commands);
    assert!(
        before[0].commands[0].starts_with(LOOKUP),
        "the lookup takes the lease: {:?}",
        before[0].commands
    );
    assert!(
        before[0].commands[1].starts_with("MGET"),
        "the generations are read with it: {:?}",
        before[0].commands
    );
    assert_eq!(
        after.len(),
        1,
        "one round trip after the handler: {:?}",
        names(&after)
    );
    let saved = &after[0].commands;
    // One script writes the entry and its index set, if the generations
    // are unchanged and the set has room; the L1 message may follow.
    assert!(
        saved[0].starts_with("EVAL"),
        "the save script first: {saved:?}"
    );
    assert_eq!(
        saved.iter().filter(|c| c.starts_with("EVAL")).count(),
        1,
        "entry, index set and generation check in one script: {saved:?}"
    );
    let releases = writes
        .iter()
        .filter(|w| w.commands.iter().any(|c| c.starts_with(RELEASE)))
        .count();
    assert_eq!(releases, 1, "the lease is released: {writes:?}");
    assert!(
        writes.iter().all(|w| w.at < started || w.at > ended),
        "nothing is sent while the handler runs: {writes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_makes_one_round_trip() {
    let (_setup, proxy, app, _times) = setup("hit").await;
    proxy.clear();
    assert_eq!(app.get("/items/0").await.x_cache(), "HIT");
    let writes = proxy.writes();
    let all: Vec<&Write> = writes.iter().collect();
    assert_eq!(names(&all), vec![vec!["GET".to_owned()]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_another_instance_stored_is_read_once_by_the_script_then_by_get() {
    let (setup, proxy, app, _times) = setup("other_instance").await;
    // Another instance on the same prefix, straight to Redis, stores it.
    let other = serve(
        &cache(&setup.prefix, setup.server.url()).await,
        &Times::default(),
    )
    .await;
    assert_eq!(other.get("/items/3").await.x_cache(), "MISS");
    proxy.clear();
    assert_eq!(app.get("/items/3").await.x_cache(), "HIT");
    let writes = settled_writes(&proxy).await;
    let all: Vec<&Write> = writes.iter().collect();
    assert_eq!(all.len(), 1, "{:?}", names(&all));
    assert!(
        all[0].commands[0].starts_with(LOOKUP),
        "a key this instance has not seen: the lookup script, {:?}",
        names(&all)
    );
    // The script found the value, so it took no lease: none is released.
    proxy.clear();
    assert_eq!(app.get("/items/3").await.x_cache(), "HIT");
    let writes = settled_writes(&proxy).await;
    let all: Vec<&Write> = writes.iter().collect();
    assert_eq!(names(&all), vec![vec!["GET".to_owned()]], "seen now: a GET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revalidating_routes_cold_miss_also_makes_one_round_trip_before_its_handler() {
    let (_setup, proxy, app, times) = setup("revalidating").await;
    proxy.clear();
    assert_eq!(app.get("/revalidated/1").await.x_cache(), "MISS");
    let (started, _) = times.0.lock().unwrap().expect("the handler ran");
    let writes = proxy.writes();
    let before: Vec<&Write> = writes.iter().filter(|w| w.at < started).collect();
    assert_eq!(before.len(), 1, "one round trip: {:?}", names(&before));
    assert!(
        before[0].commands[0].starts_with(LOOKUP),
        "the lookup takes the lease: {:?}",
        before[0].commands
    );
}

/// Save atomicity on one Redis: the connection is cut right after the
/// bytes of the command that writes the entry, and Redis stays unreachable
/// for a second, so the cache cannot take the entry back. The entry is then
/// either absent or listed in its path's index set, so an invalidation
/// reaches it: never stored without its index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_cut_after_the_entrys_bytes_leaves_no_unindexed_entry() {
    let (setup, proxy, app, _times) = setup("cut_save").await;
    proxy.cut_after_script("redis.call('SET', KEYS[1]", Duration::from_secs(1));
    let reply = app.get("/items/5").await;
    assert_eq!(reply.status, 200, "the client still gets its answer");
    assert!(proxy.cut_fired(), "the save's connection was cut");
    assert!(
        proxy.holding(),
        "checked while the cache cannot reach Redis"
    );
    let direct = cache(&setup.prefix, setup.server.url()).await;
    let key = direct
        .key_for::<cache_runtime::route!(item)>("/items/5")
        .unwrap();
    let index = format!("{}:#p:/items/5", setup.prefix);
    let client = ::redis::Client::open(setup.server.url()).unwrap();
    let conn = client.get_multiplexed_async_connection().await.unwrap();
    // The server has the bytes: wait until what it received has run (the
    // entry and its membership stop changing).
    let (exists, listed) = support::settled(
        Duration::from_millis(200),
        Duration::from_secs(5),
        |_| false,
        || {
            let (mut conn, key, index) = (conn.clone(), key.clone(), index.clone());
            async move {
                let exists: bool = ::redis::cmd("EXISTS")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                let mut inspector = support::Inspector::Server(conn);
                let listed = inspector.index_members(&index).await.contains(&key);
                (exists, listed)
            }
        },
    )
    .await;
    println!("after the cut: entry stored {exists}, listed in its index {listed}");
    assert!(!exists || listed, "an entry without its index");
    if exists {
        assert_eq!(direct.invalidate("/items/5").await.unwrap(), 1);
    }
}

/// `invalidate_tag` on a tag with 10,000 live members (filled by another
/// instance, straight to Redis) costs a round trip per 500 members (each
/// pops a batch and deletes it), counted on the wire, and finishes within
/// `invalidate_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidating_a_tag_of_ten_thousand_costs_a_round_trip_per_batch() {
    const MEMBERS: u64 = 10_000;
    let server = RedisServer::start();
    let proxy = RecordingProxy::start(server.url().trim_start_matches("redis://").to_owned()).await;
    let prefix = support::unique_prefix("big_tag");
    let proxied = cache(&prefix, proxy.url.clone()).await;
    let app = serve(&proxied, &Times::default()).await;
    let filler =
        std::sync::Arc::new(serve(&cache(&prefix, server.url()).await, &Times::default()).await);
    for chunk in 0..MEMBERS / 100 {
        let tasks: Vec<_> = (chunk * 100..(chunk + 1) * 100)
            .map(|id| {
                let filler = std::sync::Arc::clone(&filler);
                tokio::spawn(async move {
                    filler
                        .get(&format!("/members/{id}"))
                        .await
                        .x_cache()
                        .to_owned()
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), "MISS");
        }
    }
    // A fill is saved as its body ends: wait until every one is listed.
    let index = format!("{prefix}:#t:big");
    let client = ::redis::Client::open(server.url()).unwrap();
    let conn = client.get_multiplexed_async_connection().await.unwrap();
    support::eventually(Duration::from_secs(10), || {
        let (conn, index) = (conn.clone(), index.clone());
        async move {
            let listed = support::Inspector::Server(conn).index_members(&index).await;
            listed.len() as u64 == MEMBERS
        }
    })
    .await;
    proxy.clear();
    let started = Instant::now();
    let removed = proxied.invalidate_tag("big").await.expect("in time");
    let took = started.elapsed();
    let writes = proxy.writes();
    // Round trips, not reads: a large pipeline may reach the proxy in
    // several pieces, all before any answer.
    let trips = writes.iter().filter(|w| w.after_reply).count();
    println!(
        "invalidate_tag over {MEMBERS} members: removed {removed} in {took:?}, {trips} round \
         trips on the wire ({} writes)",
        writes.len()
    );
    assert_eq!(removed as u64, MEMBERS);
    assert!(took < proxied.config().invalidate_timeout);
    // 20 batches, each a pop, then its delete with the L1 message; the
    // last pop comes back short or empty; and the generation bump.
    let batches = MEMBERS.div_ceil(500) as usize;
    assert!(
        trips <= 2 * batches + 4,
        "{trips} round trips for {batches} batches: {:?}",
        names(&writes.iter().collect::<Vec<_>>())
    );
    assert_eq!(app.get("/members/7").await.x_cache(), "MISS");
}
