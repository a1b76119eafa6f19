use axum::{extract::Path, routing::get, Router};
use cache_runtime::{cached_route, RouteCache};

#[cached_route(ttl = 60)]
async fn inner_attribute() -> &'static str {
    #![allow(clippy::needless_return)]
    return "x";
}

// The same handler name under opposite cfgs: each gets its own marker.
#[cached_route(ttl = 60)]
#[cfg(all())]
async fn per_cfg() -> &'static str {
    "enabled"
}

#[cached_route(ttl = 60)]
#[cfg(any())]
async fn per_cfg() -> &'static str {
    "disabled"
}

const FIXED: &str = "fixed";

#[cached_route(ttl = 60, key = FIXED)]
async fn constant_key(Path(id): Path<u32>) -> String {
    id.to_string()
}

#[cached_route(ttl = 60, key = |parts| parts.uri.path().to_owned())]
async fn untyped_closure_key() -> &'static str {
    "x"
}

#[cached_route(ttl = 60, key = if *id > 5 { "big" } else { "small" })]
async fn borrowed_binding(Path(id): Path<u32>) -> String {
    id.to_string()
}

pub fn main() {
    let _app: Router = Router::new()
        .route("/a", get(inner_attribute))
        .route("/b", get(per_cfg))
        .route("/c/{id}", get(constant_key))
        .route("/d", get(untyped_closure_key))
        .route("/e/{id}", get(borrowed_binding))
        .layer(RouteCache::embedded().layer());
}
