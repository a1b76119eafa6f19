use axum::http::HeaderMap;
use cache_runtime::cached_route;

/// Reads a header the key does not cover: the expansion carries the
/// warning, a use of a `#[deprecated]` item at the parameter.
#[cached_route(ttl = 60)]
async fn agent(headers: HeaderMap) -> String {
    headers.contains_key("user-agent").to_string()
}

fn main() {}
