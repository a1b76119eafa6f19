//! Invalidations that always land and index sets that stay bounded, over
//! real HTTP on every backend: index sets live as long as their
//! longest-lived member, hold only live members, unsafe methods
//! invalidate their target (RFC 9111 §4.4), and a HEAD never fills the GET
//! entry.

use crate::support;

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use cache_runtime::{cached_route, RouteCache};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use support::{eventually, Backend, Calls, Fixture, Reply, TestApp};

#[cached_route(ttl = 3, tags = ["items"])]
async fn tagged(State(calls): State<Calls>, Path(n): Path<u32>) -> Json<(u32, usize)> {
    Json((n, calls.record("tagged")))
}

#[cached_route(ttl = 2, refresh_ahead = 0.5)]
async fn ahead(State(calls): State<Calls>) -> Json<usize> {
    Json(calls.record("ahead"))
}

#[derive(serde::Deserialize)]
struct Page {
    page: u32,
}

#[cached_route(ttl = 2, tags = ["pages"])]
async fn pages(Query(p): Query<Page>) -> String {
    format!("page {}", p.page)
}

#[cached_route(ttl = 3600, tags = ["many"])]
async fn many(Query(p): Query<Page>) -> String {
    format!("many {}", p.page)
}

/// An item a handler without `#[invalidates]` updates and deletes.
#[cached_route(ttl = 3600)]
async fn item(State(calls): State<Calls>, Path(id): Path<u32>) -> Json<(u32, usize)> {
    Json((id, calls.record("item")))
}

async fn put_item(Path(id): Path<u32>) -> StatusCode {
    let _ = id;
    StatusCode::NO_CONTENT
}

async fn delete_item(Path(id): Path<u32>) -> StatusCode {
    let _ = id;
    StatusCode::INTERNAL_SERVER_ERROR
}

/// A new item, whose answer names its location.
async fn create_item() -> (StatusCode, [(&'static str, &'static str); 1]) {
    (StatusCode::CREATED, [("location", "/items/9")])
}

/// A hot deleted item: 404 after 300 ms, which is not stored.
#[cached_route(ttl = 3600)]
async fn gone(State(calls): State<Calls>) -> StatusCode {
    calls.record("gone");
    tokio::time::sleep(Duration::from_millis(300)).await;
    StatusCode::NOT_FOUND
}

/// The body a handler that sends none to `HEAD` answers `method` with.
fn body_unless_head(method: &Method) -> String {
    if method == Method::HEAD {
        String::new()
    } else {
        "the full body".to_owned()
    }
}

/// Sends no body to `HEAD`, as a handler may.
#[cached_route(ttl = 1, stale = 30)]
async fn headless(State(calls): State<Calls>, method: Method) -> String {
    calls.record("headless");
    body_unless_head(&method)
}

/// Like `headless`, refreshed ahead past half its TTL.
#[cached_route(ttl = 2, refresh_ahead = 0.5)]
async fn headless_ahead(State(calls): State<Calls>, method: Method) -> String {
    calls.record("headless_ahead");
    body_unless_head(&method)
}

/// Small at first; then a streamed body far past its `max_body`, whose
/// chunks (1 KiB each, 1,000 of them) are counted as they are produced.
#[cached_route(ttl = 1, stale = 30, max_body = 4096)]
async fn growing(State(calls): State<Calls>) -> axum::body::Body {
    use futures_util::StreamExt;
    if calls.record("growing") == 1 {
        return axum::body::Body::from("the small body");
    }
    let chunks = futures_util::stream::iter(0..1_000).map(move |_| {
        calls.record("chunk");
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(vec![b'x'; 1024]))
    });
    axum::body::Body::from_stream(chunks)
}

/// Revalidates through its handler (ETag `"v1"`, 1 s fresh), slowly: a
/// matching `If-None-Match` gets a `304` after 300 ms.
#[cached_route(ttl = 1, revalidate = true, allow_unkeyed = true)]
async fn checked(State(calls): State<Calls>, headers: HeaderMap) -> Response {
    calls.record("checked");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fields = [
        (header::ETAG, "\"v1\""),
        (header::CACHE_CONTROL, "max-age=1"),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v == "\"v1\"")
    {
        return (StatusCode::NOT_MODIFIED, fields).into_response();
    }
    (fields, "checked body").into_response()
}

