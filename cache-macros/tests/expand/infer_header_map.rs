use axum::extract::Path;
use axum::http::HeaderMap;
use cache_runtime::cached_route;

/// `HeaderMap` is an extractor the macro cannot see into: the key covers
/// the host (`with_host(true)`) and the whole query (no `with_query`), and
/// the route gets the unkeyed-input warning for the headers.
#[cached_route(ttl = 60)]
async fn agent(Path(id): Path<u64>, headers: HeaderMap) -> String {
    id.to_string() + if headers.contains_key("user-agent") { " ua" } else { "" }
}

fn main() {}
