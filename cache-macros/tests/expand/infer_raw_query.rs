use axum::extract::RawQuery;
use cache_runtime::cached_route;

/// `RawQuery` reads the whole query and nothing else: keyed on every
/// parameter, not on the host, and no warning.
#[cached_route(ttl = 60)]
async fn search(RawQuery(query): RawQuery) -> String {
    query.unwrap_or_default()
}

fn main() {}
