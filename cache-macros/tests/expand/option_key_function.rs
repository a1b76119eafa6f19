use axum::http::request::Parts;
use cache_runtime::cached_route;

fn by_tenant(parts: &Parts) -> &str {
    parts.headers.get("x-tenant").and_then(|v| v.to_str().ok()).unwrap_or("none")
}

#[cached_route(ttl = 60, key = by_tenant)]
async fn handler() -> &'static str {
    "x"
}

fn main() {}
