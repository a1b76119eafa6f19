//! `#[invalidates]` on the handler shapes axum accepts: no parameters,
//! parameters whose bindings the targets use, and a body extractor last.
use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use cache_runtime::{cached_route, invalidates, RouteCache};

#[cached_route(ttl = 60, tags = ["item:{id}", "items"])]
async fn get_item(Path(id): Path<u64>) -> Json<u64> {
    Json(id)
}

#[invalidates(tags = ["items"])]
async fn clear() -> StatusCode {
    StatusCode::NO_CONTENT
}

#[invalidates(tags = ["item:{id}", "items"], paths = ["/items/{id}"])]
async fn update(State(_db): State<()>, Path(id): Path<u64>, Json(body): Json<u64>) -> Json<u64> {
    Json(id + body)
}

pub fn main() {
    let cache = RouteCache::embedded();
    let _app: Router = Router::new()
        .route("/items/{id}", get(get_item).put(update))
        .route("/items/clear", post(clear))
        .with_state(())
        .layer(cache.layer());
}
