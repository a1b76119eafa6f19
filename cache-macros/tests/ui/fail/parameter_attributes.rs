use axum::extract::Path;
use cache_runtime::cached_route;

#[cached_route(ttl = 60)]
async fn handler(#[cfg(all())] Path(id): Path<u32>) -> String {
    id.to_string()
}

fn main() {}
