use axum::{routing::get, Router};
use cache_runtime::{cached_route, RouteCache};

#[cached_route(ttl = "1h", negative = [404, 410], negative_ttl = "30s")]
async fn lookup() -> &'static str {
    "x"
}

#[cached_route(ttl = 60, negative = [404], host = false)]
async fn everywhere() -> &'static str {
    "y"
}

pub fn main() {
    let _app: Router = Router::new()
        .route("/a", get(lookup))
        .route("/b", get(everywhere))
        .layer(RouteCache::embedded().layer());
}
