//! A small catalogue API with cached routes.
//!
//! ```sh
//! cargo run --example server                                # in-process store
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --example server  # Redis
//! REDIS_CLUSTER_URLS=redis://127.0.0.1:7000,redis://127.0.0.1:7001 \
//!     cargo run --example server                                # Redis Cluster
//! ```
//!
//! Listens on `$PORT` (default 3000). Metrics, per route, in Prometheus'
//! text format: `curl http://127.0.0.1:3000/metrics`. With
//! `CACHE_ADMIN_TOKEN` set (16 bytes or more), the admin API is mounted at
//! `/_cache` (purge, routes, stats); without it, not at all.

use axum::{
    extract::{Path, Query},
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use cache_runtime::{cached_route, invalidates, Backend, RouteCache};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Serialize)]
struct Item {
    id: u64,
    name: String,
    price_cents: u64,
    generated_at_ms: u128,
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn item(id: u64) -> Item {
    Item {
        id,
        name: format!("Item {id}"),
        price_cents: 100 + id * 7 % 900,
        generated_at_ms: now_ms(),
    }
}

/// One item. A miss costs about 20 ms (a stand-in for a database query);
/// cached for an hour, tagged so that an update can drop it.
#[cached_route(ttl = 3600, tags = ["item:{id}"])]
async fn get_item(Path(id): Path<u64>) -> Result<Json<Item>, (StatusCode, &'static str)> {
    if id == 0 {
        return Err((StatusCode::NOT_FOUND, "no item 0"));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(Json(item(id)))
}

#[derive(Deserialize)]
struct Page {
    page: Option<u64>,
    limit: Option<u64>,
}

/// A page of items; cached for ten minutes, one entry per page and limit.
#[cached_route(ttl = "10m", tags = ["item-pages"])]
async fn list_items(Query(page): Query<Page>) -> Json<Vec<Item>> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    let limit = page.limit.unwrap_or(10).min(100);
    let first = page.page.unwrap_or(0) * limit + 1;
    Json((first..first + limit).map(item).collect())
}

/// The whole catalogue, 1,000 items, more than 64 KB of JSON. Stored
/// gzip-compressed once; served as stored to clients that accept gzip
/// (`curl --compressed`), decompressed for the others:
/// `curl -sI --compressed http://127.0.0.1:3000/catalog` shows
/// `content-encoding: gzip` and `vary: accept-encoding`.
#[cached_route(ttl = "10m", tags = ["item-pages"])]
async fn catalog() -> Json<Vec<Item>> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    Json((1..=1000).map(item).collect())
}

/// The server's clock, cached for five seconds and refreshed ahead: a hit
/// on an entry 4 s old also recomputes it in the background (once per key,
/// across instances), so polling it never misses after the first request.
#[cached_route(ttl = 5, refresh_ahead = 0.8)]
async fn time() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "now_ms": now_ms() }))
}

/// An item's price, in shadow mode before it is cached for real: the
/// handler answers every request, and `/metrics` shows how often the
/// stored entry would have been wrong (`route_cache_shadow_total`).
#[cached_route(ttl = 60, shadow = true)]
async fn price(Path(id): Path<u64>) -> Json<serde_json::Value> {
    // Changes every ten seconds: a cached answer would be stale by then.
    let tick = u64::try_from(now_ms() / 10_000).unwrap_or(0);
    Json(serde_json::json!({ "id": id, "price_cents": 100 + (id + tick) % 50 }))
}

/// "Updates" an item: its entry and every page are invalidated after the
/// 204, on every instance.
#[invalidates(tags = ["item:{id}", "item-pages"])]
async fn touch_item(Path(id): Path<u64>) -> StatusCode {
    tracing::info!(id, "item updated");
    StatusCode::NO_CONTENT
}

/// Not cached.
async fn health() -> &'static str {
    "ok"
}

/// The metrics in Prometheus' text format. Not cached.
async fn render(prometheus: PrometheusHandle) -> String {
    prometheus.render()
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    // Before the cache: its metrics register with the recorder installed
    // when it is built.
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .expect("install the Prometheus recorder");
    let upkeep = prometheus.clone();
    tokio::spawn(async move {
        // Drains histogram samples into their summaries.
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });

    let cache = RouteCache::from_env().await;
    let mut app = Router::new()
        .route("/items/{id}", get(get_item))
        .route("/items/{id}/price", get(price))
        .route("/items/{id}/touch", post(touch_item))
        .route("/items", get(list_items))
        .route("/catalog", get(catalog))
        .route("/time", get(time))
        .route("/health", get(health))
        .layer(cache.layer())
        .route("/metrics", get(move || render(prometheus.clone())));
    let admin_token = std::env::var("CACHE_ADMIN_TOKEN").ok();
    if let Some(token) = &admin_token {
        // A token shorter than 16 bytes is refused at start-up.
        match cache.admin(token) {
            Ok(admin) => app = app.nest("/_cache", admin),
            Err(e) => {
                eprintln!("CACHE_ADMIN_TOKEN: {e}");
                std::process::exit(2);
            }
        }
    }

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("cannot listen on 127.0.0.1:{port}: {e}"));
    // The port bound, which PORT=0 leaves to the system.
    let port = listener.local_addr().map_or(port, |addr| addr.port());
    // Where the cache stores, truthfully (hosts and ports, TLS, the L1;
    // never a password), or why it is off.
    println!("cache: {cache}");
    if cache.backend() == Backend::Embedded {
        println!("  (set REDIS_URL, REDIS_CLUSTER_URLS or REDIS_SENTINEL_URLS to share it)");
    }
    println!("listening on http://127.0.0.1:{port}; try:");
    println!("  curl -i http://127.0.0.1:{port}/items/42        # MISS (~20 ms), then HIT");
    println!("  curl -i 'http://127.0.0.1:{port}/items?limit=3&page=2'");
    println!("  curl -i 'http://127.0.0.1:{port}/items?page=2&limit=3'   # same entry");
    println!("  curl -i -X POST http://127.0.0.1:{port}/items/42/touch   # invalidates item:42");
    println!("  curl -i http://127.0.0.1:{port}/time            # Age grows to 4 s, then a refresh-ahead");
    println!("  curl http://127.0.0.1:{port}/items/42/price     # shadow mode: always the handler");
    println!("  curl http://127.0.0.1:{port}/metrics            # hits and misses per route");
    if admin_token.is_some() {
        println!(
            "  curl -H \"authorization: Bearer $CACHE_ADMIN_TOKEN\" http://127.0.0.1:{port}/_cache/routes"
        );
    }
    axum::serve(listener, app).await.expect("server error");
}
