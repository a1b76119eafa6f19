use axum::http::HeaderMap;
use cache_runtime::cached_route;

#[cached_route(ttl = 60)]
async fn handler(headers: &HeaderMap) -> String {
    format!("{}", headers.len())
}

fn main() {}
