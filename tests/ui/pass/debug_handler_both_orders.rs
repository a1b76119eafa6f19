use axum::{extract::Path, routing::get, Json, Router};
use cache_runtime::{cached_route, RouteCache};

#[axum::debug_handler]
#[cached_route(ttl = 60)]
async fn above(Path(id): Path<u32>) -> Json<u32> {
    Json(id)
}

#[cached_route(ttl = 60)]
#[axum::debug_handler]
async fn below(Path(id): Path<u32>) -> Json<u32> {
    Json(id)
}

pub fn main() {
    let _app: Router = Router::new()
        .route("/a/{id}", get(above))
        .route("/b/{id}", get(below))
        .layer(RouteCache::embedded().layer());
}
