// Only the arguments are wrong: the full wrapper (with a default policy)
// is still emitted, so registering the handler and naming its route with
// `route!` add no secondary errors to the one about `ttl`.
use axum::{routing::get, Router};
use cache_runtime::{cached_route, route, RouteCache};

#[cached_route(ttl = "soon")]
async fn handler() -> &'static str {
    "x"
}

#[allow(dead_code)]
async fn invalidate(cache: RouteCache) {
    let _ = cache.invalidate_route::<route!(handler)>().await;
}

fn main() {
    let _app: Router = Router::new()
        .route("/", get(handler))
        .layer(RouteCache::embedded().layer());
}
