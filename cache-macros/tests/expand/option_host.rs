use axum::extract::Path;
use axum::http::HeaderMap;
use cache_runtime::cached_route;

/// `host = true` keys a handler the macro would not key on the host.
#[cached_route(ttl = 60, host = true)]
async fn by_host(Path(id): Path<u64>) -> String {
    id.to_string()
}

/// `host = false` leaves it out of a handler the macro would key on it.
#[cached_route(ttl = 60, host = false, allow_unkeyed = true)]
async fn any_host(headers: HeaderMap) -> String {
    headers.len().to_string()
}

fn main() {}