/// Fresh for 1 s, then kept only to stand in for an error
/// (`stale-if-error` without `stale-while-revalidate`); slow to compute.
#[cached_route(ttl = 60)]
async fn fallback(State(calls): State<Calls>) -> Response {
    calls.record("fallback");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cc = [(header::CACHE_CONTROL, "max-age=1, stale-if-error=60")];
    (cc, "fallback body").into_response()
}

fn router(calls: Calls) -> Router {
    Router::new()
        .route("/t/{n}", get(tagged))
        .route("/ahead", get(ahead))
        .route("/pages", get(pages))
        .route("/many", get(many))
        .route("/items/{id}", get(item).put(put_item).delete(delete_item))
        .route("/items", axum::routing::post(create_item))
        .route("/headless", get(headless))
        .route("/headless-ahead", get(headless_ahead))
        .route("/growing", get(growing))
        .route("/gone", get(gone))
        .route("/checked", get(checked))
        .route("/fallback", get(fallback))
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

async fn send(app: &TestApp, method: Method, path: &str) -> Reply {
    app.request(method, path, &[], bytes::Bytes::new()).await
}

backend_matrix!(
    a_set_that_outgrows_its_bucket_keeps_every_member,
    sets_that_share_a_bucket_stay_apart,
    a_small_set_keeps_its_cap,
    an_index_set_lives_as_long_as_its_longest_member,
    index_sets_hold_only_live_members,
    invalidating_a_large_tag_finishes_in_time,
    unsafe_methods_invalidate_their_target,
    unsafe_methods_invalidate_the_full_path_wherever_the_layer_sits,
    a_head_on_a_stale_entry_never_refreshes_it,
    a_head_past_the_refresh_point_never_refreshes,
    a_background_refresh_reads_no_more_than_max_body,
    followers_learn_that_a_lease_ended_without_an_entry,
    one_revalidation_per_key_across_instances,
    an_entry_kept_for_errors_is_refilled_once_across_instances,
);

/// How many members the index set `index` has in its bucket and in a
/// sorted set of its own, on Redis (`None` in process, which has no
/// buckets).
async fn placed(f: &Fixture, backend: Backend, index: &str) -> Option<(usize, usize)> {
    if backend == Backend::Embedded {
        return None;
    }
    let place = cache_runtime::key::IndexPlace::of(index);
    let mut inspector = f.inspector().await;
    let in_bucket = inspector
        .zrange(&place.bucket)
        .await
        .iter()
        .filter(|m| m.starts_with(place.id.as_str()))
        .count();
    Some((in_bucket, inspector.zrange(&place.own).await.len()))
}

/// Twenty entries under one tag: the first eight are listed in the tag's
/// bucket, the ninth moves them all to a set of the tag's own, and the
/// invalidation reaches all twenty and empties it.
async fn a_set_that_outgrows_its_bucket_keeps_every_member(backend: Backend) {
    let (f, app) = setup(backend, "outgrow").await;
    let index = format!("{}:#t:items", f.cache.config().prefix);
    for n in 0..8 {
        assert_eq!(app.get(&format!("/t/{n}")).await.x_cache(), "MISS");
    }
    eventually(Duration::from_secs(5), || async {
        placed(&f, backend, &index)
            .await
            .is_none_or(|p| p == (8, 0))
    })
    .await;
    for n in 8..20 {
        assert_eq!(app.get(&format!("/t/{n}")).await.x_cache(), "MISS");
    }
    eventually(Duration::from_secs(5), || async {
        placed(&f, backend, &index)
            .await
            .is_none_or(|p| p == (0, 20))
    })
    .await;
    for n in 0..20 {
        assert_eq!(app.get(&format!("/t/{n}")).await.x_cache(), "HIT", "/t/{n}");
    }
    assert_eq!(f.cache.invalidate_tag("items").await.unwrap(), 20);
    assert_eq!(placed(&f, backend, &index).await.unwrap_or((0, 0)), (0, 0));
    for n in 0..20 {
        assert_eq!(
            app.get(&format!("/t/{n}")).await.x_cache(),
            "MISS",
            "/t/{n}"
        );
    }
}

/// Two paths whose index sets share a bucket: invalidating one leaves
/// the other's entry.
async fn sets_that_share_a_bucket_stay_apart(backend: Backend) {
    let (f, app) = setup(backend, "share_bucket").await;
    let prefix = f.cache.config().prefix.clone();
    let bucket = |n: u32| cache_runtime::key::IndexPlace::of(&format!("{prefix}:#p:/t/{n}")).bucket;
    let mut seen = std::collections::HashMap::new();
    let (a, b) = (0u32..)
        .find_map(|n| seen.insert(bucket(n), n).map(|m| (m, n)))
        .expect("two paths in one bucket");
    for n in [a, b] {
        assert_eq!(app.get(&format!("/t/{n}")).await.x_cache(), "MISS");
    }
    eventually(Duration::from_secs(5), || async {
        app.get(&format!("/t/{b}")).await.x_cache() == "HIT"
    })
    .await;
    assert_eq!(f.cache.invalidate(&format!("/t/{a}")).await.unwrap(), 1);
    assert_eq!(app.get(&format!("/t/{a}")).await.x_cache(), "MISS");
    assert_eq!(app.get(&format!("/t/{b}")).await.x_cache(), "HIT");
    assert_eq!(f.cache.invalidate(&format!("/t/{b}")).await.unwrap(), 1);
    assert_eq!(app.get(&format!("/t/{b}")).await.x_cache(), "MISS");
}

/// A tag capped at three members while it is still in its bucket: the
/// fourth entry is served but not stored, and the three are invalidated.
async fn a_small_set_keeps_its_cap(backend: Backend) {
    let f = Fixture::with(backend, "small_cap", |b| b.max_tag_members(3)).await;
    let app = serve(&f.cache, &Calls::default()).await;
    for n in 0..3 {
        assert_eq!(app.get(&format!("/t/{n}")).await.x_cache(), "MISS");
    }
    for n in 0..3 {
        eventually(Duration::from_secs(5), || async {
            app.get(&format!("/t/{n}")).await.x_cache() == "HIT"
        })
        .await;
    }
    let fourth = app.get("/t/3").await;
    assert_eq!((fourth.status.as_u16(), fourth.x_cache()), (200, "MISS"));
    let refused = || {
        f.cache
            .stats()
            .route::<cache_runtime::route!(tagged)>()
            .map_or(0, |r| r.refused)
    };
    eventually(Duration::from_secs(5), || async { refused() == 1 }).await;
    let again = app.get("/t/3").await;
    assert_eq!(again.x_cache(), "MISS", "a full set stores nothing more");
    assert_eq!(f.cache.invalidate_tag("items").await.unwrap(), 3);
    for n in 0..3 {
        assert_eq!(
            app.get(&format!("/t/{n}")).await.x_cache(),
            "MISS",
            "/t/{n}"
        );
    }
}

/// Twenty concurrent requests on each of two instances for `path`, whose
/// entry has just expired: all answer `body`, and the handler runs once
/// for all of them.
async fn one_fill_for_forty(backend: Backend, test: &str, path: &str, name: &str, body: &str) {
    let f = Fixture::new(backend, test).await;
    let second = f.another_instance(backend).await;
    let calls = Calls::default();
    let apps = [
        Arc::new(serve(&f.cache, &calls).await),
        Arc::new(serve(&second, &calls).await),
    ];
    assert_eq!(apps[0].get(path).await.body, body);
    assert_eq!(calls.get(name), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await; // past its freshness
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (app, path) = (Arc::clone(&apps[i % 2]), path.to_owned());
            tokio::spawn(async move { app.get(&path).await })
        })
        .collect();
    let mut served = std::collections::BTreeMap::<String, usize>::new();
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, body);
        *served.entry(reply.x_cache().to_owned()).or_default() += 1;
    }
    println!("{backend:?} {path}: 40 requests on two instances answered {served:?}");
    assert_eq!(
        calls.get(name),
        2,
        "one fill for all forty requests: {served:?}"
    );
}

