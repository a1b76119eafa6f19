use cache_runtime::cached_route;

/// Docs and lint levels stay on the handler axum calls.
#[cached_route(ttl = 60)]
#[allow(clippy::needless_lifetimes)]
#[must_use]
pub(crate) async fn handler() -> &'static str {
    "x"
}

fn main() {}
