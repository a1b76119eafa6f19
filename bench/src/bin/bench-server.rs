//! One benchmark server: `bench-server <mode> <port> [redis-url]`, serving
//! `GET /items/{id}` in one of the ways the load benchmark compares.
//!
//! Modes: `static` (precomputed bodies: the ceiling), `static-fields`
//! (the same bodies with the fields a cache hit sends beside
//! `Content-Type` and `Content-Length`, made once per body: what sending
//! them costs any server), `hand-cache` (a hand-written in-process
//! cache: the relative URI looked up in a locked `HashMap`, the stored
//! body sent with those fields, as the Falcon post's middleware does in
//! Redis: the floor of any keyed in-process hit), `static-layered`
//! (the same handler inside a cache's layer, which answers none of its
//! requests: what the layer costs), `redis-get` (a
//! hand-written handler doing one Redis GET: the floor cost of a
//! Redis-backed hit), `route-redis`, `route-embedded` and `route-two-tier`
//! (`#[cached_route]` on Redis, the in-process store, or an in-process L1 in
//! front of Redis), `cached-crate` (the `cached` crate's
//! Redis-backed async macro inside an axum handler).
//!
//! The cost curves (`bench/curves.sh`) set, through the environment:
//! `BODY_BYTES` (serve bodies of about that size, compressible JSON, from
//! `static` and the `route-*` modes; `static` then also answers gzip
//! clients with precompressed bytes), `STATIC_KEYS` (how many bodies
//! `static` precomputes, default 1000), `EMBEDDED_CAPACITY` and
//! `L1_CAPACITY` (bytes), `MAX_BODY` and `MISS_COST_MS`. Every mode that
//! serves `/items/{id}` also serves `/large/{id}`: a cold 1 MB
//! compressible body (`LARGE_BYTES`), cached by the `route-*` modes; and
//! the `route-*` modes serve `/__stats`: the store's `entries bytes`, then
//! `hits=`, `l1_hits=`, `l1_flushes=`, `l1_live=` and `backend_errors=`
//! (whether a two-tier server's hits came from its L1). The
//! `route-*` modes serve the router inside the cache's layer; with
//! `CACHE_LAYER=route`, through `Router::layer` instead.

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
    cached_crate_item, env_number, hand_cache_router, item, load_catalog, load_item, miss_cost,
    redis_get_router, set_redis_url, sized_body, static_fields_router, App, Item, JSON,
};
use std::sync::{Arc, OnceLock};

/// The bodies `static` serves: identity, and gzipped when sized.
struct StaticBodies {
    identity: Vec<Bytes>,
    gzip: Option<Vec<Bytes>>,
}