/// A revalidating route's expired entry is revalidated once, not once per
/// request or instance: the others get the entry its `304` refreshed.
async fn one_revalidation_per_key_across_instances(backend: Backend) {
    one_fill_for_forty(backend, "one_reval", "/checked", "checked", "checked body").await;
}

/// An entry past its freshness, kept only for `stale-if-error`, does not
/// stop cross-instance coalescing: the instance without the lease waits
/// for a fresh entry instead of taking the old one as the fill's.
async fn an_entry_kept_for_errors_is_refilled_once_across_instances(backend: Backend) {
    one_fill_for_forty(backend, "one_sie", "/fallback", "fallback", "fallback body").await;
}

/// Two instances, a hot key whose handler answers 404 after 300 ms, 50
/// concurrent requests on each: the instance without the lease stops
/// waiting when the lease ends without an entry, instead of waiting out
/// `coalesce_wait` (5 s). Every request answers within a second.
async fn followers_learn_that_a_lease_ended_without_an_entry(backend: Backend) {
    let f = Fixture::new(backend, "lease_ended").await;
    let second = f.another_instance(backend).await;
    let calls = Calls::default();
    let apps = [
        Arc::new(serve(&f.cache, &calls).await),
        Arc::new(serve(&second, &calls).await),
    ];
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let app = Arc::clone(&apps[i % 2]);
            tokio::spawn(async move {
                let started = Instant::now();
                let status = app.get("/gone").await.status;
                (status, started.elapsed())
            })
        })
        .collect();
    let mut times = Vec::new();
    for task in tasks {
        let (status, took) = task.await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND);
        times.push(took);
    }
    times.sort();
    let p99 = times[98];
    println!(
        "{backend:?}: 100 requests, p50 {:?}, p99 {p99:?}, max {:?}; the handler ran {} times",
        times[50],
        times[99],
        calls.get("gone")
    );
    assert!(times[99] < Duration::from_secs(1), "max {:?}", times[99]);
}

