//! Warm-up (`RouteCache::warm`), on every backend: 100 URLs warmed
//! through the application's router, at most `concurrency` at a time, are
//! then 100 hits; two instances warming the same URLs at once compute each
//! URL once.

use crate::support;

use axum::{
    extract::{Path, State},
    routing::get,
    Router,
};
use cache_runtime::{cached_route, RouteCache};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{Backend, Calls, Fixture, TestApp};

#[cached_route(ttl = 600)]
async fn page(State(calls): State<Calls>, Path(n): Path<u32>) -> String {
    calls.record("page");
    // Slow enough for the two instances' warm-ups to overlap.
    tokio::time::sleep(Duration::from_millis(20)).await;
    format!("page {n}")
}

fn router(cache: &RouteCache, calls: &Calls) -> Router {
    Router::new()
        .route("/pages/{n}", get(page))
        .route("/plain", get(|| async { "not cached" }))
        .with_state(calls.clone())
        .layer(cache.layer())
}

/// The application served inside the cache's layer
/// (`cache.layer().layer(router)`): `warm` gets the bare router, and the
/// URLs it warms are then hits through the served application.
async fn a_router_served_inside_the_layer_is_warmed_too(backend: Backend) {
    let f = Fixture::new(backend, "warm_around").await;
    let calls = Calls::default();
    let bare = Router::new()
        .route("/pages/{n}", get(page))
        .with_state(calls.clone());
    let warmed = f.cache.warm(&bare, ["/pages/1", "/pages/2"], 2).await;
    assert!(
        warmed.iter().all(|w| w.stored && w.x_cache == "MISS"),
        "{warmed:?}"
    );
    let served = TestApp::serve_around(bare, &f.cache, calls.clone()).await;
    for url in ["/pages/1", "/pages/2"] {
        assert_eq!(served.get(url).await.x_cache(), "HIT", "{url}");
    }
    assert_eq!(calls.get("page"), 2, "no handler ran again");
}

fn urls() -> Vec<String> {
    (0..100).map(|n| format!("/pages/{n}")).collect()
}

async fn warmed_urls_are_hits(backend: Backend) {
    let f = Fixture::new(backend, "warm").await;
    let calls = Calls::default();
    let app = router(&f.cache, &calls);
    let warmed = f.cache.warm(&app, urls(), 8).await;
    assert_eq!(warmed.len(), 100);
    for (w, url) in warmed.iter().zip(urls()) {
        assert_eq!(w.url, url, "in the order given");
        assert_eq!(w.status, 200, "{w:?}");
        assert_eq!(w.x_cache, "MISS", "{w:?}");
        assert!(w.stored, "{w:?}");
    }
    assert_eq!(calls.get("page"), 100);
    let served = TestApp::serve(app, calls.clone()).await;
    for url in urls() {
        assert_eq!(served.get(&url).await.x_cache(), "HIT", "{url}");
    }
    assert_eq!(calls.get("page"), 100, "no handler ran again");
    // Warming again finds them stored; a route that is not cached and a
    // URL that is none are reported as such.
    let again = f
        .cache
        .warm(
            &router(&f.cache, &calls),
            ["/pages/1", "/plain", "http://[bad"],
            8,
        )
        .await;
    assert_eq!((again[0].x_cache.as_str(), again[0].stored), ("HIT", true));
    assert_eq!((again[1].status.as_u16(), again[1].stored), (200, false));
    assert_eq!(again[1].x_cache, "");
    assert_eq!(again[2].status, 400);
    assert_eq!(calls.get("page"), 100);
}

async fn two_instances_warming_at_once_compute_each_url_once(backend: Backend) {
    let f = Fixture::new(backend, "warm-two").await;
    let second = f.another_instance(backend).await;
    let calls = Calls::default();
    let (a, b) = (router(&f.cache, &calls), router(&second, &calls));
    let (left, right) = tokio::join!(f.cache.warm(&a, urls(), 8), second.warm(&b, urls(), 8));
    assert!(left
        .iter()
        .chain(&right)
        .all(|w| w.status == 200 && w.stored));
    assert_eq!(calls.get("page"), 100, "each URL computed once");
}

#[cached_route(ttl = 600)]
async fn counted(Path(n): Path<u32>) -> String {
    let now = COUNTED_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    COUNTED_MOST.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    COUNTED_RUNNING.fetch_sub(1, Ordering::SeqCst);
    format!("counted {n}")
}

/// Handlers of `counted` running now, and the most seen at once (one
/// test uses the route).
static COUNTED_RUNNING: AtomicUsize = AtomicUsize::new(0);
static COUNTED_MOST: AtomicUsize = AtomicUsize::new(0);

/// The concurrency given is the bound, and is used: 40 slow URLs warmed
/// three at a time never run four handlers at once, and do run three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_up_runs_at_most_the_concurrency_given() {
    let cache = RouteCache::embedded();
    let app = Router::new()
        .route("/counted/{n}", get(counted))
        .layer(cache.layer());
    let urls: Vec<String> = (0..40).map(|n| format!("/counted/{n}")).collect();
    let warmed = cache.warm(&app, &urls, 3).await;
    assert!(warmed.iter().all(|w| w.stored), "{warmed:?}");
    assert_eq!(COUNTED_MOST.load(Ordering::SeqCst), 3, "three at a time");
    // Zero is read as one.
    COUNTED_MOST.store(0, Ordering::SeqCst);
    let again: Vec<String> = (40..45).map(|n| format!("/counted/{n}")).collect();
    assert!(cache.warm(&app, &again, 0).await.iter().all(|w| w.stored));
    assert_eq!(COUNTED_MOST.load(Ordering::SeqCst), 1, "one at a time");
}

backend_matrix!(
    warmed_urls_are_hits,
    a_router_served_inside_the_layer_is_warmed_too,
    two_instances_warming_at_once_compute_each_url_once,
);
