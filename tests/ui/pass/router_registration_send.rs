// Registering in a Router proves the generated handler's future is Send.
use axum::{extract::State, routing::get, Json, Router};
use cache_runtime::{cached_route, RouteCache};
use std::sync::Arc;

#[cached_route(ttl = 60)]
async fn handler(State(counter): State<Arc<std::sync::atomic::AtomicU64>>) -> Json<u64> {
    tokio::task::yield_now().await;
    Json(counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

pub fn main() {
    let _app: Router = Router::new()
        .route("/", get(handler))
        .with_state(Arc::new(std::sync::atomic::AtomicU64::new(0)))
        .layer(RouteCache::embedded().layer());
}