/// On a route with a 3 s TTL: `/t/1` creates the tag's set at t=0, `/t/2`
/// joins it at t=2, and at t=3.5 (past the set's first member)
/// `invalidate_tag` still finds `/t/2`. The same for a path index renewed
/// by refresh-ahead.
async fn an_index_set_lives_as_long_as_its_longest_member(backend: Backend) {
    let (f, app) = setup(backend, "idx_life").await;
    let start = Instant::now();
    assert_eq!(app.get("/t/1").await.x_cache(), "MISS");
    assert_eq!(app.get("/ahead").await.x_cache(), "MISS");
    tokio::time::sleep_until((start + Duration::from_millis(1200)).into()).await;
    // Past half its TTL: served, and refreshed ahead (stored again).
    assert_eq!(app.get("/ahead").await.x_cache(), "HIT");
    eventually(Duration::from_secs(2), || async {
        app.calls.get("ahead") == 2
    })
    .await;
    tokio::time::sleep_until((start + Duration::from_secs(2)).into()).await;
    assert_eq!(app.get("/t/2").await.x_cache(), "MISS");
    // At t=2.5 the first `/ahead` entry (and its first membership) has
    // ended; the refreshed one, stored at t=1.2, is still in the index.
    tokio::time::sleep_until((start + Duration::from_millis(2500)).into()).await;
    assert_eq!(f.cache.invalidate("/ahead").await.unwrap(), 1);
    assert_eq!(app.get("/ahead").await.x_cache(), "MISS");
    tokio::time::sleep_until((start + Duration::from_millis(3500)).into()).await;
    let removed = f.cache.invalidate_tag("items").await.expect("invalidate");
    assert_eq!(removed, 1, "/t/2, listed in a set created by /t/1");
    assert_eq!(app.get("/t/2").await.x_cache(), "MISS");
}

