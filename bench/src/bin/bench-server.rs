//! One benchmark server: `bench-server <mode> <port> [redis-url]`, serving
//! `GET /items/{id}` in one of the ways the load benchmark compares.
//!
//! Modes: `static` (precomputed bodies: the ceiling), `redis-get` (a
//! hand-written handler doing one Redis GET: the floor cost of a
//! Redis-backed hit), `route-redis`, `route-embedded` and `route-two-tier`
//! (`#[cached_route]` on Redis, the in-process store, or an in-process L1 in
//! front of Redis), `cached-crate` (the `cached` crate's
//! Redis-backed async macro inside an axum handler).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use bytes::Bytes;
use cache_runtime::{cached_route, RouteCache};
use route_cache_bench::{
    cached_crate_item, item, load_catalog, load_item, redis_get_router, set_redis_url, Item, JSON,
};
use std::sync::Arc;

async fn static_item(State(bodies): State<Arc<Vec<Bytes>>>, Path(id): Path<u64>) -> Response {
    match bodies.get(usize::try_from(id).unwrap_or(usize::MAX)) {
        Some(body) => (JSON, body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cached_route(ttl = 3600)]
async fn route_item(Path(id): Path<u64>) -> Json<Item> {
    Json(load_item(id).await)
}

/// The uncached handler nginx and Varnish front.
async fn origin_item(Path(id): Path<u64>) -> Json<Item> {
    Json(load_item(id).await)
}

#[cached_route(ttl = 3600)]
async fn catalog_page(Path(id): Path<u64>) -> Json<Vec<Item>> {
    Json(load_catalog(id).await)
}

#[cached_route(ttl = 3600, compress = false)]
async fn catalog_page_identity(Path(id): Path<u64>) -> Json<Vec<Item>> {
    Json(load_catalog(id).await)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "static".into());
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(3100);
    let redis_url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    set_redis_url(&redis_url);

    let app = match mode.as_str() {
        "static" => {
            let bodies: Vec<Bytes> = (0..1000)
                .map(|id| Bytes::from(serde_json::to_vec(&item(id)).unwrap()))
                .collect();
            Router::new()
                .route("/items/{id}", get(static_item))
                .with_state(Arc::new(bodies))
        }
        "redis-get" => redis_get_router(&redis_url).await,
        "route-redis" | "route-two-tier" => {
            // The two-tier server adds an in-process L1 in front of Redis.
            let l1 = if mode == "route-two-tier" {
                64 << 20
            } else {
                0
            };
            let cache = RouteCache::builder()
                .prefix("bench")
                .redis(redis_url.as_str())
                .l1_capacity(l1)
                .build()
                .await
                .expect("cache");
            Router::new()
                .route("/items/{id}", get(route_item))
                .layer(cache.layer())
        }
        "route-embedded" => Router::new()
            .route("/items/{id}", get(route_item))
            .layer(RouteCache::embedded().layer()),
        "cached-crate" => Router::new().route("/items/{id}", get(cached_crate_item)),
        "origin" => Router::new().route("/items/{id}", get(origin_item)),
        "catalog-route" => Router::new()
            .route("/items/{id}", get(catalog_page))
            .layer(RouteCache::embedded().layer()),
        "catalog-layer" => Router::new()
            .route("/items/{id}", get(catalog_page_identity))
            .layer(RouteCache::embedded().layer())
            .layer(tower_http::compression::CompressionLayer::new()),
        "catalog-plain" => Router::new()
            .route("/items/{id}", get(catalog_page_identity))
            .layer(RouteCache::embedded().layer()),
        other => {
            eprintln!("unknown mode {other}; modes: static, redis-get, route-redis, route-embedded, route-two-tier, cached-crate, origin, catalog-route, catalog-layer, catalog-plain");
            std::process::exit(2);
        }
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    eprintln!("bench-server {mode} listening on 127.0.0.1:{port}");
    axum::serve(listener, app).await.expect("serve");
}
