//! Race-free fills, on every backend, over real HTTP: a miss whose handler
//! read its data before an invalidation must not store its response after
//! it. The handler reads the data's version, then takes 400 ms; meanwhile
//! the data changes and is invalidated (by path, tag, route, namespace or
//! everything). The slow request still gets its answer, but the next
//! request is a miss that sees the new version, where a cache-aside fill
//! would have stored the old one for a full TTL.

use crate::support;

use axum::{
    extract::{Path, State},
    routing::get,
    Json, Router,
};
use cache_runtime::{cached_route, route, RouteCache};
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};
use support::{Backend, Fixture, TestApp};

#[derive(Clone, Default)]
struct Data {
    version: Arc<AtomicU64>,
    runs: Arc<AtomicU64>,
    /// Handler runs that have read the version.
    reads: Arc<AtomicU64>,
}

#[cached_route(ttl = 600, tags = ["item:{id}"], namespace = "race")]
async fn slow(State(data): State<Data>, Path(id): Path<u64>) -> Json<serde_json::Value> {
    data.runs.fetch_add(1, Ordering::SeqCst);
    // Read first, then the slow part: what a handler querying a database
    // and rendering its answer does.
    let version = data.version.load(Ordering::SeqCst);
    data.reads.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(400)).await;
    Json(serde_json::json!({ "id": id, "version": version }))
}

async fn serve(f: &Fixture, data: &Data) -> TestApp {
    let router = Router::new()
        .route("/slow/{id}", get(slow))
        .with_state(data.clone())
        .layer(f.cache.layer());
    TestApp::serve(router, support::Calls::default()).await
}

/// `GET /slow/1`, running in a task of its own.
fn start_slow_request(app: &Arc<TestApp>) -> tokio::task::JoinHandle<support::Reply> {
    let app = Arc::clone(app);
    tokio::spawn(async move { app.get("/slow/1").await })
}

#[derive(Clone, Copy, Debug)]
enum Invalidation {
    Path,
    Tag,
    Route,
    Namespace,
    All,
}

async fn invalidate(cache: &RouteCache, how: Invalidation) {
    let result = match how {
        Invalidation::Path => cache.invalidate("/slow/1").await,
        Invalidation::Tag => cache.invalidate_tag("item:1").await,
        Invalidation::Route => cache.invalidate_route::<route!(slow)>().await,
        Invalidation::Namespace => cache.invalidate_namespace("race").await,
        Invalidation::All => cache.invalidate_all().await,
    };
    result.unwrap_or_else(|e| panic!("{how:?} invalidation failed: {e}"));
}

/// Waits until the slow handler has read the data's version.
async fn has_read(data: &Data) {
    support::eventually(Duration::from_secs(5), || async {
        data.reads.load(Ordering::SeqCst) == 1
    })
    .await;
}

/// One race: the slow miss, the change and invalidation while it runs,
/// then the requests after it.
async fn race(backend: Backend, how: Invalidation) {
    let f = Fixture::new(backend, "race-fill").await;
    let data = Data::default();
    let app = Arc::new(serve(&f, &data).await);
    let slow_request = start_slow_request(&app);
    // Once the handler has read version 0.
    has_read(&data).await;
    assert_eq!(
        data.runs.load(Ordering::SeqCst),
        1,
        "{how:?}: the slow miss is running"
    );
    data.version.store(1, Ordering::SeqCst);
    invalidate(&f.cache, how).await;
    let first = slow_request.await.unwrap();
    assert_eq!(first.x_cache(), "MISS", "{how:?}");
    assert_eq!(
        first.json()["version"],
        0,
        "{how:?}: it answers with what it read"
    );

    let next = app.get("/slow/1").await;
    assert_eq!(
        next.x_cache(),
        "MISS",
        "{how:?}: the fill that began before the invalidation stored nothing"
    );
    assert_eq!(next.json()["version"], 1, "{how:?}");
    let then = app.get("/slow/1").await;
    assert_eq!(then.x_cache(), "HIT", "{how:?}: later fills are stored");
    assert_eq!(then.json()["version"], 1, "{how:?}");
    assert_eq!(data.runs.load(Ordering::SeqCst), 2, "{how:?}");
}

async fn invalidating_the_path_mid_fill(backend: Backend) {
    race(backend, Invalidation::Path).await;
}

async fn invalidating_the_tag_mid_fill(backend: Backend) {
    race(backend, Invalidation::Tag).await;
}

async fn invalidating_the_route_mid_fill(backend: Backend) {
    race(backend, Invalidation::Route).await;
}

async fn invalidating_the_namespace_mid_fill(backend: Backend) {
    race(backend, Invalidation::Namespace).await;
}

async fn invalidating_everything_mid_fill(backend: Backend) {
    race(backend, Invalidation::All).await;
}

/// The control: the same slow fill with no invalidation meanwhile is
/// stored, and an invalidation of another item does not withhold it.
async fn unrelated_invalidations_keep_the_fill(backend: Backend) {
    let f = Fixture::new(backend, "race-control").await;
    let data = Data::default();
    let app = Arc::new(serve(&f, &data).await);
    let slow_request = start_slow_request(&app);
    has_read(&data).await;
    f.cache.invalidate_tag("item:2").await.unwrap();
    f.cache.invalidate("/slow/2").await.unwrap();
    assert_eq!(slow_request.await.unwrap().x_cache(), "MISS");
    // Stored (a body is saved once it has been sent, which the client may
    // see first).
    support::eventually(Duration::from_secs(5), || async {
        f.cache
            .stats()
            .route::<cache_runtime::route!(slow)>()
            .is_some_and(|r| r.stored == 1)
    })
    .await;
    let next = app.get("/slow/1").await;
    assert_eq!(next.x_cache(), "HIT");
    assert_eq!(next.json()["version"], 0);
    assert_eq!(data.runs.load(Ordering::SeqCst), 1);
}

backend_matrix!(
    invalidating_the_path_mid_fill,
    invalidating_the_tag_mid_fill,
    invalidating_the_route_mid_fill,
    invalidating_the_namespace_mid_fill,
    invalidating_everything_mid_fill,
    unrelated_invalidations_keep_the_fill,
);
