//! Soft purge, on every backend, over real HTTP: after a soft invalidation
//! (by tag, path, route, namespace, everything, or `#[invalidates(soft =
//! true)]`) the entry is served stale, while one refresh recomputes it for
//! a burst of concurrent requests; then the refreshed entry is a hit. A
//! hard invalidation of the same entry is a miss, as the control shows.

use crate::support;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::get,
    Json, Router,
};
use bytes::Bytes;
use cache_runtime::{cached_route, invalidates, route, RouteCache};
use http::Method;
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
}

#[cached_route(ttl = 600, tags = ["item:{id}"], namespace = "soft")]
async fn item(State(data): State<Data>, Path(id): Path<u64>) -> Json<serde_json::Value> {
    data.runs.fetch_add(1, Ordering::SeqCst);
    let version = data.version.load(Ordering::SeqCst);
    // Slow enough for a burst of requests to arrive during the refresh.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Json(serde_json::json!({ "id": id, "version": version }))
}

#[invalidates(tags = ["item:{id}"], soft = true)]
async fn touch(Path(id): Path<u64>) -> StatusCode {
    let _ = id;
    StatusCode::NO_CONTENT
}

async fn serve(f: &Fixture, data: &Data) -> Arc<TestApp> {
    let router = Router::new()
        .route("/items/{id}", get(item).post(touch))
        .with_state(data.clone())
        .layer(f.cache.layer());
    Arc::new(TestApp::serve(router, support::Calls::default()).await)
}

#[derive(Clone, Copy, Debug)]
enum Soft {
    Tag,
    Path,
    Route,
    Namespace,
    All,
    Attribute,
}

async fn soft_invalidate(cache: &RouteCache, app: &TestApp, how: Soft) -> usize {
    let soft = cache.soft();
    let marked = match how {
        Soft::Tag => soft.invalidate_tag("item:1").await,
        Soft::Path => soft.invalidate("/items/1").await,
        Soft::Route => soft.invalidate_route::<route!(item)>().await,
        Soft::Namespace => soft.invalidate_namespace("soft").await,
        Soft::All => soft.invalidate_all().await,
        Soft::Attribute => {
            let reply = app
                .request(Method::POST, "/items/1", &[], Bytes::new())
                .await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT);
            return 1;
        }
    };
    marked.unwrap_or_else(|e| panic!("{how:?}: {e}"))
}

async fn soft_purge(backend: Backend, how: Soft) {
    let f = Fixture::new(backend, "soft-purge").await;
    let data = Data::default();
    let app = serve(&f, &data).await;
    assert_eq!(app.get("/items/1").await.x_cache(), "MISS");
    assert_eq!(app.get("/items/1").await.x_cache(), "HIT");
    data.version.store(1, Ordering::SeqCst);
    assert_eq!(
        soft_invalidate(&f.cache, &app, how).await,
        1,
        "{how:?}: one entry marked"
    );

    // A burst: every request is answered at once from the stale entry, and
    // the handler runs once for all of them.
    let burst: Vec<_> = (0..10)
        .map(|_| {
            let app = Arc::clone(&app);
            tokio::spawn(async move { app.get("/items/1").await })
        })
        .collect();
    for reply in burst {
        let reply = reply.await.unwrap();
        assert_eq!(reply.x_cache(), "STALE", "{how:?}");
        assert_eq!(reply.json()["version"], 0, "{how:?}: the marked entry");
    }
    // The refresh stores the new version.
    let mut refreshed = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let reply = app.get("/items/1").await;
        if reply.x_cache() == "HIT" && reply.json()["version"] == 1 {
            refreshed = Some(reply);
            break;
        }
    }
    assert!(
        refreshed.is_some(),
        "{how:?}: the refresh replaced the entry"
    );
    assert_eq!(data.runs.load(Ordering::SeqCst), 2, "{how:?}: one refresh");
}

async fn soft_by_tag(backend: Backend) {
    soft_purge(backend, Soft::Tag).await;
}

async fn soft_by_path(backend: Backend) {
    soft_purge(backend, Soft::Path).await;
}

async fn soft_by_route(backend: Backend) {
    soft_purge(backend, Soft::Route).await;
}

async fn soft_by_namespace(backend: Backend) {
    soft_purge(backend, Soft::Namespace).await;
}

async fn soft_everything(backend: Backend) {
    soft_purge(backend, Soft::All).await;
}

async fn soft_by_attribute(backend: Backend) {
    soft_purge(backend, Soft::Attribute).await;
}

/// The control: a hard invalidation of the same entry is a miss.
async fn hard_invalidation_is_a_miss(backend: Backend) {
    let f = Fixture::new(backend, "soft-control").await;
    let data = Data::default();
    let app = serve(&f, &data).await;
    app.get("/items/1").await;
    data.version.store(1, Ordering::SeqCst);
    f.cache.invalidate_tag("item:1").await.unwrap();
    let reply = app.get("/items/1").await;
    assert_eq!(reply.x_cache(), "MISS");
    assert_eq!(reply.json()["version"], 1);
}

backend_matrix!(
    soft_by_tag,
    soft_by_path,
    soft_by_route,
    soft_by_namespace,
    soft_everything,
    soft_by_attribute,
    hard_invalidation_is_a_miss,
);