/// 2,000 fills of distinct `?page=N` with a 2 s TTL, 2.5 s idle, one more
/// fill: the tag's set holds only the live member. `INDEX_FILLS=100000`
/// runs the full count (about fifty times as long).
async fn index_sets_hold_only_live_members(backend: Backend) {
    let fills: u32 = std::env::var("INDEX_FILLS")
        .ok()
        .map(|n| n.parse().expect("INDEX_FILLS is a number of fills"))
        .unwrap_or(2_000);
    let (f, app) = setup(backend, "idx_live").await;
    let app = Arc::new(app);
    let started = Instant::now();
    let mut next = 0;
    while next < fills {
        let tasks: Vec<_> = (next..(next + 100).min(fills))
            .map(|page| {
                let app = Arc::clone(&app);
                tokio::spawn(async move { app.get(&format!("/pages?page={page}")).await.status })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 200);
        }
        next += 100;
    }
    let index = format!("{}:#t:pages", f.cache.config().prefix);
    let (full, members) = f.index_weight(backend, &index).await;
    println!(
        "{backend:?}: {fills} fills in {:?}: tag set {full} bytes, {members} members",
        started.elapsed()
    );
    // Past the 2 s TTL of every member but the next.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(app.get("/pages?page=1000000").await.x_cache(), "MISS");
    let (after, members) = f.index_weight(backend, &index).await;
    println!("{backend:?}: after 2.5 s idle and one fill: {after} bytes, {members} members");
    if backend != Backend::Embedded {
        assert_eq!(members, 1, "only the live member");
    }
    assert!(after < full / 50, "{after} bytes left of {full}");
}

/// `invalidate_tag` on a set with 10,000 live members finishes within
/// `invalidate_timeout`, in a round trip per 500 members.
async fn invalidating_a_large_tag_finishes_in_time(backend: Backend) {
    const MEMBERS: u32 = 10_000;
    // The fills only build the set (under the fixture's patient timeout);
    // the invalidation keeps its own bound, `invalidate_timeout`.
    let f = Fixture::new(backend, "idx_large").await;
    let app = Arc::new(serve(&f.cache, &Calls::default()).await);
    // A fill is saved as its body ends, so the last saves may land just
    // after their clients have the answer: wait until every fill is
    // counted, or the count has stopped moving. Under load a fill can fail
    // to store (a timed-out write is withdrawn, failing open): pages not
    // stored are asked for again, up to three rounds, so that the set is
    // large whatever the machine's load. The set holds what was stored.
    let count = || {
        f.cache
            .stats()
            .route::<cache_runtime::route!(many)>()
            .expect("the route's stats")
            .stored
    };
    let mut stored = 0;
    for _round in 0..3 {
        let mut next = 0;
        while next < MEMBERS {
            let tasks: Vec<_> = (next..next + 100)
                .map(|page| {
                    let app = Arc::clone(&app);
                    tokio::spawn(async move { app.get(&format!("/many?page={page}")).await.status })
                })
                .collect();
            for task in tasks {
                assert_eq!(task.await.unwrap(), 200);
            }
            next += 100;
        }
        stored = support::settled(
            Duration::from_millis(300),
            Duration::from_secs(30),
            |&stored| stored >= u64::from(MEMBERS),
            || async { count() },
        )
        .await;
        if stored >= u64::from(MEMBERS) * 9 / 10 {
            break;
        }
    }
    assert!(stored >= u64::from(MEMBERS) * 9 / 10, "{stored} stored");
    // A write that timed out may still have listed its key before it was
    // withdrawn: the set can hold more members than entries were kept.
    let index = format!("{}:#t:many", f.cache.config().prefix);
    let listed = match backend {
        Backend::Embedded => None,
        _ => Some(f.index_weight(backend, &index).await.1),
    };
    let timed = Instant::now();
    let removed = f
        .cache
        .invalidate_tag("many")
        .await
        .expect("within the timeout");
    let took = timed.elapsed();
    println!(
        "{backend:?}: invalidated {removed} entries in {took:?} ({} index batches of 500, timeout {:?})",
        removed.div_ceil(500),
        f.cache.config().invalidate_timeout
    );
    match listed {
        Some(listed) => {
            assert_eq!(removed, listed, "every listed member");
            assert_eq!(f.index_weight(backend, &index).await.1, 0, "set emptied");
        }
        None => assert_eq!(removed as u64, stored, "every stored member"),
    }
    assert!(
        removed as u64 >= stored,
        "{removed} removed of {stored} stored"
    );
    assert!(took < f.cache.config().invalidate_timeout);
    assert_eq!(app.get("/many?page=7").await.x_cache(), "MISS");
}

