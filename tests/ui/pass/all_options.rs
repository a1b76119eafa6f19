use axum::{extract::Path, routing::get, Json, Router};
use cache_runtime::{cached_route, RouteCache};

fn by_host(parts: &axum::http::request::Parts) -> String {
    format!("{:?}", parts.headers.get("host"))
}

/// Every option at once.
#[cached_route(
    ttl = "10m",
    query = ["page", "limit"],
    vary = ["accept-language", "Accept"],
    namespace = "v2",
    max_body = 65536,
)]
pub async fn every_option(Path(id): Path<u32>) -> Json<u32> {
    Json(id)
}

#[cached_route(ttl = 1, key = by_host, prefix = "p")]
pub async fn function_key() -> &'static str {
    "x"
}

#[cached_route(ttl = 1, key = |parts: &axum::http::request::Parts| parts.uri.path().len())]
pub async fn closure_key() -> &'static str {
    "x"
}

#[cached_route(
    ttl = 60,
    private = true,
    cache_control = "private, max-age=60",
    honor_client = true
)]
pub async fn per_user() -> &'static str {
    "x"
}

#[cached_route(
    ttl = 60,
    shared = true,
    honor_client = false,
    stale = "5m",
    stale_if_error = false
)]
pub async fn for_everyone() -> &'static str {
    "x"
}

#[cached_route(ttl = 86400, query = all)]
pub(crate) async fn query_all() -> &'static str {
    "x"
}

pub fn main() {
    let _app: Router = Router::new()
        .route("/a/{id}", get(every_option))
        .route("/b", get(function_key))
        .route("/c", get(closure_key))
        .route("/d", get(query_all))
        .route("/e", get(per_user))
        .route("/f", get(for_everyone))
        .layer(RouteCache::embedded().layer());
}

#[cached_route(ttl = 60, compress = "gzip")]
pub async fn gzipped() -> &'static str {
    "x"
}

#[cached_route(ttl = 60, compress = false)]
pub async fn stored_as_produced() -> &'static str {
    "x"
}