async fn static_item(
    State(bodies): State<Arc<StaticBodies>>,
    headers: axum::http::HeaderMap,
    Path(id): Path<u64>,
) -> Response {
    let index = usize::try_from(id).unwrap_or(usize::MAX);
    let gzip = headers
        .get(axum::http::header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    if let (true, Some(zipped)) = (gzip, &bodies.gzip) {
        if let Some(body) = zipped.get(index) {
            let headers = [
                (axum::http::header::CONTENT_TYPE, "application/json"),
                (axum::http::header::CONTENT_ENCODING, "gzip"),
                (axum::http::header::VARY, "accept-encoding"),
            ];
            return (headers, body.clone()).into_response();
        }
    }
    match bodies.identity.get(index) {
        Some(body) => (JSON, body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `BODY_BYTES`, when set.
fn body_bytes() -> Option<usize> {
    static BYTES: OnceLock<Option<usize>> = OnceLock::new();
    *BYTES.get_or_init(|| env_number("BODY_BYTES").and_then(|n| usize::try_from(n).ok()))
}

/// A body of `BODY_BYTES` for `id`, after the miss cost.
async fn load_sized(
    id: u64,
    bytes: usize,
) -> ([(axum::http::HeaderName, &'static str); 1], Vec<u8>) {
    tokio::time::sleep(miss_cost()).await;
    (JSON, sized_body(id, bytes))
}

#[cached_route(ttl = 3600)]
async fn sized_item(Path(id): Path<u64>) -> ([(axum::http::HeaderName, &'static str); 1], Vec<u8>) {
    load_sized(id, body_bytes().unwrap_or(1000)).await
}

/// The large cold misses of the mixed-load curve.
#[cached_route(ttl = 3600)]
async fn large_item(Path(id): Path<u64>) -> ([(axum::http::HeaderName, &'static str); 1], Vec<u8>) {
    load_sized(id, env_number("LARGE_BYTES").unwrap_or(1_000_000) as usize).await
}

async fn origin_sized(
    Path(id): Path<u64>,
) -> ([(axum::http::HeaderName, &'static str); 1], Vec<u8>) {
    load_sized(id, body_bytes().unwrap_or(1000)).await
}

async fn origin_large(
    Path(id): Path<u64>,
) -> ([(axum::http::HeaderName, &'static str); 1], Vec<u8>) {
    load_sized(id, env_number("LARGE_BYTES").unwrap_or(1_000_000) as usize).await
}

/// The store's `entries bytes` (the L1's for two tiers), entries and index
/// sets together.
async fn store_stats(State(cache): State<RouteCache>) -> String {
    let stats = cache.stats();
    let hits: u64 = stats.routes.iter().map(|route| route.hits).sum();
    format!(
        "{} {} hits={hits} l1_hits={} l1_flushes={} l1_live={} backend_errors={}\n",
        stats.entries,
        stats.bytes + stats.index_bytes,
        stats.l1_hits,
        stats.l1_flushes,
        stats.l1_live,
        stats.backend_errors,
    )
}

/// The item routes of the `route-*` modes, sized or not, with `/large`
/// and `/__stats`, on `cache`: served inside the cache's layer (one
/// service for the application), or with `CACHE_LAYER=route` through
/// `Router::layer` (every route wrapped in it).
fn route_app(cache: RouteCache) -> App {
    let items = if body_bytes().is_some() {
        get(sized_item)
    } else {
        get(route_item)
    };
    let routes = Router::new()
        .route("/items/{id}", items)
        .route("/large/{id}", get(large_item));
    let stats = get(store_stats).with_state(cache.clone());
    if std::env::var("CACHE_LAYER").as_deref() == Ok("route") {
        return App::Router(routes.layer(cache.layer()).route("/__stats", stats));
    }
    App::around(routes.route("/__stats", stats), &cache)
}

/// A builder with the curves' settings from the environment.
fn builder() -> cache_runtime::RouteCacheBuilder {
    RouteCache::builder()
        .prefix("bench")
        .embedded_capacity(env_number("EMBEDDED_CAPACITY").unwrap_or(64 << 20))
        .max_body(env_number("MAX_BODY").unwrap_or(2 << 20) as usize)
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

    let app: App = match mode.as_str() {
        "static" | "static-layered" => {
            let keys = env_number("STATIC_KEYS").unwrap_or(1000);
            let identity: Vec<Bytes> = (0..keys)
                .map(|id| match body_bytes() {
                    Some(bytes) => Bytes::from(sized_body(id, bytes)),
                    None => Bytes::from(serde_json::to_vec(&item(id)).unwrap()),
                })
                .collect();
            // gzip at the level the cache stores with (6).
            let gzip = body_bytes().map(|_| {
                identity
                    .iter()
                    .map(|body| {
                        use std::io::Write;
                        let mut encoder =
                            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                        encoder.write_all(body).expect("gzip");
                        Bytes::from(encoder.finish().expect("gzip"))
                    })
                    .collect()
            });
            let router = Router::new()
                .route("/items/{id}", get(static_item))
                .with_state(Arc::new(StaticBodies { identity, gzip }))
                .route("/large/{id}", get(origin_large));
            if mode == "static" {
                App::Router(router)
            } else {
                // The same handler inside a cache's layer: what the layer
                // costs a request it does not answer.
                App::around(router, &builder().build().await.expect("cache"))
            }
        }
        "static-fields" => App::Router(
            static_fields_router(env_number("STATIC_KEYS").unwrap_or(1000))
                .route("/large/{id}", get(origin_large)),
        ),
        "hand-cache" => App::Router(hand_cache_router().route("/large/{id}", get(origin_large))),
        "redis-get" => App::Router(redis_get_router(&redis_url).await),
        "route-redis" | "route-two-tier" => {
            // The two-tier server adds an in-process L1 in front of Redis.
            let l1 = if mode == "route-two-tier" {
                env_number("L1_CAPACITY").unwrap_or(64 << 20)
            } else {
                0
            };
            let cache = builder()
                .redis(redis_url.as_str())
                .l1_capacity(l1)
                .build()
                .await
                .expect("cache");
            route_app(cache)
        }
        "route-embedded" => route_app(builder().build().await.expect("cache")),
        "cached-crate" => App::Router(Router::new().route("/items/{id}", get(cached_crate_item))),
        "origin" => {
            let items = if body_bytes().is_some() {
                get(origin_sized)
            } else {
                get(origin_item)
            };
            App::Router(
                Router::new()
                    .route("/items/{id}", items)
                    .route("/large/{id}", get(origin_large)),
            )
        }
        "catalog-route" => App::Router(
            Router::new()
                .route("/items/{id}", get(catalog_page))
                .layer(RouteCache::embedded().layer()),
        ),
        "catalog-layer" => App::Router(
            Router::new()
                .route("/items/{id}", get(catalog_page_identity))
                .layer(RouteCache::embedded().layer())
                .layer(tower_http::compression::CompressionLayer::new()),
        ),
        "catalog-plain" => App::Router(
            Router::new()
                .route("/items/{id}", get(catalog_page_identity))
                .layer(RouteCache::embedded().layer()),
        ),
        other => {
            eprintln!("unknown mode {other}; modes: static, static-fields, hand-cache, static-layered, redis-get, route-redis, route-embedded, route-two-tier, cached-crate, origin, catalog-route, catalog-layer, catalog-plain");
            std::process::exit(2);
        }
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    eprintln!("bench-server {mode} listening on 127.0.0.1:{port}");
    match app {
        App::Router(app) => axum::serve(listener, app).await,
        App::Around(app) => {
            let app = axum::ServiceExt::<axum::extract::Request>::into_make_service(app);
            axum::serve(listener, app).await
        }
    }
    .expect("serve");
}
