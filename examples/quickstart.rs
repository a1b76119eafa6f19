//! The README's quickstart as a program that compiles with the examples
//! (`tests/suite/api.rs` checks that the README shows this file's code).
//! Run it with `cargo run --example quickstart`.
use axum::{extract::Path, routing::get, Json, Router};
use cache_runtime::{cached_route, RouteCache};

#[derive(serde::Serialize)]
struct Item {
    id: u64,
}

#[cached_route(ttl = 3600)]
async fn get_item(Path(id): Path<u64>) -> Json<Item> {
    Json(Item { id }) // the expensive work
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Redis if REDIS_URL (or Cluster, or Sentinel) is set, else in-process.
    let cache = RouteCache::from_env().await;
    let mut app = Router::new()
        .route("/items/{id}", get(get_item))
        // A tower Layer (CacheLayer): ServiceBuilder works too.
        .layer(cache.layer());
    // Operating it (the `admin` feature): purge, list routes, read counts.
    if let Ok(token) = std::env::var("CACHE_ADMIN_TOKEN") {
        let admin = cache.admin(token).map_err(std::io::Error::other)?;
        app = app.nest("/_cache", admin);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await
}