/// RFC 9111 §4.4: a `PUT` answered 204 by a handler without
/// `#[invalidates]` makes the next `GET` a miss on another instance; a
/// `DELETE` answered 500 invalidates nothing; a `POST` answered 201
/// invalidates its `Location`; the builder switch turns it off.
async fn unsafe_methods_invalidate_their_target(backend: Backend) {
    let f = Fixture::new(backend, "unsafe").await;
    let second = f.another_instance(backend).await;
    let calls = Calls::default();
    let a = serve(&f.cache, &calls).await;
    let b = serve(&second, &calls).await;
    for path in ["/items/7", "/items/9"] {
        assert_eq!(a.get(path).await.x_cache(), "MISS");
        assert_eq!(b.get(path).await.x_cache(), "HIT");
    }
    assert_eq!(send(&a, Method::DELETE, "/items/7").await.status, 500);
    assert_eq!(
        b.get("/items/7").await.x_cache(),
        "HIT",
        "an error invalidates nothing"
    );
    assert_eq!(send(&a, Method::PUT, "/items/7").await.status, 204);
    // B's L1, if any, hears of it within the channel's delivery delay.
    eventually(Duration::from_secs(1), || async {
        b.get("/items/7").await.x_cache() == "MISS"
    })
    .await;
    assert_eq!(b.get("/items/9").await.x_cache(), "HIT");
    assert_eq!(send(&a, Method::POST, "/items").await.status, 201);
    eventually(Duration::from_secs(1), || async {
        b.get("/items/9").await.x_cache() == "MISS"
    })
    .await;

    let off = Fixture::with(backend, "unsafe_off", |b| b.invalidate_unsafe(false)).await;
    let app = serve(&off.cache, &Calls::default()).await;
    assert_eq!(app.get("/items/7").await.x_cache(), "MISS");
    assert_eq!(send(&app, Method::PUT, "/items/7").await.status, 204);
    assert_eq!(app.get("/items/7").await.x_cache(), "HIT", "switched off");
}

/// RFC 9111 §4.4 under `Router::nest`: the `PUT` of `/api/items/7`
/// invalidates the entry of `/api/items/7` (the key of a nested route is
/// its full path), whether the layer is on the nested router, on the outer
/// one, or around the whole application; the entry of `/api/items/9`
/// stays.
async fn unsafe_methods_invalidate_the_full_path_wherever_the_layer_sits(backend: Backend) {
    let f = Fixture::new(backend, "unsafe_nested").await;
    for placement in ["nested router", "outer router", "around"] {
        let calls = Calls::default();
        let inner = router(calls.clone());
        let app = match placement {
            "nested router" => {
                let app = Router::new().nest("/api", inner.layer(f.cache.layer()));
                TestApp::serve(app, calls).await
            }
            "outer router" => {
                let app = Router::new().nest("/api", inner).layer(f.cache.layer());
                TestApp::serve(app, calls).await
            }
            _ => TestApp::serve_around(Router::new().nest("/api", inner), &f.cache, calls).await,
        };
        for path in ["/api/items/7", "/api/items/9"] {
            assert_eq!(app.get(path).await.x_cache(), "MISS", "{placement}");
            assert_eq!(app.get(path).await.x_cache(), "HIT", "{placement}");
        }
        assert_eq!(send(&app, Method::PUT, "/api/items/7").await.status, 204);
        let after = app.get("/api/items/7").await;
        assert_eq!(after.x_cache(), "MISS", "{placement}: the PUT's target");
        assert_eq!(
            app.get("/api/items/9").await.x_cache(),
            "HIT",
            "{placement}"
        );
        f.cache.invalidate("/api/items/7").await.unwrap();
        f.cache.invalidate("/api/items/9").await.unwrap();
    }
}

