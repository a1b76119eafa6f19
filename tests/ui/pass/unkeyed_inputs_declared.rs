// Each route says how it keys what it reads, or that it does not need to:
// no unkeyed-input warning, which `deny` would turn into an error.
#![deny(deprecated)]

use axum::extract::{ConnectInfo, OriginalUri};
use axum::http::{HeaderMap, Uri};
use axum::{routing::get, Router};
use cache_runtime::{cached_route, RouteCache};
use std::net::SocketAddr;

#[cached_route(ttl = 60, vary = ["user-agent"])]
async fn agent(headers: HeaderMap) -> String {
    format!("{:?}", headers.get("user-agent"))
}

#[cached_route(ttl = 60, allow_unkeyed = true)]
async fn logged(ConnectInfo(addr): ConnectInfo<SocketAddr>) -> &'static str {
    let _ = addr;
    "same for everyone"
}

#[cached_route(ttl = 60, private = true)]
async fn mine(headers: HeaderMap) -> String {
    format!("{}", headers.len())
}

#[cached_route(ttl = 60, key = |parts| parts.uri.path().to_owned())]
async fn keyed(headers: HeaderMap) -> String {
    format!("{}", headers.len())
}

// The target URI: keyed on the host and the whole query, it reads nothing
// the key leaves out, so it needs no declaration.
#[cached_route(ttl = 60)]
async fn target(uri: Uri, OriginalUri(original): OriginalUri) -> String {
    format!("{uri} {original}")
}

pub fn main() {
    let _app: Router = Router::new()
        .route("/a", get(agent))
        .route("/b", get(logged))
        .route("/c", get(mine))
        .route("/d", get(keyed))
        .route("/e", get(target))
        .layer(RouteCache::embedded().layer());
}
