use axum::http::HeaderMap;
use cache_runtime::cached_route;

/// A declaration (`vary`, `private`, `shared`, `key`, `allow_unkeyed`)
/// says what the handler reads: it replaces the inference, so the host is
/// not keyed and there is no warning; the whole query still is.
#[cached_route(ttl = 60, vary = ["accept-language"])]
async fn greeting(headers: HeaderMap) -> String {
    headers.contains_key("accept-language").to_string()
}

fn main() {}