/// A background refresh whose streamed body outgrows the route's
/// `max_body` stops reading it there: nothing is collected past the bound,
/// the answer is not stored (refusal `size`), and the stale entry
/// stays in place.
async fn a_background_refresh_reads_no_more_than_max_body(backend: Backend) {
    let (f, app) = setup(backend, "refresh_bounded").await;
    assert_eq!(app.get("/growing").await.x_cache(), "MISS");
    tokio::time::sleep(Duration::from_millis(1_100)).await; // past its TTL
    let stale = app.get("/growing").await;
    assert_eq!(stale.x_cache(), "STALE");
    assert_eq!(stale.body, "the small body");
    eventually(Duration::from_secs(3), || async {
        app.calls.get("growing") == 2 && app.calls.get("chunk") > 4
    })
    .await;
    // Until the abandoned refresh stops reading chunks.
    let produced = support::settled(
        Duration::from_millis(300),
        Duration::from_secs(5),
        |_| false,
        || async { app.calls.get("chunk") },
    )
    .await;
    println!("{backend:?}: the refresh read {produced} of 1000 chunks (max_body 4 KiB)");
    assert!(produced <= 8, "read past max_body: {produced} KiB");
    let refused = f
        .cache
        .stats()
        .route::<cache_runtime::route!(growing)>()
        .expect("the route's stats")
        .refused;
    assert!(
        refused >= 1,
        "the refresh's answer is counted as not stored"
    );
    let again = app.get("/growing").await;
    assert_eq!(again.x_cache(), "STALE", "the stale entry stays");
    assert_eq!(again.body, "the small body");
}

/// A `HEAD` past a route's refresh-ahead point is answered from the entry
/// and starts no refresh: the `HEAD` handler's empty body never becomes
/// the `GET` entry. A `GET` then refreshes it with the full body.
async fn a_head_past_the_refresh_point_never_refreshes(backend: Backend) {
    let (_f, app) = setup(backend, "head_ahead").await;
    assert_eq!(app.get("/headless-ahead").await.x_cache(), "MISS");
    tokio::time::sleep(Duration::from_millis(1_100)).await; // past half its TTL
    let head = send(&app, Method::HEAD, "/headless-ahead").await;
    assert_eq!(head.x_cache(), "HIT");
    // A refresh would start at once: give it the time to show.
    let runs = support::settled(
        Duration::from_millis(300),
        Duration::from_secs(5),
        |&runs| runs > 1,
        || async { app.calls.get("headless_ahead") },
    )
    .await;
    assert_eq!(runs, 1, "no refresh from HEAD");
    let get = app.get("/headless-ahead").await;
    assert_eq!(get.x_cache(), "HIT");
    assert_eq!(get.body, "the full body");
    eventually(Duration::from_secs(3), || async {
        app.calls.get("headless_ahead") == 2
    })
    .await;
    // The refreshed entry is the GET's, and still fresh past the first
    // entry's end (t = 2 s).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = app.get("/headless-ahead").await;
    assert_eq!(after.x_cache(), "HIT");
    assert_eq!(after.body, "the full body");
}

/// A `HEAD` answered from a stale entry does not refresh it with the
/// `HEAD` handler's empty body: the next `GET`s get the full body.
async fn a_head_on_a_stale_entry_never_refreshes_it(backend: Backend) {
    let (_f, app) = setup(backend, "head_stale").await;
    assert_eq!(app.get("/headless").await.body, "the full body");
    tokio::time::sleep(Duration::from_millis(1100)).await; // past its TTL
    let head = send(&app, Method::HEAD, "/headless").await;
    assert_eq!(head.x_cache(), "STALE");
    // The GET refreshes it (in the background): wait for the fresh entry.
    eventually(Duration::from_secs(3), || async {
        let reply = app.get("/headless").await;
        assert_eq!(reply.body, "the full body", "{}", reply.x_cache());
        reply.x_cache() == "HIT"
    })
    .await;
}
